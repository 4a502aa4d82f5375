//! Retro-hunt and recall against a real journal and real files: released
//! copies found as they are now, moved back only when asked and only while
//! they are the released content, and nothing lost when the daemon dies
//! between the journal's commit and the copies' removal.

#[path = "store_support.rs"]
mod support;

use support::{content, os, sha256, Env, SOURCE};
use zion_quarantine::recall::RulesSeen;
use zion_quarantine::{
    CopyStatus, DecidedBy, IngestOutcome, Item, RecallError, RuleMatch, State, StateKind, Store,
    Verdict,
};
use zion_storage::Destination;

fn rule() -> RuleMatch {
    RuleMatch {
        rule: "Canary".into(),
        namespace: "user".into(),
        tags: vec![],
        meta: [("author".to_owned(), "Test User".to_owned())].into(),
        member: Vec::new(),
    }
}

/// A clean item released to `dest`.
fn released(env: &Env, store: &Store, name: &str, bytes: &[u8], dest: &Destination) -> Item {
    env.put(os(name.as_bytes()), bytes);
    let item = match store.ingest(SOURCE, os(name.as_bytes())).expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("{other:?}"),
    };
    store.begin_scan(item.id).expect("scan");
    store.finish_scan(item.id, Verdict::Clean).expect("clean");
    store
        .release(item.id, dest, DecidedBy::User, false)
        .expect("release")
}

/// `bytes` released to Shared as `a.bin`, then recalled by a new rule.
fn recalled_in_shared(env: &Env, bytes: &[u8]) -> (Store, Item) {
    let store = env.open();
    store.note_rules("rules-a").expect("rules");
    let a = released(env, &store, "a.bin", bytes, &Destination::Shared);
    store
        .record_recall(&sha256(bytes), &[rule()], "rules-b")
        .expect("recall");
    (store, a)
}

fn work() -> Destination {
    Destination::Profile {
        name: "work".into(),
    }
}

#[test]
fn a_recalled_content_moves_back_as_a_held_item_and_changed_copies_stay() {
    let env = Env::new();
    let store = env.open();
    assert_eq!(
        store.note_rules("rules-a").expect("rules"),
        RulesSeen::First
    );
    let bytes = content(1, 50_000);
    // A file waiting for its scan holds the hunt back.
    env.put("waiting.bin", b"a new download");
    let waiting = match store
        .ingest(SOURCE, "waiting.bin".as_ref())
        .expect("ingest")
    {
        IngestOutcome::Stored(item) => *item,
        other => panic!("{other:?}"),
    };
    assert_eq!(store.scans_waiting().expect("count"), 1);
    store.begin_scan(waiting.id).expect("scan");
    assert_eq!(store.scans_waiting().expect("count"), 1, "scanning counts");
    store
        .finish_scan(waiting.id, Verdict::Clean)
        .expect("clean");
    assert_eq!(store.scans_waiting().expect("count"), 0);
    let a = released(&env, &store, "a.bin", &bytes, &Destination::Shared);
    let b = released(&env, &store, "b.bin", &bytes, &work());
    let c = released(&env, &store, "c.bin", &bytes, &work());
    // Released under the rules in force: nothing to hunt yet.
    assert!(store.hunt_plan().expect("plan").1.is_empty());

    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        store.note_rules("rules-b").expect("rules"),
        RulesSeen::Changed
    );
    let (fingerprint, hunts) = store.hunt_plan().expect("plan");
    assert_eq!(fingerprint, "rules-b");
    assert_eq!(hunts.len(), 1, "one content, hunted once: {hunts:?}");
    assert_eq!(hunts[0].items[0].id, a.id, "the Shared copy is read first");
    let file = store
        .open_released(&hunts[0].items[0])
        .expect("open")
        .expect("still the content");
    assert_eq!(
        std::fs::read(file_path(&a)).expect("read").len(),
        bytes.len()
    );
    drop(file);

    // The profile edits its copy c before the match is found.
    let c_path = file_path(&c);
    std::fs::write(&c_path, b"my own notes now").expect("edit");
    let recall = store
        .record_recall(&hunts[0].sha256, &[rule()], &fingerprint)
        .expect("recall");
    assert_eq!(recall.destinations(), ["shared", "profile:work"]);
    assert_eq!(recall.profiles(), ["work"]);
    let status = |r: &zion_quarantine::Recall, id| {
        r.copies
            .iter()
            .find(|c| c.item == id)
            .map(|c| c.status.clone())
            .expect("copy")
    };
    assert_eq!(status(&recall, a.id), CopyStatus::Present);
    assert_eq!(status(&recall, b.id), CopyStatus::Present);
    assert!(
        matches!(status(&recall, c.id), CopyStatus::Changed { reason } if reason.contains("changed since")),
        "{recall:?}"
    );
    // Recorded, and never hunted again.
    assert!(store.hunt_plan().expect("plan").1.is_empty());
    // Nothing moved by itself.
    assert!(file_path(&a).exists() && file_path(&b).exists());

    let (after, held) = store.move_back(b.id).expect("move back");
    assert_eq!(held.state.kind(), StateKind::Infected);
    assert!(held.held, "held for the user");
    assert_eq!(held.sha256, Some(sha256(&bytes)));
    assert_eq!(
        std::fs::read(store.object_path(&sha256(&bytes))).expect("in the store"),
        bytes
    );
    assert_eq!(
        status(&after, a.id),
        CopyStatus::Returned { into: held.id.0 }
    );
    assert_eq!(
        status(&after, b.id),
        CopyStatus::Returned { into: held.id.0 }
    );
    assert!(!file_path(&a).exists() && !file_path(&b).exists());
    // Each copy taken out is in the audit log, after its release, chained;
    // the copy left alone is not.
    let entries = env.audit().entries().expect("audit entries");
    let action = format!("returned into item {}", held.id);
    let returned: Vec<_> = entries
        .iter()
        .filter(|e| e.action.as_deref() == Some(action.as_str()))
        .collect();
    assert_eq!(returned.len(), 2, "{entries:#?}");
    for (copy, entry) in [(&a, returned[0]), (&b, returned[1])] {
        assert_eq!(entry.item_id, copy.id.to_string());
        assert_eq!(std::path::Path::new(&entry.final_path), file_path(copy));
        assert_eq!(entry.verdict, "recalled: Canary");
        assert_eq!(entry.decided_by, "user");
        assert_eq!(entry.sha256, hex::encode(sha256(&bytes)));
    }
    assert!(!entries
        .iter()
        .any(|e| e.item_id == c.id.to_string() && e.action.is_some()));
    assert!(env.audit().verify().is_ok(), "the chain holds");
    assert_eq!(
        std::fs::read(&c_path).expect("c stays"),
        b"my own notes now"
    );
    assert_eq!(
        store.recall_of(held.id).expect("of").map(|r| r.sha256),
        Some(after.sha256)
    );

    // Asked again: nothing left to move, and it says why.
    let again = store.move_back(a.id).expect_err("nothing left");
    assert!(
        matches!(&again, RecallError::NothingToMove { .. }) && again.to_string().contains("item"),
        "{again}"
    );
    // An item no rule recalled.
    let other = released(&env, &store, "d.bin", &content(2, 10), &Destination::Shared);
    assert!(matches!(
        store.move_back(other.id),
        Err(RecallError::NotRecalled(_))
    ));
}

#[test]
fn a_crash_after_the_journal_said_returning_loses_nothing() {
    let env = Env::new();
    let bytes = content(3, 20_000);
    let sha = sha256(&bytes);
    let (a, held_id) = {
        let (store, a) = recalled_in_shared(&env, &bytes);
        // What move_back commits before it touches a copy: the content in the
        // store and a held item for it, then the copy marked `returning`.
        let (_, held) = store.move_back(a.id).expect("move back");
        (a, held.id)
    };
    // Put the world back as it was at the crash: the copy still in Shared,
    // the journal saying it is being returned.
    let shared = env.layout.shared().join("a.bin");
    std::fs::write(&shared, &bytes).expect("copy back");
    let conn = rusqlite::Connection::open(&env.paths.journal).expect("journal");
    conn.execute(
        "UPDATE recall_copies SET status_json = ?1 WHERE item_id = ?2",
        rusqlite::params![
            format!("{{\"status\":\"returning\",\"into\":{}}}", held_id.0),
            a.id.0
        ],
    )
    .expect("returning");
    drop(conn);

    let store = env.open();
    assert_eq!(store.resume_recalls().expect("resume"), 1);
    assert!(!shared.exists(), "the copy is taken out on the restart");
    let held = store.get(held_id).expect("held");
    assert!(held.held && matches!(held.state, State::Infected { .. }));
    assert_eq!(
        std::fs::read(store.object_path(&sha)).expect("the store has it"),
        bytes
    );
    let recall = store.recall_of(a.id).expect("of").expect("recall");
    assert_eq!(
        recall.copies[0].status,
        CopyStatus::Returned { into: held_id.0 }
    );
}

fn file_path(item: &Item) -> std::path::PathBuf {
    match &item.state {
        State::Released { path } => path.clone(),
        other => panic!("not released: {other:?}"),
    }
}

/// The daemon died after the journal said a copy was returned and before
/// the audit log had it: the next start writes the entry, once.
#[test]
fn a_crash_before_the_return_was_audited_is_audited_on_the_restart() {
    let env = Env::new();
    let bytes = content(4, 9_000);
    let a = recalled_in_shared(&env, &bytes).1;
    // The world at the crash: the copy gone, the journal saying so.
    std::fs::remove_file(file_path(&a)).expect("taken out");
    let conn = rusqlite::Connection::open(&env.paths.journal).expect("journal");
    conn.execute(
        "UPDATE recall_copies SET status_json = ?1 WHERE item_id = ?2",
        rusqlite::params!["{\"status\":\"returned\",\"into\":42}", a.id.0],
    )
    .expect("returned");
    drop(conn);
    let returned = |env: &Env| {
        env.audit()
            .entries()
            .expect("entries")
            .into_iter()
            .filter(|e| e.action.as_deref() == Some("returned into item 42"))
            .count()
    };
    assert_eq!(returned(&env), 0, "the crash lost the entry");

    let store = env.open();
    store.resume_recalls().expect("resume");
    assert_eq!(returned(&env), 1);
    store.resume_recalls().expect("resume again");
    drop(store);
    let store = env.open();
    store.resume_recalls().expect("resume after a restart");
    assert_eq!(returned(&env), 1, "written once");
    assert!(env.audit().verify().is_ok());
}
