//! How the scan worker confines itself once its rules are loaded and before it
//! touches any object, in this order: its own empty network and mount
//! namespaces, rlimits, no capabilities, no new privileges, a Landlock domain
//! that grants no filesystem access at all (objects arrive as already-open
//! descriptors), no network and no signals outside itself, and last a seccomp
//! allow-list with no `socket`, `connect`, `open` or `execve`.
//!
//! Landlock alone is not enough: on current kernels it governs neither
//! `connect()` to a pathname Unix socket nor UDP, so a file that exploited
//! libyara could reach the session bus. The parent checks the report
//! ([`Confinement::shortfalls`]) and scans nothing with a worker that is not
//! fully confined.

use landlock::{
    Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope, ABI,
};
use rustix::process::{setrlimit, Resource, Rlimit};
use serde::{Deserialize, Serialize};

pub use super::namespace::Namespaces;
use super::{namespace, seccomp};

/// The newest Landlock ABI asked for; older kernels get what they support.
const LANDLOCK_ABI: ABI = ABI::V10;

/// The resource limits a worker runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU seconds one scan may use (the soft `RLIMIT_CPU`, moved per scan).
    pub cpu_seconds_per_scan: u64,
    /// CPU seconds the worker may use in its life (the hard `RLIMIT_CPU`); it
    /// retires before a scan could run into it.
    pub cpu_seconds_lifetime: u64,
    /// Address space in bytes (`RLIMIT_AS`); objects are mapped whole.
    pub address_space: u64,
    /// Open descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

/// What Landlock enforces in the worker, as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandlockEnforcement {
    /// Every requested restriction is enforced.
    FullyEnforced,
    /// The kernel enforces all it knows, but its Landlock is older than the
    /// newest ABI Zion asks for (best effort).
    PartiallyEnforced,
    /// None: the kernel has no Landlock or it is disabled.
    NotEnforced,
}

/// The confinement a worker reported once it was in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// What Landlock enforces.
    pub landlock: LandlockEnforcement,
    /// The Landlock ABI used (kernel and crate agree on it), if any.
    pub landlock_abi: Option<u32>,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// Whether every capability was dropped (matters when run as root).
    pub capabilities_dropped: bool,
    /// The resource limits in force (core dumps are always off).
    pub limits: Limits,
    /// Whether the seccomp allow-list is installed. (A worker that predates
    /// it reports nothing, read as false.)
    #[serde(default)]
    pub seccomp: bool,
    /// The namespaces the worker runs in.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Why the namespaces could not be made, if they could not.
    #[serde(default)]
    pub namespaces_error: Option<String>,
}

impl Confinement {
    /// What is not in force, each in words a user can act on; empty when the
    /// worker is fully confined and may be given objects. Landlock counts as
    /// in force when the kernel enforces every right it knows (an older ABI
    /// than Zion asks for); the seccomp filter and the namespaces close what
    /// an older Landlock leaves open.
    pub fn shortfalls(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if self.landlock == LandlockEnforcement::NotEnforced {
            missing.push(
                "Landlock is not enforced (the kernel has none, or it is not in the `lsm=` boot list)"
                    .to_string(),
            );
        }
        if !self.no_new_privs {
            missing.push("no_new_privs is not set".to_string());
        }
        if !self.capabilities_dropped {
            missing.push("its capabilities could not be dropped".to_string());
        }
        if !self.seccomp {
            missing.push("no seccomp filter is installed".to_string());
        }
        let why = self
            .namespaces_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        if !self.namespaces.network {
            missing.push(format!("it is not in an empty network namespace{why}"));
        }
        if !self.namespaces.mount {
            missing.push(format!("it is not in an empty mount namespace{why}"));
        }
        missing
    }
}

/// Why the worker could not confine itself (it then refuses to scan).
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// An rlimit could not be set.
    #[error("cannot set {resource}: {source}")]
    Rlimit {
        /// Which limit.
        resource: &'static str,
        /// The cause.
        source: rustix::io::Errno,
    },
    /// Landlock refused the ruleset.
    #[error("cannot enforce Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The seccomp filter could not be built or installed.
    #[error("{0}")]
    Seccomp(#[from] seccomp::SeccompError),
    /// The process has more than one thread (or its count could not be read).
    #[error("the scan worker has {0} threads: seccomp and Landlock would confine only one")]
    Threads(String),
}

/// Applies every restriction to the calling (single-threaded) process. A
/// namespace the kernel will not make is reported, not fatal: the parent
/// refuses such a worker and says why.
pub fn confine(limits: &Limits) -> Result<Confinement, ConfineError> {
    single_threaded()?;
    // First, while the process still has its capabilities (in its new user
    // namespace, or as root).
    let (namespaces, namespaces_error) = match namespace::enter() {
        Ok(namespaces) => (namespaces, None),
        Err(e) => {
            tracing::error!("scan worker: {e}");
            (Namespaces::default(), Some(e.to_string()))
        }
    };
    set_limit(Resource::Core, "RLIMIT_CORE", Some(0), Some(0))?;
    set_limit(
        Resource::Cpu,
        "RLIMIT_CPU",
        Some(limits.cpu_seconds_per_scan.min(limits.cpu_seconds_lifetime)),
        Some(limits.cpu_seconds_lifetime),
    )?;
    set_limit(
        Resource::As,
        "RLIMIT_AS",
        Some(limits.address_space),
        Some(limits.address_space),
    )?;
    set_limit(
        Resource::Nofile,
        "RLIMIT_NOFILE",
        Some(limits.open_files),
        Some(limits.open_files),
    )?;
    // No new processes or threads: the worker needs none. (Not enforced for
    // uid 0, which Landlock still confines.)
    set_limit(Resource::Nproc, "RLIMIT_NPROC", Some(0), Some(0))?;
    let capabilities_dropped = drop_capabilities();

    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?
        .restrict_self()?;
    let landlock = match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockEnforcement::FullyEnforced,
        RulesetStatus::PartiallyEnforced => LandlockEnforcement::PartiallyEnforced,
        _ => LandlockEnforcement::NotEnforced,
    };
    let landlock_abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => Some(effective_abi as u32),
        _ => None,
    };
    // Last: from here on the worker makes only the calls a scan needs.
    seccomp::install()?;
    Ok(Confinement {
        landlock,
        landlock_abi,
        no_new_privs: status.no_new_privs,
        capabilities_dropped,
        limits: *limits,
        seccomp: true,
        namespaces,
        namespaces_error,
    })
}

/// A seccomp filter and a Landlock domain bind the calling thread only: a
/// thread an engine started while loading (YARA-X's timeout "heartbeat", a
/// parallel compiler) would go on unconfined. The worker starts none, and
/// refuses to serve if one exists.
fn single_threaded() -> Result<(), ConfineError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| ConfineError::Threads(format!("an unknown number of ({e})")))?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .map(str::trim)
        .unwrap_or("an unknown number of");
    if threads == "1" {
        Ok(())
    } else {
        Err(ConfineError::Threads(threads.to_string()))
    }
}

/// Moves the soft CPU limit so the next scan gets `per_scan` more seconds,
/// never past the hard (lifetime) limit. Returns false when the lifetime
/// budget cannot give a whole scan: the worker should retire.
pub fn grant_cpu_for_next_scan(limits: &Limits) -> bool {
    let used = cpu_seconds_used();
    let soft = used + limits.cpu_seconds_per_scan;
    if soft > limits.cpu_seconds_lifetime {
        return false;
    }
    let limit = Rlimit {
        current: Some(soft),
        maximum: Some(limits.cpu_seconds_lifetime),
    };
    setrlimit(Resource::Cpu, limit).is_ok()
}

/// CPU seconds this process has used, rounded up.
pub fn cpu_seconds_used() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    if t.tv_nsec > 0 {
        secs + 1
    } else {
        secs
    }
}

fn set_limit(
    resource: Resource,
    name: &'static str,
    current: Option<u64>,
    maximum: Option<u64>,
) -> Result<(), ConfineError> {
    setrlimit(resource, Rlimit { current, maximum }).map_err(|source| ConfineError::Rlimit {
        resource: name,
        source,
    })
}

/// Drops every capability (effective, permitted, inheritable). Without
/// `CAP_SYS_RESOURCE` a compromised worker cannot raise its hard limits.
fn drop_capabilities() -> bool {
    let empty = rustix::thread::CapabilitySets {
        effective: rustix::thread::CapabilitySet::empty(),
        permitted: rustix::thread::CapabilitySet::empty(),
        inheritable: rustix::thread::CapabilitySet::empty(),
    };
    match rustix::thread::set_capabilities(None, empty) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("scan worker could not drop its capabilities: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Confinement {
        Confinement {
            landlock: LandlockEnforcement::PartiallyEnforced,
            landlock_abi: Some(7),
            no_new_privs: true,
            capabilities_dropped: true,
            limits: Limits {
                cpu_seconds_per_scan: 1,
                cpu_seconds_lifetime: 16,
                address_space: 1 << 30,
                open_files: 16,
            },
            seccomp: true,
            namespaces: Namespaces {
                user: false,
                network: true,
                mount: true,
            },
            namespaces_error: None,
        }
    }

    #[test]
    fn every_layer_in_force_leaves_no_shortfall() {
        assert!(full().shortfalls().is_empty());
    }

    /// Takes one layer of confinement away.
    type Weaken = fn(&mut Confinement);

    #[test]
    fn each_missing_layer_is_named() {
        let cases: [(Weaken, &str); 6] = [
            (
                |c| c.landlock = LandlockEnforcement::NotEnforced,
                "Landlock",
            ),
            (|c| c.no_new_privs = false, "no_new_privs"),
            (|c| c.capabilities_dropped = false, "capabilities"),
            (|c| c.seccomp = false, "seccomp"),
            (|c| c.namespaces.network = false, "network namespace"),
            (|c| c.namespaces.mount = false, "mount namespace"),
        ];
        for (weaken, word) in cases {
            let mut c = full();
            weaken(&mut c);
            let missing = c.shortfalls();
            assert_eq!(missing.len(), 1, "{missing:?}");
            assert!(missing[0].contains(word), "{missing:?}");
        }
    }

    #[test]
    fn a_worker_that_predates_seccomp_reads_as_unconfined() {
        let old = r#"{"landlock":"fully_enforced","landlock_abi":7,"no_new_privs":true,
            "capabilities_dropped":true,"limits":{"cpu_seconds_per_scan":1,
            "cpu_seconds_lifetime":16,"address_space":1,"open_files":16}}"#;
        let c: Confinement = serde_json::from_str(old).expect("old report parses");
        let missing = c.shortfalls().join("; ");
        assert!(
            missing.contains("seccomp") && missing.contains("namespace"),
            "{missing}"
        );
    }
}
