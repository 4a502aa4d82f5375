//! bench-release: releasing a quarantined file into storage with zion-storage
//! (the options the quarantine store uses) beside `mv` and `cp`, for 1 MB,
//! 100 MB and 1 GB, in one run on one filesystem. Prints medians and ratios.
//!
//! Usage: bench-release [DIR] (default: a temporary folder under /var/tmp).

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zion_storage::{release_with, AuditLog, Destination, Layout, ReleaseOptions, ReleaseRequest};

const ROUNDS: usize = 3;
const MB: u64 = 1_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A file of `size` bytes of varied content, and its SHA-256.
fn make_file(path: &Path, size: u64) -> anyhow::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut file =
        fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        hash.update(&block[..n]);
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(hash.finalize().into())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().context("running a peer command")?;
    if !status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let base = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from("/var/tmp"),
    };
    let work = tempfile::Builder::new()
        .prefix("zion-bench-release-")
        .tempdir_in(&base)?;
    let layout = Layout::new(work.path().join("data"));
    layout.create(&[])?;
    let audit = AuditLog::open(work.path().join("audit.log"))?;
    let store = work.path().join("store");
    let peers = work.path().join("peers");
    fs::create_dir_all(&store)?;
    fs::create_dir_all(&peers)?;
    // What the quarantine store uses: objects are named by their SHA-256.
    let options = ReleaseOptions {
        verify_source: false,
        ..ReleaseOptions::default()
    };
    let verified = ReleaseOptions::default();

    println!(
        "release into storage on one filesystem ({}), median of {ROUNDS}:",
        base.display()
    );
    println!(
        "{:>8} {:>12} {:>12} {:>14} {:>12} {:>14}",
        "size", "zion move", "mv", "zion copy", "cp", "zion copy / cp"
    );
    let mut item = 0u64;
    for size in [MB, 100 * MB, 1000 * MB] {
        let (mut zmove, mut mv, mut zcopy, mut cp) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            item += 1;
            let id = item.to_string();
            let name = format!("file-{id}.bin");
            let source = store.join(&id);
            let sha = make_file(&source, size)?;

            let start = Instant::now();
            let req = ReleaseRequest {
                source: &source,
                sha256: sha,
                remove_source: true,
                destination: &Destination::Shared,
                original_name: OsStr::new(&name),
                item_id: &id,
                source_label: "bench",
                verdict: "clean",
                decided_by: "policy",
                origin: None,
            };
            release_with(&layout, &audit, &req, &options)?;
            zmove.push(start.elapsed());

            let peer = peers.join(&id);
            make_file(&peer, size)?;
            let start = Instant::now();
            run(Command::new("mv")
                .arg(&peer)
                .arg(peers.join(format!("{id}.moved"))))?;
            mv.push(start.elapsed());

            // A copy (another item still needs the object): written, fsynced,
            // re-read and checked before it appears.
            let copy_name = format!("copy-{id}.bin");
            let copy_id = format!("{id}c");
            let source2 = store.join(&copy_id);
            let sha2 = make_file(&source2, size)?;
            let start = Instant::now();
            let req = ReleaseRequest {
                source: &source2,
                sha256: sha2,
                remove_source: false,
                destination: &Destination::Shared,
                original_name: OsStr::new(&copy_name),
                item_id: &copy_id,
                source_label: "bench",
                verdict: "clean",
                decided_by: "policy",
                origin: None,
            };
            release_with(&layout, &audit, &req, &verified)?;
            zcopy.push(start.elapsed());

            let start = Instant::now();
            run(Command::new("cp")
                .arg(&source2)
                .arg(peers.join(format!("{id}.copied"))))?;
            cp.push(start.elapsed());
            for dir in [&store, &peers, &layout.shared()] {
                for entry in fs::read_dir(dir)? {
                    fs::remove_file(entry?.path())?;
                }
            }
        }
        let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1e3);
        let (zm, m, zc, c) = (median(zmove), median(mv), median(zcopy), median(cp));
        println!(
            "{:>6}MB {:>12} {:>12} {:>14} {:>12} {:>13.2}x",
            size / MB,
            ms(zm),
            ms(m),
            ms(zc),
            ms(c),
            zc.as_secs_f64() / c.as_secs_f64()
        );
    }
    println!("zion move: rename with RENAME_NOREPLACE, audit entry fsynced; zion copy: O_TMPFILE, fsync, SHA-256 re-check, linkat; cp: no fsync.");
    Ok(())
}
