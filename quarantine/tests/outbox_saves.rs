//! Programs that save into an Outbox the way real ones do: write a
//! temporary name, then rename it over the final one (GLib's
//! `.goutputstream-XXXXXX`, rsync's `.name.XXXXXX`, office suites' `*.tmp`).
//! Real inotify, a real store: every save must succeed (the rename never
//! fails because the quarantine took the temporary file), every final name
//! is taken exactly once, and no temporary name is ever taken.

#[path = "store_support.rs"]
mod support;

use std::collections::HashMap;
use std::fs::{File, FileTimes};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use support::{content, sha256, Env};
use zion_quarantine::{InboxWatcher, State, WatchEvent, WatcherConfig};

/// How a program saves a file.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// GLib's `g_file_replace`: `.goutputstream-XXXXXX`, fsync, rename, then close.
    Glib,
    /// rsync: `.name.XXXXXX`, close, chmod, set the sender's mtime, rename.
    Rsync,
    /// Office suites and many editors: `name.tmp`, close, rename.
    DotTmp,
}

/// Six characters like mkstemp's, different for every save.
fn suffix(i: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..6)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            CHARS[(x % CHARS.len() as u64) as usize] as char
        })
        .collect()
}

/// Saves `bytes` as `final_name` in `dir` the program's way; the error of
/// the rename is the save failing. `work` is what the program does between
/// closing its temporary file and renaming it (reading it back to check it,
/// setting attributes): a few milliseconds for a real one.
fn save(
    dir: &Path,
    style: Style,
    final_name: &str,
    i: usize,
    bytes: &[u8],
    work: Duration,
) -> std::io::Result<()> {
    let temp = match style {
        Style::Glib => format!(".goutputstream-{}", suffix(i)),
        Style::Rsync => format!(".{final_name}.{}", suffix(i)),
        Style::DotTmp => format!("{final_name}.tmp"),
    };
    let temp = dir.join(temp);
    let target = dir.join(final_name);
    let mut file = File::options().write(true).create_new(true).open(&temp)?;
    // Written in two pieces, as a stream is.
    let (a, b) = bytes.split_at(bytes.len() / 2);
    file.write_all(a)?;
    file.write_all(b)?;
    match style {
        Style::Glib => {
            file.sync_all()?;
            std::fs::rename(&temp, &target)?;
            drop(file);
        }
        Style::Rsync => {
            drop(file);
            std::thread::sleep(work);
            std::fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
            let sent = SystemTime::now() - Duration::from_secs(86_400);
            File::options()
                .write(true)
                .open(&temp)?
                .set_times(FileTimes::new().set_modified(sent))?;
            std::fs::rename(&temp, &target)?;
        }
        Style::DotTmp => {
            drop(file);
            // Read back to check what was written, as careful programs do.
            if std::fs::read(&temp)? != bytes {
                return Err(std::io::Error::other("the temporary file changed"));
            }
            std::thread::sleep(work);
            std::fs::rename(&temp, &target)?;
        }
    }
    Ok(())
}

/// Collects ingest events until none arrived for `quiet` (or `limit` passed).
fn drain(rx: &Receiver<WatchEvent>, quiet: Duration, limit: Duration) -> Vec<WatchEvent> {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    while Instant::now() < end {
        match rx.recv_timeout(quiet) {
            Ok(event) => out.push(event),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn programs_saving_by_write_then_rename_each_succeed_and_are_taken_once_under_the_final_name() {
    const SAVES: usize = 300;
    let env = Env::new();
    let store = Arc::new(env.open());
    let (_watcher, rx) =
        InboxWatcher::start(store.clone(), WatcherConfig::default()).expect("watch");
    let dir = env.inbox();
    let styles = [Style::Glib, Style::Rsync, Style::DotTmp];

    let started = Instant::now();
    let mut expected = HashMap::new();
    let mut failed = Vec::new();
    for i in 0..SAVES {
        let style = styles[i % styles.len()];
        let name = format!("document-{i:03}.odt");
        let bytes = content(70_000 + i as u64, 2_000 + (i % 11) * 300);
        let work = Duration::from_millis([1, 5, 15, 40][i % 4]);
        match save(&dir, style, &name, i, &bytes, work) {
            Ok(()) => {
                expected.insert(name, sha256(&bytes));
            }
            Err(e) => failed.push(format!("{name} ({style:?}): {e}")),
        }
    }
    let saved_in = started.elapsed();

    let events = drain(&rx, Duration::from_secs(2), Duration::from_secs(60));
    let items = store.list().expect("list");
    let mut taken: HashMap<String, usize> = HashMap::new();
    for item in &items {
        *taken
            .entry(item.original_name.to_string_lossy().into_owned())
            .or_default() += 1;
    }
    let temporary: Vec<&String> = taken
        .keys()
        .filter(|n| !expected.contains_key(*n))
        .collect();
    let twice = taken.values().filter(|&&n| n > 1).count() + temporary.len();
    eprintln!(
        "{SAVES} saves in {:.2} s: {} saves failed, {twice} files taken twice or under a \
         temporary name, {} items, {} events",
        saved_in.as_secs_f64(),
        failed.len(),
        items.len(),
        events.len()
    );

    assert!(failed.is_empty(), "saves failed: {failed:#?}");
    assert!(
        temporary.is_empty(),
        "temporary names were taken: {temporary:?}"
    );
    for (name, sha) in &expected {
        assert_eq!(taken.get(name), Some(&1), "{name} taken exactly once");
        let item = items
            .iter()
            .find(|i| i.original_name.to_str() == Some(name.as_str()))
            .expect("item");
        assert_eq!(
            item.sha256.as_ref(),
            Some(sha),
            "{name} has the saved bytes"
        );
        assert_eq!(item.state, State::Stored);
    }
    assert_eq!(items.len(), SAVES);
    for event in &events {
        assert!(
            matches!(event, WatchEvent::Ingested(_)),
            "nothing refused or failed: {event:?}"
        );
    }
    assert!(support::names(&dir).is_empty(), "the Outbox is empty");
}

/// A large file is copied while it settles (the copy takes a good part of
/// the settle time), and must still be taken only once it has settled: a
/// program that renames it on, or writes it again, within the settle time
/// finds its rename and its write succeed, and the file is taken once,
/// under its last name, with its last bytes. Taking the copy made before
/// (the first name, the first bytes) would be the bug.
#[test]
fn a_large_file_changed_while_it_is_copied_to_settle_is_taken_once_as_it_ends() {
    const LARGE: usize = 80 << 20;
    let env = Env::new();
    let store = Arc::new(env.open());
    let config = WatcherConfig {
        settle: Duration::from_millis(1500),
        retry: Duration::from_millis(200),
        ..WatcherConfig::default()
    };
    let (_watcher, rx) = InboxWatcher::start(store.clone(), config).expect("watch");
    let dir = env.inbox();
    // Made aside (on the same filesystem) and moved in whole, as a program's save is.
    let stage_dir = tempfile::tempdir().expect("tempdir");
    let stage = stage_dir.path();

    // Renamed on: moved in as `draft.mkv`, renamed `final.mkv` after 300 ms.
    let renamed = content(91, LARGE);
    std::fs::write(stage.join("draft.mkv"), &renamed).expect("write");
    std::fs::rename(stage.join("draft.mkv"), dir.join("draft.mkv")).expect("move in");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(dir.join("draft.mkv"), dir.join("final.mkv")).expect("the program's rename");

    // Written again: moved in, then its last megabyte rewritten after 300 ms
    // (a tagger adding its metadata).
    let mut tagged = content(92, LARGE);
    std::fs::write(stage.join("song.flac"), &tagged).expect("write");
    std::fs::rename(stage.join("song.flac"), dir.join("song.flac")).expect("move in");
    std::thread::sleep(Duration::from_millis(300));
    let tag = content(93, 1 << 20);
    {
        use std::io::{Seek, SeekFrom};
        let mut file = File::options()
            .write(true)
            .open(dir.join("song.flac"))
            .expect("open to tag");
        file.seek(SeekFrom::Start((LARGE - tag.len()) as u64))
            .expect("seek");
        file.write_all(&tag).expect("the program's write");
    }
    tagged[LARGE - tag.len()..].copy_from_slice(&tag);

    let events = drain(&rx, Duration::from_secs(4), Duration::from_secs(60));
    let items = store.list().expect("list");
    let taken: Vec<(String, Option<[u8; 32]>)> = items
        .iter()
        .map(|i| (i.original_name.to_string_lossy().into_owned(), i.sha256))
        .collect();
    assert_eq!(
        items.len(),
        2,
        "each file taken once: {taken:?} ({events:?})"
    );
    assert!(
        taken.contains(&("final.mkv".to_owned(), Some(sha256(&renamed)))),
        "the renamed file is taken under its last name: {taken:?}"
    );
    assert!(
        taken.contains(&("song.flac".to_owned(), Some(sha256(&tagged)))),
        "the rewritten file is taken with its last bytes: {taken:?}"
    );
    assert!(support::names(&dir).is_empty(), "the Outbox is empty");
}
