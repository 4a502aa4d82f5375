//! Desktop notifications (`org.freedesktop.Notifications`) for verdicts: one
//! per scanned item, best effort. A session without a notification daemon
//! gets a log line, never a failure.

use std::collections::HashMap;
use std::time::Duration;

use zbus::zvariant::Value;
use zion_bus::NotificationsProxy;
use zion_quarantine::{Item, Refusal, State};

/// How long a notification may take before it is given up.
const TIMEOUT: Duration = Duration::from_secs(3);

/// What a notification says: summary, body, urgency (0 low, 1 normal, 2 critical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The one-line summary.
    pub summary: String,
    /// The body.
    pub body: String,
    /// The freedesktop urgency hint.
    pub urgency: u8,
}

/// What to tell the user about an item's verdict; `None` when its state is no verdict. Pure.
pub fn message(item: &Item) -> Option<Message> {
    let name = &item.safe_name;
    let id = item.id;
    let (summary, body, urgency) = match &item.state {
        State::Clean => (
            format!("{name} is clean"),
            format!(
                "From {}. No rule matched. Release it with `zionctl quarantine release {id} shared`.",
                item.source
            ),
            0,
        ),
        State::Infected { matches } => {
            let rules: Vec<String> = matches
                .iter()
                .map(|m| {
                    let rule = match (m.author(), m.description()) {
                        (Some(a), Some(d)) => format!("{} ({d}; rule by {a})", m.rule),
                        (Some(a), None) => format!("{} (rule by {a})", m.rule),
                        (None, Some(d)) => format!("{} ({d})", m.rule),
                        (None, None) => m.rule.clone(),
                    };
                    if m.member.is_empty() {
                        rule
                    } else {
                        format!(
                            "{rule} in {name}{}{}",
                            zion_quarantine::MEMBER_SEPARATOR,
                            zion_quarantine::member_path(&m.member)
                        )
                    }
                })
                .collect();
            (
                format!("{name} is infected"),
                format!(
                    "From {}. Matched: {}. It stays in quarantine (item {id}).",
                    item.source,
                    rules.join(", ")
                ),
                2,
            )
        }
        State::Error { reason } => (
            format!("{name} could not be scanned"),
            format!(
                "From {}: {reason}. It stays in quarantine (item {id}); `zionctl quarantine rescan {id}` tries again.",
                item.source
            ),
            1,
        ),
        State::TooLarge { size, limit } => (
            format!("{name} is too large to scan"),
            format!(
                "From {}: {size} bytes, over the {limit}-byte limit. It stays in quarantine (item {id}).",
                item.source
            ),
            1,
        ),
        _ => return None,
    };
    Some(Message {
        summary,
        body,
        urgency,
    })
}

/// What to tell the user about a file left in an inbox; `None` for the
/// refusals that need no word (only lack of room does). Pure.
pub fn refusal_message(refusal: &Refusal) -> Option<Message> {
    if !refusal.reason.is_transient() {
        return None;
    }
    let name = refusal
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(Message {
        summary: format!("{name} waits outside the quarantine"),
        body: format!(
            "{}: {}. It stays where it is and is taken once there is room.",
            refusal.path.display(),
            refusal.reason
        ),
        urgency: 1,
    })
}

/// What to tell the user when the audit log's chain is broken. Pure.
pub fn audit_message(problem: &str) -> Message {
    Message {
        summary: "The release audit log was tampered with".into(),
        body: format!(
            "{problem}. Releases go on being recorded; `zionctl audit verify` shows what is wrong."
        ),
        urgency: 2,
    }
}

/// Sends notifications on one bus connection.
#[derive(Clone)]
pub struct Notifier {
    bus: Option<zbus::Connection>,
}

impl Notifier {
    /// Notifies through `bus`; with `None`, only logs.
    pub fn new(bus: Option<zbus::Connection>) -> Notifier {
        Notifier { bus }
    }

    /// Tells the user about `item`'s verdict; logs instead when that fails.
    pub async fn verdict(&self, item: &Item) {
        let Some(msg) = message(item) else { return };
        self.send(&msg).await;
    }

    /// Sends `msg`; logs instead when that fails.
    pub async fn send(&self, msg: &Message) {
        let Some(bus) = &self.bus else {
            tracing::info!("no session bus for notifications: {}", msg.summary);
            return;
        };
        match tokio::time::timeout(TIMEOUT, send(bus, msg)).await {
            Ok(Ok(id)) => tracing::debug!("notification {id}: {}", msg.summary),
            Ok(Err(e)) => tracing::info!(
                "no desktop notification ({}): {}",
                short_error(&e),
                msg.summary
            ),
            Err(_) => tracing::info!(
                "no desktop notification (no answer within {TIMEOUT:?}): {}",
                msg.summary
            ),
        }
    }
}

async fn send(bus: &zbus::Connection, msg: &Message) -> zbus::Result<u32> {
    let proxy = NotificationsProxy::builder(bus)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let urgency = Value::U8(msg.urgency);
    let category = Value::from("transfer.complete");
    let hints = HashMap::from([("urgency", &urgency), ("category", &category)]);
    proxy
        .notify(
            "Zion",
            0,
            "security-high",
            &msg.summary,
            &msg.body,
            &[],
            hints,
            -1,
        )
        .await
}

fn short_error(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, _, _)
            if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
        {
            "no notification daemon on the session bus".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::UNIX_EPOCH;
    use zion_quarantine::{ItemId, RuleMatch};

    fn item(state: State) -> Item {
        Item {
            id: ItemId(3),
            original_name: "setup.exe".into(),
            safe_name: "setup.exe".into(),
            inbox: "dl".into(),
            source: "sandbox:work/1".into(),
            profile: None,
            size: 10,
            sha256: None,
            added: UNIX_EPOCH,
            changed: UNIX_EPOCH,
            state,
            verdict: None,
            destination: None,
            held: false,
            origin: None,
        }
    }

    #[test]
    fn an_infected_verdict_names_rule_and_author_urgently() {
        let m = RuleMatch {
            rule: "EICAR_Test".into(),
            namespace: "default".into(),
            tags: vec![],
            meta: BTreeMap::from([("author".to_owned(), "Jane Doe".to_owned())]),
            member: Vec::new(),
        };
        let msg = message(&item(State::Infected { matches: vec![m] })).expect("a message");
        assert_eq!(msg.summary, "setup.exe is infected");
        assert!(
            msg.body.contains("EICAR_Test (rule by Jane Doe)"),
            "{}",
            msg.body
        );
        assert!(msg.body.contains("item 3"), "{}", msg.body);
        assert_eq!(msg.urgency, 2);
    }

    #[test]
    fn a_match_inside_an_archive_names_the_member() {
        let m = RuleMatch {
            rule: "EICAR_Test".into(),
            namespace: "default".into(),
            tags: vec![],
            meta: BTreeMap::new(),
            member: vec!["docs.tar.gz".into(), "docs/readme.exe".into()],
        };
        let msg = message(&item(State::Infected { matches: vec![m] })).expect("a message");
        assert!(
            msg.body
                .contains("EICAR_Test in setup.exe ▸ docs.tar.gz ▸ docs/readme.exe"),
            "{}",
            msg.body
        );
    }

    #[test]
    fn only_verdict_states_are_announced() {
        assert!(message(&item(State::Clean)).is_some());
        assert!(message(&item(State::Error {
            reason: "worker killed".into()
        }))
        .is_some_and(|m| m.body.contains("worker killed")));
        assert!(message(&item(State::Scanning)).is_none());
        assert!(message(&item(State::Deleted)).is_none());
    }
}
