//! The small value types of the configuration, each parsed once from text
//! into a type that cannot be invalid.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A profile's name: a safe path segment, `[a-z][a-z0-9_-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileName(String);

impl FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if s.is_empty() {
            Err("a profile name cannot be empty".into())
        } else if s.len() > 32 {
            Err(format!("profile name `{s}` is longer than 32 characters"))
        } else if !(first_ok && rest_ok) {
            Err(format!("profile name `{s}` is not a safe folder name"))
        } else {
            Ok(ProfileName(s.to_owned()))
        }
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
    /// The user's PipeWire / PulseAudio socket.
    Sound,
    /// `/dev/input/js*` and event nodes.
    Gamepad,
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gpu" => Ok(Device::Gpu),
            "webcam" => Ok(Device::Webcam),
            "sound" => Ok(Device::Sound),
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

/// Parses `90s`, `10m`, `1h30m`, `2d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration");
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// The shortest text `parse_duration` reads back as `d`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, name) in [(86400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if secs >= unit {
            out.push_str(&format!("{}{name}", secs / unit));
            secs %= unit;
        }
    }
    out
}

/// Parses a memory size: bytes as an integer, or `512MiB`, `4GiB`, `2G`
/// (K/M/G/T are binary, as Podman reads them; KB/MB/GB/TB decimal).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a size");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "KiB" => 1024.0,
        "M" | "MiB" => 1024.0 * 1024.0,
        "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TiB" => 1024.0f64.powi(4),
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = number * factor;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// The shortest exact text for a size.
pub fn format_size(bytes: u64) -> String {
    for (unit, name) in [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// A key chord such as `Super+Shift+Return`, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chord(String);

const MODIFIERS: [&str; 4] = ["Super", "Ctrl", "Alt", "Shift"];
const NAMED_KEYS: [&str; 16] = [
    "Return",
    "Tab",
    "Escape",
    "Space",
    "BackSpace",
    "Delete",
    "Home",
    "End",
    "Left",
    "Right",
    "Up",
    "Down",
    "Page_Up",
    "Page_Down",
    "Print",
    "Insert",
];

impl FromStr for Chord {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('+').map(str::trim).collect();
        let (key, mods) = parts
            .split_last()
            .ok_or_else(|| format!("`{s}` is not a key chord"))?;
        let mut canonical = Vec::new();
        for m in MODIFIERS {
            if mods.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                canonical.push(m.to_owned());
            }
        }
        if let Some(unknown) = mods
            .iter()
            .find(|x| !MODIFIERS.iter().any(|m| x.eq_ignore_ascii_case(m)))
        {
            return Err(format!("`{unknown}` in `{s}` is not a modifier"));
        }
        if canonical.len() != mods.len() {
            return Err(format!("`{s}` repeats a modifier"));
        }
        let key = if key.chars().count() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
            key.to_ascii_uppercase()
        } else if let Some(named) = NAMED_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
            (*named).to_owned()
        } else if key.len() <= 3
            && key.starts_with(['F', 'f'])
            && key[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n))
        {
            key.to_ascii_uppercase()
        } else {
            return Err(format!("`{key}` in `{s}` is not a key"));
        };
        if canonical.is_empty() {
            return Err(format!(
                "`{s}` has no modifier; a hotkey needs one (Super, Ctrl, Alt or Shift)"
            ));
        }
        canonical.push(key);
        Ok(Chord(canonical.join("+")))
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Linux capabilities a profile may ask for.
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Normalises `sys_nice` / `CAP_SYS_NICE` to `CAP_SYS_NICE`, if it is one.
pub fn parse_capability(s: &str) -> Result<String, String> {
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if CAPABILITIES.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(format!("`{s}` is not a Linux capability"))
    }
}

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

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(
            parse_size("lots").is_err() && parse_size("5XB").is_err() && parse_size("").is_err()
        );
        for n in [4096, 512 << 20, 3 << 30, 1_000_000_001] {
            assert_eq!(parse_size(&format_size(n)).unwrap(), n);
        }
    }

    #[test]
    fn durations_read_and_print_back() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "10", "m", "10x", "0s", "-1m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for s in [90, 600, 3600, 5400, 86401] {
            let d = Duration::from_secs(s);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn chords_are_canonical() {
        assert_eq!(
            "shift+super+return".parse::<Chord>().unwrap().to_string(),
            "Super+Shift+Return"
        );
        assert_eq!("Super+b".parse::<Chord>().unwrap().to_string(), "Super+B");
        assert_eq!(
            "Ctrl+Alt+F2".parse::<Chord>().unwrap().to_string(),
            "Ctrl+Alt+F2"
        );
        for bad in [
            "B",
            "Super+",
            "Hyper+1",
            "Super+Super+1",
            "Super+Enterr",
            "Super+F13",
        ] {
            assert!(bad.parse::<Chord>().is_err(), "{bad}");
        }
    }

    #[test]
    fn capabilities_are_normalised() {
        assert_eq!(parse_capability("sys_nice").unwrap(), "CAP_SYS_NICE");
        assert_eq!(parse_capability("CAP_NET_RAW").unwrap(), "CAP_NET_RAW");
        assert!(parse_capability("CAP_FLY").is_err());
    }
}
