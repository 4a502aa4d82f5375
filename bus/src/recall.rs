//! Recall (issue 17) on `org.zionos.Quarantine1`: a released content that a
//! rule added later matched, with every copy the releases made and where
//! each stands. Served by `Recalls`, `Recall`, `MoveBack` and the
//! `ItemRecalled` signal (see [`crate::quarantine::Quarantine1Proxy`]).

use serde::{Deserialize, Serialize};
use zbus::zvariant::Type;

use crate::quarantine::MatchInfo;

/// One released copy of a recalled content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CopyInfo {
    /// The released item (its id in `List`).
    pub item: u64,
    /// Where it was released: `shared`, `profile:NAME`, `profile:NAME/incoming:FROM`.
    pub destination: String,
    /// The profile that received it, or "" for Shared (which every profile sees).
    pub profile: String,
    /// The released file's path.
    pub path: String,
    /// `present` (still the released content), `changed` (not recalled),
    /// `missing`, `returning`, `returned`.
    pub status: String,
    /// The status in words (what changed, which item it was moved back as).
    pub detail: String,
}

/// A recalled content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RecallInfo {
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The name it was first released with.
    pub name: String,
    /// When the match was found (seconds since the epoch).
    pub found: u64,
    /// The rules that matched.
    pub matches: Vec<MatchInfo>,
    /// Every released copy.
    pub copies: Vec<CopyInfo>,
    /// The held item the content was moved back into, or 0.
    pub returned_as: u64,
}

impl RecallInfo {
    /// How many copies `MoveBack` would take now.
    pub fn returnable(&self) -> usize {
        self.copies.iter().filter(|c| c.status == "present").count()
    }

    /// Whether item `id` is one of its released copies.
    pub fn covers(&self, id: u64) -> bool {
        self.copies.iter().any(|c| c.item == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_fixed() {
        assert_eq!(CopyInfo::SIGNATURE.to_string(), "(tsssss)");
        assert_eq!(
            RecallInfo::SIGNATURE.to_string(),
            "(ssta(ssssasa{ss}s)a(tsssss)t)"
        );
    }
}
