//! Group commits (issue 17, item 5): many files taken in and released with
//! one durable commit per batch, each file still checked on its own, and
//! the audit chain still whole.

#[path = "store_support.rs"]
mod support;

use std::ffi::OsString;
use std::os::unix::fs::symlink;

use support::{content, sha256, Env, SOURCE};
use zion_quarantine::{
    DecidedBy, IngestOutcome, RefuseReason, State, StateKind, StoreError, Verdict,
};
use zion_storage::Destination;

fn names(n: usize) -> Vec<OsString> {
    (0..n)
        .map(|i| OsString::from(format!("f{i:03}.dat")))
        .collect()
}

#[test]
fn a_batch_is_taken_in_and_released_whole_with_every_file_audited() {
    let env = Env::new();
    let store = env.open();
    let names = names(120);
    let mut hashes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let bytes = content(i as u64 + 1, 1000 + i * 37);
        hashes.push(sha256(&bytes));
        env.put(name, &bytes);
    }

    let taken = store.ingest_all(SOURCE, &names);
    assert_eq!(taken.len(), names.len(), "one result per file");
    let mut ids = Vec::new();
    for (name, outcome) in names.iter().zip(taken) {
        match outcome.expect("ingest") {
            IngestOutcome::Stored(item) => {
                assert_eq!(&item.original_name, name);
                assert_eq!(item.state, State::Stored);
                ids.push(item.id);
            }
            other => panic!("{name:?}: expected Stored, got {other:?}"),
        }
    }
    assert!(
        support::names(&env.inbox()).is_empty(),
        "every inbox file is gone once stored"
    );
    for id in &ids {
        store.begin_scan(*id).expect("scan");
        store.finish_scan(*id, Verdict::Clean).expect("clean");
    }

    let batch: Vec<_> = ids.iter().map(|id| (*id, Destination::Shared)).collect();
    let released = store.release_all(&batch, DecidedBy::Policy);
    assert_eq!(released.len(), batch.len());
    for ((id, _), result) in batch.iter().zip(released) {
        let item = result.unwrap_or_else(|e| panic!("item {id}: {e}"));
        assert_eq!(item.state.kind(), StateKind::Released, "item {id}");
    }
    for (name, sha) in names.iter().zip(&hashes) {
        assert_eq!(
            env.places_of(sha),
            vec![env.layout.shared().join(name)],
            "{name:?} is in Shared and nowhere else"
        );
    }
    assert!(env.object_names().is_empty(), "every object moved out");
    let audit = env.audit();
    assert_eq!(audit.verify().expect("the chain holds"), names.len());
    for id in &ids {
        assert!(audit.contains_item(&id.to_string()).expect("audit"));
    }
    // Reopened (as after a restart), nothing is found half done.
    drop(store);
    let again = env.open();
    assert!(
        again.recovery_report().is_empty(),
        "{:?}",
        again.recovery_report()
    );
    assert!(again
        .list()
        .expect("list")
        .iter()
        .all(|i| i.state.kind() == StateKind::Released));
}

#[test]
fn a_hostile_file_in_a_batch_is_refused_alone_and_the_others_are_taken() {
    let env = Env::new();
    let store = env.open();
    // The profile's own secrets, outside its outbox.
    let secret = env.dir.path().join("secret.txt");
    std::fs::write(&secret, b"the profile's key").expect("secret");
    env.put("good-1.txt", b"one");
    symlink(&secret, env.inbox().join("link.txt")).expect("symlink");
    env.put("good-2.txt", b"two");
    std::fs::hard_link(&secret, env.inbox().join("hard.txt")).expect("hard link");
    std::fs::create_dir(env.inbox().join("folder")).expect("folder");

    let names: Vec<OsString> = ["good-1.txt", "link.txt", "good-2.txt", "hard.txt", "folder"]
        .iter()
        .map(OsString::from)
        .collect();
    let taken = store.ingest_all(SOURCE, &names);

    let refused = |n: usize| match &taken[n] {
        Ok(IngestOutcome::Refused(r)) => r.reason.clone(),
        other => panic!("{:?}: expected a refusal, got {other:?}", names[n]),
    };
    assert!(matches!(refused(1), RefuseReason::Symlink { .. }));
    assert!(matches!(refused(3), RefuseReason::HardLink { .. }));
    assert_eq!(refused(4), RefuseReason::Directory);
    for n in [0, 2] {
        assert!(
            matches!(&taken[n], Ok(IngestOutcome::Stored(_))),
            "{:?}: {:?}",
            names[n],
            taken[n]
        );
    }
    assert_eq!(store.list().expect("list").len(), 2, "only the two files");
    // Only the hard link itself (the same inode) holds the secret's bytes:
    // no copy in the store or in storage.
    assert_eq!(
        env.places_of(&sha256(b"the profile's key")),
        vec![env.inbox().join("hard.txt")],
        "the secret was copied nowhere"
    );
}

#[test]
fn a_batch_release_refuses_what_is_not_clean_and_releases_the_rest() {
    let env = Env::new();
    let store = env.open();
    let names = names(3);
    for (i, name) in names.iter().enumerate() {
        env.put(name, &content(40 + i as u64, 500));
    }
    let ids: Vec<_> = store
        .ingest_all(SOURCE, &names)
        .into_iter()
        .map(|o| match o.expect("ingest") {
            IngestOutcome::Stored(item) => item.id,
            other => panic!("expected Stored, got {other:?}"),
        })
        .collect();
    store.begin_scan(ids[0]).expect("scan");
    store.finish_scan(ids[0], Verdict::Clean).expect("clean");
    store.begin_scan(ids[1]).expect("scan");
    store
        .finish_scan(
            ids[1],
            Verdict::Error {
                reason: "worker died".into(),
            },
        )
        .expect("error");
    // ids[2] is never scanned.

    let batch: Vec<_> = ids.iter().map(|id| (*id, Destination::Shared)).collect();
    let results = store.release_all(&batch, DecidedBy::Policy);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    for n in [1, 2] {
        assert!(
            matches!(results[n], Err(StoreError::Transition { .. })),
            "{:?}",
            results[n]
        );
    }
    let shared = support::names(&env.layout.shared());
    assert_eq!(shared, vec![names[0].to_string_lossy().into_owned()]);
    assert_eq!(
        store.get(ids[1]).expect("item").state.kind(),
        StateKind::Error
    );
    assert_eq!(
        store.get(ids[2]).expect("item").state.kind(),
        StateKind::Stored
    );
    assert_eq!(env.audit().verify().expect("chain"), 1);
}
