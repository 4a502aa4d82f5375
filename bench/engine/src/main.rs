//! bench-engine (issue 17 item 7): the `yara` crate (libyara 4.5, what the
//! scan worker uses) beside the `yara-x` crate (VirusTotal's Rust engine) and
//! the `yara` command line, on the same corpus (`make-corpus.sh`) and the
//! same rules (Zion's defaults and both shared rule sets): how many rules
//! each compiles, how long that takes, its scan throughput on one thread,
//! and whether the two engines name the same rules for every file.
//!
//! A workspace of its own (YARA-X brings its own compiler back end, a long
//! build, and newer versions of crates Zion shares): `make bench-engine`.
//! Usage: bench-engine [SIZE_MB] [--corpus DIR]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use zion_scanner::{CompiledRules, RuleSources};

const YARA: &str = "/usr/bin/yara";
const MB: f64 = 1e6;
/// Issue 17: offer YARA-X only if it is faster; below this it is not.
const FASTER: f64 = 1.05;

/// Every regular file under `root`, sorted.
fn corpus_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// The rule files of `dirs`, as the scanner finds them.
fn rule_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in dirs {
        out.extend(zion_scanner::rule_files(dir)?);
    }
    Ok(out)
}

/// What each engine said of each file: the rule names that matched.
type Verdicts = Vec<BTreeSet<String>>;

fn scan_libyara(rules: &yara::Rules, files: &[PathBuf]) -> Result<(Duration, Verdicts)> {
    let mut scanner = rules.scanner()?;
    scanner.set_flags(yara::ScanFlags::REPORT_RULES_MATCHING);
    scanner.set_timeout(60);
    let start = Instant::now();
    let mut verdicts = Vec::with_capacity(files.len());
    for file in files {
        let matched = scanner
            .scan_file(file)
            .with_context(|| format!("libyara scanning {}", file.display()))?;
        verdicts.push(matched.iter().map(|r| r.identifier.to_owned()).collect());
    }
    Ok((start.elapsed(), verdicts))
}

fn scan_yara_x(rules: &yara_x::Rules, files: &[PathBuf]) -> Result<(Duration, Verdicts)> {
    let mut scanner = yara_x::Scanner::new(rules);
    scanner.set_timeout(Duration::from_secs(60));
    let start = Instant::now();
    let mut verdicts = Vec::with_capacity(files.len());
    for file in files {
        let results = scanner
            .scan_file(file)
            .with_context(|| format!("YARA-X scanning {}", file.display()))?;
        verdicts.push(
            results
                .matching_rules()
                .map(|r| r.identifier().to_owned())
                .collect(),
        );
    }
    Ok((start.elapsed(), verdicts))
}

fn main() -> Result<()> {
    let mut size_mb = 200u64;
    let mut corpus_arg = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--corpus" => corpus_arg = Some(PathBuf::from(args.next().context("--corpus DIR")?)),
            n => size_mb = n.parse().with_context(|| format!("bad size {n}"))?,
        }
    }
    let shared = zion_tests::shared_data();
    let tmp = tempfile::tempdir()?;
    let corpus = match corpus_arg {
        Some(dir) if dir.is_dir() => dir,
        other => {
            let dir = other.unwrap_or_else(|| tmp.path().join("corpus"));
            eprintln!("making a {size_mb} MB corpus in {} ...", dir.display());
            let status = Command::new("bash")
                .arg(shared.join("make-corpus.sh"))
                .arg("--synthetic-only")
                .arg(&dir)
                .arg(size_mb.to_string())
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("make-corpus.sh failed: {status}");
            }
            dir
        }
    };
    let files = corpus_files(&corpus);
    let bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mb = bytes as f64 / MB;

    let dirs = vec![
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../session-files/rules"),
        shared.join("yara-rules/reversinglabs"),
        shared.join("yara-rules/signature-base"),
    ];
    let sources = RuleSources::new(&dirs[0])
        .with_user_dir(&dirs[1])
        .with_user_dir(&dirs[2]);

    // libyara, as the scan worker compiles them.
    let start = Instant::now();
    let compiled = CompiledRules::compile(&sources)?;
    let libyara_compile = start.elapsed();
    let libyara_rules = compiled.rule_count;

    // YARA-X, file by file: a file it refuses is counted, not fatal.
    let start = Instant::now();
    let mut compiler = yara_x::Compiler::new();
    compiler.relaxed_re_syntax(true);
    let mut refused = Vec::new();
    let files_of_rules = rule_files(&dirs)?;
    for path in &files_of_rules {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let source =
            yara_x::SourceCode::from(text.as_str()).with_origin(path.display().to_string());
        if let Err(e) = compiler.add_source(source) {
            refused.push((path.clone(), e.to_string()));
        }
    }
    let x_rules = compiler.build();
    let x_compile = start.elapsed();
    let x_count = x_rules.iter().count();

    println!(
        "Rules (Zion's defaults + both shared sets, {} files); corpus {} files, {mb:.0} MB:",
        files_of_rules.len(),
        files.len()
    );
    println!(
        "  compile   libyara {libyara_rules} rules in {:.2} s   YARA-X {x_count} rules in {:.2} s ({} files refused)",
        libyara_compile.as_secs_f64(),
        x_compile.as_secs_f64(),
        refused.len()
    );
    for (path, e) in refused.iter().take(5) {
        let first = e.lines().next().unwrap_or_default();
        println!("    refused by YARA-X: {}: {first}", path.display());
    }

    let libyara = compiled
        .yara_rules()
        .context("the scanner compiled with libyara")?;
    let (libyara_time, libyara_verdicts) = scan_libyara(libyara, &files)?;
    let (x_time, x_verdicts) = scan_yara_x(&x_rules, &files)?;
    let cli_start = Instant::now();
    let rule_args = rule_files(&dirs)?;
    let cli = Command::new(YARA)
        .args(["-w", "-r", "-p", "1"])
        .args(&rule_args)
        .arg(&corpus)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let cli_time = cli_start.elapsed();

    println!(
        "  scan, one thread   libyara {:.1} MB/s   YARA-X {:.1} MB/s   YARA-X/libyara {:.2}   yara CLI (compiling too) {}",
        mb / libyara_time.as_secs_f64(),
        mb / x_time.as_secs_f64(),
        libyara_time.as_secs_f64() / x_time.as_secs_f64(),
        match cli {
            Ok(s) if s.success() => format!("{:.1} MB/s", mb / cli_time.as_secs_f64()),
            Ok(s) => format!("failed: {s}"),
            Err(e) => format!("not run: {e}"),
        }
    );

    let differ: Vec<usize> = (0..files.len())
        .filter(|&i| libyara_verdicts[i] != x_verdicts[i])
        .collect();
    let infected = libyara_verdicts.iter().filter(|v| !v.is_empty()).count();
    println!(
        "  verdicts: {} of {} files named the same rules by both ({} matched something); {} differ",
        files.len() - differ.len(),
        files.len(),
        infected,
        differ.len()
    );
    for &i in differ.iter().take(5) {
        let only_lib: Vec<_> = libyara_verdicts[i].difference(&x_verdicts[i]).collect();
        let only_x: Vec<_> = x_verdicts[i].difference(&libyara_verdicts[i]).collect();
        println!(
            "    {}: libyara only {only_lib:?}, YARA-X only {only_x:?}",
            files[i].display()
        );
    }
    let ratio = libyara_time.as_secs_f64() / x_time.as_secs_f64();
    let offer = refused.is_empty() && differ.is_empty() && ratio >= FASTER;
    println!(
        "  decision: {}",
        if offer {
            "YARA-X compiles every rule, agrees on every file and is faster: worth offering"
                .to_owned()
        } else {
            format!(
                "keep libyara (YARA-X: {} rule files refused, {} files differ, speed {ratio:.2}×; offering it needs all three)",
                refused.len(),
                differ.len()
            )
        }
    );
    Ok(())
}
