//! Retro-hunt and recall in the daemon (issue 17): when the rules change,
//! every released content is scanned again in the background, once per
//! SHA-256, read from where it was released; a new match recalls it, raises
//! a notification naming where it went, and sends `ItemRecalled`. Copies
//! move back into the quarantine only when the user asks (`MoveBack`).
//!
//! The hunt is low priority: its own thread at nice 19, its own scan
//! workers (spawned from that thread, so at nice 19 too, and never lent to
//! a download), one scan at a time, and only while no item waits for a scan.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use zion_bus::recall::{CopyInfo, RecallInfo};
use zion_quarantine::recall::{Hunt, RulesSeen};
use zion_quarantine::{Recall, RecallError, Store, StoreError, Verdict};
use zion_scanner::{RuleSources, Scanner};

use super::dbus::{Quarantine1, QuarantineError, PATH};
use super::notify::{Message, Notifier};
use super::wire::match_info;

/// How often the hunt looks whether the pipeline is idle again.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The recall as it travels.
pub fn recall_info(recall: &Recall) -> RecallInfo {
    RecallInfo {
        sha256: hex::encode(recall.sha256),
        name: recall.name.clone(),
        found: recall
            .found
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        matches: recall.matches.iter().map(match_info).collect(),
        copies: recall
            .copies
            .iter()
            .map(|c| CopyInfo {
                item: u64::try_from(c.item.0).unwrap_or_default(),
                destination: c.destination.clone(),
                profile: profile_of(&c.destination).unwrap_or_default().to_owned(),
                path: c.path.display().to_string(),
                status: c.status.word().to_owned(),
                detail: c.status.detail(),
            })
            .collect(),
        returned_as: recall
            .returned_as()
            .map_or(0, |id| u64::try_from(id.0).unwrap_or_default()),
    }
}

fn profile_of(destination: &str) -> Option<&str> {
    let rest = destination.strip_prefix("profile:")?;
    Some(rest.split_once('/').map_or(rest, |(p, _)| p))
}

/// A destination as people read it.
fn place(destination: &str) -> String {
    match destination {
        "shared" => "Shared (seen by every profile)".into(),
        other => match other.strip_prefix("profile:") {
            Some(rest) => match rest.split_once("/incoming:") {
                Some((to, from)) => format!("profile {to} (Incoming/{from})"),
                None => format!("profile {rest}"),
            },
            None => other.to_owned(),
        },
    }
}

/// What the user is told when a released content is recalled. Pure.
pub fn message(recall: &Recall) -> Message {
    let name = &recall.name;
    let rules: Vec<String> = recall
        .matches
        .iter()
        .map(|m| match m.author() {
            Some(a) => format!("{} (rule by {a})", m.rule),
            None => m.rule.clone(),
        })
        .collect();
    let places: Vec<String> = recall.destinations().iter().map(|d| place(d)).collect();
    let mut body = format!(
        "A new rule matches a file that was released: {}. It went to {}.",
        rules.join(", "),
        places.join(", ")
    );
    let profiles = recall.profiles();
    if !profiles.is_empty() {
        body.push_str(&format!(
            " Profiles that received it: {}.",
            profiles.join(", ")
        ));
    }
    for copy in &recall.copies {
        if let zion_quarantine::CopyStatus::Changed { reason } = &copy.status {
            body.push_str(&format!(
                " The copy at {} is not recalled: {reason}.",
                copy.path.display()
            ));
        }
    }
    let n = recall.returnable();
    let first = recall.copies.first().map_or(0, |c| c.item.0);
    if n > 0 {
        body.push_str(&format!(
            " Nothing was moved: `zionctl quarantine recall {first}` moves the {n} {} that {} still this file back into the quarantine.",
            if n == 1 { "copy" } else { "copies" },
            if n == 1 { "is" } else { "are" },
        ));
    }
    Message {
        summary: format!("{name} is recalled"),
        body,
        urgency: 2,
    }
}

/// What identifies a rule set: every rule file's namespace, path and
/// content, hashed (the compiled form is not byte-stable across compiles).
pub fn fingerprint(sources: &RuleSources) -> String {
    let mut hasher = Sha256::new();
    match sources.folders() {
        Ok(folders) => {
            for folder in folders {
                for file in &folder.files {
                    hasher.update(folder.namespace.as_bytes());
                    hasher.update([0]);
                    hasher.update(file.as_os_str().as_encoded_bytes());
                    hasher.update([0]);
                    match std::fs::read(file) {
                        Ok(bytes) => hasher.update(Sha256::digest(&bytes)),
                        Err(e) => hasher.update(e.to_string().as_bytes()),
                    }
                }
            }
        }
        Err(e) => hasher.update(e.to_string().as_bytes()),
    }
    hex::encode(hasher.finalize())
}

/// Maps a recall error to the interface's errors.
pub fn dbus_error(e: RecallError) -> QuarantineError {
    match e {
        RecallError::Store(e) => QuarantineError::from(e),
        e @ (RecallError::NotRecalled(_) | RecallError::NothingToMove { .. }) => {
            QuarantineError::NotAllowed(e.to_string())
        }
    }
}

/// Runs `f` on the store away from the bus's tasks.
pub async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, RecallError> + Send + 'static,
) -> Result<T, QuarantineError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| QuarantineError::Failed(format!("the quarantine task failed: {e}")))?
        .map_err(dbus_error)
}

/// Starts the hunt: resumes copies a crash left being moved back, checks the
/// rules against those recorded, and hunts again on each `rules_changed`.
/// Each recall is notified and signalled on `bus`.
pub fn start(
    store: Arc<Store>,
    scanner: Arc<Scanner>,
    sources: RuleSources,
    rules_changed: Receiver<()>,
    notifier: Notifier,
    bus: Option<zbus::Connection>,
) {
    let (found_tx, mut found_rx) = unbounded_channel::<Recall>();
    tokio::spawn(async move {
        while let Some(recall) = found_rx.recv().await {
            notifier.send(&message(&recall)).await;
            if let Some(bus) = &bus {
                signal(bus, &recall).await;
            }
        }
    });
    let spawned = std::thread::Builder::new()
        .name("zion-retro-hunt".into())
        .spawn(move || {
            // Linux: nice is per thread; the workers this thread starts inherit it.
            if let Err(e) = rustix::process::setpriority_process(None, 19) {
                tracing::warn!("retro-hunt: cannot lower its priority: {e}");
            }
            match store.resume_recalls() {
                Ok(0) => {}
                Ok(n) => tracing::info!("recall: finished moving back {n} copies after a restart"),
                Err(e) => tracing::error!("recall: cannot finish moving copies back: {e}"),
            }
            let mut trigger = true;
            loop {
                if trigger {
                    hunt(&store, &scanner, &sources, &found_tx);
                }
                trigger = match rules_changed.recv_timeout(Duration::from_secs(3600)) {
                    Ok(()) => true,
                    Err(RecvTimeoutError::Timeout) => false,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
            }
        });
    if let Err(e) = spawned {
        tracing::error!("no retro-hunt of released files: {e}");
    }
}

async fn signal(bus: &zbus::Connection, recall: &Recall) {
    let sent = async {
        let iface = bus
            .object_server()
            .interface::<_, Quarantine1>(PATH)
            .await?;
        Quarantine1::item_recalled(iface.signal_emitter(), recall_info(recall)).await
    }
    .await;
    if let Err(e) = sent {
        tracing::warn!("could not signal a recall: {e}");
    }
}

/// One hunt: everything the plan says, a content at a time, each only while
/// no item waits for a scan.
fn hunt(store: &Store, scanner: &Scanner, sources: &RuleSources, found: &UnboundedSender<Recall>) {
    let fingerprint = fingerprint(sources);
    match store.note_rules(&fingerprint) {
        Ok(RulesSeen::First) => {
            tracing::info!(
                "retro-hunt: rules recorded; released files will be hunted when they change"
            );
            return;
        }
        Ok(RulesSeen::Same | RulesSeen::Changed) => {}
        Err(e) => {
            tracing::warn!("retro-hunt: {e}");
            return;
        }
    }
    let (fingerprint, hunts) = match store.hunt_plan() {
        Ok(plan) => plan,
        Err(e) => {
            tracing::warn!("retro-hunt: cannot plan: {e}");
            return;
        }
    };
    if hunts.is_empty() {
        return;
    }
    tracing::info!(
        "retro-hunt: scanning {} released contents again with the new rules",
        hunts.len()
    );
    for h in &hunts {
        wait_idle(store);
        if let Err(e) = hunt_one(store, scanner, &fingerprint, h, found) {
            tracing::warn!("retro-hunt of {}: {e}", hex::encode(h.sha256));
        }
    }
    tracing::info!("retro-hunt: done ({} contents)", hunts.len());
}

fn wait_idle(store: &Store) {
    while store.scans_waiting().is_ok_and(|n| n > 0) {
        std::thread::sleep(IDLE_POLL);
    }
}

/// Scans one content from the first copy that still has it.
fn hunt_one(
    store: &Store,
    scanner: &Scanner,
    fingerprint: &str,
    h: &Hunt,
    found: &UnboundedSender<Recall>,
) -> Result<(), StoreError> {
    let sha = hex::encode(h.sha256);
    for item in &h.items {
        let file = match store.open_released(item)? {
            Ok(file) => file,
            Err(status) => {
                tracing::info!(
                    "retro-hunt: item {}'s copy is not read: {}",
                    item.id,
                    status.detail()
                );
                continue;
            }
        };
        let before = identity(&file);
        // Workers of their own: never shared with the downloads' scans.
        let verdict = scanner.scan_file_for(&format!("retro-hunt {}", item.source), &file);
        if before.is_none() || identity(&file) != before {
            tracing::info!(
                "retro-hunt: item {}'s copy changed during the scan",
                item.id
            );
            continue;
        }
        match verdict {
            Verdict::Clean => store.record_hunt(&h.sha256, fingerprint, "clean")?,
            Verdict::Infected { matches } => {
                store.record_hunt(&h.sha256, fingerprint, "recalled")?;
                let recall = store.record_recall(&h.sha256, &matches, fingerprint)?;
                tracing::warn!(
                    "recall: {} ({sha}) matches {} since its release; it went to {}",
                    recall.name,
                    matches
                        .iter()
                        .map(|m| m.rule.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    recall.destinations().join(", ")
                );
                let _ = found.send(recall);
            }
            other => {
                let why = super::wire::verdict_word(&other);
                tracing::warn!("retro-hunt: {sha} not scanned: {other:?}");
                store.record_hunt(&h.sha256, fingerprint, &format!("unscanned: {why}"))?;
            }
        }
        return Ok(());
    }
    tracing::info!("retro-hunt: {sha}: no released copy still has this content");
    store.record_hunt(&h.sha256, fingerprint, "unscanned: no copy left")
}

/// What shows a write: size, modification and change times.
fn identity(file: &std::fs::File) -> Option<(i64, i64, i64, i64, i64)> {
    let st = rustix::fs::fstat(file).ok()?;
    Some((
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec as i64,
        st.st_ctime,
        st.st_ctime_nsec as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use zion_quarantine::{CopyStatus, ItemId, RecalledCopy, RuleMatch};

    fn recall() -> Recall {
        let copy = |item: i64, dest: &str, path: &str, status: CopyStatus| RecalledCopy {
            item: ItemId(item),
            destination: dest.into(),
            path: path.into(),
            status,
            changed: UNIX_EPOCH,
        };
        Recall {
            sha256: [7; 32],
            name: "report.pdf".into(),
            matches: vec![RuleMatch {
                rule: "Canary".into(),
                namespace: "rules".into(),
                tags: vec![],
                meta: [("author".to_owned(), "Test User".to_owned())].into(),
                member: vec![],
            }],
            found: UNIX_EPOCH,
            copies: vec![
                copy(3, "shared", "/d/shared/report.pdf", CopyStatus::Present),
                copy(
                    5,
                    "profile:home/incoming:work",
                    "/d/profiles/home/home/Incoming/work/report.pdf",
                    CopyStatus::Changed {
                        reason: "its content changed since it was released".into(),
                    },
                ),
            ],
        }
    }

    #[test]
    fn the_notification_names_where_it_went_who_got_it_and_what_moves() {
        let msg = message(&recall());
        assert_eq!(msg.summary, "report.pdf is recalled");
        assert_eq!(msg.urgency, 2);
        for needle in [
            "Canary (rule by Test User)",
            "Shared (seen by every profile)",
            "profile home (Incoming/work)",
            "Profiles that received it: home.",
            "Incoming/work/report.pdf is not recalled: its content changed",
            "Nothing was moved: `zionctl quarantine recall 3` moves the 1 copy that is still",
        ] {
            assert!(msg.body.contains(needle), "{needle:?} in {}", msg.body);
        }
    }

    #[test]
    fn a_recall_travels_with_each_copy_and_its_profile() {
        let info = recall_info(&recall());
        assert_eq!(info.sha256, "07".repeat(32));
        assert_eq!(info.matches[0].author, "Test User");
        assert_eq!(info.copies.len(), 2);
        assert_eq!(info.copies[0].profile, "");
        assert_eq!(info.copies[0].status, "present");
        assert_eq!(info.copies[1].profile, "home");
        assert_eq!(info.copies[1].status, "changed");
        assert!(info.copies[1].detail.starts_with("not recalled: "));
        assert_eq!(info.returnable(), 1);
        assert_eq!(info.returned_as, 0);
    }

    #[test]
    fn the_fingerprint_follows_rule_content_not_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.yar"), "rule A { condition: true }").expect("rule");
        let sources = RuleSources::new(dir.path());
        let first = fingerprint(&sources);
        assert_eq!(fingerprint(&sources), first, "stable");
        std::fs::write(dir.path().join("a.yar"), "rule A { condition: false }").expect("rule");
        assert_ne!(fingerprint(&sources), first, "a changed rule changes it");
    }
}
