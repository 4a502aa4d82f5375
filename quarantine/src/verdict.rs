//! What a scan concluded about one object. Shared by the scanner, the store
//! and every client (the panel, zionctl), so it needs no libyara.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One YARA rule that matched, with everything a report must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// The rule's identifier.
    pub rule: String,
    /// The namespace the rule was compiled into (one per rule source).
    pub namespace: String,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// The rule's meta, as text. Some rule licences (DRL 1.1) require the
    /// `author` entry in every report of a match.
    pub meta: BTreeMap<String, String>,
}

impl RuleMatch {
    /// The rule's `author` meta, if it has one.
    pub fn author(&self) -> Option<&str> {
        self.meta.get("author").map(String::as_str)
    }

    /// The rule's `description` meta, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.meta.get("description").map(String::as_str)
    }
}

/// The outcome of scanning one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// No rule matched.
    Clean,
    /// At least one rule matched.
    Infected { matches: Vec<RuleMatch> },
    /// The scan could not finish (worker crashed, timed out, file unreadable).
    /// Never treated as clean.
    Error { reason: String },
    /// The object is larger than the policy allows scanning.
    TooLarge { size: u64, limit: u64 },
}

impl Verdict {
    /// Whether the verdict allows an automatic release.
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Clean)
    }
}
