//! The inbox watcher with real inotify: complete files are taken once,
//! partial downloads wait for their rename, a burst of thousands is taken
//! exactly once, refusals are reported once.

#[path = "store_support.rs"]
mod support;

use std::collections::HashSet;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{content, sha256, Env};
use zion_quarantine::{InboxWatcher, ItemId, RefuseReason, State, WatchEvent, WatcherConfig};

fn config() -> WatcherConfig {
    WatcherConfig {
        retry: Duration::from_millis(100),
        settle: Duration::from_millis(200),
        ..WatcherConfig::default()
    }
}

fn next_event(rx: &Receiver<WatchEvent>, within: Duration) -> Option<WatchEvent> {
    rx.recv_timeout(within).ok()
}

fn ingested(rx: &Receiver<WatchEvent>) -> ItemId {
    match next_event(rx, Duration::from_secs(10)) {
        Some(WatchEvent::Ingested(id)) => id,
        other => panic!("expected an ingested item, got {other:?}"),
    }
}

#[test]
fn a_file_written_into_the_inbox_is_taken_when_closed() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let (_watcher, rx) = InboxWatcher::start(store.clone(), config()).expect("watch");
    let bytes = content(1, 300_000);

    env.put("report.pdf", &bytes);

    let id = ingested(&rx);
    let item = store.get(id).expect("item");
    assert_eq!(item.original_name, "report.pdf");
    assert_eq!(item.sha256, Some(sha256(&bytes)));
    assert!(support::names(&env.inbox()).is_empty());
}

#[test]
fn a_partial_download_waits_for_its_rename() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let (_watcher, rx) = InboxWatcher::start(store.clone(), config()).expect("watch");
    let bytes = content(2, 100_000);

    // Firefox's way: an empty placeholder under the final name, and `.part`.
    env.put("movie.mkv", b"");
    let part = env.put("movie.mkv.part", &bytes);
    let early = next_event(&rx, Duration::from_millis(700));
    assert_eq!(early, None, "nothing is taken while the .part exists");
    assert!(store.list().expect("list").is_empty());

    std::fs::rename(&part, env.inbox().join("movie.mkv")).expect("rename");

    let id = ingested(&rx);
    assert_eq!(store.get(id).expect("item").sha256, Some(sha256(&bytes)));
    assert_eq!(
        store.list().expect("list").len(),
        1,
        "the placeholder was not taken"
    );
}

#[test]
fn files_already_in_the_inbox_are_taken_at_start_and_links_reported_once() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let bytes = content(3, 10_000);
    env.put("old.txt", &bytes);
    std::os::unix::fs::symlink("/etc/passwd", env.inbox().join("passwd")).expect("symlink");

    let (watcher, rx) = InboxWatcher::start(store.clone(), config()).expect("watch");

    let mut got_item = None;
    let mut refusals = 0;
    while let Some(event) = next_event(&rx, Duration::from_secs(3)) {
        match event {
            WatchEvent::Ingested(id) => got_item = Some(id),
            WatchEvent::Refused(r) => {
                assert!(matches!(r.reason, RefuseReason::Symlink { .. }), "{r}");
                refusals += 1;
                // A rescan does not report it again.
                watcher.rescan();
            }
            WatchEvent::Failed { path, error } => panic!("{}: {error}", path.display()),
        }
    }
    let id = got_item.expect("the old file was swept in");
    assert_eq!(store.get(id).expect("item").sha256, Some(sha256(&bytes)));
    assert_eq!(refusals, 1);
    assert!(
        env.inbox().join("passwd").symlink_metadata().is_ok(),
        "left in place"
    );
}

#[test]
fn a_file_deleted_before_it_settled_is_simply_gone() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let slow = WatcherConfig {
        settle: Duration::from_millis(800),
        ..config()
    };
    // Found by the start sweep, freshly modified: waits to settle.
    let path = env.put("short-lived.tmp", b"bye");
    let (_watcher, rx) = InboxWatcher::start(store.clone(), slow).expect("watch");
    std::fs::remove_file(&path).expect("rm");

    assert_eq!(next_event(&rx, Duration::from_millis(1500)), None);
    assert!(store.list().expect("list").is_empty());
}

#[test]
fn a_new_source_folder_is_watched_as_soon_as_it_appears() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let (_watcher, rx) = InboxWatcher::start(store.clone(), config()).expect("watch");
    let dir = store
        .add_source(&zion_quarantine::Source {
            name: "sb2".into(),
            label: "sandbox:personal/2".into(),
            profile: Some("personal".into()),
        })
        .expect("source");
    std::thread::sleep(Duration::from_millis(100));

    std::fs::write(dir.join("late.txt"), b"late").expect("write");

    let id = ingested(&rx);
    let item = store.get(id).expect("item");
    assert_eq!(item.source, "sandbox:personal/2");
    assert_eq!(item.profile.as_deref(), Some("personal"));
}

#[test]
fn a_burst_of_3000_files_is_ingested_exactly_once() {
    const N: u64 = 3000;
    let env = Env::new();
    let store = Arc::new(env.open());
    let (_watcher, rx) = InboxWatcher::start(store.clone(), config()).expect("watch");
    let started = Instant::now();
    let mut hashes = HashSet::new();
    for i in 0..N {
        let bytes = content(10_000 + i, 512 + (i as usize % 7) * 100);
        hashes.insert(sha256(&bytes));
        env.put(format!("file-{i:05}.bin"), &bytes);
    }

    let mut ids = HashSet::new();
    // Judged by progress, not by a total time (a loaded machine's fsyncs
    // are slow): it fails when nothing more is taken for half a minute.
    let mut last_progress = Instant::now();
    while (ids.len() as u64) < N && last_progress.elapsed() < Duration::from_secs(30) {
        match next_event(&rx, Duration::from_secs(5)) {
            Some(WatchEvent::Ingested(id)) => {
                assert!(ids.insert(id), "{id} reported twice");
                last_progress = Instant::now();
            }
            Some(other) => panic!("{other:?}"),
            None => {}
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(ids.len() as u64, N, "every file taken");
    // Nothing more arrives afterwards (no double takes).
    assert_eq!(next_event(&rx, Duration::from_millis(500)), None);

    let items = store.list().expect("list");
    assert_eq!(items.len() as u64, N);
    assert!(items.iter().all(|i| i.state == State::Stored));
    let stored: HashSet<[u8; 32]> = items.iter().filter_map(|i| i.sha256).collect();
    assert_eq!(stored, hashes, "every file's hash, once");
    assert!(support::names(&env.inbox()).is_empty(), "inbox emptied");
    assert_eq!(env.object_names().len() as u64, N);
    eprintln!(
        "burst: {N} files ingested in {:.2} s ({:.0} files/s)",
        elapsed.as_secs_f64(),
        N as f64 / elapsed.as_secs_f64()
    );
}
