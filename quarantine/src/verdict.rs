//! What a scan concluded about one object. Shared by the scanner, the store
//! and every client (the panel, zionctl), so it needs no libyara.

use std::collections::BTreeMap;
use std::fmt;

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
    /// Where inside the object it matched: the member path through nested
    /// archives, outermost first (`["docs.tar.gz", "docs/readme.exe"]`);
    /// empty for the object itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member: Vec<String>,
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

/// The separator between an archive and its member in every report:
/// `invoice.zip ▸ docs/readme.exe`.
pub const MEMBER_SEPARATOR: &str = " ▸ ";

/// A member path as people read it (`inner.zip ▸ docs/readme.exe`).
pub fn member_path(member: &[String]) -> String {
    member.join(MEMBER_SEPARATOR)
}

/// Why an archive was not scanned through: a bomb refused, or a member that
/// cannot be read. Never clean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ArchiveProblem {
    /// A member is encrypted: its content cannot be scanned.
    Encrypted,
    /// Archives nested deeper than the limit.
    TooDeep {
        /// The most levels of nesting unpacked.
        limit: u32,
    },
    /// The archive unpacks to more than `limit` times its own size.
    Ratio {
        /// The largest expansion allowed.
        limit: u64,
    },
    /// More members than the limit, over every level of nesting.
    TooManyMembers {
        /// The most members unpacked.
        limit: u64,
    },
    /// More unpacked bytes than the limit, over every level of nesting.
    TooLarge {
        /// The most bytes unpacked.
        limit: u64,
    },
    /// The archive (or a member) is damaged or uses a method no reader has.
    Corrupt {
        /// What the reader said.
        reason: String,
    },
}

impl ArchiveProblem {
    /// Whether this is a refused bomb (as opposed to a member that cannot be read).
    pub fn is_bomb(&self) -> bool {
        matches!(
            self,
            ArchiveProblem::TooDeep { .. }
                | ArchiveProblem::Ratio { .. }
                | ArchiveProblem::TooManyMembers { .. }
                | ArchiveProblem::TooLarge { .. }
        )
    }

    /// The short word for it: `encrypted`, `too deep`, `ratio`,
    /// `too many members`, `too large`, `corrupt`.
    pub fn word(&self) -> &'static str {
        match self {
            ArchiveProblem::Encrypted => "encrypted",
            ArchiveProblem::TooDeep { .. } => "too deep",
            ArchiveProblem::Ratio { .. } => "ratio",
            ArchiveProblem::TooManyMembers { .. } => "too many members",
            ArchiveProblem::TooLarge { .. } => "too large",
            ArchiveProblem::Corrupt { .. } => "corrupt",
        }
    }
}

impl fmt::Display for ArchiveProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveProblem::Encrypted => f.write_str("unscannable: encrypted"),
            ArchiveProblem::TooDeep { limit } => write!(
                f,
                "refused: too deep (archives nested more than {limit} levels)"
            ),
            ArchiveProblem::Ratio { limit } => write!(
                f,
                "refused: ratio (unpacks to more than {limit} times its size)"
            ),
            ArchiveProblem::TooManyMembers { limit } => {
                write!(f, "refused: too many members (more than {limit})")
            }
            ArchiveProblem::TooLarge { limit } => write!(
                f,
                "refused: too large (more than {} MiB unpacked)",
                limit >> 20
            ),
            ArchiveProblem::Corrupt { reason } => {
                write!(f, "unscannable: corrupt archive ({reason})")
            }
        }
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
    /// An archive that was not scanned through: a bomb refused, an encrypted
    /// or corrupt member. Held for review, never clean.
    Unscannable {
        /// What stopped the scan.
        problem: ArchiveProblem,
        /// Where (the member path, outermost first; empty: the object itself).
        member: Vec<String>,
    },
}

impl Verdict {
    /// Whether the verdict allows an automatic release.
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Clean)
    }

    /// An unscannable verdict in words, with its member path:
    /// `unscannable: encrypted: docs/secret.pdf`.
    pub fn unscannable_reason(problem: &ArchiveProblem, member: &[String]) -> String {
        if member.is_empty() {
            problem.to_string()
        } else {
            format!("{problem}: {}", member_path(member))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_recorded_before_archives_reads_as_the_object_itself() {
        let old = r#"{"rule":"r","namespace":"n","tags":[],"meta":{}}"#;
        let m: RuleMatch = serde_json::from_str(old).expect("an old match parses");
        assert!(m.member.is_empty());
        assert_eq!(serde_json::to_string(&m).expect("json"), old);
    }

    #[test]
    fn an_unscannable_verdict_names_its_problem_and_member() {
        let verdict = Verdict::Unscannable {
            problem: ArchiveProblem::Encrypted,
            member: vec!["inner.zip".into(), "docs/secret.pdf".into()],
        };
        assert!(!verdict.is_clean());
        let json = serde_json::to_string(&verdict).expect("json");
        let back: Verdict = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, verdict);
        assert_eq!(
            Verdict::unscannable_reason(&ArchiveProblem::Encrypted, &["a.zip".into(), "b".into()]),
            "unscannable: encrypted: a.zip ▸ b"
        );
        assert!(ArchiveProblem::Ratio { limit: 100 }.is_bomb());
        assert!(!ArchiveProblem::Encrypted.is_bomb());
    }
}
