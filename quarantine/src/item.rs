//! One quarantined file as the journal records it, and the inbox sources items come from.

use std::ffi::OsString;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::origin::Origin;
use crate::state::State;
use crate::verdict::Verdict;

/// An item's id: a positive integer, never reused by a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub i64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ItemId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(ItemId(n)),
            _ => Err(format!(
                "{s:?} is not a quarantine item id (a positive number)"
            )),
        }
    }
}

/// A quarantined file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its id.
    pub id: ItemId,
    /// The name it arrived with, byte for byte.
    pub original_name: OsString,
    /// The name it will get in storage.
    pub safe_name: String,
    /// The inbox folder it came from.
    pub inbox: String,
    /// Where it came from, e.g. `sandbox:work/3` or `profile:work`.
    pub source: String,
    /// The profile it belongs to, if any.
    pub profile: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (known once stored).
    pub sha256: Option<[u8; 32]>,
    /// When it arrived.
    pub added: SystemTime,
    /// When its state last changed.
    pub changed: SystemTime,
    /// Its state.
    pub state: State,
    /// The last scan's verdict, if any.
    pub verdict: Option<Verdict>,
    /// The destination last asked for, as `shared` or `profile:NAME`.
    pub destination: Option<String>,
    /// Held by the user: the policy will not release it automatically.
    pub held: bool,
    /// Where it was downloaded from, and who says so (an archive's is
    /// every member's).
    pub origin: Option<Origin>,
}

impl Item {
    /// The SHA-256 as lower-case hex, if known.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(hex::encode)
    }
}

/// An inbox folder: one per browser sandbox or profile outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The folder's name under the inbox (`[a-z0-9][a-z0-9._-]*`, at most 64 bytes).
    pub name: String,
    /// What the user is shown, e.g. `sandbox:work/3` or `profile:work`.
    pub label: String,
    /// The profile the files belong to, if any.
    pub profile: Option<String>,
}

impl Source {
    /// Checks that the folder name is one plain path segment.
    pub fn check_name(name: &str) -> Result<(), String> {
        let mut bytes = name.bytes();
        match bytes.next() {
            None => return Err("is empty".into()),
            Some(b) if !(b.is_ascii_lowercase() || b.is_ascii_digit()) => {
                return Err("must start with a lower-case letter or a digit".into())
            }
            Some(_) => {}
        }
        if name.len() > 64 {
            return Err("is longer than 64 bytes".into());
        }
        if let Some(c) = name.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(format!(
                "contains {c:?}; only a-z, 0-9, '.', '_' and '-' are allowed"
            ));
        }
        Ok(())
    }
}
