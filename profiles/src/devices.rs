//! Which input devices a `gamepad` grant passes: joysticks and gamepads
//! only, never a keyboard, a mouse, a touchpad or a tablet.
//!
//! An evdev node lets whoever opens it read every event of the device and
//! `EVIOCGRAB` it; a keyboard node in a profile container is a keylogger for
//! the whole session. The decision is a pure function of udev's properties
//! (`ID_INPUT_*`, from `/run/udev/data/c<major>:<minor>`) and of the
//! device's capability bits (sysfs `capabilities/{ev,key,abs}`), from which
//! the same properties are derived the way udev's `input_id` builtin does
//! when udev's database lacks them. Both must agree that the device is a
//! joystick and neither may call it a keyboard: a device's name is never
//! looked at, so a keyboard that calls itself "Gamepad" stays a keyboard.
//!
//! [`probe_input`] reads those files under roots given as parameters, so a
//! test can describe devices in a temporary tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// udev's properties of one device (`E:KEY=VALUE` lines of its database
/// entry).
pub type UdevProperties = BTreeMap<String, String>;

/// An input device's capability bitmaps, as sysfs gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Event types (`EV_*`).
    pub ev: Bitmap,
    /// Keys and buttons (`KEY_*`, `BTN_*`).
    pub key: Bitmap,
    /// Absolute axes (`ABS_*`).
    pub abs: Bitmap,
    /// Input properties (`INPUT_PROP_*`).
    pub prop: Bitmap,
}

/// A kernel bitmap: bit `n` set means capability `n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bitmap(Vec<u64>);

impl Bitmap {
    /// Parses sysfs's form: hexadecimal words separated by spaces, the most
    /// significant first (`"1 0 0 ffffffffffe"`). `None` if a word is not
    /// hexadecimal.
    pub fn parse_sysfs(text: &str) -> Option<Bitmap> {
        let mut words = text
            .split_whitespace()
            .map(|w| u64::from_str_radix(w, 16).ok())
            .collect::<Option<Vec<u64>>>()?;
        words.reverse();
        Some(Bitmap(words))
    }

    /// A bitmap with the given bits set (for tests and fixtures).
    pub fn from_bits(bits: &[usize]) -> Bitmap {
        let mut words = Vec::new();
        for &bit in bits {
            let word = bit / 64;
            if words.len() <= word {
                words.resize(word + 1, 0u64);
            }
            words[word] |= 1 << (bit % 64);
        }
        Bitmap(words)
    }

    /// The sysfs text of this bitmap (most significant word first).
    pub fn to_sysfs(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        let words: Vec<String> = self.0.iter().rev().map(|w| format!("{w:x}")).collect();
        words.join(" ")
    }

    /// Whether bit `n` is set.
    pub fn has(&self, n: usize) -> bool {
        self.0
            .get(n / 64)
            .is_some_and(|word| word & (1 << (n % 64)) != 0)
    }

    fn any_in(&self, range: std::ops::Range<usize>) -> bool {
        range.into_iter().any(|n| self.has(n))
    }

    fn count_in(&self, range: std::ops::Range<usize>) -> usize {
        range.into_iter().filter(|&n| self.has(n)).count()
    }
}

// Event codes from linux/input-event-codes.h.
const EV_KEY: usize = 0x01;
const EV_REL: usize = 0x02;
const EV_ABS: usize = 0x03;
const KEY_ESC: usize = 1;
const KEY_D: usize = 32;
const BTN_MISC: usize = 0x100;
const BTN_MOUSE: usize = 0x110;
const BTN_JOYSTICK: usize = 0x120;
const BTN_DIGI: usize = 0x140;
const BTN_TOOL_PEN: usize = 0x140;
const BTN_TOOL_FINGER: usize = 0x145;
const BTN_STYLUS: usize = 0x14b;
const BTN_TOUCH: usize = 0x14a;
const BTN_DPAD_UP: usize = 0x220;
const BTN_DPAD_RIGHT: usize = 0x223;
const BTN_TRIGGER_HAPPY1: usize = 0x2c0;
const BTN_TRIGGER_HAPPY40: usize = 0x2e7;
const ABS_X: usize = 0x00;
const ABS_Y: usize = 0x01;
const ABS_RX: usize = 0x03;
const ABS_PRESSURE: usize = 0x18;
const INPUT_PROP_DIRECT: usize = 0x01;
const INPUT_PROP_ACCELEROMETER: usize = 0x06;

/// What udev's `input_id` builtin would say of a device, from its
/// capabilities alone: the `ID_INPUT_*` properties it would set to `1`.
pub fn classify(caps: &Capabilities) -> UdevProperties {
    let key = &caps.key;
    let abs = &caps.abs;
    let has_keys = caps.ev.has(EV_KEY);
    let has_abs = caps.ev.has(EV_ABS) && abs.has(ABS_X) && abs.has(ABS_Y);
    let is_direct = caps.prop.has(INPUT_PROP_DIRECT);
    let accelerometer = caps.prop.has(INPUT_PROP_ACCELEROMETER);
    let stylus_or_pen = key.has(BTN_STYLUS) || key.has(BTN_TOOL_PEN);
    let finger_no_pen = key.has(BTN_TOOL_FINGER) && !key.has(BTN_TOOL_PEN);
    let mouse_button = key.any_in(BTN_MOUSE..BTN_JOYSTICK);
    let joystick_buttons = key.count_in(BTN_JOYSTICK..BTN_DIGI)
        + key.count_in(BTN_TRIGGER_HAPPY1..BTN_TRIGGER_HAPPY40 + 1)
        + key.count_in(BTN_DPAD_UP..BTN_DPAD_RIGHT + 1);
    let joystick_axes = abs.count_in(ABS_RX..ABS_PRESSURE);

    let mut joystick = false;
    let mut mouse = false;
    let mut touchpad = false;
    let mut tablet = false;
    let mut touchscreen = false;
    if !accelerometer {
        if has_abs {
            if stylus_or_pen {
                tablet = true;
            } else if finger_no_pen && !is_direct {
                touchpad = true;
            } else if mouse_button {
                mouse = true;
            } else if key.has(BTN_TOUCH) || is_direct {
                touchscreen = true;
            } else if joystick_buttons + joystick_axes > 0 {
                joystick = true;
            }
        } else if joystick_buttons + joystick_axes > 0 {
            joystick = true;
        }
        if caps.ev.has(EV_REL) && mouse_button {
            mouse = true;
        }
    }
    // A keyboard that also reports joystick buttons is a keyboard: udev
    // drops the joystick when well-known keyboard keys outnumber the
    // joystick's buttons and axes.
    let well_known_keys = key.count_in(KEY_ESC..BTN_MISC);
    if joystick && (well_known_keys >= 4 && well_known_keys > joystick_buttons + joystick_axes) {
        joystick = false;
    }
    // udev's test for a full keyboard: Escape, the digits and Q to D.
    let keyboard = has_keys && (KEY_ESC..=KEY_D).all(|k| key.has(k));

    let mut props = UdevProperties::new();
    let mut set = |name: &str, on: bool| {
        if on {
            props.insert(name.to_owned(), "1".to_owned());
        }
    };
    set("ID_INPUT", true);
    set("ID_INPUT_JOYSTICK", joystick);
    set("ID_INPUT_MOUSE", mouse);
    set("ID_INPUT_TOUCHPAD", touchpad);
    set("ID_INPUT_TABLET", tablet);
    set("ID_INPUT_TOUCHSCREEN", touchscreen);
    set("ID_INPUT_ACCELEROMETER", accelerometer);
    set("ID_INPUT_KEYBOARD", keyboard);
    set("ID_INPUT_KEY", has_keys && well_known_keys > 0);
    props
}

/// The properties that make a device unfit for a `gamepad` grant whatever
/// else it is: each lets a container read what the user types or points at.
const NEVER: [&str; 6] = [
    "ID_INPUT_KEYBOARD",
    "ID_INPUT_MOUSE",
    "ID_INPUT_TOUCHPAD",
    "ID_INPUT_TABLET",
    "ID_INPUT_TOUCHSCREEN",
    "ID_INPUT_POINTINGSTICK",
];

fn set(props: &UdevProperties, name: &str) -> bool {
    props.get(name).is_some_and(|v| v == "1")
}

/// Whether a `gamepad` grant passes a device: udev's database (when it has
/// the device's `ID_INPUT_*` properties) and the capabilities (when sysfs
/// gave them) must both call it a joystick, and neither a keyboard, mouse,
/// touchpad, tablet or touchscreen. With neither source there is nothing to
/// go on and the device is refused.
pub fn is_gamepad(udev: Option<&UdevProperties>, caps: Option<&Capabilities>) -> bool {
    let udev = udev.filter(|p| p.keys().any(|k| k.starts_with("ID_INPUT")));
    let derived = caps.map(classify);
    let sources: Vec<&UdevProperties> = udev.into_iter().chain(derived.as_ref()).collect();
    !sources.is_empty()
        && sources.iter().all(|p| set(p, "ID_INPUT_JOYSTICK"))
        && !sources.iter().any(|p| NEVER.iter().any(|n| set(p, n)))
}

/// Parses a udev database entry: its `E:KEY=VALUE` lines.
pub fn parse_udev_db(text: &str) -> UdevProperties {
    text.lines()
        .filter_map(|line| line.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Where [`probe_input`] looks: the host's `/dev`, `/sys` and udev's
/// database folder, or a test's stand-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRoots {
    /// `/dev`.
    pub dev: PathBuf,
    /// `/sys`.
    pub sys: PathBuf,
    /// `/run/udev/data`.
    pub udev_data: PathBuf,
}

impl DeviceRoots {
    /// The running system's.
    pub fn system() -> DeviceRoots {
        DeviceRoots {
            dev: "/dev".into(),
            sys: "/sys".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

/// The joystick nodes (`<dev>/input/event*` and `js*`) a `gamepad` grant
/// passes, sorted: every input class device under `<sys>/class/input` whose
/// node exists, decided by [`is_gamepad`] over its udev entry
/// (`c<major>:<minor>`) and its parent device's capabilities.
pub fn probe_input(roots: &DeviceRoots) -> Vec<PathBuf> {
    let class = roots.sys.join("class/input");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&class)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("event") || name.starts_with("js")) {
                return None;
            }
            let node = roots.dev.join("input").join(&name);
            if !node.exists() {
                return None;
            }
            let dir = class.join(&name);
            let udev = read_trimmed(&dir.join("dev"))
                .and_then(|dev| {
                    std::fs::read_to_string(roots.udev_data.join(format!("c{dev}"))).ok()
                })
                .map(|text| parse_udev_db(&text));
            let caps = read_capabilities(&dir.join("device"));
            is_gamepad(udev.as_ref(), caps.as_ref()).then_some(node)
        })
        .collect();
    found.sort();
    found
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Reads an input device's `capabilities/{ev,key,abs}` and `properties`;
/// `None` without `ev` or when a file is not a bitmap (a missing `key`,
/// `abs` or `properties` is empty).
fn read_capabilities(device: &Path) -> Option<Capabilities> {
    let bitmap = |name: &str, required: bool| -> Option<Bitmap> {
        match std::fs::read_to_string(device.join(name)) {
            Ok(text) => Bitmap::parse_sysfs(&text),
            Err(_) if !required => Some(Bitmap::default()),
            Err(_) => None,
        }
    };
    Some(Capabilities {
        ev: bitmap("capabilities/ev", true)?,
        key: bitmap("capabilities/key", false)?,
        abs: bitmap("capabilities/abs", false)?,
        prop: bitmap("properties", false)?,
    })
}
