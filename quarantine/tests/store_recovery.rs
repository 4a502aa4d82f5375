//! Crash recovery: each test builds the on-disk state a crash at one step
//! would leave (journal rows, partial copies, objects, inbox and destination
//! files), opens the store, and checks that every file is in exactly one of
//! inbox, store or destination with its original SHA-256.

#[path = "store_support.rs"]
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use support::{content, sha256, Env, SOURCE};
use zion_quarantine::{DecidedBy, IngestOutcome, Item, ItemId, State, Store, Verdict};

fn journal(env: &Env) -> Connection {
    Connection::open(&env.paths.journal).expect("journal")
}

/// A row as `Journal::insert_ingesting` writes it.
fn insert_ingesting(env: &Env, name: &str, size: usize) -> i64 {
    let db = journal(env);
    db.execute(
        "INSERT INTO items (original_name, safe_name, inbox, source, profile, size, added_ms, changed_ms, state, state_json) \
         VALUES (?1, ?4, ?2, 'sandbox:work/1', 'work', ?3, 0, 0, 'ingesting', '{\"state\":\"ingesting\"}')",
        params![name.as_bytes(), SOURCE, size as i64, name],
    )
    .expect("insert");
    db.last_insert_rowid()
}

fn set_state(env: &Env, id: ItemId, state_json: &str, destination: Option<&str>) {
    let state: State = serde_json::from_str(state_json).expect("valid state");
    journal(env)
        .execute(
            "UPDATE items SET state = ?2, state_json = ?3, destination = COALESCE(?4, destination) WHERE id = ?1",
            params![id.0, state.kind().as_str(), state_json, destination],
        )
        .expect("update");
}

const RELEASING_TO_SHARED: &str =
    r#"{"state":"releasing","destination":"shared","verdict":{"verdict":"clean"},"by":"user"}"#;

fn ingest(env: &Env, store: &Store, name: &str, bytes: &[u8]) -> Item {
    env.put(name, bytes);
    match store.ingest(SOURCE, name.as_ref()).expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("{other:?}"),
    }
}

fn clean(env: &Env, store: &Store, name: &str, bytes: &[u8]) -> Item {
    let item = ingest(env, store, name, bytes);
    store.begin_scan(item.id).expect("scan");
    store.finish_scan(item.id, Verdict::Clean).expect("clean")
}

fn exactly_at(env: &Env, bytes: &[u8], place: &Path) {
    assert_eq!(
        env.places_of(&sha256(bytes)),
        vec![place.to_owned()],
        "the file must be in exactly one place"
    );
}

#[test]
fn crash_mid_copy_leaves_the_file_in_the_inbox_only() {
    let env = Env::new();
    let bytes = content(1, 100_000);
    let inbox_file = env.put("a.bin", &bytes);
    let id = insert_ingesting(&env, "a.bin", bytes.len());
    std::fs::write(
        env.paths.objects.join(format!(".ingest-{id}")),
        &bytes[..5000],
    )
    .expect("half copy");

    let store = env.open();

    let report = store.recovery_report();
    assert_eq!(report.ingests_rolled_back, vec![ItemId(id)]);
    assert_eq!(report.temp_files_removed, 1);
    assert!(store.list().expect("list").is_empty());
    assert!(env.object_names().is_empty());
    exactly_at(&env, &bytes, &inbox_file);
}

#[test]
fn crash_after_the_object_was_in_place_but_before_stored_drops_the_object() {
    let env = Env::new();
    let bytes = content(2, 100_000);
    let inbox_file = env.put("b.bin", &bytes);
    insert_ingesting(&env, "b.bin", bytes.len());
    std::fs::write(env.paths.objects.join(hex::encode(sha256(&bytes))), &bytes).expect("object");

    let store = env.open();

    assert_eq!(store.recovery_report().orphan_objects_removed, 1);
    assert!(store.list().expect("list").is_empty());
    exactly_at(&env, &bytes, &inbox_file);
}

/// A `stored` row for `inbox_file` with its identity, and its object.
fn stored_row(env: &Env, inbox_file: &Path, bytes: &[u8]) -> ItemId {
    let id = insert_ingesting(env, "c.bin", bytes.len());
    std::fs::write(env.paths.objects.join(hex::encode(sha256(bytes))), bytes).expect("object");
    let st = std::fs::symlink_metadata(inbox_file).expect("stat");
    journal(env)
        .execute(
            "UPDATE items SET state = 'stored', state_json = '{\"state\":\"stored\"}', sha256 = ?2, \
             inbox_dev = ?3, inbox_ino = ?4, inbox_size = ?5, inbox_mtime_ns = ?6, inbox_ctime_ns = ?7 WHERE id = ?1",
            params![
                id,
                hex::encode(sha256(bytes)),
                st.dev() as i64,
                st.ino() as i64,
                st.size() as i64,
                st.mtime() * 1_000_000_000 + st.mtime_nsec(),
                st.ctime() * 1_000_000_000 + st.ctime_nsec(),
            ],
        )
        .expect("stored");
    ItemId(id)
}

#[test]
fn crash_after_stored_but_before_the_inbox_file_went_removes_the_inbox_file() {
    let env = Env::new();
    let bytes = content(3, 100_000);
    let inbox_file = env.put("c.bin", &bytes);
    let id = stored_row(&env, &inbox_file, &bytes);

    let store = env.open();

    assert_eq!(store.recovery_report().inbox_files_removed, vec![id]);
    assert_eq!(store.get(id).expect("item").state, State::Stored);
    exactly_at(&env, &bytes, &store.object_path(&sha256(&bytes)));
    // Scannable as usual.
    store.begin_scan(id).expect("scan");
}

#[test]
fn a_new_download_under_the_same_name_is_not_mistaken_for_the_stored_one() {
    let env = Env::new();
    let bytes = content(4, 100_000);
    let inbox_file = env.put("c.bin", &bytes);
    let id = stored_row(&env, &inbox_file, &bytes);
    // The browser downloaded another file under the same name since.
    std::fs::remove_file(&inbox_file).expect("rm");
    let newer = content(5, 100_000);
    env.put("c.bin", &newer);

    let store = env.open();

    assert!(store.recovery_report().inbox_files_removed.is_empty());
    exactly_at(&env, &bytes, &store.object_path(&sha256(&bytes)));
    exactly_at(&env, &newer, &inbox_file);
    assert_eq!(store.get(id).expect("item").state, State::Stored);
}

#[test]
fn crash_during_a_scan_puts_the_item_back_to_be_scanned() {
    let env = Env::new();
    let bytes = content(6, 1000);
    let id = {
        let store = env.open();
        let item = ingest(&env, &store, "d.bin", &bytes);
        store.begin_scan(item.id).expect("scan");
        item.id
    };

    let store = env.open();

    assert_eq!(store.recovery_report().scans_interrupted, vec![id]);
    assert_eq!(store.get(id).expect("item").state, State::Stored);
    exactly_at(&env, &bytes, &store.object_path(&sha256(&bytes)));
}

#[test]
fn crash_after_releasing_was_journaled_but_before_the_move_finishes_the_release() {
    let env = Env::new();
    let bytes = content(7, 50_000);
    let id = {
        let store = env.open();
        clean(&env, &store, "e.txt", &bytes).id
    };
    set_state(&env, id, RELEASING_TO_SHARED, Some("shared"));

    let store = env.open();

    assert_eq!(store.recovery_report().releases_finished, vec![id]);
    let target = env.layout.shared().join("e.txt");
    assert_eq!(
        store.get(id).expect("item").state,
        State::Released {
            path: target.clone()
        }
    );
    exactly_at(&env, &bytes, &target);
    assert!(env.audit().contains_item(&id.to_string()).expect("audit"));
}

#[test]
fn crash_after_the_rename_into_storage_records_the_release_without_a_second_copy() {
    let env = Env::new();
    let bytes = content(8, 50_000);
    let (id, object) = {
        let store = env.open();
        let item = clean(&env, &store, "f.txt", &bytes);
        (item.id, store.object_path(&sha256(&bytes)))
    };
    set_state(&env, id, RELEASING_TO_SHARED, Some("shared"));
    let target = env.layout.shared().join("f.txt");
    std::fs::rename(&object, &target).expect("the release's rename");

    let store = env.open();

    assert_eq!(store.recovery_report().releases_finished, vec![id]);
    assert_eq!(
        store.get(id).expect("item").state,
        State::Released {
            path: target.clone()
        }
    );
    exactly_at(&env, &bytes, &target);
    let audit = env.audit();
    assert!(
        audit.contains_item(&id.to_string()).expect("audit"),
        "the missing audit entry is appended"
    );
    assert_eq!(audit.verify().expect("chain"), 1);
}

#[test]
fn crash_after_a_copy_into_storage_but_before_the_object_went_removes_the_object() {
    let env = Env::new();
    let bytes = content(9, 50_000);
    let id = {
        let store = env.open();
        clean(&env, &store, "g.txt", &bytes).id
    };
    set_state(&env, id, RELEASING_TO_SHARED, Some("shared"));
    let target = env.layout.shared().join("g.txt");
    std::fs::write(&target, &bytes).expect("the release's copy");

    let store = env.open();

    assert_eq!(
        store.get(id).expect("item").state,
        State::Released {
            path: target.clone()
        }
    );
    exactly_at(&env, &bytes, &target);
}

#[test]
fn a_release_that_cannot_finish_after_a_crash_returns_to_its_verdict() {
    let env = Env::new();
    let bytes = content(10, 5000);
    let id = {
        let store = env.open();
        clean(&env, &store, "h.txt", &bytes).id
    };
    set_state(
        &env,
        id,
        r#"{"state":"releasing","destination":"profile:gone","verdict":{"verdict":"clean"},"by":"policy"}"#,
        Some("profile:gone"),
    );

    let store = env.open();

    assert_eq!(store.recovery_report().releases_rolled_back, vec![id]);
    assert_eq!(store.get(id).expect("item").state, State::Clean);
    exactly_at(&env, &bytes, &store.object_path(&sha256(&bytes)));
    // And the user can release it elsewhere.
    store
        .release(
            id,
            &zion_storage::Destination::Shared,
            DecidedBy::User,
            false,
        )
        .expect("release");
}

#[test]
fn crash_after_delete_was_journaled_removes_the_object() {
    let env = Env::new();
    let bytes = content(11, 5000);
    let id = {
        let store = env.open();
        ingest(&env, &store, "i.bin", &bytes).id
    };
    set_state(&env, id, r#"{"state":"deleted"}"#, None);

    let store = env.open();

    assert_eq!(store.recovery_report().orphan_objects_removed, 1);
    assert!(env.places_of(&sha256(&bytes)).is_empty());
}

#[test]
fn a_second_open_after_recovery_has_nothing_to_do() {
    let env = Env::new();
    let bytes = content(12, 5000);
    let inbox_file = env.put("j.bin", &bytes);
    insert_ingesting(&env, "j.bin", bytes.len());
    drop(env.open());

    let store = env.open();

    assert!(
        store.recovery_report().is_empty(),
        "{:?}",
        store.recovery_report()
    );
    exactly_at(&env, &bytes, &inbox_file);
    let _: PathBuf = inbox_file;
}

/// Three releases recorded in the audit log; the store closed.
fn three_releases(env: &Env) {
    let store = env.open();
    for i in 0..3 {
        let item = clean(env, &store, &format!("r{i}.bin"), &content(100 + i, 300));
        store
            .release(
                item.id,
                &zion_storage::Destination::Shared,
                DecidedBy::User,
                false,
            )
            .expect("release");
    }
    let status = store.audit_status().expect("status");
    assert!(status.is_intact());
    assert_eq!(status.head.expect("anchored").entries, 3);
}

#[test]
fn an_audit_log_cut_while_the_store_was_closed_is_found_on_open_and_stays_recorded() {
    let env = Env::new();
    three_releases(&env);
    let text = std::fs::read_to_string(&env.audit_path).expect("log");
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&env.audit_path, kept.join("\n") + "\n").expect("cut");
    let report =
        zion_quarantine::audit::verify(&env.paths.journal, &env.audit_path).expect("verify");
    assert!(!report.is_intact());
    assert!(
        report
            .check
            .problem
            .as_ref()
            .is_some_and(|p| p.to_string().contains("truncated at entry 3")),
        "{report:?}"
    );

    let store = env.open();
    let problem = store.audit_problem_at_open().expect("found on open");
    assert!(problem.contains("truncated at entry 3"), "{problem}");
    let status = store.audit_status().expect("status");
    assert!(!status.is_intact());
    assert!(status.breaks[0].problem.contains("truncated at entry 3"));
    drop(store);
    // Reported once on open, recorded for good.
    let store = env.open();
    assert_eq!(store.audit_problem_at_open(), None);
    assert_eq!(store.audit_status().expect("status").breaks.len(), 1);
    let report =
        zion_quarantine::audit::verify(&env.paths.journal, &env.audit_path).expect("verify");
    assert!(
        report.check.problem.is_none() && !report.is_intact(),
        "{report:?}"
    );
}

#[test]
fn an_audit_entry_written_but_not_anchored_before_a_crash_is_adopted() {
    let env = Env::new();
    three_releases(&env);
    // The crash between the log's fsync and the journal's commit.
    let mut entry = env.audit().entries().expect("entries")[2].clone();
    entry.item_id = "99".into();
    env.audit().append(entry).expect("append");
    let store = env.open();
    assert_eq!(store.audit_problem_at_open(), None);
    let status = store.audit_status().expect("status");
    assert!(status.is_intact(), "{status:?}");
    assert_eq!(status.head.expect("head").entries, 4);
}
