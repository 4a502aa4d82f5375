//! The parent's side: pools of confined `zion-scan-worker` processes, one per
//! source, and `Scanner::scan_for`, which turns anything short of a proper
//! answer (crash, kill, timeout, garbage, a worker not fully confined) into
//! `Verdict::Error`, never `Clean`.
//!
//! A worker serves one source for its whole life: a file from one profile
//! that exploited libyara must not see, or decide the verdict of, another
//! profile's files.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::fs::{fstat, open, FileType, Mode, OFlags};
use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

use super::archive::ArchiveLimits;
use super::confine::{Confinement, Limits};
use super::engine::Engine;
use super::protocol::{Channel, Outcome, ReadError, Reply, Request};
use zion_quarantine::verdict::Verdict;

/// The worker binary's name, installed beside the daemon.
pub const WORKER_NAME: &str = "zion-scan-worker";

/// The least a new worker gets to say it is ready, whatever the scan limit.
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// How scans are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerConfig {
    /// The worker binary (see [`default_worker_exe`]).
    pub worker_exe: PathBuf,
    /// The compiled rules ([`super::CompiledRules::save`]).
    pub rules_file: PathBuf,
    /// The engine that compiled them; the worker scans with the same.
    pub engine: Engine,
    /// Wall-clock time one scan (or a worker's start) may take.
    pub timeout: Duration,
    /// CPU time one scan may use.
    pub cpu_limit: Duration,
    /// Address space of a worker, in bytes; must exceed the largest object
    /// (objects are mapped whole) plus the rules (~100 MB for large sets).
    pub mem_limit: u64,
    /// Workers kept alive between scans, over all sources (the parallelism
    /// the caller uses).
    pub max_idle_workers: usize,
    /// What an archive may unpack to before it is refused as a bomb.
    pub archive: ArchiveLimits,
}

impl ScannerConfig {
    /// Defaults: libyara, the worker beside this executable, 30 s per scan,
    /// 20 CPU seconds, 4 GiB of address space (the store's 2 GiB objects
    /// fit), 2 idle workers.
    pub fn new(rules_file: impl Into<PathBuf>) -> Self {
        ScannerConfig {
            worker_exe: default_worker_exe(),
            rules_file: rules_file.into(),
            engine: Engine::default(),
            timeout: Duration::from_secs(30),
            cpu_limit: Duration::from_secs(20),
            mem_limit: 4 << 30,
            max_idle_workers: 2,
            archive: ArchiveLimits::default(),
        }
    }

    fn limits(&self) -> Limits {
        let per_scan = self.cpu_limit.as_secs().max(1);
        Limits {
            cpu_seconds_per_scan: per_scan,
            cpu_seconds_lifetime: per_scan.saturating_mul(16),
            address_space: self.mem_limit,
            open_files: 16,
        }
    }
}

/// `zion-scan-worker` beside the running executable.
pub fn default_worker_exe() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(WORKER_NAME)))
        .unwrap_or_else(|| PathBuf::from(WORKER_NAME))
}

/// Why no scanner could be made.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// The first worker did not come up.
    #[error("scan worker {} did not start: {reason}", exe.display())]
    WorkerStart {
        /// The worker binary.
        exe: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The source of objects scanned through [`Scanner::scan`] and
/// [`Scanner::scan_file`] (tools and tests that have a single source).
pub const UNATTRIBUTED: &str = "";

/// Scans objects in confined worker processes.
pub struct Scanner {
    config: ScannerConfig,
    idle: Mutex<Idle>,
    /// Bumped by [`Scanner::reload`]; workers of an older generation retire.
    generation: AtomicU64,
    next_id: AtomicU64,
    confinement: Mutex<Option<Confinement>>,
}

/// Idle workers: each source's own, and one fresh worker that has scanned
/// nothing yet and goes to whichever source asks first.
#[derive(Default)]
struct Idle {
    by_source: HashMap<String, Vec<Worker>>,
    fresh: Option<Worker>,
}

impl Idle {
    fn count(&self) -> usize {
        self.by_source.values().map(Vec::len).sum::<usize>() + usize::from(self.fresh.is_some())
    }

    /// Ends one idle worker of a source other than `source`, to make room.
    fn evict_other_than(&mut self, source: &str) -> bool {
        if self.fresh.take().is_some() {
            return true;
        }
        let other = self
            .by_source
            .iter_mut()
            .find(|(s, workers)| s.as_str() != source && !workers.is_empty());
        match other {
            Some((_, workers)) => {
                workers.pop();
                self.by_source.retain(|_, workers| !workers.is_empty());
                true
            }
            None => false,
        }
    }
}

impl Scanner {
    /// Starts one worker to check that the binary and the rules work, and
    /// keeps it for the first scan. A worker that is not fully confined does
    /// not stop the scanner: it is logged, and every scan then gives an error
    /// that says what is missing.
    pub fn new(config: ScannerConfig) -> Result<Self, ScannerError> {
        let scanner = Scanner {
            config,
            idle: Mutex::new(Idle::default()),
            generation: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            confinement: Mutex::new(None),
        };
        match scanner.spawn_worker() {
            Ok(worker) => lock(&scanner.idle).fresh = Some(worker),
            Err(SpawnFailure::Unconfined(reason)) => {
                tracing::error!("{reason}: the quarantine will scan nothing until this is fixed");
            }
            Err(SpawnFailure::Other(reason)) => {
                return Err(ScannerError::WorkerStart {
                    exe: scanner.config.worker_exe.clone(),
                    reason,
                })
            }
        }
        Ok(scanner)
    }

    /// The configuration in use.
    pub fn config(&self) -> &ScannerConfig {
        &self.config
    }

    /// The confinement the latest worker reported (logged at each start).
    pub fn confinement(&self) -> Option<Confinement> {
        lock(&self.confinement).clone()
    }

    /// Makes every later scan use a fresh worker, which loads the rules file
    /// anew: call after the rules were recompiled and saved.
    pub fn reload(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *lock(&self.idle) = Idle::default();
    }

    /// Scans the file at `path` as an object of [`UNATTRIBUTED`].
    pub fn scan(&self, path: &Path) -> Verdict {
        self.scan_for(UNATTRIBUTED, path)
    }

    /// Scans an open file as an object of [`UNATTRIBUTED`].
    pub fn scan_file(&self, file: &impl AsFd) -> Verdict {
        self.scan_file_for(UNATTRIBUTED, file)
    }

    /// Scans the file at `path` (opened without following a symlink; only a
    /// regular file is scanned) in a worker that serves only `source`.
    pub fn scan_for(&self, source: &str, path: &Path) -> Verdict {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
        match open(path, flags | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => self.scan_file_for(source, &fd),
            Err(e) => Verdict::Error {
                reason: format!("cannot open {}: {e}", path.display()),
            },
        }
    }

    /// Scans an open file (for objects reached through a directory fd) in a
    /// worker that serves only `source`.
    pub fn scan_file_for(&self, source: &str, file: &impl AsFd) -> Verdict {
        let fd = file.as_fd();
        match fstat(fd) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {}
            Ok(_) => {
                return Verdict::Error {
                    reason: "not a regular file".into(),
                }
            }
            Err(e) => {
                return Verdict::Error {
                    reason: format!("cannot stat the file: {e}"),
                }
            }
        }
        // An idle worker may have died while waiting (OOM killer, an admin):
        // the object never reached it, so one fresh worker is tried.
        for attempt in 0..2 {
            let mut worker = match self.take_worker(source) {
                Ok(worker) => worker,
                Err(failure) => {
                    return Verdict::Error {
                        reason: failure.to_string(),
                    }
                }
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            match worker.scan(id, fd, self.config.timeout) {
                Ok((outcome, retire)) => {
                    if !retire {
                        self.give_back(source, worker);
                    }
                    return match outcome {
                        Outcome::Matches(matches) if matches.is_empty() => Verdict::Clean,
                        Outcome::Matches(matches) => Verdict::Infected { matches },
                        Outcome::Error(reason) => Verdict::Error { reason },
                        Outcome::Unscannable { problem, member } => {
                            Verdict::Unscannable { problem, member }
                        }
                    };
                }
                Err(Failure::Send(e)) if attempt == 0 => {
                    let reason = worker.finish(Failure::Send(e));
                    tracing::info!("idle {reason}; trying a fresh worker");
                }
                Err(failure) => {
                    let reason = worker.finish(failure);
                    tracing::warn!("scan {id} failed: {reason}");
                    return Verdict::Error { reason };
                }
            }
        }
        Verdict::Error {
            reason: "no scan worker could be reached".into(),
        }
    }

    /// An idle worker of `source`, else the fresh one, else a new one.
    fn take_worker(&self, source: &str) -> Result<Worker, SpawnFailure> {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut idle = lock(&self.idle);
        if let Some(workers) = idle.by_source.get_mut(source) {
            while let Some(worker) = workers.pop() {
                if worker.generation == generation {
                    return Ok(worker);
                }
            }
        }
        if let Some(worker) = idle.fresh.take() {
            if worker.generation == generation {
                return Ok(worker);
            }
        }
        drop(idle);
        self.spawn_worker()
    }

    /// Keeps `worker` for `source`'s next scan, making room by ending another
    /// source's idle worker if need be.
    fn give_back(&self, source: &str, worker: Worker) {
        let mut idle = lock(&self.idle);
        if worker.generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        let max = self.config.max_idle_workers;
        if idle.count() >= max && !idle.evict_other_than(source) {
            return;
        }
        if idle.count() < max {
            idle.by_source
                .entry(source.to_string())
                .or_default()
                .push(worker);
        }
    }

    fn spawn_worker(&self) -> Result<Worker, SpawnFailure> {
        let generation = self.generation.load(Ordering::SeqCst);
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| SpawnFailure::Other(format!("socketpair: {e}")))?;
        let limits = self.config.limits();
        let mut command = Command::new(&self.config.worker_exe);
        command
            .arg("--rules")
            .arg(&self.config.rules_file)
            .arg("--engine")
            .arg(self.config.engine.as_str())
            .arg("--cpu-limit")
            .arg(limits.cpu_seconds_per_scan.to_string())
            .arg("--cpu-lifetime")
            .arg(limits.cpu_seconds_lifetime.to_string())
            .arg("--mem-limit")
            .arg(limits.address_space.to_string())
            .arg("--nofile")
            .arg(limits.open_files.to_string())
            .arg("--timeout")
            .arg(self.config.timeout.as_secs().max(1).to_string())
            .arg("--archive-depth")
            .arg(self.config.archive.max_depth.to_string())
            .arg("--archive-members")
            .arg(self.config.archive.max_members.to_string())
            .arg("--archive-unpacked")
            .arg(self.config.archive.max_unpacked.to_string())
            .arg("--archive-ratio")
            .arg(self.config.archive.max_ratio.to_string())
            .arg("--archive-ratio-floor")
            .arg(self.config.archive.ratio_floor.to_string())
            .env_clear()
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(filter) = std::env::var_os("RUST_LOG") {
            command.env("RUST_LOG", filter);
        }
        let child = command.spawn().map_err(|e| {
            SpawnFailure::Other(format!(
                "cannot run {}: {e}",
                self.config.worker_exe.display()
            ))
        })?;
        let mut worker = Worker {
            child: Some(child),
            channel: Channel::new(ours),
            generation,
        };
        // Starting (entering namespaces, loading the compiled rules) is not
        // scanning: a short scan limit must not fail a start slowed by load.
        let deadline = Instant::now() + self.config.timeout.max(STARTUP_LIMIT);
        let ready = worker
            .channel
            .read_line(Some(deadline))
            .map_err(Failure::Read)
            .and_then(|line| serde_json::from_slice::<Reply>(&line).map_err(Failure::Garbage));
        match ready {
            Ok(Reply::Ready { confinement, rules }) => {
                let shortfalls = confinement.shortfalls();
                let mut last = lock(&self.confinement);
                if last.as_ref() != Some(&confinement) && shortfalls.is_empty() {
                    // Said once per scanner (and whenever it changes).
                    tracing::info!(
                        "scan worker confined with {rules} rules: Landlock {:?} at ABI {:?}, \
                         seccomp, namespaces {:?}, no_new_privs, capabilities dropped, limits {:?}",
                        confinement.landlock,
                        confinement.landlock_abi,
                        confinement.namespaces,
                        confinement.limits
                    );
                }
                *last = Some(confinement);
                drop(last);
                if !shortfalls.is_empty() {
                    // No object goes to a worker that could reach what it
                    // should not; the item's error says why.
                    let refusal = format!(
                        "refusing to scan: the scan worker is not fully confined: {}",
                        shortfalls.join("; ")
                    );
                    worker.reap(Duration::ZERO);
                    return Err(SpawnFailure::Unconfined(refusal));
                }
                tracing::debug!("scan worker {} ready", worker.pid());
                Ok(worker)
            }
            Ok(Reply::Failed { reason }) => {
                Err(SpawnFailure::Other(worker.finish(Failure::Refused(reason))))
            }
            Ok(other) => Err(SpawnFailure::Other(
                worker.finish(Failure::Unexpected(format!("{other:?}"))),
            )),
            Err(failure) => Err(SpawnFailure::Other(worker.finish(failure))),
        }
    }
}

/// Why no worker could be had for a scan.
#[derive(Debug)]
enum SpawnFailure {
    /// A worker started but is not fully confined: it was ended unused.
    Unconfined(String),
    /// No worker started.
    Other(String),
}

impl std::fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnFailure::Unconfined(reason) | SpawnFailure::Other(reason) => f.write_str(reason),
        }
    }
}

/// What went wrong talking to a worker.
#[derive(Debug)]
enum Failure {
    Read(ReadError),
    Send(std::io::Error),
    Garbage(serde_json::Error),
    Unexpected(String),
    Refused(String),
}

/// One running worker and its channel. Dropping it kills the process.
struct Worker {
    child: Option<Child>,
    channel: Channel,
    generation: u64,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends one object and waits for the answer until `timeout`.
    fn scan(
        &mut self,
        id: u64,
        fd: BorrowedFd<'_>,
        timeout: Duration,
    ) -> Result<(Outcome, bool), Failure> {
        let request = serde_json::to_vec(&Request { scan: id }).map_err(Failure::Garbage)?;
        self.channel
            .send(&request, Some(fd))
            .map_err(Failure::Send)?;
        let deadline = Instant::now() + timeout;
        let line = self
            .channel
            .read_line(Some(deadline))
            .map_err(Failure::Read)?;
        match serde_json::from_slice::<Reply>(&line).map_err(Failure::Garbage)? {
            Reply::Scanned {
                id: answered,
                outcome,
                retire,
            } if answered == id => Ok((outcome, retire)),
            other => Err(Failure::Unexpected(format!("{other:?}"))),
        }
    }

    /// Ends a worker that failed and says why, with how it ended.
    fn finish(&mut self, failure: Failure) -> String {
        let what = match &failure {
            Failure::Read(ReadError::Timeout) => {
                "gave no answer in time and was killed".to_string()
            }
            Failure::Read(ReadError::Closed) => "died".to_string(),
            Failure::Read(e) => format!("could not be read ({e}) and was killed"),
            Failure::Send(e) => format!("could not be sent the object ({e})"),
            Failure::Garbage(e) => format!("sent garbage ({e}) and was killed"),
            Failure::Unexpected(m) => format!("sent an unexpected message ({m}) and was killed"),
            Failure::Refused(reason) => format!("refused to start: {reason}"),
        };
        // A worker that closed its channel is dying: give it a moment so the
        // reason can say how it died.
        let grace = match failure {
            Failure::Read(ReadError::Closed) | Failure::Send(_) | Failure::Refused(_) => {
                Duration::from_secs(2)
            }
            _ => Duration::ZERO,
        };
        match self.reap(grace) {
            Some(status) => format!("scan worker {what} ({})", describe(status)),
            None => format!("scan worker {what}"),
        }
    }

    /// Waits up to `grace` for the process to exit, then kills it.
    fn reap(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break,
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.reap(Duration::ZERO);
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(9)) => "killed by SIGKILL".into(),
        (None, Some(24)) => "killed by SIGXCPU: CPU time limit".into(),
        (None, Some(11)) => "killed by SIGSEGV".into(),
        (None, Some(6)) => "killed by SIGABRT".into(),
        (None, Some(31)) => {
            "killed by SIGSYS: a system call outside the worker's seccomp allow-list".into()
        }
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
