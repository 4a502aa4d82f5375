//! bench-scan: Zion's scan throughput (through the real confined worker, with
//! 1 and 2 workers in parallel) beside the `yara` command line (`-p 1` and
//! `-p 2`, precompiled rules `-C`, `-r` over the folder), on the same corpus
//! from `shared/data/make-corpus.sh` and the same rules (Zion's defaults plus
//! both shared rule sets); then the verdict latency for a 10 MB file. Prints
//! medians and ratios (Zion / CLI: above 1 means Zion is faster).
//!
//! Run it optimised, with the worker built beside it:
//! `cargo build --release -p zion-scanner --bin zion-scan-worker &&
//!  cargo run --release -p zion-bench --bin bench-scan -- [SIZE_MB] [--rounds N]
//!  [--corpus DIR] [--worker PATH] [--engine yara|yara-x]`
//! `--engine yara-x` needs both built with `--features zion-scanner/yara-x`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use zion_quarantine::Verdict;
use zion_scanner::{
    default_worker_exe, CompiledRules, Engine, RuleSources, Scanner, ScannerConfig,
};

const YARA: &str = "/usr/bin/yara";
const YARAC: &str = "/usr/bin/yarac";
const LATENCY_SAMPLES: usize = 21;
const MB: f64 = 1e6;

struct Args {
    size_mb: u64,
    rounds: usize,
    corpus: Option<PathBuf>,
    worker: PathBuf,
    engine: Engine,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        size_mb: 200,
        rounds: 3,
        corpus: None,
        worker: default_worker_exe(),
        engine: Engine::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => args.rounds = it.next().context("--rounds N")?.parse()?,
            "--corpus" => args.corpus = Some(it.next().context("--corpus DIR")?.into()),
            "--worker" => args.worker = it.next().context("--worker PATH")?.into(),
            "--engine" => {
                args.engine = it
                    .next()
                    .context("--engine yara|yara-x")?
                    .parse()
                    .map_err(anyhow::Error::msg)?
            }
            size => args.size_mb = size.parse().with_context(|| format!("bad size {size}"))?,
        }
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    Ok(args)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Every regular file under `root` a path-based scanner can open, with its size.
fn corpus_files(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && path.as_os_str().len() < 4096 {
                if let Ok(meta) = entry.metadata() {
                    files.push((path, meta.len()));
                }
            }
        }
    }
    files.sort();
    files
}

/// Scans every file with `workers` threads sharing one scanner; returns the
/// wall time and how many files were infected / errors.
fn zion_pass(
    scanner: &Scanner,
    files: &[(PathBuf, u64)],
    workers: usize,
) -> (Duration, usize, usize) {
    scanner.reload(); // every pass starts its workers afresh, as the CLI loads its rules
    let next = AtomicUsize::new(0);
    let infected = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, _)) = files.get(i) else {
                    return;
                };
                match scanner.scan(path) {
                    Verdict::Infected { .. } => {
                        infected.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Error { reason } => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("zion: {}: {reason}", path.display());
                    }
                    _ => {}
                }
            });
        }
    });
    (start.elapsed(), infected.into_inner(), errors.into_inner())
}

/// One `yara` CLI run over the corpus; returns wall time and infected files.
fn cli_pass(compiled: &Path, corpus: &Path, threads: usize) -> Result<(Duration, usize)> {
    let start = Instant::now();
    let out = Command::new(YARA)
        .args(["-w", "-r", "-p", &threads.to_string(), "-C"])
        .arg(compiled)
        .arg(corpus)
        .stderr(Stdio::null())
        .output()
        .context("running yara")?;
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut paths: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, p)| p))
        .collect();
    paths.sort();
    paths.dedup();
    Ok((elapsed, paths.len()))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if !args.worker.is_file() {
        bail!(
            "no scan worker at {} (cargo build --release -p zion-scanner --bin zion-scan-worker, or --worker PATH)",
            args.worker.display()
        );
    }
    // The corpus generator and the shared rule sets: shared/ beside the
    // checkout, or $ZION_SHARED_DATA, as the tests find them.
    let shared = zion_tests::shared_data();
    let tmp = tempfile::tempdir()?;
    let corpus = match &args.corpus {
        Some(dir) if dir.is_dir() => dir.clone(),
        _ => {
            let dir = args
                .corpus
                .clone()
                .unwrap_or_else(|| tmp.path().join("corpus"));
            eprintln!(
                "making a {} MB corpus in {} ...",
                args.size_mb,
                dir.display()
            );
            let status = Command::new("bash")
                .arg(shared.join("make-corpus.sh"))
                .arg("--synthetic-only")
                .arg(&dir)
                .arg(args.size_mb.to_string())
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("make-corpus.sh failed: {status}");
            }
            dir
        }
    };
    let files = corpus_files(&corpus);
    let bytes: u64 = files.iter().map(|(_, n)| n).sum();
    let mb = bytes as f64 / MB;

    // The same rules for both: Zion's defaults and the two shared sets.
    let default_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules");
    let rl = shared.join("yara-rules/reversinglabs");
    let sb = shared.join("yara-rules/signature-base");
    let sources = RuleSources::new(&default_dir)
        .with_user_dir(&rl)
        .with_user_dir(&sb)
        .with_engine(args.engine);
    let start = Instant::now();
    let mut compiled = CompiledRules::compile(&sources)?;
    let zion_compile = start.elapsed();
    let rules_file = tmp.path().join("rules.yarc");
    compiled.save(&rules_file)?;

    let cli_rules = tmp.path().join("rules-cli.yarc");
    let mut yarac = Command::new(YARAC);
    yarac.arg("-w");
    for folder in sources.folders()? {
        for file in &folder.files {
            let mut arg = std::ffi::OsString::from(format!("{}:", folder.namespace));
            arg.push(file);
            yarac.arg(arg);
        }
    }
    let start = Instant::now();
    let status = yarac.arg(&cli_rules).stdout(Stdio::null()).status()?;
    let cli_compile = start.elapsed();
    if !status.success() {
        bail!("yarac failed: {status}");
    }

    let mut config = ScannerConfig::new(&rules_file);
    config.engine = args.engine;
    config.worker_exe = args.worker.clone();
    config.max_idle_workers = 2;
    let scanner = Scanner::new(config)?;
    let confinement = scanner.confinement();

    println!(
        "bench-scan: {} files, {mb:.1} MB (corpus {}), {} rules from {} files, {} round(s), engine {}",
        files.len(),
        corpus.display(),
        compiled.rule_count,
        compiled.files.len(),
        args.rounds,
        args.engine
    );
    if let Some(c) = &confinement {
        println!(
            "worker confinement: Landlock {:?} (ABI {:?}), no_new_privs {}",
            c.landlock, c.landlock_abi, c.no_new_privs
        );
    }
    println!(
        "compile: Zion ({}) {:.2} s, yarac 4.2.3 {:.2} s",
        match args.engine {
            Engine::Yara => "libyara 4.5",
            Engine::YaraX => "YARA-X 1.22",
        },
        zion_compile.as_secs_f64(),
        cli_compile.as_secs_f64()
    );

    let mut zion = [Vec::new(), Vec::new()];
    let mut cli = [Vec::new(), Vec::new()];
    let mut found = (0, 0, 0);
    for _ in 0..args.rounds {
        for (slot, threads) in [1usize, 2].into_iter().enumerate() {
            let (t, infected, errors) = zion_pass(&scanner, &files, threads);
            zion[slot].push(t);
            found.0 = infected;
            found.2 = errors;
            let (t, infected) = cli_pass(&cli_rules, &corpus, threads)?;
            cli[slot].push(t);
            found.1 = infected;
        }
    }
    println!(
        "files with a match: Zion {}, yara CLI {} (paths it prints; differences come from the \
         beyond-PATH_MAX file and names with newlines); Zion errors: {}",
        found.0, found.1, found.2
    );
    println!("throughput (median wall time over the corpus, MB = 10^6 bytes):");
    for (slot, threads) in [1, 2].into_iter().enumerate() {
        let z = median(zion[slot].clone());
        let c = median(cli[slot].clone());
        let zr = mb / z.as_secs_f64();
        let cr = mb / c.as_secs_f64();
        println!(
            "  {threads} worker(s) / -p {threads}: Zion {zr:6.1} MB/s ({:.2} s)   yara CLI {cr:6.1} MB/s ({:.2} s)   Zion/CLI {:.2}",
            z.as_secs_f64(),
            c.as_secs_f64(),
            zr / cr
        );
    }

    // Verdict latency for a 10 MB file.
    let big = tmp.path().join("ten-mb.bin");
    let mut data = vec![0u8; 10_000_000];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(&big, &data)?;
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    let mut cli_one = Vec::new();
    let _ = scanner.scan(&big);
    for _ in 0..LATENCY_SAMPLES {
        let start = Instant::now();
        let verdict = scanner.scan(&big);
        warm.push(start.elapsed());
        if !verdict.is_clean() {
            bail!("the 10 MB random file should be clean: {verdict:?}");
        }
    }
    for _ in 0..LATENCY_SAMPLES.min(7) {
        scanner.reload();
        let start = Instant::now();
        let _ = scanner.scan(&big);
        cold.push(start.elapsed());
        let start = Instant::now();
        Command::new(YARA)
            .arg("-w")
            .arg("-C")
            .arg(&cli_rules)
            .arg(&big)
            .stdout(Stdio::null())
            .status()?;
        cli_one.push(start.elapsed());
    }
    let (w, c, y) = (median(warm), median(cold), median(cli_one));
    println!("verdict latency, 10 MB file (median of {LATENCY_SAMPLES} warm / 7 cold):");
    println!("  Zion, worker running:        {:7.1} ms", ms(w));
    println!("  Zion, fresh worker (reload): {:7.1} ms", ms(c));
    println!(
        "  yara CLI -C (load + scan):   {:7.1} ms   CLI/Zion warm {:.2}, CLI/Zion fresh {:.2}",
        ms(y),
        y.as_secs_f64() / w.as_secs_f64(),
        y.as_secs_f64() / c.as_secs_f64()
    );
    Ok(())
}
