//! The bad-input catalogue at the inbox: each hostile or odd entry has its
//! own test, a clear reason, and leaves nothing behind in the store.

#[path = "store_support.rs"]
mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{content, sha256, Env, SOURCE};
use zion_quarantine::{IngestOutcome, RefuseReason, Store};

fn assert_nothing_stored(env: &Env, store: &Store) {
    assert!(store.list().expect("list").is_empty(), "no item");
    assert!(env.object_names().is_empty(), "no object, no partial copy");
}

fn refusal(outcome: IngestOutcome) -> zion_quarantine::Refusal {
    match outcome {
        IngestOutcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_symlink_to_etc_passwd_is_refused_left_and_never_followed() {
    let env = Env::new();
    let store = env.open();
    let link = env.inbox().join("passwd");
    symlink("/etc/passwd", &link).expect("symlink");

    let r = refusal(store.ingest(SOURCE, "passwd".as_ref()).expect("ingest"));

    assert_eq!(
        r.reason,
        RefuseReason::Symlink {
            target: Some("/etc/passwd".into())
        }
    );
    let text = r.to_string();
    assert!(text.contains("symbolic link (to /etc/passwd)"), "{text}");
    assert!(text.contains("left it where it is"), "{text}");
    assert!(link.symlink_metadata().is_ok(), "the link is left in place");
    assert!(Path::new("/etc/passwd").exists());
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let env = Env::new();
    let store = env.open();
    let fifo = env.inbox().join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");

    let r = refusal(store.ingest(SOURCE, "pipe".as_ref()).expect("ingest"));

    assert_eq!(r.reason, RefuseReason::Fifo);
    assert!(r.to_string().contains("named pipe"), "{r}");
    assert!(fifo.symlink_metadata().is_ok());
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_device_node_is_refused_and_never_opened() {
    let env = Env::new();
    let store = env.open();
    let dev = env.inbox().join("zero");
    // /dev/zero (1:5): reading it would never end.
    if let Err(e) = rustix::fs::mknodat(
        rustix::fs::CWD,
        &dev,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(1, 5),
    ) {
        zion_tests::skip::lacking(&format!(
            "cannot create a device node here ({e}); this test needs root"
        ));
        return;
    }

    let r = refusal(store.ingest(SOURCE, "zero".as_ref()).expect("ingest"));

    assert_eq!(r.reason, RefuseReason::Device);
    assert!(r.to_string().contains("device node"), "{r}");
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_socket_is_refused() {
    let env = Env::new();
    let store = env.open();
    let path = env.inbox().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");

    let r = refusal(store.ingest(SOURCE, "sock".as_ref()).expect("ingest"));

    assert_eq!(r.reason, RefuseReason::Socket);
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_hard_link_is_refused_and_both_names_are_left() {
    let env = Env::new();
    let store = env.open();
    let secret = env.dir.path().join("someone-elses-file");
    std::fs::write(&secret, b"private").expect("write");
    let linked = env.inbox().join("innocent.txt");
    std::fs::hard_link(&secret, &linked).expect("link");

    let r = refusal(
        store
            .ingest(SOURCE, "innocent.txt".as_ref())
            .expect("ingest"),
    );

    assert_eq!(r.reason, RefuseReason::HardLink { links: 2 });
    assert!(r.to_string().contains("hard link"), "{r}");
    assert_eq!(std::fs::read(&linked).expect("left"), b"private");
    assert_eq!(std::fs::read(&secret).expect("untouched"), b"private");
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_folder_in_the_inbox_is_refused() {
    let env = Env::new();
    let store = env.open();
    std::fs::create_dir(env.inbox().join("sub")).expect("mkdir");
    let r = refusal(store.ingest(SOURCE, "sub".as_ref()).expect("ingest"));
    assert_eq!(r.reason, RefuseReason::Directory);
    assert_nothing_stored(&env, &store);
}

#[test]
fn a_file_growing_during_ingest_is_left_to_retry_and_then_taken_whole() {
    let env = Env::new();
    let store = env.open();
    let path = env.put("growing.iso", &content(8, 16 << 20));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let path = path.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open for append");
            while !stop.load(Ordering::Relaxed) {
                f.write_all(&[7u8; 4096]).expect("append");
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(20));

    let outcome = store
        .ingest(SOURCE, "growing.iso".as_ref())
        .expect("ingest");
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");

    assert!(
        matches!(outcome, IngestOutcome::Changing { .. }),
        "{outcome:?}"
    );
    assert_nothing_stored(&env, &store);
    let full = std::fs::read(&path).expect("still in the inbox");

    // Once the writer is done, the retry takes every byte.
    let item = match store.ingest(SOURCE, "growing.iso".as_ref()).expect("retry") {
        IngestOutcome::Stored(item) => item,
        other => panic!("{other:?}"),
    };
    assert_eq!(item.size, full.len() as u64);
    assert_eq!(item.sha256, Some(sha256(&full)));
}

#[test]
fn a_file_removed_during_ingest_rolls_back_and_leaves_nothing() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let objects = env.paths.objects.clone();
    let mut saw_removal = false;
    for attempt in 0..5 {
        let name = format!("vanishing-{attempt}.bin");
        let path = env.put(&name, &content(9 + attempt, 48 << 20));
        // Remove the inbox file as soon as the copy in objects/ has begun.
        let remover = {
            let path = path.clone();
            let objects = objects.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let copying = std::fs::read_dir(&objects)
                        .map(|d| {
                            d.flatten()
                                .any(|e| e.file_name().to_string_lossy().starts_with(".ingest-"))
                        })
                        .unwrap_or(false);
                    if copying {
                        return std::fs::remove_file(&path).is_ok();
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
                false
            })
        };
        let outcome = store.ingest(SOURCE, name.as_ref()).expect("ingest");
        let removed = remover.join().expect("remover");
        match outcome {
            IngestOutcome::Gone { .. } => {
                assert!(removed);
                saw_removal = true;
                assert_nothing_stored(&env, &store);
                break;
            }
            // The copy won the race: a normal ingest, then try again.
            IngestOutcome::Stored(item) => {
                store.delete(item.id).expect("delete");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        saw_removal,
        "the removal never landed during a copy in 5 tries"
    );
}

#[test]
fn a_name_that_is_not_there_is_simply_gone() {
    let env = Env::new();
    let store = env.open();
    let outcome = store.ingest(SOURCE, "never-was".as_ref()).expect("ingest");
    assert!(matches!(outcome, IngestOutcome::Gone { .. }), "{outcome:?}");
    let err = store
        .ingest("../etc", "passwd".as_ref())
        .expect_err("bad source");
    assert!(err.to_string().contains("invalid inbox source"), "{err}");
}
