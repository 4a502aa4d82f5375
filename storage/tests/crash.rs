//! A releasing process killed with SIGKILL at random instants: after recovery
//! (what the quarantine does on start-up) every file is in the destination
//! exactly once with its original hash, none lost, none partial, and the audit
//! log still verifies.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bytes, request, sha256_file, Fixture, On};
use zion_storage::{
    find_released, release, resume_release, sanitize_name, AuditLog, Destination, Layout,
};

/// Set in the child's environment: the fixture directory to release from.
const CHILD_ENV: &str = "ZION_STORAGE_CRASH_CHILD";
const ROUNDS: usize = 100;
const OBJECTS: usize = 12;

/// Where the fixture keeps things, as the child sees them.
struct Paths {
    layout: Layout,
    audit: PathBuf,
    /// On a tmpfs: releases from here are copies (EXDEV).
    tmpfs_store: PathBuf,
    /// On disk with the root: releases from here are renames.
    disk_store: PathBuf,
}

impl Paths {
    fn under(dir: &Path) -> Paths {
        Paths {
            layout: Layout::new(dir.join("zion")),
            audit: dir.join("audit.jsonl"),
            tmpfs_store: dir.join("store"),
            disk_store: dir.join("store-disk"),
        }
    }
}

/// Objects are named by their SHA-256 (as in the quarantine store).
fn objects(paths: &Paths) -> Vec<(PathBuf, [u8; 32])> {
    let mut out = Vec::new();
    for store in [&paths.tmpfs_store, &paths.disk_store] {
        for entry in fs::read_dir(store).expect("store") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
            let mut sum = [0u8; 32];
            if hex::decode_to_slice(name, &mut sum).is_ok() {
                out.push((path, sum));
            }
        }
    }
    out.sort();
    out
}

fn original_name(sum: &[u8; 32]) -> String {
    format!("file-{}.bin", &hex::encode(sum)[..8])
}

/// The process that gets killed: releases every object of the stores.
#[test]
#[ignore = "run by killed_releases_recover_with_nothing_lost_or_doubled as its child"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let paths = Paths::under(Path::new(&dir));
    let audit = AuditLog::open(&paths.audit).expect("audit");
    let dest = Destination::Shared;
    // Tell the parent that start-up is over: the clock of the kill starts now.
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let started = std::time::Instant::now();
    for (i, (src, sum)) in objects(&paths).iter().enumerate() {
        let name = original_name(sum);
        let id = format!("item-{}", hex::encode(sum));
        let req = request(src, *sum, &dest, OsStr::new(&name), true, &id);
        release(&paths.layout, &audit, &req).unwrap_or_else(|e| panic!("release {i}: {e}"));
    }
    println!("done {}", started.elapsed().as_micros());
}

#[test]
fn killed_releases_recover_with_nothing_lost_or_doubled() {
    let exe = std::env::current_exe().expect("test binary");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut kills_mid_way = 0;
    let mut batch: Option<Duration> = None;
    for round in 0..ROUNDS {
        let Some(fx) = Fixture::on(On::TmpfsStore("8m")) else {
            return;
        };
        let paths = Paths::under(fx.dir.path());
        fs::create_dir(&paths.disk_store).expect("disk store");
        let mut wanted = BTreeMap::new();
        for i in 0..OBJECTS {
            let data = bytes((round * OBJECTS + i) as u8, 40_000 + 23_000 * i);
            let sum = common::sha256(&data);
            let store = if i % 2 == 0 {
                &paths.tmpfs_store
            } else {
                &paths.disk_store
            };
            fs::write(store.join(hex::encode(sum)), &data).expect("object");
            wanted.insert(original_name(&sum), sum);
        }

        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Round 0 is not killed: it measures how long the batch takes.
        let delay = batch.map(|batch| batch.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0));
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, fx.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            if stdout.read_line(&mut line).expect("child output") == 0 {
                break;
            }
        }
        match delay {
            Some(delay) => {
                std::thread::sleep(delay);
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
            }
            None => {
                let mut rest = String::new();
                std::io::Read::read_to_string(&mut stdout, &mut rest).expect("child output");
                let status = child.wait().expect("child");
                assert!(status.success(), "an uninterrupted batch must succeed");
                let micros = rest
                    .lines()
                    .find_map(|l| {
                        l.split("done ")
                            .nth(1)?
                            .split_whitespace()
                            .next()?
                            .parse()
                            .ok()
                    })
                    .expect("the child reports its batch time");
                batch = Some(Duration::from_micros(micros));
            }
        }
        let left = objects(&paths).len();
        if left > 0 && left < OBJECTS {
            kills_mid_way += 1;
        }
        recover(&paths, &wanted);
        check(&paths, &wanted, round);
    }
    eprintln!(
        "{} kills, {kills_mid_way} in the middle of the batch (batch of {OBJECTS} takes {batch:?})",
        ROUNDS - 1
    );
    assert!(
        kills_mid_way > 0,
        "no kill landed inside a batch: the test did not test anything"
    );
}

/// What the quarantine does on start-up for each item still marked "releasing".
fn recover(paths: &Paths, wanted: &BTreeMap<String, [u8; 32]>) {
    let audit = AuditLog::open(&paths.audit).expect("audit reopens after a kill");
    let dest = Destination::Shared;
    let sources: BTreeMap<[u8; 32], PathBuf> =
        objects(paths).into_iter().map(|(p, s)| (s, p)).collect();
    for (name, sum) in wanted {
        let id = format!("item-{}", hex::encode(sum));
        let source = sources
            .get(sum)
            .cloned()
            .unwrap_or_else(|| paths.tmpfs_store.join(hex::encode(sum)));
        let req = request(&source, *sum, &dest, OsStr::new(name), true, &id);
        let resumed = resume_release(&paths.layout, &audit, &req).expect("resume");
        if resumed.is_none() {
            assert!(
                source.exists(),
                "{name}: neither in the store nor released: LOST"
            );
            release(&paths.layout, &audit, &req).expect("release again");
        }
    }
}

fn check(paths: &Paths, wanted: &BTreeMap<String, [u8; 32]>, round: usize) {
    let shared = paths.layout.shared();
    let names = Fixture::listing(&shared);
    assert_eq!(
        names.len(),
        wanted.len(),
        "round {round}: one file each, no partial or hidden file: {names:?}"
    );
    for (name, sum) in wanted {
        let found = find_released(
            &paths.layout,
            &Destination::Shared,
            &sanitize_name(OsStr::new(name)),
            sum,
        )
        .expect("find");
        assert_eq!(
            found,
            Some(shared.join(name)),
            "round {round}: {name} released once, under its name"
        );
        assert_eq!(sha256_file(&shared.join(name)), *sum);
    }
    assert!(objects(paths).is_empty(), "round {round}: store emptied");
    let audit = AuditLog::open(&paths.audit).expect("audit");
    assert_eq!(
        audit.verify().expect("chain intact"),
        wanted.len(),
        "round {round}: one entry per item"
    );
}
