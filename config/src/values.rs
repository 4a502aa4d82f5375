//! The small value types of a profile, each parsed once from text into a
//! type that cannot be invalid, and written back as the same text.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::units::{format_duration, parse_duration};

/// A profile's name: a safe path segment, `[a-z][a-z0-9_-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileName(String);

impl FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let shown = s.escape_debug();
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if s.is_empty() {
            Err("a profile name cannot be empty".into())
        } else if s.chars().count() > 32 {
            Err(format!(
                "profile name `{shown}` is longer than 32 characters"
            ))
        } else if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            Err(format!(
                "profile name `{shown}` does not start with a lower-case letter"
            ))
        } else if let Some(c) = s.chars().find(|c| !allowed(*c)) {
            Err(format!(
                "profile name `{shown}` contains `{}`, which a folder name must not",
                c.escape_debug()
            ))
        } else {
            Ok(ProfileName(s.to_owned()))
        }
    }
}

impl ProfileName {
    /// Checks `name`: `[a-z][a-z0-9_-]{0,31}`.
    pub fn new(name: &str) -> Result<ProfileName, String> {
        name.parse()
    }
}

impl AsRef<str> for ProfileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A profile's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl FromStr for Colour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a colour");
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let digit =
            |i: usize, len: usize| u8::from_str_radix(&hex[i..i + len], 16).map_err(|_| bad());
        match hex.len() {
            6 => Ok(Colour {
                r: digit(0, 2)?,
                g: digit(2, 2)?,
                b: digit(4, 2)?,
            }),
            3 => Ok(Colour {
                r: digit(0, 1)? * 17,
                g: digit(1, 1)? * 17,
                b: digit(2, 1)? * 17,
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// A profile's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Loopback only.
    None,
    /// Podman's default network.
    Full,
}

impl FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Network::None),
            "full" => Ok(Network::Full),
            _ => Err(format!("unknown network `{s}`")),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Network::None => "none",
            Network::Full => "full",
        })
    }
}

/// A device class a profile may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// `/dev/dri`.
    Gpu,
    /// `/dev/video*`.
    Webcam,
    /// Playback through the profile's own sound server; no recording.
    Sound,
    /// Recording (the microphone and other sources) besides playback.
    /// Granted apart from `sound` because it lets a profile listen in.
    Microphone,
    /// Joysticks and gamepads only (udev's `ID_INPUT_JOYSTICK`); never a
    /// keyboard or a mouse.
    Gamepad,
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gpu" => Ok(Device::Gpu),
            "webcam" => Ok(Device::Webcam),
            "sound" => Ok(Device::Sound),
            "microphone" => Ok(Device::Microphone),
            "gamepad" => Ok(Device::Gamepad),
            _ => Err(format!("unknown device `{s}`")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Gpu => "gpu",
            Device::Webcam => "webcam",
            Device::Sound => "sound",
            Device::Microphone => "microphone",
            Device::Gamepad => "gamepad",
        })
    }
}

/// When an idle profile is frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HibernateAfter {
    /// Never.
    Never,
    /// After this long unused.
    After(Duration),
}

impl FromStr for HibernateAfter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "never" {
            return Ok(HibernateAfter::Never);
        }
        parse_duration(s).map(HibernateAfter::After)
    }
}

impl fmt::Display for HibernateAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HibernateAfter::Never => f.write_str("never"),
            HibernateAfter::After(d) => f.write_str(&format_duration(*d)),
        }
    }
}

/// How an idle profile hibernates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HibernateMode {
    /// The cgroup freezer: processes stay in memory and use no CPU.
    Freeze,
    /// A CRIU checkpoint to disk: memory is freed; needs `criu check` to pass.
    Disk,
}

impl FromStr for HibernateMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "freeze" => Ok(HibernateMode::Freeze),
            "disk" => Ok(HibernateMode::Disk),
            _ => Err(format!("unknown hibernate mode `{s}`")),
        }
    }
}

impl fmt::Display for HibernateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HibernateMode::Freeze => "freeze",
            HibernateMode::Disk => "disk",
        })
    }
}

/// What happens when a profile's container dies without being asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restart {
    /// It stays down.
    Never,
    /// It is started again when it exited with an error or was killed.
    OnFailure,
    /// It is started again whatever its exit.
    Always,
}

impl FromStr for Restart {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "never" => Ok(Restart::Never),
            "on-failure" => Ok(Restart::OnFailure),
            "always" => Ok(Restart::Always),
            _ => Err(format!("unknown restart policy `{s}`")),
        }
    }
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Restart::Never => "never",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        })
    }
}

/// Serialises a value as its text and reads it back through `FromStr`, so
/// that every serde format gets the same validation as `zion.toml`.
macro_rules! serde_as_text {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
pub(crate) use serde_as_text;

serde_as_text!(
    ProfileName,
    Colour,
    Network,
    Device,
    HibernateAfter,
    HibernateMode,
    Restart
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_safe_folder_names() {
        assert!("work".parse::<ProfileName>().is_ok());
        assert!("my-work_2".parse::<ProfileName>().is_ok());
        for bad in [
            "",
            "../x",
            "a/b",
            "Work",
            ".",
            "..",
            "-x",
            "a\0b",
            &"x".repeat(33),
        ] {
            assert!(bad.parse::<ProfileName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn colours_read_both_forms_and_print_the_long_one() {
        assert_eq!(
            "#3465a4".parse::<Colour>().unwrap(),
            Colour {
                r: 0x34,
                g: 0x65,
                b: 0xa4
            }
        );
        assert_eq!("#f0a".parse::<Colour>().unwrap().to_string(), "#ff00aa");
        for bad in ["3465a4", "#12345", "#ggg", "blue", "#é12"] {
            assert!(bad.parse::<Colour>().is_err(), "{bad}");
        }
    }
}
