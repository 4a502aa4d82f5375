//! The store against a real SQLite journal and real files: ingest keeps every
//! byte, scan verdicts, releases into storage, deletes.

#[path = "store_support.rs"]
mod support;

use std::os::unix::ffi::OsStrExt;

use support::{content, os, sha256, Env, SOURCE};
use zion_quarantine::{
    DecidedBy, IngestOutcome, Item, RuleMatch, State, StateKind, StoreError, StoreEvent,
    TransitionError, Verdict,
};
use zion_storage::Destination;

fn stored(outcome: IngestOutcome) -> Item {
    match outcome {
        IngestOutcome::Stored(item) => *item,
        other => panic!("expected Stored, got {other:?}"),
    }
}

fn eicar_match() -> RuleMatch {
    RuleMatch {
        rule: "EICAR_Test_File".into(),
        namespace: "default".into(),
        tags: vec!["test".into()],
        meta: [("author".to_owned(), "Zion".to_owned())].into(),
        member: Vec::new(),
    }
}

#[test]
fn ingest_keeps_every_byte_and_the_sha256() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(1, 3 * 1024 * 1024 + 17);
    let inbox_file = env.put("report.pdf", &bytes);

    let item = stored(store.ingest(SOURCE, "report.pdf".as_ref()).expect("ingest"));

    assert_eq!(item.sha256, Some(sha256(&bytes)));
    assert_eq!(item.size, bytes.len() as u64);
    assert_eq!(item.state, State::Stored);
    assert_eq!(item.original_name, "report.pdf");
    assert_eq!(item.source, "sandbox:work/1");
    assert_eq!(item.profile.as_deref(), Some("work"));
    assert!(!inbox_file.exists(), "the inbox file is gone once stored");
    let object = store.object_path(&sha256(&bytes));
    assert_eq!(std::fs::read(&object).expect("object"), bytes);
    assert_eq!(env.places_of(&sha256(&bytes)), vec![object]);
    assert_eq!(store.get(item.id).expect("get"), item);
}

#[test]
fn the_same_bytes_twice_share_one_object_until_both_are_deleted() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(2, 10_000);
    env.put("a.bin", &bytes);
    let a = stored(store.ingest(SOURCE, "a.bin".as_ref()).expect("a"));
    env.put("b.bin", &bytes);
    let b = stored(store.ingest(SOURCE, "b.bin".as_ref()).expect("b"));
    assert_ne!(a.id, b.id);
    assert_eq!(env.object_names(), vec![hex::encode(sha256(&bytes))]);

    store.delete(a.id).expect("delete a");
    assert_eq!(env.object_names().len(), 1, "b still needs the object");
    assert_eq!(store.get(a.id).expect("a").state, State::Deleted);

    store.delete(b.id).expect("delete b");
    assert!(env.object_names().is_empty(), "no item needs it any more");
}

#[test]
fn scan_verdicts_are_recorded_and_rescan_goes_back_to_stored() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(3, 1000);
    env.put("x.exe", &bytes);
    let item = stored(store.ingest(SOURCE, "x.exe".as_ref()).expect("ingest"));

    let path = store.begin_scan(item.id).expect("begin");
    assert_eq!(std::fs::read(&path).expect("object to scan"), bytes);
    assert_eq!(store.get(item.id).expect("get").state, State::Scanning);
    let err = store.begin_scan(item.id).expect_err("already scanning");
    assert!(err.to_string().contains("is scanning"), "{err}");

    let verdict = Verdict::Infected {
        matches: vec![eicar_match()],
    };
    let done = store.finish_scan(item.id, verdict.clone()).expect("finish");
    assert_eq!(done.verdict, Some(verdict));
    assert_eq!(done.state.kind(), StateKind::Infected);

    let again = store.rescan(item.id).expect("rescan");
    assert_eq!(again.state, State::Stored);
    store.begin_scan(item.id).expect("scan again");
    let clean = store.finish_scan(item.id, Verdict::Clean).expect("clean");
    assert_eq!(clean.state, State::Clean);
}

#[test]
fn subscribers_hear_of_added_and_changed_items() {
    let env = Env::new();
    let store = env.open();
    let events = store.subscribe();
    env.put("e.txt", b"hello");
    let item = stored(store.ingest(SOURCE, "e.txt".as_ref()).expect("ingest"));
    store.begin_scan(item.id).expect("scan");

    match events.try_recv().expect("added") {
        StoreEvent::ItemAdded(added) => assert_eq!(added.id, item.id),
        other => panic!("{other:?}"),
    }
    match events.try_recv().expect("changed") {
        StoreEvent::ItemChanged(changed) => assert_eq!(changed.state, State::Scanning),
        other => panic!("{other:?}"),
    }
}

fn clean_item(env: &Env, store: &zion_quarantine::Store, name: &[u8], bytes: &[u8]) -> Item {
    env.put(os(name), bytes);
    let item = stored(store.ingest(SOURCE, os(name)).expect("ingest"));
    store.begin_scan(item.id).expect("scan");
    store.finish_scan(item.id, Verdict::Clean).expect("clean")
}

#[test]
fn a_clean_item_is_released_to_shared_with_its_hash_and_audited() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(4, 200_000);
    let item = clean_item(&env, &store, b"photo.jpg", &bytes);

    let done = store
        .release(item.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release");

    let target = env.layout.shared().join("photo.jpg");
    assert_eq!(
        done.state,
        State::Released {
            path: target.clone()
        }
    );
    assert_eq!(done.destination.as_deref(), Some("shared"));
    assert_eq!(env.places_of(&sha256(&bytes)), vec![target]);
    assert!(env.object_names().is_empty(), "the object moved out");
    assert!(env
        .audit()
        .contains_item(&item.id.to_string())
        .expect("audit"));
}

#[test]
fn a_clean_item_is_released_into_a_profile_home() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(5, 5000);
    let item = clean_item(&env, &store, b"notes.txt", &bytes);

    let dest: Destination = "profile:work".parse().expect("destination");
    store
        .release(item.id, &dest, DecidedBy::User, false)
        .expect("release");

    let target = env.layout.profile_home("work").join("notes.txt");
    assert_eq!(std::fs::read(&target).expect("released"), bytes);
    assert_eq!(env.places_of(&sha256(&bytes)), vec![target]);
}

#[test]
fn releasing_one_of_two_items_with_the_same_bytes_copies_and_keeps_the_object() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(6, 5000);
    let a = clean_item(&env, &store, b"one.txt", &bytes);
    let b = clean_item(&env, &store, b"two.txt", &bytes);

    store
        .release(a.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release a");
    assert_eq!(env.object_names().len(), 1, "b still needs the object");
    store
        .release(b.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release b");
    assert!(env.object_names().is_empty());
    assert_eq!(env.places_of(&sha256(&bytes)).len(), 2, "one per item");
}

#[test]
fn an_infected_item_is_refused_without_override_and_released_with_it() {
    let env = Env::new();
    let store = env.open();
    let bytes = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".to_vec();
    env.put("eicar.com", &bytes);
    let item = stored(store.ingest(SOURCE, "eicar.com".as_ref()).expect("ingest"));
    store.begin_scan(item.id).expect("scan");
    store
        .finish_scan(
            item.id,
            Verdict::Infected {
                matches: vec![eicar_match()],
            },
        )
        .expect("infected");

    let err = store
        .release(item.id, &Destination::Shared, DecidedBy::User, false)
        .expect_err("refused");
    assert!(
        matches!(
            err,
            StoreError::Transition {
                source: TransitionError::NeedsOverride { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("explicit override"), "{err}");
    let err = store
        .release(item.id, &Destination::Shared, DecidedBy::Policy, true)
        .expect_err("the policy never releases infected items");
    assert!(err.to_string().contains("policy never releases"), "{err}");
    assert_eq!(
        env.places_of(&sha256(&bytes)),
        vec![store.object_path(&sha256(&bytes))],
        "still only in the store"
    );

    store
        .release(item.id, &Destination::Shared, DecidedBy::User, true)
        .expect("override");
    let entries = env.audit().entries().expect("audit");
    assert!(entries[0].verdict.contains("override"), "{:?}", entries[0]);
    assert!(env.layout.shared().join("eicar.com").exists());
}

#[test]
fn a_release_that_fails_keeps_the_item_and_its_verdict() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(7, 3000);
    let item = clean_item(&env, &store, b"doc.odt", &bytes);
    let missing: Destination = "profile:gaming".parse().expect("destination");

    let err = store
        .release(item.id, &missing, DecidedBy::User, false)
        .expect_err("no such profile home");
    assert!(err.to_string().contains("does not exist"), "{err}");

    let after = store.get(item.id).expect("get");
    assert_eq!(after.state, State::Clean);
    assert_eq!(
        env.places_of(&sha256(&bytes)),
        vec![store.object_path(&sha256(&bytes))]
    );
}

#[test]
fn names_of_255_bytes_and_with_newlines_keep_their_bytes_and_get_a_safe_name() {
    let env = Env::new();
    let store = env.open();
    let long = format!("{}.txt", "é".repeat(125)).into_bytes();
    assert_eq!(long.len(), 254);
    let mut longest = long.clone();
    longest.insert(0, b'a');
    assert_eq!(longest.len(), 255);
    let cases: Vec<Vec<u8>> = vec![
        longest,
        b"bad\nname.txt".to_vec(),
        b"\n".to_vec(),
        b"caf\xe9\xff.bin".to_vec(),
    ];
    for (i, name) in cases.iter().enumerate() {
        let bytes = content(100 + i as u64, 100);
        let item = clean_item(&env, &store, name, &bytes);
        assert_eq!(
            item.original_name.as_bytes(),
            name.as_slice(),
            "kept byte for byte"
        );
        assert!(!item.safe_name.contains('\n'), "{:?}", item.safe_name);
        assert!(item.safe_name.len() <= 255);
        let done = store
            .release(item.id, &Destination::Shared, DecidedBy::User, false)
            .expect("release");
        let State::Released { path } = done.state else {
            panic!("{:?}", done.state)
        };
        assert_eq!(path.parent(), Some(env.layout.shared().as_path()));
        assert_eq!(std::fs::read(&path).expect("released"), bytes);
        assert!(!path.as_os_str().as_bytes().contains(&b'\n'));
    }
}

#[test]
fn delete_is_refused_for_a_released_item() {
    let env = Env::new();
    let store = env.open();
    let item = clean_item(&env, &store, b"r.txt", b"released bytes");
    store
        .release(item.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release");
    let err = store.delete(item.id).expect_err("released is final");
    assert!(
        err.to_string()
            .contains("cannot delete an item that is released"),
        "{err}"
    );
    let err = store
        .get(zion_quarantine::ItemId(999))
        .expect_err("missing");
    assert!(err.to_string().contains("no quarantine item 999"), "{err}");
}
