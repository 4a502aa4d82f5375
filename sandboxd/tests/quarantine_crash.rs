//! Crash consistency of the whole daemon: zion-sandboxd (quarantine only,
//! releasing clean files at once) is killed with SIGKILL at random instants
//! of ingest, scan and release, hundreds of times, and restarted. After every
//! kill no file is lost and none is visible twice (inbox and storage); at the
//! end every file is in shared storage exactly once, with its SHA-256, and
//! the quarantine is empty.

mod quarantine_support;

use std::collections::HashMap;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quarantine_support::*;
use sha2::{Digest, Sha256};
use zion_tests::TestEnv;

const KILLS: usize = 200;
const FILES_PER_ROUND: usize = 4;

/// xorshift64*: reproducible randomness without a dependency; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A file's bytes: unique (its number first), of a size that makes copies take a while.
fn contents(n: usize, rng: &mut Rng) -> Vec<u8> {
    let size = match rng.below(10) {
        0 => 4 << 20,
        1..=4 => (256 << 10) + rng.below(768 << 10) as usize,
        _ => rng.below(64 << 10) as usize,
    };
    let mut bytes = format!("file {n}\n").into_bytes();
    let mut x = rng.next();
    while bytes.len() < size {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

/// Hashes files, remembering each (path, inode, size) so that a file that did not change is read once.
#[derive(Default)]
struct Hashes(HashMap<(PathBuf, u64, u64), String>);

impl Hashes {
    /// SHA-256 of each regular, non-hidden file in `dir`: (name, hash).
    fn of_dir(&mut self, dir: &Path) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if name.starts_with('.') || !meta.is_file() {
                continue;
            }
            let key = (entry.path(), meta.ino(), meta.size());
            if let Some(hash) = self.0.get(&key) {
                out.push((name, hash.clone()));
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let hash = hex::encode(Sha256::digest(&bytes));
            self.0.insert(key, hash.clone());
            out.push((name, hash));
        }
        out
    }
}

/// Where each expected file is now: (in the inbox, in the store, in shared storage).
fn places(
    env: &TestEnv,
    hashes: &mut Hashes,
    expected: &HashMap<String, String>,
) -> HashMap<String, (usize, usize, usize)> {
    let inbox = hashes.of_dir(&outbox(env));
    let objects: Vec<String> = std::fs::read_dir(data(env).join("quarantine/objects"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let shared = hashes.of_dir(&data(env).join("shared"));
    let mut out = HashMap::new();
    for (name, sha) in expected {
        let in_inbox = inbox.iter().filter(|(n, h)| n == name && h == sha).count();
        let in_store = objects.iter().filter(|o| *o == sha).count();
        let in_shared = shared.iter().filter(|(_, h)| h == sha).count();
        out.insert(name.clone(), (in_inbox, in_store, in_shared));
    }
    out
}

/// What became of `name`: the shared files of its stem, and every log line of
/// every run that names it or one of its items, or reports a recovery.
fn story(env: &TestEnv, logs: &[String], name: &str) -> String {
    let stem = name.trim_end_matches(".bin");
    let mut out = String::from("shared holds:");
    if let Ok(entries) = std::fs::read_dir(data(env).join("shared")) {
        for entry in entries.filter_map(Result::ok) {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.contains(stem) {
                out += &format!(" {file:?} (inode {})", entry.ino());
            }
        }
    }
    for (run, log) in logs.iter().enumerate() {
        // The items ingested under this name in this run, then whatever names them.
        let items: Vec<String> = log
            .lines()
            .filter(|l| l.contains(name) && l.contains("item="))
            .filter_map(|l| l.split("item=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(|id| id.trim_end_matches(',').to_owned())
            .collect();
        for line in log.lines() {
            let mentions = line.contains(stem)
                || line.contains("quarantine recovery")
                || items.iter().any(|id| {
                    line.contains(&format!("item {id}:"))
                        || line.contains(&format!("item {id} "))
                        || line.contains(&format!("item={id}"))
                });
            if mentions {
                out += &format!("\nrun {run}: {line}");
            }
        }
    }
    out
}

/// What the recoveries in a daemon's log did: ItemIds listed under each field of the report.
fn tally(log: &str, totals: &mut HashMap<&'static str, usize>) {
    const FIELDS: [&str; 5] = [
        "ingests_rolled_back",
        "inbox_files_removed",
        "scans_interrupted",
        "releases_finished",
        "releases_rolled_back",
    ];
    for line in log.lines().filter(|l| l.contains("quarantine recovery")) {
        for field in FIELDS {
            let Some(start) = line.find(&format!("{field}: [")) else {
                continue;
            };
            let rest = &line[start..];
            let list = &rest[..rest.find(']').unwrap_or(rest.len())];
            *totals.entry(field).or_default() += list.matches("ItemId(").count();
        }
    }
}

#[test]
fn files_survive_hundreds_of_sigkills_during_ingest_scan_and_release() {
    let env = TestEnv::new().expect("test environment");
    write_config(
        &env,
        "auto_release = \"0s\"\ndefault_destination = \"shared\"",
    );
    let seed = std::env::var("ZION_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("seed {seed} (ZION_CRASH_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);
    let started = Instant::now();

    // How long the daemon takes to come up, to spread the kills over start-up and work.
    let first = Instant::now();
    let daemon = Daemon::start(&env);
    let ready = first.elapsed();
    drop(daemon);
    // Most kills land once the work has begun: start-up is half as likely.
    let ready_ms = ready.as_millis() as u64;
    let (earliest, window) = (ready_ms / 2, ready_ms / 2 + 200);
    eprintln!(
        "ready in {ready:?}; kills fall {earliest}..{} ms after each start",
        earliest + window
    );

    let mut expected: HashMap<String, String> = HashMap::new();
    let mut hashes = Hashes::default();
    let mut n = 0;
    let mut recovered: HashMap<&'static str, usize> = HashMap::new();
    // Each run's log, to tell a failure's story.
    let mut logs: Vec<String> = Vec::new();
    let kills = std::env::var("ZION_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(KILLS);
    for kill in 0..kills {
        for _ in 0..FILES_PER_ROUND {
            let bytes = contents(n, &mut rng);
            let name = format!("download-{n:04}.bin");
            drop_file(&outbox(&env), &name, &bytes);
            expected.insert(name, sha256(&bytes));
            n += 1;
        }
        let mut daemon = Daemon::spawn(&env);
        std::thread::sleep(Duration::from_millis(earliest + rng.below(window)));
        daemon.kill();
        logs.push(daemon.log());
        tally(&daemon.log(), &mut recovered);

        // Right after the kill, before any recovery: nothing lost, nothing
        // visible twice (an object in the store is not visible to anyone).
        for (name, (inbox, store, shared)) in places(&env, &mut hashes, &expected) {
            assert!(
                inbox + store + shared >= 1,
                "kill {kill}: {name} is nowhere (seed {seed})\n{}",
                story(&env, &logs, &name)
            );
            assert!(
                inbox + shared <= 1,
                "kill {kill}: {name} is visible twice: inbox {inbox}, shared {shared} (seed {seed})\n{}",
                story(&env, &logs, &name)
            );
        }
    }
    let killed_in = started.elapsed();

    // One last start: everything goes through to shared storage.
    let daemon = Daemon::start(&env);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = places(&env, &mut hashes, &expected);
        if now.values().all(|p| *p == (0, 0, 1)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not everything was released after the last restart (seed {seed}): {:?}\n{}",
            now.iter()
                .filter(|(_, p)| **p != (0, 0, 1))
                .collect::<Vec<_>>(),
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tally(&daemon.log(), &mut recovered);
    drop(daemon);
    eprintln!("work the kills interrupted, as the restarts recovered it: {recovered:?}");
    assert!(
        recovered.get("releases_finished").copied().unwrap_or(0)
            + recovered.get("releases_rolled_back").copied().unwrap_or(0)
            > 0
            && recovered.get("ingests_rolled_back").copied().unwrap_or(0) > 0,
        "the kills never interrupted an ingest or a release: the test proved nothing (seed {seed})"
    );

    // Every file exactly once, under its own name, with its bytes; nothing else.
    let shared = Hashes::default().of_dir(&data(&env).join("shared"));
    assert_eq!(
        shared.len(),
        expected.len(),
        "shared holds exactly the files"
    );
    for (name, sha) in &shared {
        assert_eq!(
            expected.get(name),
            Some(sha),
            "{name} in shared storage is not the file of that name"
        );
    }
    let left: Vec<_> = std::fs::read_dir(data(&env).join("quarantine/objects"))
        .expect("objects")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "the store still holds {left:?}");
    let inbox_left: Vec<_> = std::fs::read_dir(outbox(&env))
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(
        inbox_left.is_empty(),
        "the inbox still holds {inbox_left:?}"
    );

    // The audit log is intact and records each release once.
    let audit = zion_storage::AuditLog::open(data(&env).join("audit.log")).expect("audit log");
    audit.verify().expect("the audit chain verifies");
    let entries = audit.entries().expect("entries");
    for sha in expected.values() {
        let count = entries.iter().filter(|e| &e.sha256 == sha).count();
        assert_eq!(count, 1, "audit entries for {sha}");
    }
    eprintln!(
        "{kills} kills over {} files in {killed_in:?}, {:?} in all",
        expected.len(),
        started.elapsed()
    );
}
