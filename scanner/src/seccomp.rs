//! The scan worker's system-call filter, installed last, once the rules are
//! loaded and everything else is confined, before any object is touched.
//!
//! Two filters, which the kernel both applies (the stricter answer wins):
//! - the allow-list: the calls a confined worker makes while it scans
//!   (found by tracing real scans of the corpus with the shared rule sets);
//!   any other call kills the process (`SIGSYS`, the parent says so);
//! - the refusals: calls that libraries or an attacker may try and that must
//!   fail quietly with `EPERM` rather than kill — making or connecting a
//!   socket, sending to an address, opening a path, running a program,
//!   tracing a process. They are also on the allow-list, so that the refusal
//!   answers them instead of the kill.
//!
//! Objects arrive as descriptors over the inherited channel, so the worker
//! needs no `socket`, `connect` or `open` at all.
//!
//! The same list serves YARA-X (`yarax.rs`). Its rules become machine code
//! (wasmtime's JIT), its wasmtime instance is made and a first empty scan run
//! while the worker loads, before this filter: traced over the corpus with
//! the shared rule sets, a YARA-X worker then makes no call outside this list
//! and maps nothing executable (`PROT_EXEC` stays refused; wasmtime's trap
//! handlers were installed while loading, and `rt_sigreturn` was already
//! here). Nothing was added for it.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why the filter could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// This architecture has no allow-list.
    #[error("no seccomp allow-list for the {0} architecture")]
    Architecture(&'static str),
    /// The filter could not be built.
    #[error("cannot build the seccomp filter: {0}")]
    Build(#[from] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("cannot install the seccomp filter: {0}")]
    Install(#[from] seccompiler::Error),
}

/// Calls the worker makes while it serves, as traced (`strace -f`) over
/// scans of the corpus with Zion's and both shared rule sets: its channel
/// (`recvmsg`, `sendto` without an address, `sendmsg`), memory for libyara
/// and the mapped object (`madvise` sequential), `fstatfs` of the object,
/// libyara's `SIGBUS` guard around each scan (`rt_sigaction`,
/// `rt_sigprocmask`), the process CPU clock, locks, logging to stderr, and
/// exit. The calls with conditions are added in [`allow_list`].
#[cfg(target_arch = "x86_64")]
const ALLOWED: &[i64] = &[
    libc::SYS_read,
    // Archives are read at positions, so the descriptor's offset (shared
    // with the parent) never moves.
    libc::SYS_pread64,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_close,
    libc::SYS_fstatfs,
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_recvmsg,
    libc::SYS_sendmsg,
    libc::SYS_futex,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_getrandom,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_sched_yield,
    // sevenz-rust2 asks `available_parallelism()` for its thread count before
    // it is set to 1; reading the worker's own CPU mask reveals nothing.
    libc::SYS_sched_getaffinity,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// The refusals: answered with `EPERM`.
#[cfg(target_arch = "x86_64")]
const REFUSED: &[i64] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_creat,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    // glibc names its memory maps (PR_SET_VMA) and copes with a refusal.
    libc::SYS_prctl,
    // Needed once, to install the second filter; refused from then on.
    libc::SYS_seccomp,
];

/// `PROT_EXEC`: the worker never maps code after it confined itself.
#[cfg(target_arch = "x86_64")]
const PROT_EXEC: u64 = libc::PROT_EXEC as u64;

#[cfg(target_arch = "x86_64")]
/// A condition on argument `arg` (all conditions of a rule must hold).
fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SeccompError> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        op,
        value,
    )?)
}

#[cfg(target_arch = "x86_64")]
fn rule(conditions: Vec<SeccompCondition>) -> Result<Vec<SeccompRule>, SeccompError> {
    Ok(vec![SeccompRule::new(conditions)?])
}

/// The allow-list filter: anything not on it kills the worker.
#[cfg(target_arch = "x86_64")]
fn allow_list(arch: TargetArch) -> Result<SeccompFilter, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &call in ALLOWED.iter().chain(REFUSED) {
        rules.insert(call, Vec::new());
    }
    // Memory, never executable.
    let not_exec = || condition(2, SeccompCmpOp::MaskedEq(PROT_EXEC), 0);
    rules.insert(libc::SYS_mmap, rule(vec![not_exec()?])?);
    rules.insert(libc::SYS_mprotect, rule(vec![not_exec()?])?);
    // `fstat` of a descriptor (glibc's fstat is `newfstatat(fd, "",
    // AT_EMPTY_PATH)`; the mount namespace leaves no path to look up anyway).
    rules.insert(
        libc::SYS_newfstatat,
        rule(vec![condition(
            3,
            SeccompCmpOp::Eq,
            libc::AT_EMPTY_PATH as u64,
        )?])?,
    );
    // `send` on the channel: `sendto` without an address (with one, the
    // refusal filter answers EPERM).
    rules.insert(libc::SYS_sendto, Vec::new());
    // Rust's standard library checks a descriptor it takes over (F_GETFD).
    rules.insert(
        libc::SYS_fcntl,
        rule(vec![condition(1, SeccompCmpOp::Eq, libc::F_GETFD as u64)?])?,
    );
    // The worker moves its own soft CPU limit before each scan.
    rules.insert(
        libc::SYS_prlimit64,
        rule(vec![condition(0, SeccompCmpOp::Eq, 0)?])?,
    );
    // Signals only to itself (abort() raises SIGABRT with tgkill).
    let pid = u64::from(
        rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs(),
    );
    rules.insert(
        libc::SYS_tgkill,
        rule(vec![condition(0, SeccompCmpOp::Eq, pid)?])?,
    );
    Ok(SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )?)
}

/// The refusal filter: the listed calls fail with `EPERM`.
#[cfg(target_arch = "x86_64")]
fn refusals(arch: TargetArch) -> Result<SeccompFilter, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &call in REFUSED {
        rules.insert(call, Vec::new());
    }
    // Sending to an address: only a socket the worker must not have needs one.
    rules.insert(
        libc::SYS_sendto,
        rule(vec![condition(4, SeccompCmpOp::Ne, 0)?])?,
    );
    Ok(SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?)
}

/// Installs both filters on the calling (single-threaded) process. Needs
/// `no_new_privs`, which Landlock has set.
#[cfg(target_arch = "x86_64")]
pub fn install() -> Result<(), SeccompError> {
    let arch: TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(|_| SeccompError::Architecture(std::env::consts::ARCH))?;
    let refusals: BpfProgram = refusals(arch)?.try_into()?;
    let allow_list: BpfProgram = allow_list(arch)?.try_into()?;
    // The allow-list first: it lets `prctl` and `seccomp` through for the
    // second filter, which then refuses them too.
    seccompiler::apply_filter(&allow_list)?;
    seccompiler::apply_filter(&refusals)?;
    Ok(())
}

/// No allow-list was traced on other architectures: the worker reports no
/// filter, and the parent refuses to scan with it.
#[cfg(not(target_arch = "x86_64"))]
pub fn install() -> Result<(), SeccompError> {
    Err(SeccompError::Architecture(std::env::consts::ARCH))
}
