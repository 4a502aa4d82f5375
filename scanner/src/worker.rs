//! The scan worker's side (run by the `zion-scan-worker` binary): load the
//! compiled rules, confine, then scan each descriptor the parent sends and
//! answer with the matches.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use yara::{CallbackMsg, CallbackReturn, MetadataValue};

use super::archive::{self, ArchiveLimits, MemberScanner};
use super::confine::{self, Limits};
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
    /// The limits to confine to.
    pub limits: Limits,
    /// libyara's own per-scan timeout, in seconds.
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

/// Serves scan requests on `channel` until the parent closes it.
pub fn serve(options: &WorkerOptions, channel: OwnedFd) -> Result<(), WorkerError> {
    let mut channel = Channel::new(channel);
    let selftest_open = std::env::var_os(SELFTEST_OPEN_ENV);
    let mut hang = std::env::var(SELFTEST_HANG_ENV).ok();

    // Rules first: the file is read before Landlock shuts every path.
    let rules = match load_compiled(&options.rules_file) {
        Ok(rules) => rules,
        Err(e) => return fail(&mut channel, e.to_string()),
    };
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
    let rule_count = rules.get_rules().len();
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
            Some(fd) => scan(&rules, fd, options.scan_timeout_secs, options.archive),
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
fn scan(rules: &yara::Rules, fd: OwnedFd, timeout_secs: i32, limits: ArchiveLimits) -> Outcome {
    let file = File::from(fd);
    let mut matches = Vec::new();
    let result = rules.scan_fd_callback(&file, timeout_secs, |message| {
        if let CallbackMsg::RuleMatching(rule) = message {
            matches.push(rule_match(&rule));
        }
        CallbackReturn::Continue
    });
    if let Err(e) = result {
        return Outcome::Error(format!("libyara: {e}"));
    }
    let mut members = Members {
        rules,
        timeout_secs,
    };
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

/// Archive members, scanned from memory with the same rules.
struct Members<'r> {
    rules: &'r yara::Rules,
    timeout_secs: i32,
}

impl MemberScanner for Members<'_> {
    fn scan(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String> {
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
