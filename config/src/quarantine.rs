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
pub(crate) const QUARANTINE_KEYS: [&str; 7] = [
    "max_size",
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
        }
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
