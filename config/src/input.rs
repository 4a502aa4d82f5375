//! `[input]`: the keyboard layout and key repeat, and the pointer.
//!
//! ```toml
//! [input]
//! keyboard = { layout = "de", variant = "", options = "caps:escape", model = "" }
//! repeat_rate = 25        # keys per second; 0: keys do not repeat
//! repeat_delay = "600ms"  # a delay (the units of `crate::parse_delay`)
//! accel_speed = 0.0       # -1 (slowest) .. 1 (fastest)
//! accel_profile = "adaptive"  # or "flat"
//! natural_scroll = false
//! tap_to_click = true
//! ```
//!
//! The xkb names are only checked for their form here (this crate does not
//! link xkbcommon): the compositor builds the keymap and refuses a layout
//! xkb does not know, keeping the keymap it had.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::Source;
use super::units::parse_delay;
use super::ConfigError;

/// The keys of `[input]`.
pub(super) const INPUT_KEYS: [&str; 7] = [
    "keyboard",
    "repeat_rate",
    "repeat_delay",
    "accel_speed",
    "accel_profile",
    "natural_scroll",
    "tap_to_click",
];

/// Key repeat when the file says nothing: 25 keys a second.
pub const DEFAULT_REPEAT_RATE: u32 = 25;
/// Key repeat when the file says nothing: after 600 ms.
pub const DEFAULT_REPEAT_DELAY: Duration = Duration::from_millis(600);
/// The fastest key repeat accepted, in keys a second.
pub const MAX_REPEAT_RATE: u32 = 1000;
/// The longest key repeat delay accepted.
pub const MAX_REPEAT_DELAY: Duration = Duration::from_secs(10);

/// `[input]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The xkb keymap names.
    pub keyboard: Keyboard,
    /// Keys a second a held key repeats at; 0: no repeat.
    pub repeat_rate: u32,
    /// How long a key is held before it repeats.
    pub repeat_delay: Duration,
    /// Pointer acceleration, -1 (slowest) to 1 (fastest).
    pub accel_speed: f64,
    /// How the pointer accelerates.
    pub accel_profile: AccelProfile,
    /// Scrolling moves the content the way the fingers go (wheel and
    /// touchpad alike).
    pub natural_scroll: bool,
    /// A tap on a touchpad is a click.
    pub tap_to_click: bool,
}

impl Default for Input {
    fn default() -> Input {
        Input {
            keyboard: Keyboard::default(),
            repeat_rate: DEFAULT_REPEAT_RATE,
            repeat_delay: DEFAULT_REPEAT_DELAY,
            accel_speed: 0.0,
            accel_profile: AccelProfile::Adaptive,
            natural_scroll: false,
            tap_to_click: true,
        }
    }
}

/// `[input] keyboard`: the RMLVO names of an xkb keymap; an empty name is
/// xkb's default (`XKB_DEFAULT_LAYOUT` and friends, else `us`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyboard {
    /// The keyboard model (`pc105`).
    pub model: String,
    /// Layouts, comma separated (`de`, `us,ru`).
    pub layout: String,
    /// One variant per layout, comma separated (`nodeadkeys`).
    pub variant: String,
    /// Options, comma separated (`caps:escape,compose:ralt`).
    pub options: String,
}

/// libinput's acceleration profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelProfile {
    /// Speed follows how fast the device moves.
    Adaptive,
    /// A constant factor (`accel_speed`), as gamers want.
    Flat,
}

impl FromStr for AccelProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "adaptive" => Ok(AccelProfile::Adaptive),
            "flat" => Ok(AccelProfile::Flat),
            _ => Err(format!(
                "`{}` is not an acceleration profile",
                s.escape_debug()
            )),
        }
    }
}

impl fmt::Display for AccelProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccelProfile::Adaptive => "adaptive",
            AccelProfile::Flat => "flat",
        })
    }
}

/// `[input]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInput {
    keyboard: Option<RawKeyboard>,
    repeat_rate: Option<Spanned<i64>>,
    repeat_delay: Option<Spanned<String>>,
    accel_speed: Option<Spanned<f64>>,
    accel_profile: Option<Spanned<String>>,
    natural_scroll: Option<bool>,
    tap_to_click: Option<bool>,
}

/// `[input] keyboard` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyboard {
    model: Option<Spanned<String>>,
    layout: Option<Spanned<String>>,
    variant: Option<Spanned<String>>,
    options: Option<Spanned<String>>,
}

/// Checks one xkb name: xkb's own names are ASCII words with `,` between
/// list items, `:` in options and `()` `+` `-` `_` inside.
fn xkb_name(
    src: &Source,
    value: Option<Spanned<String>>,
    key: &str,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let start = value.span().start;
    let text = value.into_inner();
    let allowed = |c: char| c.is_ascii_alphanumeric() || ",:()+-_".contains(c);
    if let Some(c) = text.chars().find(|c| !allowed(*c)) {
        return Err(src.at(
            start,
            format!(
                "{key} in [input] keyboard contains `{}`, which no xkb name has",
                c.escape_debug()
            ),
            "write xkb's names, e.g. layout = \"de\", variant = \"nodeadkeys\", options = \"caps:escape\" (see `man xkeyboard-config`)",
        ));
    }
    Ok(text)
}

/// Checks `[input]` over the defaults.
pub(super) fn input(src: &Source, raw: Option<Spanned<RawInput>>) -> Result<Input, ConfigError> {
    let mut out = Input::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(out);
    };
    if let Some(k) = raw.keyboard {
        out.keyboard = Keyboard {
            model: xkb_name(src, k.model, "model")?,
            layout: xkb_name(src, k.layout, "layout")?,
            variant: xkb_name(src, k.variant, "variant")?,
            options: xkb_name(src, k.options, "options")?,
        };
    }
    if let Some(rate) = raw.repeat_rate {
        let start = rate.span().start;
        let rate = *rate.get_ref();
        out.repeat_rate = u32::try_from(rate)
            .ok()
            .filter(|r| *r <= MAX_REPEAT_RATE)
            .ok_or_else(|| {
                src.at(
                    start,
                    format!("repeat_rate in [input] is {rate}, not 0 to {MAX_REPEAT_RATE} keys a second"),
                    "write keys a second, e.g. repeat_rate = 25 (0 turns repeat off)",
                )
            })?;
    }
    if let Some(delay) = raw.repeat_delay {
        let start = delay.span().start;
        let hint = "write a delay like \"600ms\" or \"1s\"";
        let d = parse_delay(delay.get_ref())
            .map_err(|e| src.at(start, format!("repeat_delay in [input]: {e}"), hint))?;
        if d > MAX_REPEAT_DELAY {
            return Err(src.at(
                start,
                format!(
                    "repeat_delay in [input] is longer than {}s",
                    MAX_REPEAT_DELAY.as_secs()
                ),
                hint,
            ));
        }
        out.repeat_delay = d;
    }
    if let Some(speed) = raw.accel_speed {
        let start = speed.span().start;
        let speed = *speed.get_ref();
        if !(-1.0..=1.0).contains(&speed) {
            return Err(src.at(
                start,
                format!("accel_speed in [input] is {speed}, not between -1 and 1"),
                "write -1 (slowest) to 1 (fastest); 0 is libinput's default",
            ));
        }
        out.accel_speed = speed;
    }
    if let Some(profile) = raw.accel_profile {
        let start = profile.span().start;
        out.accel_profile = profile.get_ref().parse().map_err(|e| {
            src.at(
                start,
                format!("accel_profile in [input]: {e}"),
                "write \"adaptive\" or \"flat\"",
            )
        })?;
    }
    if let Some(natural) = raw.natural_scroll {
        out.natural_scroll = natural;
    }
    if let Some(tap) = raw.tap_to_click {
        out.tap_to_click = tap;
    }
    Ok(out)
}

/// `[input]` as TOML, when it differs from the defaults.
pub(super) fn write(out: &mut String, input: &Input) {
    use std::fmt::Write;
    if *input == Input::default() {
        return;
    }
    let k = &input.keyboard;
    let _ = writeln!(out, "\n[input]");
    let _ = writeln!(
        out,
        "keyboard = {{ model = \"{}\", layout = \"{}\", variant = \"{}\", options = \"{}\" }}",
        k.model, k.layout, k.variant, k.options
    );
    let _ = writeln!(out, "repeat_rate = {}", input.repeat_rate);
    let _ = writeln!(
        out,
        "repeat_delay = \"{}\"",
        super::units::format_duration(input.repeat_delay)
    );
    let _ = writeln!(out, "accel_speed = {:?}", input.accel_speed);
    let _ = writeln!(out, "accel_profile = \"{}\"", input.accel_profile);
    let _ = writeln!(out, "natural_scroll = {}", input.natural_scroll);
    let _ = writeln!(out, "tap_to_click = {}", input.tap_to_click);
}

#[cfg(test)]
mod tests {
    use super::{AccelProfile, Input, Keyboard};
    use crate::Config;
    use std::path::Path;
    use std::time::Duration;

    const BASE: &str = "[[profile]]\nname = \"work\"\n";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}{text}"), Path::new("zion.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn input_defaults_to_xkbs_layout_and_25_keys_a_second_after_600ms() {
        let input = parse("").expect("parses").input;
        assert_eq!(input, Input::default());
        assert_eq!(input.keyboard.layout, "");
        assert_eq!(input.repeat_rate, 25);
        assert_eq!(input.repeat_delay, Duration::from_millis(600));
        assert!(!input.natural_scroll);
    }

    #[test]
    fn every_input_key_is_read() {
        let input = parse(
            "[input]\nkeyboard = { layout = \"de\", variant = \"nodeadkeys\", options = \"caps:escape\", model = \"pc105\" }\n\
             repeat_rate = 40\nrepeat_delay = \"250ms\"\naccel_speed = -0.5\naccel_profile = \"flat\"\n\
             natural_scroll = true\ntap_to_click = false\n",
        )
        .expect("parses")
        .input;
        assert_eq!(
            input,
            Input {
                keyboard: Keyboard {
                    model: "pc105".into(),
                    layout: "de".into(),
                    variant: "nodeadkeys".into(),
                    options: "caps:escape".into(),
                },
                repeat_rate: 40,
                repeat_delay: Duration::from_millis(250),
                accel_speed: -0.5,
                accel_profile: AccelProfile::Flat,
                natural_scroll: true,
                tap_to_click: false,
            }
        );
        // A whole number is a speed too.
        let one = parse("[input]\naccel_speed = 1\n").expect("parses").input;
        assert_eq!(one.accel_speed, 1.0);
    }

    #[test]
    fn bad_input_values_name_their_key() {
        for (text, key) in [
            ("repeat_rate = -1", "repeat_rate"),
            ("repeat_rate = 5000", "repeat_rate"),
            ("repeat_delay = \"600\"", "repeat_delay"),
            ("repeat_delay = \"1m\"", "repeat_delay"),
            ("accel_speed = 1.5", "accel_speed"),
            ("accel_profile = \"fast\"", "accel_profile"),
            ("keyboard = { layout = \"de us\" }", "layout"),
            ("keyboard = { options = \"caps;escape\" }", "options"),
            ("natural_scroll = \"yes\"", "natural_scroll"),
        ] {
            let e = parse(&format!("[input]\n{text}\n")).expect_err(text);
            assert!(e.contains(key), "{text}: {e}");
            assert!(e.starts_with("zion.toml:4:"), "{text}: names the line: {e}");
        }
        let typo = parse("[input]\nkeyboard = { layuot = \"de\" }\n").expect_err("typo");
        assert!(typo.contains("layuot"), "{typo}");
        let typo = parse("[input]\nnatural_scrolling = true\n").expect_err("typo");
        assert!(typo.contains("did you mean `natural_scroll`?"), "{typo}");
    }

    #[test]
    fn input_is_written_back_as_read() {
        let c = parse(
            "[input]\nkeyboard = { layout = \"us,ru\", options = \"grp:alt_shift_toggle\" }\nrepeat_delay = \"1s250ms\"\nnatural_scroll = true\naccel_speed = 0.25\n",
        )
        .expect("parses");
        let text = c.to_toml();
        let back = Config::parse(&text, Path::new("again.toml")).expect("written text parses");
        assert_eq!(back.input, c.input, "--- to_toml gave:\n{text}");
        assert!(!Config::defaults().to_toml().contains("[input]"));
    }
}
