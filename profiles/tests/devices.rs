//! The `gamepad` grant passes joysticks and gamepads, never keyboards or
//! mice: the pure decision over udev properties and capability bits, and
//! the probe over a temporary `/dev` + `/sys` + `/run/udev/data` tree.

use std::collections::BTreeMap;
use std::path::Path;

use zion_config::Config;
use zion_config::Device;
use zion_profiles::devices::{
    classify, is_gamepad, parse_udev_db, probe_input, Bitmap, Capabilities, DeviceRoots,
    UdevProperties,
};
use zion_profiles::{container_spec, HostDevices, ProfilePaths};

// Codes from linux/input-event-codes.h.
const EV_SYN: usize = 0;
const EV_KEY: usize = 1;
const EV_REL: usize = 2;
const EV_ABS: usize = 3;
const EV_MSC: usize = 4;
const EV_LED: usize = 0x11;
const BTN_LEFT: usize = 0x110;
const BTN_RIGHT: usize = 0x111;
const BTN_MIDDLE: usize = 0x112;
const BTN_TRIGGER: usize = 0x120;
const BTN_THUMB: usize = 0x121;
const BTN_SOUTH: usize = 0x130;
const BTN_EAST: usize = 0x131;
const BTN_START: usize = 0x13b;
const BTN_TOUCH: usize = 0x14a;
const BTN_TOOL_FINGER: usize = 0x145;
const ABS_X: usize = 0;
const ABS_Y: usize = 1;
const ABS_Z: usize = 2;
const ABS_RX: usize = 3;
const ABS_RY: usize = 4;
const ABS_RZ: usize = 5;
const ABS_THROTTLE: usize = 6;
const ABS_HAT0X: usize = 0x10;
const ABS_HAT0Y: usize = 0x11;

fn caps(ev: &[usize], key: &[usize], abs: &[usize]) -> Capabilities {
    Capabilities {
        ev: Bitmap::from_bits(ev),
        key: Bitmap::from_bits(key),
        abs: Bitmap::from_bits(abs),
        prop: Bitmap::default(),
    }
}

/// A full keyboard: Escape to the end of the main block, then some more.
fn keyboard() -> Capabilities {
    let keys: Vec<usize> = (1..=127).collect();
    caps(&[EV_SYN, EV_KEY, EV_MSC, EV_LED], &keys, &[])
}

/// A keyboard that also reports joystick buttons (some "gaming" keyboards
/// do): still a keyboard.
fn keyboard_with_joystick_buttons() -> Capabilities {
    let mut keys: Vec<usize> = (1..=127).collect();
    keys.extend([BTN_TRIGGER, BTN_THUMB, BTN_SOUTH]);
    caps(&[EV_SYN, EV_KEY, EV_MSC, EV_LED], &keys, &[])
}

fn mouse() -> Capabilities {
    caps(
        &[EV_SYN, EV_KEY, EV_REL, EV_MSC],
        &[BTN_LEFT, BTN_RIGHT, BTN_MIDDLE],
        &[],
    )
}

fn touchpad() -> Capabilities {
    caps(
        &[EV_SYN, EV_KEY, EV_ABS],
        &[BTN_LEFT, BTN_TOOL_FINGER, BTN_TOUCH],
        &[ABS_X, ABS_Y],
    )
}

/// An Xbox-style pad: face buttons, sticks, triggers, hat.
fn gamepad() -> Capabilities {
    caps(
        &[EV_SYN, EV_KEY, EV_ABS],
        &[BTN_SOUTH, BTN_EAST, BTN_START],
        &[
            ABS_X, ABS_Y, ABS_Z, ABS_RX, ABS_RY, ABS_RZ, ABS_HAT0X, ABS_HAT0Y,
        ],
    )
}

/// A flight stick: trigger, thumb, throttle.
fn joystick() -> Capabilities {
    caps(
        &[EV_SYN, EV_KEY, EV_ABS],
        &[BTN_TRIGGER, BTN_THUMB],
        &[ABS_X, ABS_Y, ABS_THROTTLE],
    )
}

fn props(pairs: &[(&str, &str)]) -> UdevProperties {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn capabilities_classify_as_udevs_input_id_does() {
    let on = |c: &Capabilities, p: &str| classify(c).get(p).is_some_and(|v| v == "1");
    assert!(on(&keyboard(), "ID_INPUT_KEYBOARD"));
    assert!(!on(&keyboard(), "ID_INPUT_JOYSTICK"));
    assert!(on(&keyboard_with_joystick_buttons(), "ID_INPUT_KEYBOARD"));
    assert!(!on(&keyboard_with_joystick_buttons(), "ID_INPUT_JOYSTICK"));
    assert!(on(&mouse(), "ID_INPUT_MOUSE"));
    assert!(!on(&mouse(), "ID_INPUT_JOYSTICK"));
    assert!(on(&touchpad(), "ID_INPUT_TOUCHPAD"));
    assert!(on(&gamepad(), "ID_INPUT_JOYSTICK"));
    assert!(!on(&gamepad(), "ID_INPUT_KEYBOARD"));
    assert!(on(&joystick(), "ID_INPUT_JOYSTICK"));
}

#[test]
fn only_joysticks_pass_by_their_capabilities() {
    assert!(is_gamepad(None, Some(&gamepad())));
    assert!(is_gamepad(None, Some(&joystick())));
    for (what, c) in [
        ("keyboard", keyboard()),
        (
            "keyboard with joystick buttons",
            keyboard_with_joystick_buttons(),
        ),
        ("mouse", mouse()),
        ("touchpad", touchpad()),
    ] {
        assert!(!is_gamepad(None, Some(&c)), "{what} passed");
    }
    assert!(
        !is_gamepad(None, None),
        "a device nothing is known of passed"
    );
}

#[test]
fn udev_and_capabilities_must_both_agree() {
    let joy = props(&[("ID_INPUT", "1"), ("ID_INPUT_JOYSTICK", "1")]);
    let kbd = props(&[("ID_INPUT", "1"), ("ID_INPUT_KEYBOARD", "1")]);
    let both = props(&[
        ("ID_INPUT", "1"),
        ("ID_INPUT_JOYSTICK", "1"),
        ("ID_INPUT_KEYBOARD", "1"),
    ]);
    assert!(is_gamepad(Some(&joy), None));
    assert!(is_gamepad(Some(&joy), Some(&gamepad())));
    assert!(!is_gamepad(Some(&kbd), None));
    assert!(
        !is_gamepad(Some(&both), None),
        "a joystick that types passed"
    );
    // A rule that calls a keyboard a joystick does not make it one.
    assert!(!is_gamepad(Some(&joy), Some(&keyboard())));
    // udev knowing better than the bits: a pad udev calls a mouse.
    let mouse_props = props(&[("ID_INPUT", "1"), ("ID_INPUT_MOUSE", "1")]);
    assert!(!is_gamepad(Some(&mouse_props), Some(&gamepad())));
    // An entry without input properties is no opinion: the bits decide.
    let unrelated = props(&[("ID_PATH", "pci-0000:00:14.0-usb-0:1:1.0")]);
    assert!(is_gamepad(Some(&unrelated), Some(&gamepad())));
    assert!(!is_gamepad(Some(&unrelated), Some(&keyboard())));
}

#[test]
fn udev_database_lines_are_read() {
    let text = "S:input/by-id/usb-pad-event-joystick\nI:123\nE:ID_INPUT=1\nE:ID_INPUT_JOYSTICK=1\nE:ID_MODEL=Gamepad=X\nG:seat\n";
    let p = parse_udev_db(text);
    assert_eq!(p.get("ID_INPUT_JOYSTICK").map(String::as_str), Some("1"));
    assert_eq!(p.get("ID_MODEL").map(String::as_str), Some("Gamepad=X"));
    assert_eq!(p.len(), 3);
}

#[test]
fn sysfs_bitmaps_are_most_significant_word_first() {
    let b = Bitmap::parse_sysfs("10000 0 0 0 0 3\n").expect("bitmap");
    assert!(b.has(0) && b.has(1) && !b.has(2));
    assert!(b.has(5 * 64 + 16));
    assert!(Bitmap::parse_sysfs("zz").is_none());
    let round = Bitmap::from_bits(&[1, 200, 0x2c0]);
    assert_eq!(Bitmap::parse_sysfs(&round.to_sysfs()), Some(round));
}

/// One input device of the temporary tree.
struct Fake<'a> {
    event: u32,
    name: &'a str,
    caps: Capabilities,
    udev: Option<&'a [(&'a str, &'a str)]>,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Lays out `/dev/input/eventN`, `/sys/class/input/eventN/{dev,device/…}`
/// and `/run/udev/data/c13:N` as the kernel and udev would.
fn tree(root: &Path, devices: &[Fake]) -> DeviceRoots {
    let roots = DeviceRoots {
        dev: root.join("dev"),
        sys: root.join("sys"),
        udev_data: root.join("run/udev/data"),
    };
    std::fs::create_dir_all(&roots.udev_data).expect("udev dir");
    for d in devices {
        let event = format!("event{}", d.event);
        write(&roots.dev.join("input").join(&event), "");
        let class = roots.sys.join("class/input").join(&event);
        let minor = 64 + d.event;
        write(&class.join("dev"), &format!("13:{minor}\n"));
        write(&class.join("device/name"), &format!("{}\n", d.name));
        write(&class.join("device/capabilities/ev"), &d.caps.ev.to_sysfs());
        write(
            &class.join("device/capabilities/key"),
            &d.caps.key.to_sysfs(),
        );
        write(
            &class.join("device/capabilities/abs"),
            &d.caps.abs.to_sysfs(),
        );
        if let Some(udev) = d.udev {
            let mut text = String::from("I:1\n");
            for (k, v) in udev {
                text.push_str(&format!("E:{k}={v}\n"));
            }
            write(&roots.udev_data.join(format!("c13:{minor}")), &text);
        }
    }
    roots
}

const KEYBOARD_UDEV: &[(&str, &str)] = &[
    ("ID_INPUT", "1"),
    ("ID_INPUT_KEY", "1"),
    ("ID_INPUT_KEYBOARD", "1"),
];
const MOUSE_UDEV: &[(&str, &str)] = &[("ID_INPUT", "1"), ("ID_INPUT_MOUSE", "1")];
const JOYSTICK_UDEV: &[(&str, &str)] = &[("ID_INPUT", "1"), ("ID_INPUT_JOYSTICK", "1")];

fn machine(root: &Path, with_udev: bool) -> DeviceRoots {
    let u = |p: &'static [(&'static str, &'static str)]| with_udev.then_some(p);
    tree(
        root,
        &[
            // Named to fool a classifier that reads names.
            Fake {
                event: 0,
                name: "Gamepad Keyboard",
                caps: keyboard(),
                udev: u(KEYBOARD_UDEV),
            },
            Fake {
                event: 1,
                name: "USB Optical Mouse",
                caps: mouse(),
                udev: u(MOUSE_UDEV),
            },
            Fake {
                event: 2,
                name: "Xbox Wireless Controller",
                caps: gamepad(),
                udev: u(JOYSTICK_UDEV),
            },
            Fake {
                event: 3,
                name: "Thrustmaster Flight Stick",
                caps: joystick(),
                udev: u(JOYSTICK_UDEV),
            },
            Fake {
                event: 4,
                name: "Joystick Mode Keyboard",
                caps: keyboard_with_joystick_buttons(),
                udev: None,
            },
        ],
    )
}

fn names(nodes: &[std::path::PathBuf]) -> Vec<String> {
    nodes
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_probe_finds_the_joysticks_and_not_the_keyboard_or_mouse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = machine(dir.path(), true);
    let found = probe_input(&roots);
    assert_eq!(names(&found), vec!["event2", "event3"]);
    assert!(found.iter().all(|p| p.starts_with(roots.dev.join("input"))));
}

#[test]
fn without_udevs_database_the_capabilities_decide_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = machine(dir.path(), false);
    assert_eq!(names(&probe_input(&roots)), vec!["event2", "event3"]);
}

#[test]
fn a_node_without_its_sysfs_entry_is_not_passed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = machine(dir.path(), true);
    // A node /dev has but sysfs does not describe: nothing to decide on.
    write(&roots.dev.join("input/event9"), "");
    assert_eq!(names(&probe_input(&roots)), vec!["event2", "event3"]);
}

#[test]
fn a_gamepad_grant_gives_the_container_only_joysticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = machine(dir.path(), true);
    let host = HostDevices::probe_in(&roots, None);
    let text = "[[profile]]\nname = \"gaming\"\ndevices = [\"gamepad\"]\n";
    let config = Config::parse(text, Path::new("zion.toml")).expect("config");
    let profile = &config.profiles[0];
    assert_eq!(profile.devices, vec![Device::Gamepad]);
    let paths = ProfilePaths::standard("gaming", Path::new("/d"), Path::new("/r"));
    let outcome = container_spec(profile, &paths, &host);
    let given: BTreeMap<String, ()> = outcome
        .spec
        .devices
        .iter()
        .map(|d| (d.path.clone(), ()))
        .collect();
    let input = roots.dev.join("input");
    let expected: BTreeMap<String, ()> = ["event2", "event3"]
        .iter()
        .map(|e| (input.join(e).display().to_string(), ()))
        .collect();
    assert_eq!(given, expected);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
}
