//! `[quarantine.transfers]`: the rule for files crossing between profiles.
//! (The inbox folders a transfer comes through are `zion-quarantine`'s.)
//!
//! Files crossing between profiles. A profile sends a file by putting it in
//! one of its outboxes, each an inbox folder of the quarantine:
//! `profile-<from>` (its `~/Outbox`, bound for Shared) and
//! `profile-<from>.to-<to>` (its `~/Outbox/<to>`, bound for `<to>`'s
//! `~/Incoming/<from>`). Which folder a file came through is all that says
//! where it goes; what may happen on the way is a rule per pair from the
//! `[quarantine.transfers]` table:
//!
//! ```toml
//! [quarantine.transfers]
//! "work -> personal" = "review"   # held for the user even when clean
//! "gaming -> work" = "deny"       # never released; kept with the reason
//! "* -> shared" = "scan"          # released when clean, after transfer_hold
//! ```
//!
//! The most specific rule wins (a named destination counts more than a
//! named source); the built-in rules, which the table overrides, are
//! `"* -> shared" = "scan"` and `"* -> *" = "review"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use zion_storage::Destination;

/// What a pair's transfers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Never released (not even by the user); the file stays in the quarantine.
    Deny,
    /// Held for an explicit decision, even when clean.
    Review,
    /// Released when clean, after the transfer hold.
    Scan,
}

impl Rule {
    /// The word used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Deny => "deny",
            Rule::Review => "review",
            Rule::Scan => "scan",
        }
    }
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deny" => Ok(Rule::Deny),
            "review" => Ok(Rule::Review),
            "scan" => Ok(Rule::Scan),
            other => Err(format!(
                "{other:?} is not a transfer rule; expected \"deny\", \"review\" or \"scan\""
            )),
        }
    }
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Storage shared by all profiles.
    Shared,
    /// Another profile's `~/Incoming/<from>`.
    Profile(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Shared => f.write_str("shared"),
            Target::Profile(p) => f.write_str(p),
        }
    }
}

/// A file on its way from one profile to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The sending profile.
    pub from: String,
    /// Where it goes.
    pub to: Target,
}

impl Transfer {
    /// The storage destination a release of this transfer goes to.
    pub fn destination(&self) -> Destination {
        match &self.to {
            Target::Shared => Destination::Shared,
            Target::Profile(to) => Destination::Incoming {
                profile: to.clone(),
                from: self.from.clone(),
            },
        }
    }
}

impl fmt::Display for Transfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.from, self.to)
    }
}

/// One side of a rule: a profile, `shared`, or `*` (anything).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    Any,
    Shared,
    Profile(String),
}

impl Side {
    fn parse(text: &str) -> Result<Side, String> {
        match text {
            "*" => Ok(Side::Any),
            "shared" => Ok(Side::Shared),
            p if zion_storage::layout::is_safe_segment(p) => Ok(Side::Profile(p.to_owned())),
            p => Err(format!("{p:?} is not a profile name, \"shared\" or \"*\"")),
        }
    }

    fn matches_profile(&self, name: &str) -> bool {
        match self {
            Side::Any => true,
            Side::Shared => false,
            Side::Profile(p) => p == name,
        }
    }

    fn matches_target(&self, to: &Target) -> bool {
        match (self, to) {
            (Side::Any, _) => true,
            (Side::Shared, Target::Shared) => true,
            (Side::Profile(p), Target::Profile(q)) => p == q,
            _ => false,
        }
    }

    fn named(&self) -> bool {
        !matches!(self, Side::Any)
    }
}

/// The per-pair rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfers {
    /// (from, to, rule, as written), the configured ones first, then the built-in ones.
    rules: Vec<(Side, Side, Rule, String)>,
    /// How many of `rules` were configured (the rest are built in).
    configured: usize,
}

impl Default for Transfers {
    fn default() -> Self {
        Transfers::from_pairs(std::iter::empty()).unwrap_or(Transfers {
            rules: Vec::new(),
            configured: 0,
        })
    }
}

impl Transfers {
    /// The rules written as `"FROM -> TO" = "RULE"` pairs, over the built-in ones.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Transfers, String> {
        let mut rules: Vec<(Side, Side, Rule, String)> = Vec::new();
        for (key, value) in pairs {
            let (from, to) = key.split_once("->").ok_or_else(|| {
                format!("transfers: key {key:?} is not \"FROM -> TO\" (e.g. \"work -> personal\", \"* -> shared\")")
            })?;
            let from = Side::parse(from.trim()).map_err(|e| format!("transfers: {key:?}: {e}"))?;
            let to = Side::parse(to.trim()).map_err(|e| format!("transfers: {key:?}: {e}"))?;
            if from == Side::Shared {
                return Err(format!(
                    "transfers: {key:?}: nothing is sent from Shared; the source is a profile or \"*\""
                ));
            }
            let rule: Rule = value
                .parse()
                .map_err(|e| format!("transfers: {key:?}: {e}"))?;
            if let Some((_, _, _, earlier)) = rules.iter().find(|r| r.0 == from && r.1 == to) {
                return Err(format!(
                    "transfers: {key:?} and {earlier:?} name the same pair"
                ));
            }
            rules.push((from, to, rule, key.to_owned()));
        }
        let configured = rules.len();
        for (from, to, rule, key) in [
            (Side::Any, Side::Shared, Rule::Scan, "* -> shared"),
            (Side::Any, Side::Any, Rule::Review, "* -> *"),
        ] {
            if !rules.iter().any(|r| r.0 == from && r.1 == to) {
                rules.push((from, to, rule, key.to_owned()));
            }
        }
        Ok(Transfers { rules, configured })
    }

    /// The configured rules as written (`"work -> personal"`, rule), in order;
    /// the built-in ones are left out.
    pub fn configured(&self) -> impl Iterator<Item = (&str, Rule)> {
        self.rules[..self.configured]
            .iter()
            .map(|(_, _, rule, key)| (key.as_str(), *rule))
    }

    /// The rule for a transfer, and the rule's key as written.
    pub fn rule(&self, transfer: &Transfer) -> (Rule, &str) {
        self.rules
            .iter()
            .filter(|(from, to, _, _)| {
                from.matches_profile(&transfer.from) && to.matches_target(&transfer.to)
            })
            // A named destination counts more than a named source.
            .max_by_key(|(from, to, _, _)| 2 * u8::from(to.named()) + u8::from(from.named()))
            .map_or((Rule::Review, "* -> *"), |(_, _, rule, key)| {
                (*rule, key.as_str())
            })
    }

    /// Profile names the rules mention that are not in `profiles`.
    pub fn unknown_profiles(&self, profiles: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for (from, to, _, key) in &self.rules {
            for side in [from, to] {
                if let Side::Profile(p) = side {
                    if !profiles.contains(p) {
                        out.push(format!("{p:?} in {key:?}"));
                    }
                }
            }
        }
        out
    }

    /// Whether the user may release this transfer (to its own target): not
    /// when its pair is denied. The error says which rule denies it.
    pub fn check_user_release(&self, transfer: &Transfer) -> Result<(), String> {
        match self.rule(transfer) {
            (Rule::Deny, key) => Err(format!(
                "transfers from {} to {} are denied by the rule {key:?} in [quarantine.transfers] of zion.toml; the file stays in the quarantine",
                transfer.from, transfer.to
            )),
            _ => Ok(()),
        }
    }

    /// Why the policy does not release a clean transfer, for the user; `None`
    /// when it does.
    pub fn waiting_reason(&self, transfer: &Transfer) -> Option<String> {
        match self.rule(transfer) {
            (Rule::Scan, _) => None,
            (Rule::Review, key) => Some(format!(
                "transfer {transfer} waits for your decision (rule {key:?})"
            )),
            (Rule::Deny, key) => Some(format!(
                "transfer {transfer} is denied (rule {key:?}); the file is kept in the quarantine"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Transfers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = std::collections::BTreeMap::<String, String>::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "transfers must be a table of \"FROM -> TO\" = \"deny\" | \"review\" | \"scan\"",
            )
        })?;
        Transfers::from_pairs(table.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(p: &str) -> Transfer {
        Transfer {
            from: "work".into(),
            to: if p == "shared" {
                Target::Shared
            } else {
                Target::Profile(p.into())
            },
        }
    }

    #[test]
    fn destinations_are_shared_or_the_receivers_incoming_folder() {
        assert_eq!(to("shared").destination(), Destination::Shared);
        assert_eq!(
            to("personal").destination(),
            Destination::Incoming {
                profile: "personal".into(),
                from: "work".into()
            }
        );
    }

    #[test]
    fn cautious_defaults_review_between_profiles_and_scan_into_shared() {
        let t = Transfers::default();
        assert_eq!(t.rule(&to("shared")).0, Rule::Scan);
        assert_eq!(t.rule(&to("personal")).0, Rule::Review);
        assert_eq!(t.rule(&to("gaming")).0, Rule::Review);
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let t = Transfers::from_pairs([
            ("work -> *", "deny"),
            ("* -> personal", "scan"),
            ("work -> gaming", "review"),
            ("* -> *", "scan"),
        ])
        .expect("valid rules");
        assert_eq!(t.rule(&to("gaming")), (Rule::Review, "work -> gaming"));
        assert_eq!(t.rule(&to("personal")), (Rule::Scan, "* -> personal"));
        assert_eq!(t.rule(&to("shared")), (Rule::Scan, "* -> shared"));
        assert_eq!(t.rule(&to("other")), (Rule::Deny, "work -> *"));
        let mut other = to("work");
        other.from = "gaming".into();
        assert_eq!(t.rule(&other), (Rule::Scan, "* -> *"));
    }

    #[test]
    fn denied_pairs_refuse_the_user_too_and_say_which_rule() {
        let t = Transfers::from_pairs([("work -> personal", "deny")]).expect("valid");
        let err = t.check_user_release(&to("personal")).expect_err("denied");
        assert!(err.contains("\"work -> personal\""), "{err}");
        assert!(t.check_user_release(&to("shared")).is_ok());
        assert!(t
            .waiting_reason(&to("personal"))
            .is_some_and(|r| r.contains("denied")));
        assert!(t
            .waiting_reason(&to("gaming"))
            .is_some_and(|r| r.contains("your decision")));
        assert_eq!(t.waiting_reason(&to("shared")), None);
    }

    #[test]
    fn bad_rules_say_what_was_wrong() {
        for (key, value, expected) in [
            ("work personal", "scan", "is not \"FROM -> TO\""),
            ("Work -> personal", "scan", "is not a profile name"),
            ("shared -> work", "scan", "nothing is sent from Shared"),
            (
                "work -> personal",
                "allow",
                "expected \"deny\", \"review\" or \"scan\"",
            ),
        ] {
            let err = Transfers::from_pairs([(key, value)]).expect_err(key);
            assert!(err.contains(expected), "{key}: {err}");
        }
        let err = Transfers::from_pairs([("work -> personal", "scan"), ("work->personal", "deny")])
            .expect_err("duplicate");
        assert!(err.contains("name the same pair"), "{err}");
    }

    #[test]
    fn rules_naming_unknown_profiles_are_reported() {
        let t = Transfers::from_pairs([("wrok -> personal", "scan")]).expect("valid");
        let unknown = t.unknown_profiles(&["work".into(), "personal".into()]);
        assert_eq!(unknown, vec!["\"wrok\" in \"wrok -> personal\"".to_owned()]);
    }
}
