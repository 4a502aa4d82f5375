//! bench-transfer: a profile's `~/Outbox` to `~/Shared` through the real
//! quarantine (zion-sandboxd: ingest with SHA-256, YARA scan in the confined
//! worker with the shipped rules, release under the default `scan` rule),
//! beside `cp` of the same files and the `yara` command line over them, in
//! one run on one filesystem: one file of 1 GB, and 10,000 small files.
//!
//! Usage: bench-transfer [DIR] [--only big|small] [--engine yara|yara-x]
//! (default: a temporary folder under /var/tmp, both parts, libyara). The
//! daemon's log goes to the file `$ZION_BENCH_LOG` names, at the level
//! `$ZION_BENCH_RUST_LOG` sets. Needs zion-sandboxd and zion-scan-worker
//! built beside it (`cargo build --release --bins`; `make bench` does;
//! `--engine yara-x` needs them built with
//! `--features zion-scanner/yara-x,zion-sandboxd/yara-x`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

const MB: u64 = 1_000_000;
const SMALL_FILES: usize = 10_000;
/// Issue 17's aim for small files through the whole pipeline.
const SMALL_AIM: f64 = 5000.0;
const YARA: &str = "/usr/bin/yara";
/// Published figures for Qubes' qvm-copy between qubes, for the reader.
const QUBES: &str = "18-50 MB/s";

/// Writes `size` bytes of varied content.
fn make_file(path: &Path, size: u64, seed: u64) -> anyhow::Result<()> {
    let mut file =
        fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut block = vec![0u8; (1 << 20).min(size.max(8) as usize)];
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = chunk.len();
            chunk.copy_from_slice(&state.to_le_bytes()[..n]);
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// zion-sandboxd `--no-profiles` over `root`, without a bus, until dropped.
struct Daemon(Child);

impl Daemon {
    fn start(root: &Path, rules: &Path, engine: &str) -> anyhow::Result<Daemon> {
        let exe = std::env::current_exe().context("finding this program")?;
        let daemon = exe.with_file_name("zion-sandboxd");
        let worker = exe.with_file_name("zion-scan-worker");
        for bin in [&daemon, &worker] {
            if !bin.exists() {
                bail!(
                    "{} is missing: build it with `cargo build --release --bins` (make bench does)",
                    bin.display()
                );
            }
        }
        let config = root.join("config/zion");
        fs::create_dir_all(&config)?;
        fs::write(
            config.join("zion.toml"),
            format!("[[profile]]\nname = \"work\"\n\n[quarantine]\nengine = \"{engine}\"\n"),
        )?;
        let runtime = root.join("run");
        fs::create_dir_all(&runtime)?;
        let mut child = Command::new(&daemon)
            .arg("--no-profiles")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("ZION_SCAN_WORKER", &worker)
            .env("ZION_RULES", rules)
            .env(
                "RUST_LOG",
                std::env::var("ZION_BENCH_RUST_LOG")
                    .unwrap_or_else(|_| "warn,zion_sandboxd::quarantine=info".into()),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", daemon.display()))?;
        let stderr = child.stderr.take().context("the daemon's stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("quarantine ready") => break,
                Some(Ok(_)) if Instant::now() < deadline => {}
                _ => bail!("zion-sandboxd did not get its quarantine ready"),
            }
        }
        // Keep draining its log so it never blocks on a full pipe; kept in
        // the file $ZION_BENCH_LOG names, if it does.
        let mut keep = match std::env::var_os("ZION_BENCH_LOG") {
            Some(path) => Some(fs::File::create(&path).context("the daemon's log file")?),
            None => None,
        };
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(file) = keep.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        Ok(Daemon(child))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counts the names that arrive in a folder (a release is a rename or a
/// link into place), so that waiting for them costs the daemon nothing:
/// listing a folder of 10,000 files every few milliseconds, as this
/// benchmark did, took about 4 % of the run's CPU from it (`perf`).
struct Arrivals {
    fd: rustix::fd::OwnedFd,
    dir: PathBuf,
}

impl Arrivals {
    /// Starts counting what arrives in `dir` from now on.
    fn watch(dir: &Path) -> anyhow::Result<Arrivals> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd =
            inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).context("inotify_init")?;
        inotify::add_watch(&fd, dir, WatchFlags::CREATE | WatchFlags::MOVED_TO)
            .with_context(|| format!("watching {}", dir.display()))?;
        Ok(Arrivals {
            fd,
            dir: dir.to_owned(),
        })
    }

    /// Waits until `count` names have arrived and the folder holds at least
    /// `total` entries; the time from `start`. Falls back to listing the
    /// folder if the kernel dropped events.
    fn wait(
        self,
        count: usize,
        total: usize,
        start: Instant,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        use rustix::fs::inotify::{ReadFlags, Reader};
        let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 << 10];
        let mut arrived = 0usize;
        while arrived < count {
            if start.elapsed() > limit {
                bail!(
                    "only {arrived} of {count} files reached {} within {limit:?}",
                    self.dir.display()
                );
            }
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            let tick = Timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            poll(&mut fds, Some(&tick)).context("waiting for inotify")?;
            let mut reader = Reader::new(&self.fd, &mut buf);
            loop {
                match reader.next() {
                    Ok(event) if event.events().contains(ReadFlags::QUEUE_OVERFLOW) => {
                        return wait_for(&self.dir, total, start, limit);
                    }
                    Ok(_) => arrived += 1,
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(e) => return Err(e).context("reading inotify events"),
                }
            }
        }
        // Every arrival counted; the folder has them all, or is still
        // being filled (a name created twice would be counted twice).
        wait_for(&self.dir, total, start, limit)
    }
}

/// Waits until `dir` holds `count` entries; the time from `start`.
fn wait_for(dir: &Path, count: usize, start: Instant, limit: Duration) -> anyhow::Result<Duration> {
    loop {
        let n = fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        if n >= count {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            bail!(
                "only {n} of {count} files reached {} within {limit:?}",
                dir.display()
            );
        }
        // Listing a folder of 10,000 files takes milliseconds of the CPU the
        // daemon needs: look less often as the wait grows (an error of at
        // most 0.5 %).
        std::thread::sleep((start.elapsed() / 200).max(Duration::from_millis(5)));
    }
}

/// Writes out every file this run made before a timer starts: the
/// quarantine makes its copies durable with one `syncfs` of the whole
/// filesystem, which would otherwise also write the run's own hundreds of
/// megabytes of test files (1.2 s of an 8.7 s run of small files here).
fn flush_setup() {
    rustix::fs::sync();
}

/// Moves every file of `from` into `to` (renames on one filesystem: the
/// moment a finished file appears in the outbox).
fn move_all(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        fs::rename(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

fn timed(cmd: &mut Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(start.elapsed())
}

fn rule_files(rules: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(rules)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yar" || e == "yara"))
        .collect();
    out.sort();
    Ok(out)
}

fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MB as f64 / d.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = match args.iter().position(|a| a == "--only") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some(part @ ("big" | "small")) => Some(part.to_owned()),
            _ => bail!("--only takes `big` or `small`"),
        },
        None => None,
    };
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let engine = match args.iter().position(|a| a == "--engine") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some(engine @ ("yara" | "yara-x")) => engine.to_owned(),
            _ => bail!("--engine takes `yara` or `yara-x`"),
        },
        None => "yara".to_owned(),
    };
    let base = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from);
    let work = tempfile::Builder::new()
        .prefix("zion-bench-transfer-")
        .tempdir_in(&base)?;
    let root = work.path();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules");
    let rules = rules.canonicalize().context("the shipped rules")?;
    let rule_files = rule_files(&rules)?;
    let _daemon = Daemon::start(root, &rules, &engine)?;
    let outbox = root.join("data/zion/quarantine/inbox/profile-work");
    let shared = root.join("data/zion/shared");
    let stage = root.join("stage");
    let peers = root.join("peers");
    fs::create_dir_all(&stage)?;
    fs::create_dir_all(&peers)?;
    if !outbox.is_dir() {
        bail!("the daemon made no outbox at {}", outbox.display());
    }

    println!(
        "Outbox -> Shared through the quarantine (ingest + SHA-256, scan with the shipped rules by {}, release), on {}:",
        if engine == "yara" { "libyara" } else { "YARA-X" },
        base.display()
    );

    let bench = Bench {
        stage,
        peers,
        outbox,
        shared,
        rule_files,
    };
    if runs("big") {
        bench.big()?;
    }
    if runs("small") {
        bench.small()?;
    }
    Ok(())
}

/// Where a run puts its files, and the rules the `yara` CLI is given.
struct Bench {
    /// Files are made here, then moved into the outbox at once.
    stage: PathBuf,
    /// The peers' (`cp`, `yara`) own copies.
    peers: PathBuf,
    outbox: PathBuf,
    shared: PathBuf,
    rule_files: Vec<PathBuf>,
}

impl Bench {
    /// One file of 1 GB.
    fn big(&self) -> anyhow::Result<()> {
        let size = 1000 * MB;
        make_file(&self.stage.join("big.bin"), size, 1)?;
        make_file(&self.peers.join("big.bin"), size, 1)?;
        flush_setup();
        let arrivals = Arrivals::watch(&self.shared)?;
        let start = Instant::now();
        move_all(&self.stage, &self.outbox)?;
        let zion = arrivals.wait(1, 1, start, Duration::from_secs(600))?;
        let cp = timed(
            Command::new("cp")
                .arg(self.peers.join("big.bin"))
                .arg(self.peers.join("big.copy")),
        )?;
        let mut yara = Command::new(YARA);
        yara.args(&self.rule_files).arg(self.peers.join("big.bin"));
        let scan = timed(&mut yara)?;
        println!(
        "  1 file of 1 GB:    Zion {:6.1} MB/s ({:.2} s)   cp {:6.1} MB/s ({:.2} s)   yara CLI scan alone {:6.1} MB/s   Zion/yara {:.2}   (Qubes qvm-copy: {QUBES})",
        mb_s(size, zion),
        zion.as_secs_f64(),
        mb_s(size, cp),
        cp.as_secs_f64(),
        mb_s(size, scan),
        scan.as_secs_f64() / zion.as_secs_f64(),
    );
        fs::remove_file(self.peers.join("big.bin"))?;
        fs::remove_file(self.peers.join("big.copy"))?;
        Ok(())
    }

    /// 10,000 small files of 1-64 KB.
    fn small(&self) -> anyhow::Result<()> {
        let small_in = self.peers.join("small");
        fs::create_dir_all(&small_in)?;
        let mut total = 0u64;
        for i in 0..SMALL_FILES {
            let size = 1000 + (i as u64 * 7919) % 63_000;
            total += size;
            make_file(&self.stage.join(format!("f{i:04}.dat")), size, i as u64 + 2)?;
            make_file(&small_in.join(format!("f{i:04}.dat")), size, i as u64 + 2)?;
        }
        let before = fs::read_dir(&self.shared)?.count();
        flush_setup();
        let arrivals = Arrivals::watch(&self.shared)?;
        let start = Instant::now();
        move_all(&self.stage, &self.outbox)?;
        let zion = arrivals.wait(
            SMALL_FILES,
            before + SMALL_FILES,
            start,
            Duration::from_secs(600),
        )?;
        let cp = timed(
            Command::new("cp")
                .arg("-r")
                .arg(&small_in)
                .arg(self.peers.join("small.copy")),
        )?;
        let mut yara = Command::new(YARA);
        yara.arg("-r").args(&self.rule_files).arg(&small_in);
        let scan = timed(&mut yara)?;
        println!(
        "  {SMALL_FILES} small files ({:.1} MB): Zion {:6.0} files/s ({:.2} s; aim {SMALL_AIM:.0}: {})   cp {:6.0} files/s ({:.2} s)   yara CLI scan alone {:6.0} files/s   Zion/yara {:.2}",
        total as f64 / MB as f64,
        SMALL_FILES as f64 / zion.as_secs_f64(),
        zion.as_secs_f64(),
        if SMALL_FILES as f64 / zion.as_secs_f64() >= SMALL_AIM {
            "met"
        } else {
            "not met"
        },
        SMALL_FILES as f64 / cp.as_secs_f64(),
        cp.as_secs_f64(),
        SMALL_FILES as f64 / scan.as_secs_f64(),
        scan.as_secs_f64() / zion.as_secs_f64(),
    );
        Ok(())
    }
}
