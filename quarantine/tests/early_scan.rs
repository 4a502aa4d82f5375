//! Scanning at ingest (issue 17, item 5): the copy is scanned while it is
//! synced and its `stored` row committed, and the verdict is recorded only
//! after that commit. Crashes (a child process killed with SIGKILL) at the
//! two instants that matter — the scan done but `stored` not committed, and
//! `stored` committed but the verdict not recorded — lose nothing, double
//! nothing, and release nothing unscanned; the item is scanned exactly once
//! more and then released once.
//!
//! The scanner here is a function of the bytes it reads from the descriptor
//! it is given (the quarantine crate has no YARA; the daemon's tests run the
//! real worker through the same path).

#[path = "store_support.rs"]
mod support;

use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use support::{content, sha256, Env, SOURCE};
use zion_quarantine::{
    DecidedBy, IngestOutcome, IngestScan, Item, RuleMatch, State, StateKind, Store, Verdict,
};
use zion_storage::Destination;

/// What the toy scanner calls a match.
const EVIL: &[u8] = b"EVIL-MARKER";

/// Reads all of `file` through the descriptor, as a worker would.
fn read_all(file: BorrowedFd<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match rustix::io::pread(file, &mut buf, out.len() as u64) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("the copy cannot be read: {e}"),
        }
    }
}

fn verdict_of(bytes: &[u8]) -> Verdict {
    if bytes.windows(EVIL.len()).any(|w| w == EVIL) {
        Verdict::Infected {
            matches: vec![RuleMatch {
                rule: "Evil".into(),
                namespace: "test".into(),
                tags: vec![],
                meta: Default::default(),
                member: Vec::new(),
            }],
        }
    } else {
        Verdict::Clean
    }
}

/// A scanner that counts its scans; every one also tries to write to the
/// copy it was given, which must fail (a scan worker gets a read-only copy).
fn counting_scanner(max_size: u64) -> (IngestScan, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let how = IngestScan {
        scan: Arc::new(move |_source: &str, file: BorrowedFd<'_>| {
            counted.fetch_add(1, Ordering::SeqCst);
            assert!(
                rustix::io::pwrite(file, b"overwritten", 0).is_err(),
                "a scanner could write to the stored copy"
            );
            verdict_of(&read_all(file))
        }),
        max_size,
        threads: 2,
        faster_than_disk: false,
    };
    (how, count)
}

fn stored(outcome: Result<IngestOutcome, zion_quarantine::StoreError>) -> Item {
    match outcome.expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("expected Stored, got {other:?}"),
    }
}

#[test]
fn each_copy_is_scanned_once_at_ingest_and_arrives_with_its_verdict() {
    let env = Env::new();
    let store = env.open();
    let (how, scans) = counting_scanner(u64::MAX);
    store.set_ingest_scan(Some(how));
    let events = store.subscribe();

    let mut evil = content(1, 300_000);
    evil[123_456..123_456 + EVIL.len()].copy_from_slice(EVIL);
    let clean = content(2, 3 << 20);
    let small = content(3, 10);
    let names: Vec<OsString> = ["evil.bin", "clean.bin", "small.txt"]
        .iter()
        .map(OsString::from)
        .collect();
    for (name, bytes) in names.iter().zip([&evil, &clean, &small]) {
        env.put(name, bytes);
    }

    let items: Vec<Item> = store
        .ingest_all(SOURCE, &names)
        .into_iter()
        .map(stored)
        .collect();

    assert_eq!(scans.load(Ordering::SeqCst), 3, "one scan per file");
    assert_eq!(items[0].state.kind(), StateKind::Infected);
    assert_eq!(items[1].state, State::Clean);
    assert_eq!(items[2].state, State::Clean);
    assert_eq!(items[1].verdict, Some(Verdict::Clean));
    // The store announces each item once, already scanned.
    let added: Vec<Item> = events
        .try_iter()
        .filter_map(|e| match e {
            zion_quarantine::StoreEvent::ItemAdded(item) => Some(item),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 3);
    assert!(added.iter().all(|i| i.verdict.is_some()), "{added:?}");
    // The scanner could not change what is stored.
    for bytes in [&evil, &clean, &small] {
        assert_eq!(
            env.places_of(&sha256(bytes)),
            vec![store.object_path(&sha256(bytes))]
        );
    }
    // The infected one is not released; the clean ones are, once.
    let batch: Vec<_> = items.iter().map(|i| (i.id, Destination::Shared)).collect();
    let released = store.release_all(&batch, DecidedBy::Policy);
    assert!(released[0].is_err(), "an infected file was released");
    assert!(released[1].is_ok() && released[2].is_ok(), "{released:?}");
    assert_eq!(
        env.places_of(&sha256(&clean)),
        vec![env.layout.shared().join("clean.bin")]
    );
}

#[test]
fn files_over_the_scan_limit_are_stored_unscanned_for_the_policy() {
    let env = Env::new();
    let store = env.open();
    let (how, scans) = counting_scanner(1000);
    store.set_ingest_scan(Some(how));
    env.put("big.bin", &content(4, 5000));

    let item = stored(store.ingest(SOURCE, "big.bin".as_ref()));

    assert_eq!(scans.load(Ordering::SeqCst), 0);
    assert_eq!(item.state, State::Stored);
    assert_eq!(item.verdict, None);
}

/// The child's instructions: `<when>:<root>`.
const CHILD: &str = "ZION_EARLY_SCAN_CRASH_CHILD";
/// The file the child writes what it saw into before it kills itself.
const SEEN: &str = "child-saw";

fn journal_state(journal: &Path) -> String {
    let db = Connection::open(journal).expect("journal");
    db.query_row(
        "SELECT state FROM items ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .expect("one row")
}

fn kill_myself() -> ! {
    let me = rustix::process::getpid();
    rustix::process::kill_process(me, rustix::process::Signal::KILL).expect("SIGKILL");
    unreachable!("still alive after SIGKILL");
}

/// Not a test of its own: the process the crash tests start and kill. It
/// ingests `crash.bin` with a scanner that, once its scan is done, kills
/// the process at the instant its parent asked for.
#[test]
fn child_killed_where_its_parent_test_says() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (when, root) = spec.split_once(':').expect("<when>:<root>");
    let root = PathBuf::from(root);
    let store = support::open_store_at(&root);
    let journal = store.paths().journal.clone();
    let seen = root.join(SEEN);
    let when = when.to_owned();
    // "before-stored": a thread takes the journal's write lock as soon as
    // the `ingesting` row is there and keeps it, so that the ingest cannot
    // commit `stored` until this process is gone, however fast its sync
    // (on a tmpfs it is instant). It says when it holds it (true), or that
    // the commit came first (false).
    let (held_tx, held_rx) = std::sync::mpsc::channel::<bool>();
    if when == "before-stored" {
        let journal = journal.clone();
        std::thread::spawn(move || {
            let db = Connection::open(&journal).expect("journal");
            db.busy_timeout(Duration::from_secs(10)).expect("timeout");
            loop {
                db.execute_batch("BEGIN IMMEDIATE").expect("write lock");
                let state: Option<String> = db
                    .query_row(
                        "SELECT state FROM items ORDER BY id DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .ok();
                match state.as_deref() {
                    Some("ingesting") => {
                        let _ = held_tx.send(true);
                        // Held until the process is killed.
                        loop {
                            std::thread::park();
                        }
                    }
                    Some(_) => {
                        let _ = held_tx.send(false);
                        db.execute_batch("ROLLBACK").expect("rollback");
                        return;
                    }
                    None => db.execute_batch("ROLLBACK").expect("rollback"),
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        });
    }
    let held = std::sync::Mutex::new(held_rx);
    store.set_ingest_scan(Some(IngestScan {
        scan: Arc::new(move |_source: &str, file: BorrowedFd<'_>| {
            match when.as_str() {
                "before-stored" => {
                    let holds = held
                        .lock()
                        .expect("held")
                        .recv_timeout(Duration::from_secs(20))
                        .unwrap_or(false);
                    let _verdict = verdict_of(&read_all(file));
                    // Read beside the held lock (the journal is in WAL mode).
                    let state = if holds {
                        journal_state(&journal)
                    } else {
                        "stored".to_owned()
                    };
                    std::fs::write(&seen, &state).expect("seen");
                    kill_myself();
                }
                "before-verdict" => {
                    // The `stored` commit is made while the scan runs; its
                    // verdict is recorded only after this returns.
                    let _verdict = verdict_of(&read_all(file));
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while journal_state(&journal) != "stored" && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    std::fs::write(&seen, journal_state(&journal)).expect("seen");
                    kill_myself();
                }
                _ => verdict_of(&read_all(file)),
            }
        }),
        max_size: u64::MAX,
        threads: 1,
        faster_than_disk: false,
    }));
    let result = store.ingest(SOURCE, "crash.bin".as_ref());
    panic!("the child was not killed: {result:?}");
}

/// Runs the child over `env` until it is killed at `when`; what the journal
/// said at that instant.
fn crash_at(env: &Env, when: &str) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new(exe)
        .args([
            "--exact",
            "child_killed_where_its_parent_test_says",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{when}:{}", env.dir.path().display()))
        .status()
        .expect("run the child");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was not killed: {status:?}"
    );
    std::fs::read_to_string(env.dir.path().join(SEEN)).expect("what the child saw")
}

/// After recovery: scanned exactly once more (counted), then released once.
fn scan_once_more_and_release(env: &Env, store: &Store, bytes: &[u8]) {
    let sha = sha256(bytes);
    assert!(
        !env.layout.shared().join("crash.bin").exists(),
        "released before a recorded scan"
    );
    let (how, scans) = counting_scanner(u64::MAX);
    store.set_ingest_scan(Some(how));
    let id = match store.list().expect("list").as_slice() {
        // Rolled back: the inbox file is taken (and scanned) again.
        [] => stored(store.ingest(SOURCE, "crash.bin".as_ref())).id,
        // Stored, unscanned: the pipeline's scan.
        [item] => {
            assert_eq!(item.state, State::Stored, "a verdict survived its crash");
            assert!(
                store.release_all(&[(item.id, Destination::Shared)], DecidedBy::Policy)[0].is_err(),
                "an unscanned item was released"
            );
            scans.fetch_add(1, Ordering::SeqCst);
            store.begin_scan(item.id).expect("scan");
            store
                .finish_scan(item.id, verdict_of(bytes))
                .expect("verdict");
            item.id
        }
        more => panic!("one file became {} items: {more:?}", more.len()),
    };
    assert_eq!(scans.load(Ordering::SeqCst), 1, "scanned exactly once more");
    assert_eq!(store.get(id).expect("item").state, State::Clean);
    let released = store.release_all(&[(id, Destination::Shared)], DecidedBy::Policy);
    assert!(released[0].is_ok(), "{released:?}");
    assert_eq!(
        env.places_of(&sha),
        vec![env.layout.shared().join("crash.bin")],
        "released exactly once, and nowhere else"
    );
    assert_eq!(store.list().expect("list").len(), 1, "one item");
}

#[test]
fn a_crash_after_the_scan_but_before_the_stored_commit_rolls_the_ingest_back() {
    // Large enough that its copy gives the child's locking thread time to
    // take the journal once the `ingesting` row is there.
    let bytes = content(5, 48 << 20);
    for attempt in 1..=3 {
        let env = Env::new();
        let inbox_file = env.put("crash.bin", &bytes);
        let seen = crash_at(&env, "before-stored");
        if seen != "ingesting" {
            // The sync won the race to the journal this time: try again.
            eprintln!("attempt {attempt}: the journal said {seen:?} already");
            continue;
        }
        let store = env.open();
        assert_eq!(store.recovery_report().ingests_rolled_back.len(), 1);
        assert_eq!(
            env.places_of(&sha256(&bytes)),
            vec![inbox_file],
            "after the crash the file is in the inbox only"
        );
        scan_once_more_and_release(&env, &store, &bytes);
        return;
    }
    panic!("the scan never reached the journal before the `stored` commit");
}

#[test]
fn a_crash_after_the_stored_commit_but_before_the_verdict_leaves_it_to_scan() {
    let env = Env::new();
    let bytes = content(6, 2 << 20);
    env.put("crash.bin", &bytes);

    assert_eq!(crash_at(&env, "before-verdict"), "stored");

    let store = env.open();
    let items = store.list().expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].verdict, None,
        "no verdict before its scan is recorded"
    );
    assert_eq!(
        env.places_of(&sha256(&bytes)),
        vec![store.object_path(&sha256(&bytes))],
        "after the crash the file is in the store only"
    );
    scan_once_more_and_release(&env, &store, &bytes);
}

/// The window between an ingest's `stored` commit and its removal of the
/// inbox files (here held open by a scan at ingest that does not end): a
/// release that comes in it (the daemon's pipeline, listing the store as it
/// starts, scans and releases such an item) must take the inbox file first.
/// Killed in that window, a file was both in its inbox and in shared
/// storage, and the next start could take it in a second time.
#[test]
fn a_release_that_overtakes_its_ingest_takes_the_inbox_file_first() {
    let env = Env::new();
    let store = env.open();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    store.set_ingest_scan(Some(IngestScan {
        scan: Arc::new(move |_source: &str, file: BorrowedFd<'_>| {
            let _ = entered_tx.send(());
            let _ = wait
                .lock()
                .expect("lock")
                .recv_timeout(Duration::from_secs(30));
            verdict_of(&read_all(file))
        }),
        max_size: u64::MAX,
        threads: 1,
        faster_than_disk: false,
    }));
    let bytes = content(7, 100_000);
    env.put("report.pdf", &bytes);
    let inbox_file = env.inbox().join("report.pdf");

    std::thread::scope(|scope| {
        let ingest = scope.spawn(|| store.ingest_all(SOURCE, &[OsString::from("report.pdf")]));
        entered
            .recv_timeout(Duration::from_secs(30))
            .expect("the scan at ingest began");
        // The ingest commits `stored` while its scan runs.
        let start = Instant::now();
        let item = loop {
            if let Some(item) = store
                .list()
                .expect("list")
                .into_iter()
                .find(|i| i.state == State::Stored)
            {
                break item;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "never stored");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(
            inbox_file.exists(),
            "the window is open: the inbox file is still there"
        );

        // The pipeline's own scan and release, inside the window.
        store.begin_scan(item.id).expect("scan");
        store.finish_scan(item.id, Verdict::Clean).expect("verdict");
        let released = store.release_all(&[(item.id, Destination::Shared)], DecidedBy::Policy);
        assert!(released[0].is_ok(), "{released:?}");
        assert_eq!(
            env.places_of(&sha256(&bytes)),
            vec![env.layout.shared().join("report.pdf")],
            "released while still in the inbox: visible twice"
        );

        // The ingest then ends without harm, and nothing is taken twice.
        go.send(()).expect("the scan goes on");
        let results = ingest.join().expect("ingest thread");
        assert!(results[0].is_ok(), "{results:?}");
    });
    assert_eq!(
        env.places_of(&sha256(&bytes)),
        vec![env.layout.shared().join("report.pdf")]
    );
    assert_eq!(store.list().expect("list").len(), 1, "one item");
    let again = store.ingest_all(SOURCE, &[OsString::from("report.pdf")]);
    assert!(
        matches!(again[0], Ok(IngestOutcome::Gone { .. })),
        "the name is gone from the inbox: {again:?}"
    );
}

/// A sender that rewrites its file while it is taken: the copy is whole,
/// so its scan begins, but the file changed, so its ingest is rolled back.
/// That scan's verdict goes to no item (the next file of the batch is
/// evil and too large to scan here, and must stay unscanned, not clean);
/// once the file settles it is taken and scanned afresh.
#[test]
fn a_copy_rolled_back_after_its_scan_began_lends_its_verdict_to_nothing() {
    use std::sync::atomic::AtomicBool;
    for attempt in 1..=50 {
        let env = Env::new();
        let store = env.open();
        let (how, scans) = counting_scanner(1 << 20);
        store.set_ingest_scan(Some(how));
        let clean = content(5, 512 << 10);
        let changing = env.put("changing.bin", &clean);
        let mut evil = content(6, 2 << 20);
        evil[1000..1000 + EVIL.len()].copy_from_slice(EVIL);
        env.put("evil.bin", &evil);

        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::os::unix::fs::FileExt;
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&changing)
                    .expect("the sender's file");
                while !stop.load(Ordering::SeqCst) {
                    file.write_all_at(b"\0", 0).expect("rewrite");
                }
            })
        };
        let names = [OsString::from("changing.bin"), OsString::from("evil.bin")];
        let mut outcomes = store.ingest_all(SOURCE, &names).into_iter();
        stop.store(true, Ordering::SeqCst);
        writer.join().expect("writer");
        let first = outcomes.next().expect("an outcome").expect("ingest");
        let second = stored(outcomes.next().expect("an outcome"));
        // The evil file is over the scan limit: no verdict, whatever was
        // scanned beside it.
        assert_eq!(second.state, State::Stored, "{second:?}");
        assert_eq!(second.verdict, None);
        if !matches!(first, IngestOutcome::Changing { .. }) || scans.load(Ordering::SeqCst) == 0 {
            // The rewrite did not fall during the copy this time.
            eprintln!(
                "attempt {attempt}: {first:?}, {} scans",
                scans.load(Ordering::SeqCst)
            );
            continue;
        }
        let items = store.list().expect("list");
        assert_eq!(items.len(), 1, "only the evil file is an item: {items:?}");
        // Settled now: taken, and scanned again, once.
        let before = scans.load(Ordering::SeqCst);
        let item = stored(store.ingest(SOURCE, "changing.bin".as_ref()));
        assert_eq!(scans.load(Ordering::SeqCst), before + 1);
        assert_eq!(item.state, State::Clean);
        return;
    }
    panic!("in 50 attempts, no rewrite fell between the end of a copy and its check");
}
