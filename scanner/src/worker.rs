//! The scan worker's side (run by the `zion-scan-worker` binary): load the
//! compiled rules (libyara's, or YARA-X's, compiled to machine code and given
//! a scanner here), confine, then scan each descriptor the parent sends and
//! answer with the matches.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use yara::{CallbackMsg, CallbackReturn, MetadataValue};

use super::archive::{self, ArchiveLimits, MemberScanner};
use super::confine::{self, Limits};
use super::engine::Engine;
use super::protocol::{Channel, Outcome, Reply, Request};
use super::rules::load_compiled;
use zion_quarantine::verdict::RuleMatch;

/// Test-only: after confining, try to open this path, print the errno as JSON
/// on stdout and exit (shows what Landlock denies).
pub const SELFTEST_OPEN_ENV: &str = "ZION_SCAN_WORKER_SELFTEST_OPEN";
/// Test-only: on the first request, `sleep` forever or `spin` the CPU instead
/// of scanning (shows timeouts and the CPU limit).
pub const SELFTEST_HANG_ENV: &str = "ZION_SCAN_WORKER_SELFTEST_HANG";

/// How the parent started the worker.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The compiled rules to load.
    pub rules_file: PathBuf,
    /// The engine that compiled them and scans.
    pub engine: Engine,
    /// The limits to confine to.
    pub limits: Limits,
    /// libyara's own per-scan timeout, in seconds (YARA-X has none in the
    /// worker: see `yarax.rs`).
    pub scan_timeout_secs: i32,
    /// What an archive may unpack to before it is refused as a bomb.
    pub archive: ArchiveLimits,
}

/// Why the worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// It could not talk to the parent.
    #[error("channel to the parent: {0}")]
    Channel(#[from] std::io::Error),
    /// The parent sent something that is not a request.
    #[error("bad request from the parent: {0}")]
    BadRequest(String),
    /// Startup failed (already reported to the parent).
    #[error("{0}")]
    Startup(String),
}

/// What the worker scans with: one engine's loaded rules.
pub(crate) trait ScanEngine {
    /// Rules loaded.
    fn rule_count(&self) -> usize;
    /// The rules that match the object.
    fn scan_file(&mut self, file: &File) -> Result<Vec<RuleMatch>, String>;
    /// The rules that match an archive member.
    fn scan_mem(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String>;
}

/// Serves scan requests on `channel` until the parent closes it.
pub fn serve(options: &WorkerOptions, channel: OwnedFd) -> Result<(), WorkerError> {
    let mut channel = Channel::new(channel);
    // Rules first: the file is read before Landlock shuts every path.
    match options.engine {
        Engine::Yara => {
            let rules = match load_compiled(&options.rules_file) {
                Ok(rules) => rules,
                Err(e) => return fail(&mut channel, e.to_string()),
            };
            let mut engine = LibYara {
                rules: &rules,
                timeout_secs: options.scan_timeout_secs,
            };
            serve_with(options, channel, &mut engine)
        }
        // Loading compiles the rules' WebAssembly to machine code, and the
        // scanner's wasmtime instance is made here too: both before the
        // confinement, which allows no executable mapping (`yarax.rs`).
        #[cfg(feature = "yara-x")]
        Engine::YaraX => {
            let rules = match super::yarax::load(&options.rules_file) {
                Ok(rules) => rules,
                Err(e) => return fail(&mut channel, e.to_string()),
            };
            let mut engine = super::yarax::XScanner::new(&rules);
            serve_with(options, channel, &mut engine)
        }
        #[cfg(not(feature = "yara-x"))]
        Engine::YaraX => fail(
            &mut channel,
            Engine::YaraX.unavailable().unwrap_or_default(),
        ),
    }
}

/// Confines the process, then serves with `engine`'s rules.
fn serve_with(
    options: &WorkerOptions,
    mut channel: Channel,
    engine: &mut dyn ScanEngine,
) -> Result<(), WorkerError> {
    let selftest_open = std::env::var_os(SELFTEST_OPEN_ENV);
    let mut hang = std::env::var(SELFTEST_HANG_ENV).ok();
    let confinement = match confine::confine(&options.limits) {
        Ok(c) => c,
        Err(e) => return fail(&mut channel, e.to_string()),
    };
    tracing::info!(
        "scan worker {} confined: Landlock {:?} (ABI {:?}), no_new_privs {}, capabilities dropped {}, limits {:?}",
        std::process::id(),
        confinement.landlock,
        confinement.landlock_abi,
        confinement.no_new_privs,
        confinement.capabilities_dropped,
        confinement.limits
    );
    if let Some(path) = selftest_open {
        let errno = match File::open(&path) {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        };
        let report = serde_json::json!({
            "selftest_open": path.to_string_lossy(),
            "errno": errno,
            "confinement": confinement,
        });
        println!("{report}");
        return Ok(());
    }
    if super::selftest::run_if_asked(&confinement) {
        return Ok(());
    }
    let rule_count = engine.rule_count();
    channel.send_json(&Reply::Ready {
        confinement,
        rules: rule_count,
    })?;

    loop {
        let line = match channel.read_line(None) {
            Ok(line) => line,
            Err(super::protocol::ReadError::Closed) => return Ok(()),
            Err(e) => return Err(WorkerError::BadRequest(e.to_string())),
        };
        let request: Request =
            serde_json::from_slice(&line).map_err(|e| WorkerError::BadRequest(format!("{e}")))?;
        let retire = !confine::grant_cpu_for_next_scan(&options.limits);
        if let Some(mode) = hang.take() {
            selftest_hang(&mode);
        }
        let outcome = match channel.take_fd() {
            Some(fd) => scan(engine, fd, options.archive),
            None => Outcome::Error("the request carried no file".into()),
        };
        // After the scan, check the budget again: a long scan may have used it.
        let retire = retire || !confine::grant_cpu_for_next_scan(&options.limits);
        channel.send_json(&Reply::Scanned {
            id: request.scan,
            outcome,
            retire,
        })?;
        if retire {
            return Ok(());
        }
    }
}

fn fail(channel: &mut Channel, reason: String) -> Result<(), WorkerError> {
    tracing::error!("scan worker cannot start: {reason}");
    let _ = channel.send_json(&Reply::Failed {
        reason: reason.clone(),
    });
    Err(WorkerError::Startup(reason))
}

/// Scans the object, then every member if it is an archive. A match
/// anywhere makes it infected; else a member that could not be scanned makes
/// it unscannable; else it is clean.
fn scan(engine: &mut dyn ScanEngine, fd: OwnedFd, limits: ArchiveLimits) -> Outcome {
    let file = File::from(fd);
    let mut matches = match engine.scan_file(&file) {
        Ok(matches) => matches,
        Err(e) => return Outcome::Error(e),
    };
    let mut members = Members(engine);
    let found = match archive::walk(&file, limits, &mut members) {
        Ok(found) => found,
        Err(reason) => return Outcome::Error(reason),
    };
    matches.extend(found.matches);
    match found.problem {
        Some((problem, member)) if matches.is_empty() => Outcome::Unscannable { problem, member },
        _ => Outcome::Matches(matches),
    }
}

/// Archive members, scanned from memory by the same engine and rules.
struct Members<'e>(&'e mut dyn ScanEngine);

impl MemberScanner for Members<'_> {
    fn scan(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String> {
        self.0.scan_mem(data)
    }
}

/// libyara's rules, with its own per-scan timeout.
struct LibYara<'r> {
    rules: &'r yara::Rules,
    timeout_secs: i32,
}

impl ScanEngine for LibYara<'_> {
    fn rule_count(&self) -> usize {
        self.rules.get_rules().len()
    }

    fn scan_file(&mut self, file: &File) -> Result<Vec<RuleMatch>, String> {
        let mut matches = Vec::new();
        self.rules
            .scan_fd_callback(file, self.timeout_secs, |message| {
                if let CallbackMsg::RuleMatching(rule) = message {
                    matches.push(rule_match(&rule));
                }
                CallbackReturn::Continue
            })
            .map_err(|e| format!("libyara: {e}"))?;
        Ok(matches)
    }

    fn scan_mem(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String> {
        let mut matches = Vec::new();
        self.rules
            .scan_mem_callback(data, self.timeout_secs, |message| {
                if let CallbackMsg::RuleMatching(rule) = message {
                    matches.push(rule_match(&rule));
                }
                CallbackReturn::Continue
            })
            .map_err(|e| format!("libyara: {e}"))?;
        Ok(matches)
    }
}

/// A libyara match as Zion reports it: every meta entry as text (entries
/// that repeat a name are joined with ", ").
fn rule_match(rule: &yara::Rule<'_>) -> RuleMatch {
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    for entry in &rule.metadatas {
        let value = match &entry.value {
            MetadataValue::String(s) => (*s).to_string(),
            MetadataValue::Integer(i) => i.to_string(),
            MetadataValue::Boolean(b) => b.to_string(),
        };
        meta.entry(entry.identifier.to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    RuleMatch {
        rule: rule.identifier.to_string(),
        namespace: rule.namespace.to_string(),
        tags: rule.tags.iter().map(|t| (*t).to_string()).collect(),
        meta,
        member: Vec::new(),
    }
}

fn selftest_hang(mode: &str) {
    tracing::warn!("scan worker self-test: {mode} instead of scanning");
    if mode == "spin" {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
