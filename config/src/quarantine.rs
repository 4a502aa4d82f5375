//! `[quarantine]`: what the quarantine holds, for how long, and where clean
//! items go. Read typed when `zion.toml` is loaded (a bad value is a
//! line-numbered [`crate::ConfigError`]); the decisions made with it live in
//! `zion-quarantine`'s `policy.rs`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use zion_storage::Destination;

use crate::transfer::Transfers;
use crate::units::{format_duration, parse_delay, parse_size};

/// What one profile's items may hold in the quarantine together, by default.
pub const DEFAULT_QUOTA: u64 = 16 << 30;
/// Free space ingest leaves on the quarantine's disk, by default.
pub const DEFAULT_RESERVE: u64 = 2 << 30;

/// The keys of `[quarantine]`.
pub(crate) const QUARANTINE_KEYS: [&str; 9] = [
    "max_size",
    "archives",
    "engine",
    "auto_release",
    "default_destination",
    "transfer_hold",
    "transfers",
    "quota",
    "reserve",
];

/// The `[quarantine]` section of `zion.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Larger items are not scanned (`too_large`), e.g. `"2GiB"`.
    pub max_size: ByteSize,
    /// `"never"` or a delay (`"10m"`, `"1h"`) after which clean items are released.
    pub auto_release: AutoRelease,
    /// Where automatic releases go: `"shared"` or `"profile:NAME"`.
    #[serde(deserialize_with = "destination")]
    pub default_destination: Destination,
    /// How long a clean transfer under a `scan` rule waits before it is released.
    pub transfer_hold: Hold,
    /// The rule for each pair of profiles (and Shared).
    pub transfers: Transfers,
    /// What one profile's items (or one inbox folder's) may hold in the
    /// quarantine together, e.g. `"16GiB"`; a file that would go over waits in its inbox.
    pub quota: ByteSize,
    /// Free space ingest always leaves on the quarantine's disk, e.g. `"2GiB"`.
    pub reserve: ByteSize,
    /// How far the scanner unpacks archives.
    pub archives: Archives,
    /// Which YARA engine compiles the rules and scans: `"yara"` or `"yara-x"`.
    pub engine: ScanEngine,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_size: ByteSize(2 << 30),
            auto_release: AutoRelease::Never,
            default_destination: Destination::Shared,
            transfer_hold: Hold(Duration::ZERO),
            transfers: Transfers::default(),
            quota: ByteSize(DEFAULT_QUOTA),
            reserve: ByteSize(DEFAULT_RESERVE),
            archives: Archives::default(),
            engine: ScanEngine::default(),
        }
    }
}

/// `[quarantine] engine`: the YARA engine of the scan worker.
///
/// The default is libyara. YARA-X scans the shared rule sets and corpus 1.96×
/// as fast with the same verdicts (`make bench-engine`; the scanner's tests
/// check the verdicts file by file), and passes the same confinement tests,
/// but it is a long build (wasmtime and cranelift; see the README): it is
/// built only with zion-scanner's `yara-x` feature (`make test-yara-x`), so
/// a default build of Zion has libyara alone, and the default stays the
/// engine every build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanEngine {
    /// libyara 4.5 (the `yara` crate).
    #[default]
    Yara,
    /// YARA-X (the `yara-x` crate), VirusTotal's Rust re-implementation.
    YaraX,
}

impl ScanEngine {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanEngine::Yara => "yara",
            ScanEngine::YaraX => "yara-x",
        }
    }
}

impl fmt::Display for ScanEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScanEngine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yara" => Ok(ScanEngine::Yara),
            "yara-x" => Ok(ScanEngine::YaraX),
            other => Err(format!(
                "unknown engine {other:?}: expected \"yara\" (libyara) or \"yara-x\" (YARA-X)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ScanEngine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom("engine must be a string: \"yara\" or \"yara-x\"")
        })?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[quarantine] archives = { depth = 8, members = 10000, unpacked =
/// "256MiB", ratio = 100 }`: how far the scanner unpacks archives (zip, tar,
/// 7z and compressed streams) to scan every member. An archive past a limit
/// is refused as a bomb (`too deep`, `too many members`, `too large`,
/// `ratio`) and held for review, never called clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, try_from = "RawArchives")]
pub struct Archives {
    /// Levels of nesting unpacked (a compression layer counts as one), 1–32.
    pub depth: u32,
    /// Members over every level, at least 1.
    pub members: u64,
    /// Unpacked bytes over every level (members are scanned from memory).
    pub unpacked: ByteSize,
    /// The largest expansion against the archive's own size, at least 1.
    pub ratio: u64,
}

/// The deepest nesting `depth` may allow.
pub const MAX_ARCHIVE_DEPTH: u32 = 32;

impl Default for Archives {
    fn default() -> Self {
        Archives {
            depth: 8,
            members: 10_000,
            unpacked: ByteSize(256 << 20),
            ratio: 100,
        }
    }
}

/// `archives` as written, checked into [`Archives`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawArchives {
    depth: u32,
    members: u64,
    unpacked: ByteSize,
    ratio: u64,
}

impl Default for RawArchives {
    fn default() -> Self {
        let a = Archives::default();
        RawArchives {
            depth: a.depth,
            members: a.members,
            unpacked: a.unpacked,
            ratio: a.ratio,
        }
    }
}

impl TryFrom<RawArchives> for Archives {
    type Error = String;

    fn try_from(raw: RawArchives) -> Result<Archives, String> {
        if !(1..=MAX_ARCHIVE_DEPTH).contains(&raw.depth) {
            return Err(format!(
                "archives: depth {} is out of range: give 1 to {MAX_ARCHIVE_DEPTH} levels",
                raw.depth
            ));
        }
        if raw.members == 0 {
            return Err("archives: members must be at least 1".into());
        }
        if raw.ratio == 0 {
            return Err("archives: ratio must be at least 1".into());
        }
        if raw.unpacked.0 == 0 {
            return Err("archives: unpacked must be a size above 0, e.g. \"256MiB\"".into());
        }
        Ok(Archives {
            depth: raw.depth,
            members: raw.members,
            unpacked: raw.unpacked,
            ratio: raw.ratio,
        })
    }
}

/// A delay, written `"0s"`, `"30s"`, `"10m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold(pub Duration);

impl<'de> Deserialize<'de> for Hold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom("transfer_hold must be a delay such as \"0s\" or \"5m\"")
        })?;
        parse_delay(&text).map(Hold).map_err(|why| {
            serde::de::Error::custom(format!("invalid transfer_hold {text:?}: {why}"))
        })
    }
}

/// A size in bytes, written `"512"`, `"10KiB"`, `"2GiB"`, `"1.5 MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s).map(ByteSize).map_err(|_| {
            format!("invalid size {s:?}: expected a number and a unit, e.g. \"2GiB\", \"500MB\" or \"4096\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; K, M, G, T are binary)")
        })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "max_size must be a size such as \"2GiB\" or a number of bytes",
            )
        })? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// When clean items leave the quarantine on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoRelease {
    /// Only when the user releases them.
    #[default]
    Never,
    /// This long after they were found clean.
    After(Duration),
}

impl FromStr for AutoRelease {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "never" {
            return Ok(AutoRelease::Never);
        }
        parse_delay(s)
            .map(AutoRelease::After)
            .map_err(|why| format!("invalid auto_release {s:?}: {why}; expected \"never\" or a delay such as \"30s\", \"10m\", \"1h\", \"2d\""))
    }
}

impl<'de> Deserialize<'de> for AutoRelease {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "auto_release must be a string: \"never\" or a delay such as \"1h\"",
            )
        })?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AutoRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoRelease::Never => f.write_str("never"),
            AutoRelease::After(d) => f.write_str(&format_duration(*d)),
        }
    }
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

fn destination<'de, D: Deserializer<'de>>(d: D) -> Result<Destination, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<Destination>()
        .map_err(|e| serde::de::Error::custom(format!("default_destination: {e}")))
}

#[cfg(test)]
mod tests {
    use super::{Archives, ByteSize, ScanEngine};
    use crate::Config;
    use std::path::Path;

    fn archives(text: &str) -> Result<Archives, String> {
        let toml = format!("[[profile]]\nname = \"work\"\n\n[quarantine]\n{text}\n");
        Config::parse(&toml, Path::new("zion.toml"))
            .map(|c| c.quarantine.archives)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn archive_limits_default_to_the_scanners_and_take_each_key() {
        assert_eq!(archives(""), Ok(Archives::default()));
        let given =
            archives("archives = { depth = 3, members = 50, unpacked = \"64MiB\", ratio = 20 }");
        assert_eq!(
            given,
            Ok(Archives {
                depth: 3,
                members: 50,
                unpacked: ByteSize(64 << 20),
                ratio: 20
            })
        );
        // One key: the others keep their defaults.
        let one = archives("archives = { members = 2 }").expect("members alone");
        assert_eq!((one.members, one.depth), (2, Archives::default().depth));
    }

    #[test]
    fn archive_limits_out_of_range_are_refused_with_the_key_named() {
        for (text, says) in [
            ("archives = { depth = 0 }", "depth"),
            ("archives = { depth = 99 }", "depth"),
            ("archives = { members = 0 }", "members"),
            ("archives = { ratio = 0 }", "ratio"),
            ("archives = { unpacked = \"0B\" }", "unpacked"),
            ("archives = { unpacked = \"lots\" }", "size"),
            ("archives = { deep = 3 }", "deep"),
        ] {
            let err = archives(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    fn engine(text: &str) -> Result<ScanEngine, String> {
        let toml = format!("[[profile]]\nname = \"work\"\n\n[quarantine]\n{text}\n");
        Config::parse(&toml, Path::new("zion.toml"))
            .map(|c| c.quarantine.engine)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn engine_defaults_to_libyara_and_takes_either_name() {
        assert_eq!(engine(""), Ok(ScanEngine::Yara));
        assert_eq!(engine("engine = \"yara\""), Ok(ScanEngine::Yara));
        assert_eq!(engine("engine = \"yara-x\""), Ok(ScanEngine::YaraX));
    }

    #[test]
    fn an_unknown_engine_is_refused_with_its_line_and_the_choices() {
        for (text, says) in [
            ("engine = \"yarax\"", "unknown engine \"yarax\""),
            (
                "engine = \"clamav\"",
                "\"yara\" (libyara) or \"yara-x\" (YARA-X)",
            ),
            ("engine = 2", "engine must be a string"),
        ] {
            let err = engine(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
            assert!(
                err.contains("zion.toml:5"),
                "{text}: the line is named: {err}"
            );
        }
    }

    #[test]
    fn the_engine_survives_a_write_and_read() {
        let toml = "[[profile]]\nname = \"work\"\n\n[quarantine]\nengine = \"yara-x\"\n";
        let config = Config::parse(toml, Path::new("zion.toml")).expect("parses");
        let written = config.to_toml();
        assert!(written.contains("engine = \"yara-x\""), "{written}");
        let again = Config::parse(&written, Path::new("zion.toml")).expect("written parses");
        assert_eq!(again.quarantine.engine, ScanEngine::YaraX);
    }

    #[test]
    fn archive_limits_survive_a_write_and_read() {
        let toml = "[[profile]]\nname = \"work\"\n\n[quarantine]\narchives = { depth = 2, members = 7, unpacked = \"1MiB\", ratio = 5 }\n";
        let config = Config::parse(toml, Path::new("zion.toml")).expect("parses");
        let written = config.to_toml();
        let again = Config::parse(&written, Path::new("zion.toml")).expect("written parses");
        assert_eq!(
            again.quarantine.archives, config.quarantine.archives,
            "{written}"
        );
    }
}
