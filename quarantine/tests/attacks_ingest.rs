//! Attacks on ingest from a profile's side of the inbox (issue 18, finding 8):
//! a sparse file costs its sender nothing, so it must cost the store nothing;
//! a large or slow file from one source must not keep another's waiting.

mod store_support;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use store_support::*;
use zion_quarantine::{
    InboxWatcher, IngestLimits, IngestOutcome, RefuseReason, Source, WatchEvent, WatcherConfig,
};

/// Bytes really allocated (st_blocks) by the files in `dir`.
fn allocated(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .filter_map(|e| e.path().symlink_metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.blocks() * 512)
        .sum()
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// A sparse file of `len` bytes with a little data at each of `at`.
fn sparse(path: &Path, len: u64, at: &[u64]) -> [u8; 32] {
    let mut file = std::fs::File::create(path).expect("create");
    file.set_len(len).expect("truncate -s");
    for (i, &offset) in at.iter().enumerate() {
        file.seek(SeekFrom::Start(offset)).expect("seek");
        file.write_all(&content(i as u64 + 1, 4096)).expect("write");
    }
    file.sync_all().expect("sync");
    drop(file);
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hasher.finalize().into()
}

#[test]
fn a_sparse_terabyte_is_refused_before_anything_is_copied() {
    let env = Env::new();
    let path = env.inbox().join("huge.iso");
    std::fs::File::create(&path)
        .expect("create")
        .set_len(TIB)
        .expect("truncate -s 1T");
    let store = env.open();
    let start = Instant::now();
    let outcome = store.ingest(SOURCE, os(b"huge.iso")).expect("ingest");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let IngestOutcome::Refused(refusal) = outcome else {
        panic!("a terabyte must be refused, got {outcome:?}");
    };
    let RefuseReason::OverQuota {
        size, quota, owner, ..
    } = &refusal.reason
    else {
        panic!("refused for the quota, not {:?}", refusal.reason);
    };
    assert_eq!(
        (*size, *quota, owner.as_str()),
        (TIB, IngestLimits::default().quota, "profile work")
    );
    let text = refusal.to_string();
    assert!(
        text.contains("huge.iso") && text.contains("quota") && text.contains("1.0 TiB"),
        "{text}"
    );
    assert!(refusal.reason.is_transient());
    assert_eq!(
        std::fs::metadata(&path).expect("left in the inbox").len(),
        TIB
    );
    assert!(allocated(&env.paths.objects) < MIB);
    assert!(store.list().expect("list").is_empty(), "no item for it");
}

#[test]
fn a_sparse_file_within_the_quota_is_stored_sparse_with_its_true_hash() {
    let env = Env::new();
    let len = 512 * MIB;
    let path = env.inbox().join("disk.img");
    let expected = sparse(&path, len, &[0, 100 * MIB, len - 4096]);
    let store = env.open();
    let IngestOutcome::Stored(item) = store.ingest(SOURCE, os(b"disk.img")).expect("ingest") else {
        panic!("stored");
    };
    assert_eq!(item.size, len);
    assert_eq!(
        item.sha256,
        Some(expected),
        "the hash covers the holes as zeros"
    );
    let object = store.object_path(&expected);
    let meta = std::fs::metadata(&object).expect("object");
    assert_eq!(meta.len(), len);
    assert!(
        meta.blocks() * 512 < MIB,
        "the object holds {} bytes on disk for 12 KiB of data",
        meta.blocks() * 512
    );
    // Its bytes are the file's, holes and all.
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(&object).expect("open");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    assert_eq!(<[u8; 32]>::from(hasher.finalize()), expected);
}

#[test]
fn a_file_that_would_cut_into_the_reserve_waits_in_the_inbox() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(7, MIB as usize);
    env.put("data.bin", &bytes);
    let free = rustix::fs::statvfs(&env.paths.objects).expect("statvfs");
    let free = free.f_bavail * free.f_frsize;
    store.set_limits(IngestLimits {
        reserve: free,
        ..IngestLimits::default()
    });
    let outcome = store.ingest(SOURCE, os(b"data.bin")).expect("ingest");
    let IngestOutcome::Refused(refusal) = outcome else {
        panic!("refused for lack of room, got {outcome:?}");
    };
    assert!(
        matches!(refusal.reason, RefuseReason::LowSpace { need, .. } if need >= MIB),
        "{refusal:?}"
    );
    assert!(refusal.to_string().contains("reserve"), "{refusal}");
    assert_eq!(
        std::fs::read(env.inbox().join("data.bin")).expect("kept"),
        bytes
    );
    store.set_limits(IngestLimits::default());
    assert!(matches!(
        store.ingest(SOURCE, os(b"data.bin")).expect("ingest"),
        IngestOutcome::Stored(_)
    ));
}

#[test]
fn a_quota_counts_what_the_owner_holds_until_it_is_deleted() {
    let env = Env::new();
    let store = env.open();
    store.set_limits(IngestLimits {
        quota: 3 * MIB,
        ..IngestLimits::default()
    });
    env.put("one.bin", &content(1, 2 * MIB as usize));
    env.put("two.bin", &content(2, 2 * MIB as usize));
    let IngestOutcome::Stored(one) = store.ingest(SOURCE, os(b"one.bin")).expect("ingest") else {
        panic!("the first fits");
    };
    let outcome = store.ingest(SOURCE, os(b"two.bin")).expect("ingest");
    assert!(
        matches!(&outcome, IngestOutcome::Refused(r) if matches!(r.reason, RefuseReason::OverQuota { held, .. } if held == 2 * MIB)),
        "{outcome:?}"
    );
    // Another profile's source has its own quota.
    store
        .add_source(&Source {
            name: "sb2".into(),
            label: "sandbox:personal/1".into(),
            profile: Some("personal".into()),
        })
        .expect("source");
    std::fs::write(
        env.paths.inbox.join("sb2/three.bin"),
        content(3, 2 * MIB as usize),
    )
    .expect("write");
    assert!(matches!(
        store.ingest("sb2", os(b"three.bin")).expect("ingest"),
        IngestOutcome::Stored(_)
    ));
    store.delete(one.id).expect("delete");
    assert!(matches!(
        store.ingest(SOURCE, os(b"two.bin")).expect("ingest"),
        IngestOutcome::Stored(_)
    ));
}

/// A batch is let in with one turn of the journal: the files a profile drops
/// at once still count against its quota one after another, so that a
/// flood cannot slip past it by arriving together.
#[test]
fn files_arriving_together_count_against_the_quota_one_after_another() {
    let env = Env::new();
    let store = env.open();
    store.set_limits(IngestLimits {
        quota: 5 * MIB,
        ..IngestLimits::default()
    });
    let sizes = [("a.bin", 2), ("b.bin", 2), ("c.bin", 2), ("d.bin", 1)];
    for (i, (name, mib)) in sizes.iter().enumerate() {
        env.put(name, &content(i as u64 + 10, *mib * MIB as usize));
    }
    let names: Vec<_> = sizes
        .iter()
        .map(|(n, _)| os(n.as_bytes()).to_owned())
        .collect();
    let outcomes: Vec<_> = store
        .ingest_all(SOURCE, &names)
        .into_iter()
        .map(|r| r.expect("ingest"))
        .collect();
    assert!(
        matches!(outcomes[0], IngestOutcome::Stored(_)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], IngestOutcome::Stored(_)),
        "{outcomes:?}"
    );
    // 4 MiB held by the two before it: 2 more would pass 5.
    assert!(
        matches!(&outcomes[2], IngestOutcome::Refused(r) if matches!(r.reason, RefuseReason::OverQuota { held, .. } if held == 4 * MIB)),
        "{outcomes:?}"
    );
    // One more MiB still fits.
    assert!(
        matches!(outcomes[3], IngestOutcome::Stored(_)),
        "{outcomes:?}"
    );
    assert!(env.inbox().join("c.bin").exists(), "a refused file stays");
    let held: u64 = store
        .list()
        .expect("list")
        .iter()
        .map(|item| item.size)
        .sum();
    assert_eq!(held, 5 * MIB);
}

#[test]
fn a_slow_file_from_one_source_does_not_delay_another_source() {
    let env = Env::new();
    let store = Arc::new(env.open());
    store
        .add_source(&Source {
            name: "sb2".into(),
            label: "sandbox:personal/1".into(),
            profile: Some("personal".into()),
        })
        .expect("source");
    // Within the quota but long to hash: several GiB of holes.
    let slow = env.inbox().join("slow.img");
    std::fs::File::create(&slow)
        .expect("create")
        .set_len(12 * GIB)
        .expect("truncate");
    let config = WatcherConfig {
        retry: Duration::from_millis(100),
        settle: Duration::from_millis(100),
        ..WatcherConfig::default()
    };
    let (watcher, rx) = InboxWatcher::start(store.clone(), config).expect("watcher");
    // Let the slow one start.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let small = env.paths.inbox.join("sb2/small.txt");
    let part = env.paths.inbox.join("sb2/small.txt.part");
    std::fs::write(&part, b"small").expect("write");
    std::fs::rename(&part, &small).expect("rename");
    let mut small_taken = None;
    while started.elapsed() < Duration::from_secs(60) {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(WatchEvent::Ingested(id)) => {
                let item = store.get(id).expect("item");
                if item.original_name == "small.txt" {
                    small_taken = Some(started.elapsed());
                    break;
                }
                panic!("the slow file finished first: it blocked the small one");
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => {}
        }
    }
    let waited = small_taken.expect("the small file is taken");
    assert!(
        waited < Duration::from_secs(3),
        "the small file waited {waited:?} behind another source's slow file"
    );
    assert!(slow.exists(), "the slow file is still being taken");
    drop(watcher);
}

/// `ingest_all_settled`: a file opened before it settled is copied at once,
/// then stored only once it has been left alone for the settle time. A
/// profile that changes it during that wait (here its mode: any change sets
/// the ctime) gets it refused as changing, nothing stored and its inbox file
/// untouched; left alone, the same file is stored after the wait.
#[test]
fn a_file_changed_while_its_copy_waits_to_settle_is_not_stored() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let store = env.open();
    let settle = Duration::from_millis(800);
    let bytes = content(41, 3 * MIB as usize);
    let path = env.put("movie.mkv", &bytes);

    let changed = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        });
        store.ingest_all_settled(SOURCE, &[os(b"movie.mkv").to_owned()], settle)
    });

    assert!(
        matches!(changed.as_slice(), [Ok(IngestOutcome::Changing { .. })]),
        "{changed:?}"
    );
    assert!(store.list().expect("list").is_empty(), "nothing stored");
    assert!(env.object_names().is_empty(), "no object, no copy left");
    assert_eq!(std::fs::read(&path).expect("inbox file"), bytes);

    let started = Instant::now();
    let stored = store.ingest_all_settled(SOURCE, &[os(b"movie.mkv").to_owned()], settle);
    let waited = started.elapsed();

    match stored.as_slice() {
        [Ok(IngestOutcome::Stored(item))] => assert_eq!(item.sha256, Some(sha256(&bytes))),
        other => panic!("stored once left alone: {other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(200),
        "it waited out its settle time ({waited:?})"
    );
    assert!(!path.exists(), "taken from the inbox");
}
