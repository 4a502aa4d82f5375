//! Desktop notifications (`org.freedesktop.Notifications`) for verdicts,
//! best effort. A session without a notification daemon gets a log line,
//! never a failure.
//!
//! Verdicts are gathered for a moment before they are told: a folder of a
//! thousand files (or a profile dropping them to bury the one that matters
//! under a flood) gives one notification per source and kind of verdict, not
//! a thousand. A few verdicts are still told one by one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use zbus::zvariant::Value;
use zion_bus::NotificationsProxy;
use zion_quarantine::{Item, Refusal, State};

/// How long a notification may take before it is given up.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Verdicts are gathered until none came for this long…
const GATHER_QUIET: Duration = Duration::from_millis(300);
/// …or for this long at most since the first.
const GATHER_MAX: Duration = Duration::from_secs(2);
/// From this many verdicts of one kind from one source in a gathering, one
/// summary is told instead of each.
pub const SUMMARY_FROM: usize = 4;
/// How many names a summary lists.
const SUMMARY_NAMES: usize = 5;

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
    /// To the task that gathers verdicts.
    verdicts: UnboundedSender<Told>,
}

/// A verdict to tell: what to say about it alone, and what groups it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    /// The item's source.
    pub source: String,
    /// The kind of verdict (the state's word).
    pub kind: &'static str,
    /// The item's name as shown.
    pub name: String,
    /// The message for it alone.
    pub message: Message,
}

impl Notifier {
    /// Notifies through `bus`; with `None`, only logs. Starts the task that
    /// gathers verdicts: call it on the runtime.
    pub fn new(bus: Option<zbus::Connection>) -> Notifier {
        let (verdicts, rx) = unbounded_channel();
        tokio::spawn(gather(bus.clone(), rx));
        Notifier { bus, verdicts }
    }

    /// Tells the user about `item`'s verdict, with the others that come
    /// within a moment; never waits for the notification daemon.
    pub fn verdict(&self, item: &Item) {
        let Some(message) = message(item) else { return };
        let told = Told {
            source: item.source.clone(),
            kind: item.state.kind().as_str(),
            name: item.safe_name.clone(),
            message,
        };
        if self.verdicts.send(told).is_err() {
            tracing::debug!("verdict notifications have stopped");
        }
    }

    /// Sends `msg`; logs instead when that fails.
    pub async fn send(&self, msg: &Message) {
        tell(self.bus.as_ref(), msg).await;
    }
}

/// Sends `msg` on `bus`; logs instead when that fails or there is no bus.
async fn tell(bus: Option<&zbus::Connection>, msg: &Message) {
    let Some(bus) = bus else {
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

/// Gathers verdicts (until [`GATHER_QUIET`] passes without one, or
/// [`GATHER_MAX`] after the first) and tells each gathering as [`gathered`]
/// says. Ends when every [`Notifier`] is gone.
async fn gather(bus: Option<zbus::Connection>, mut rx: UnboundedReceiver<Told>) {
    while let Some(first) = rx.recv().await {
        let started = Instant::now();
        let mut batch = vec![first];
        let mut open = true;
        while open {
            let left = GATHER_MAX
                .saturating_sub(started.elapsed())
                .min(GATHER_QUIET);
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(told)) => batch.push(told),
                Ok(None) => open = false,
                Err(_) => break,
            }
        }
        for msg in gathered(batch) {
            tell(bus.as_ref(), &msg).await;
        }
        if !open {
            break;
        }
    }
}

/// What a gathering of verdicts tells: a summary for each source and kind
/// of verdict that came [`SUMMARY_FROM`] times or more, each message alone
/// otherwise; the most urgent first, then in the order they came. Pure.
pub fn gathered(batch: Vec<Told>) -> Vec<Message> {
    let mut groups: Vec<((String, &'static str), Vec<Told>)> = Vec::new();
    for told in batch {
        let key = (told.source.clone(), told.kind);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(told),
            None => groups.push((key, vec![told])),
        }
    }
    let mut out = Vec::new();
    for ((source, kind), group) in groups {
        if group.len() < SUMMARY_FROM {
            out.extend(group.into_iter().map(|t| t.message));
            continue;
        }
        let n = group.len();
        let what = match kind {
            "clean" => "are clean",
            "infected" => "are infected",
            "too_large" => "are too large to scan",
            _ => "could not be scanned",
        };
        let urgency = group.iter().map(|t| t.message.urgency).max().unwrap_or(0);
        let mut names: Vec<&str> = group
            .iter()
            .take(SUMMARY_NAMES)
            .map(|t| t.name.as_str())
            .collect();
        let more = n - names.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let last = names.pop().unwrap_or_default();
        let list = if names.is_empty() {
            last.to_owned()
        } else {
            format!("{}, {last}", names.join(", "))
        };
        let then = if kind == "clean" {
            "`zionctl quarantine list` shows them; the panel releases them together."
        } else {
            "They stay in quarantine; `zionctl quarantine list` shows each verdict."
        };
        out.push(Message {
            summary: format!("{n} files from {source} {what}"),
            body: format!("{list}{more}. {then}"),
            urgency,
        });
    }
    out.sort_by_key(|msg| std::cmp::Reverse(msg.urgency));
    out
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

    fn told(source: &str, name: &str, state: State) -> Told {
        let mut it = item(state);
        it.source = source.into();
        it.safe_name = name.into();
        Told {
            source: it.source.clone(),
            kind: it.state.kind().as_str(),
            name: name.into(),
            message: message(&it).expect("a verdict"),
        }
    }

    #[test]
    fn a_few_verdicts_are_told_each_and_a_flood_once_per_source_and_kind() {
        let few = vec![
            told("profile:work", "a.txt", State::Clean),
            told("profile:work", "b.txt", State::Clean),
            told("profile:work", "c.txt", State::Clean),
        ];
        let out = gathered(few);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].summary, "a.txt is clean");

        let eicar = RuleMatch {
            rule: "EICAR_Test".into(),
            namespace: "default".into(),
            tags: vec![],
            meta: BTreeMap::new(),
            member: Vec::new(),
        };
        let mut flood: Vec<Told> = (0..300)
            .map(|n| told("profile:gaming", &format!("f{n}.dat"), State::Clean))
            .collect();
        flood.insert(
            150,
            told(
                "profile:gaming",
                "payload.exe",
                State::Infected {
                    matches: vec![eicar],
                },
            ),
        );
        flood.push(told("profile:work", "notes.txt", State::Clean));
        let out = gathered(flood);
        assert_eq!(out.len(), 3, "{out:#?}");
        // The one that matters is not buried: told alone, urgently, first.
        assert_eq!(out[0].summary, "payload.exe is infected");
        assert_eq!(out[0].urgency, 2);
        assert_eq!(out[1].summary, "300 files from profile:gaming are clean");
        assert!(
            out[1]
                .body
                .starts_with("f0.dat, f1.dat, f2.dat, f3.dat, f4.dat and 295 more."),
            "{}",
            out[1].body
        );
        assert_eq!(out[1].urgency, 0);
        assert_eq!(out[2].summary, "notes.txt is clean");
    }

    #[test]
    fn many_infected_files_are_one_urgent_summary() {
        let out = gathered(
            (0..SUMMARY_FROM)
                .map(|n| {
                    told(
                        "sandbox:work/2",
                        &format!("x{n}.exe"),
                        State::Infected { matches: vec![] },
                    )
                })
                .collect(),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].summary, "4 files from sandbox:work/2 are infected");
        assert_eq!(out[0].body, "x0.exe, x1.exe, x2.exe, x3.exe. They stay in quarantine; `zionctl quarantine list` shows each verdict.");
        assert_eq!(out[0].urgency, 2);
    }
}
