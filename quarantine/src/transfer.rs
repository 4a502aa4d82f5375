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

use crate::item::{Item, Source};

/// The rule types live in `zion-config` (they are `[quarantine.transfers]`);
/// re-exported here so that the panel and the daemon keep their imports.
pub use zion_config::transfer::{Rule, Target, Transfer, Transfers};

/// The transfer an item is, by the inbox it came through; `None` for
/// anything else (a browser download).
pub fn of_item(item: &Item) -> Option<Transfer> {
    parse_inbox(&item.inbox)
}

/// The inbox folder of `from`'s `~/Outbox` (bound for Shared).
pub fn outbox(from: &str) -> Source {
    Source {
        name: format!("profile-{from}"),
        label: format!("profile:{from}"),
        profile: Some(from.to_owned()),
    }
}

/// The inbox folder of `from`'s `~/Outbox/<to>`.
pub fn outbox_to(from: &str, to: &str) -> Source {
    Source {
        name: format!("profile-{from}.to-{to}"),
        label: format!("profile:{from} → {to}"),
        profile: Some(from.to_owned()),
    }
}

/// The transfer an inbox folder's files are, from its name.
pub fn parse_inbox(name: &str) -> Option<Transfer> {
    let rest = name.strip_prefix("profile-")?;
    let (from, to) = match rest.split_once(".to-") {
        None => (rest, Target::Shared),
        Some((from, to)) => (from, Target::Profile(to.to_owned())),
    };
    let plain = |s: &str| zion_storage::layout::is_safe_segment(s);
    match &to {
        Target::Profile(to) if !plain(to) || to == from => return None,
        _ => {}
    }
    plain(from).then(|| Transfer {
        from: from.to_owned(),
        to,
    })
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
    fn inbox_names_say_who_sends_where() {
        assert_eq!(parse_inbox("profile-work"), Some(to("shared")));
        assert_eq!(
            parse_inbox("profile-work.to-personal"),
            Some(to("personal"))
        );
        assert_eq!(
            parse_inbox(&outbox_to("work", "personal").name),
            Some(to("personal"))
        );
        assert_eq!(parse_inbox(&outbox("work").name), Some(to("shared")));
        for other in [
            "sandbox-work-3",
            "profile-",
            "profile-work.to-",
            "profile-work.to-work",
            "profile-a.b",
        ] {
            assert_eq!(parse_inbox(other), None, "{other}");
        }
    }
}
