//! The host's waypipe client of a gVisor sandbox, confined: it parses what
//! the (untrusted) sandbox sends, so an exploit of it must not be the
//! user's account. Between fork and exec, in this order:
//!
//! - a user namespace of its own (the daemon's uid mapped alone, to itself,
//!   or root to uid 1 so that waypipe is never root there: its exec keeps
//!   no capability anywhere), with its own network namespace (no interface
//!   but a loopback that is down: no TCP, no UDP, no abstract Unix socket of
//!   the session) and mount namespace;
//! - a new root, an empty tmpfs, holding only what the dynamic loader and
//!   waypipe need (`/usr`, `/lib*`, `/bin`, `/sbin`, `/etc/ld.so.cache`,
//!   the program itself) and the two folders it works in (its own socket
//!   folder and the sandbox's Wayland folder), each at its host path:
//!   `$HOME`, the Zion data folders, the session bus socket and every other
//!   pathname socket are simply not there (Landlock does not govern
//!   `connect()` to a pathname Unix socket on kernels before its ABI 9);
//! - rlimits: no core dumps, a bound on open files and on processes (its
//!   processes are counted in its own user namespace);
//! - `PR_SET_NO_NEW_PRIVS`, the parent-death signal;
//! - a Landlock domain: read and execute under the system folders, making
//!   (and removing) its socket in its own folder, nothing else (no write
//!   anywhere, no TCP bind or connect, no signal and no abstract Unix socket
//!   outside the domain);
//! - a seccomp filter refusing (`EPERM`) sockets other than Unix ones,
//!   tracing and reading other processes, mounting, namespaces, io_uring,
//!   BPF, keys and module loading.
//!
//! Everything is prepared before the fork ([`WaypipeJail::prepare`]);
//! [`WaypipeJail::enter`] only makes system calls.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, Scope, ABI,
};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::process::{Resource, Rlimit};
use rustix::thread::UnshareFlags;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The newest Landlock ABI asked for (as the scan worker's); older kernels
/// enforce what they know.
const LANDLOCK_ABI: ABI = ABI::V10;
/// Where the new root is mounted before `pivot_root` makes it `/` (as for
/// the scan worker: a folder every system with namespaces has).
const MOUNT_POINT: &str = "/proc";
/// The system folders shown to waypipe (read and execute): the dynamic
/// loader, its libraries, waypipe.
const SYSTEM: &[&str] = &[
    "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
];
/// The loader's cache of library paths.
const LD_CACHE: &str = "/etc/ld.so.cache";
/// Open descriptors: waypipe holds the two connections and a descriptor per
/// shared buffer it mirrors.
const OPEN_FILES: u64 = 4096;
/// Processes and threads of the daemon's uid in waypipe's user namespace
/// (counted there only; root's uid is exempt, as everywhere).
const PROCESSES: u64 = 256;
/// The first Landlock ABI with scopes (signals, abstract Unix sockets).
const LANDLOCK_SCOPES: i64 = 6;

/// Why waypipe's confinement could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum JailError {
    /// A path waypipe needs is not usable.
    #[error("{path}: {source}")]
    Path {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Landlock refused the ruleset.
    #[error("Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The seccomp filter could not be built.
    #[error("seccomp: {0}")]
    Seccomp(String),
}

/// What turns a freshly forked child into a confined waypipe client, made
/// ready before the fork.
pub struct WaypipeJail {
    /// The program, as exec'd (its canonical path, shown in the new root).
    program: PathBuf,
    /// Folders to make in the new root, parents first.
    dirs: Vec<CString>,
    /// Empty files to make there, as mount points of files.
    files: Vec<CString>,
    /// Symbolic links to make there: (target, link).
    links: Vec<(CString, CString)>,
    /// Host paths bound into the new root: (source, mount point).
    binds: Vec<(CString, CString)>,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    open_files: u64,
    landlock: Option<RulesetCreated>,
    seccomp: BpfProgram,
}

impl WaypipeJail {
    /// The confinement of `program` (an absolute path), making its socket
    /// in `socket_dir` and connecting to the sandbox's compositor socket in
    /// `wayland_dir`.
    pub fn prepare(
        program: &Path,
        socket_dir: &Path,
        wayland_dir: &Path,
    ) -> Result<WaypipeJail, JailError> {
        let path_error = |path: &Path| {
            let path = path.to_owned();
            move |source| JailError::Path { path, source }
        };
        let program = program.canonicalize().map_err(path_error(program))?;
        let mut jail = WaypipeJail {
            program: program.clone(),
            dirs: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            binds: Vec::new(),
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            open_files: OPEN_FILES,
            landlock: None,
            seccomp: Vec::new(),
        };
        let mut dirs = BTreeSet::new();
        let mut shown: Vec<PathBuf> = Vec::new();
        let mut readable: Vec<(PathBuf, bool)> = Vec::new();
        for &folder in SYSTEM {
            let path = Path::new(folder);
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(path).map_err(path_error(path))?;
                jail.links.push((c_path(&target)?, in_root(path)?));
            } else if meta.is_dir() {
                jail.bind(path, true, &mut dirs)?;
                shown.push(path.to_owned());
                readable.push((path.to_owned(), true));
            }
        }
        if Path::new(LD_CACHE).is_file() {
            jail.bind(Path::new(LD_CACHE), false, &mut dirs)?;
            readable.push((LD_CACHE.into(), false));
        }
        if !shown.iter().any(|s| program.starts_with(s)) {
            jail.bind(&program, false, &mut dirs)?;
            readable.push((program.clone(), false));
        }
        jail.bind(socket_dir, true, &mut dirs)?;
        jail.bind(wayland_dir, true, &mut dirs)?;
        // Parents first: every parent is a prefix of its child, and sorts
        // before it.
        jail.dirs = dirs
            .into_iter()
            .map(|d| in_root(&d))
            .collect::<Result<_, _>>()?;

        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        // Root is uid 1 inside: exec as root there would give waypipe every
        // capability in its namespace.
        let inside = |id: u32| if id == 0 { 1 } else { id };
        jail.uid_map = format!("{} {uid} 1", inside(uid)).into_bytes();
        jail.gid_map = format!("{} {gid} 1", inside(gid)).into_bytes();
        let hard = rustix::process::getrlimit(Resource::Nofile).maximum;
        jail.open_files = hard.map_or(OPEN_FILES, |h| h.min(OPEN_FILES));

        warn_weaker_landlock();
        let abi = LANDLOCK_ABI;
        let mut ruleset = Ruleset::default()
            .handle_access(AccessFs::from_all(abi))?
            .handle_access(AccessNet::from_all(abi))?
            .scope(Scope::from_all(abi))?
            .create()?;
        for (path, dir) in &readable {
            let access = if *dir {
                AccessFs::from_read(abi)
            } else {
                AccessFs::Execute | AccessFs::ReadFile
            };
            let fd = PathFd::new(path).map_err(|e| JailError::Path {
                path: path.clone(),
                source: io::Error::other(e),
            })?;
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access))?;
        }
        let own = |path: &Path| {
            PathFd::new(path).map_err(|e| JailError::Path {
                path: path.to_owned(),
                source: io::Error::other(e),
            })
        };
        ruleset = ruleset.add_rule(PathBeneath::new(
            own(socket_dir)?,
            AccessFs::MakeSock | AccessFs::RemoveFile,
        ))?;
        // Connecting to the compositor's socket, where the kernel governs it
        // (Landlock ABI 9); dropped on older kernels.
        ruleset = ruleset.add_rule(PathBeneath::new(own(wayland_dir)?, AccessFs::ResolveUnix))?;
        jail.landlock = Some(ruleset);
        jail.seccomp = refusals()?;
        Ok(jail)
    }

    /// The program to exec: its canonical path, which the new root shows.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Shows host `path` (a folder when `dir`) at the same path in the new
    /// root: its parents and its mount point are made there.
    fn bind(
        &mut self,
        path: &Path,
        dir: bool,
        dirs: &mut BTreeSet<PathBuf>,
    ) -> Result<(), JailError> {
        if !path.is_absolute() {
            return Err(JailError::Path {
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path"),
            });
        }
        for parent in path.ancestors().skip(1) {
            if parent != Path::new("/") {
                dirs.insert(parent.to_owned());
            }
        }
        if dir {
            dirs.insert(path.to_owned());
        } else {
            self.files.push(in_root(path)?);
        }
        self.binds.push((c_path(path)?, in_root(path)?));
        Ok(())
    }

    /// Confines the calling process: the child between fork and exec.
    ///
    /// # Safety
    /// Only in a freshly forked, single-threaded child: it allocates
    /// nothing, and leaves the host's filesystem for the new root.
    pub unsafe fn enter(&mut self) -> io::Result<()> {
        // SAFETY: NEWUSER, NEWNET and NEWNS leave the descriptor table alone
        // (the hazard `unshare_unsafe` names is FILES); one thread.
        unsafe {
            rustix::thread::unshare_unsafe(
                UnshareFlags::NEWUSER | UnshareFlags::NEWNET | UnshareFlags::NEWNS,
            )?
        };
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", &self.uid_map)?;
        write_file(c"/proc/self/gid_map", &self.gid_map)?;

        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?;
        rustix::mount::mount(
            c"zion-waypipe",
            c"/proc",
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            c"size=64k,mode=0755",
        )?;
        for dir in &self.dirs {
            rustix::fs::mkdir(dir.as_c_str(), Mode::from_raw_mode(0o755))?;
        }
        for file in &self.files {
            let fd = rustix::fs::open(
                file.as_c_str(),
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o444),
            )?;
            drop(fd);
        }
        for (target, link) in &self.links {
            rustix::fs::symlink(target.as_c_str(), link.as_c_str())?;
        }
        for (source, target) in &self.binds {
            rustix::mount::mount_bind_recursive(source.as_c_str(), target.as_c_str())?;
        }
        rustix::process::chdir(c"/proc")?;
        // pivot_root(".", ".") stacks the old root on the new one; detaching
        // "." then drops the old root and everything mounted below it.
        rustix::process::pivot_root(c".", c".")?;
        rustix::mount::unmount(c".", UnmountFlags::DETACH)?;
        rustix::process::chdir(c"/")?;

        set_limit(Resource::Core, 0)?;
        set_limit(Resource::Nofile, self.open_files)?;
        set_limit(Resource::Nproc, PROCESSES)?;
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;

        // Landlock sets no_new_privs first.
        if let Some(ruleset) = self.landlock.take() {
            ruleset
                .restrict_self()
                .map_err(|_| io::Error::from_raw_os_error(libc::EPERM))?;
        }
        rustix::thread::set_no_new_privs(true)?;
        seccompiler::apply_filter(&self.seccomp).map_err(|e| match e {
            seccompiler::Error::Seccomp(e) | seccompiler::Error::Prctl(e) => e,
            _ => io::Error::from_raw_os_error(libc::EINVAL),
        })?;
        Ok(())
    }
}

/// The kernel's Landlock ABI (0: none, or not enabled).
pub fn landlock_abi() -> i64 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION, with no attributes, only
    // returns a number.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    abi.max(0)
}

/// Says once what an older kernel's Landlock leaves to the other layers.
fn warn_weaker_landlock() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abi = landlock_abi();
        if abi < LANDLOCK_SCOPES {
            tracing::warn!(
                "this kernel's Landlock (ABI {abi}, 0: none) has no scopes: the host's waypipe clients of gVisor sandboxes run in their own namespaces, with a root of system folders only and a seccomp filter, but could signal the session's processes"
            );
        }
    });
}

/// `path` as a C string.
fn c_path(path: &Path) -> Result<CString, JailError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|e| JailError::Path {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })
}

/// Where host path `path` (absolute) lies in the new root before the pivot.
fn in_root(path: &Path) -> Result<CString, JailError> {
    let mut inside = Path::new(MOUNT_POINT).as_os_str().as_bytes().to_vec();
    inside.extend_from_slice(path.as_os_str().as_bytes());
    CString::new(inside).map_err(|e| JailError::Path {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })
}

fn write_file(path: &CStr, data: &[u8]) -> io::Result<()> {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let written = rustix::io::write(&fd, data)?;
    if written != data.len() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(())
}

fn set_limit(resource: Resource, limit: u64) -> io::Result<()> {
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    )?;
    Ok(())
}

/// Calls refused (`EPERM`) outright: waypipe makes none of them.
#[cfg(target_arch = "x86_64")]
const REFUSED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_perf_event_open,
    libc::SYS_bpf,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
];

/// The seccomp filter: the [`REFUSED`] calls, and `socket` and `socketpair`
/// of any family but `AF_UNIX`, fail with `EPERM`; everything else goes on
/// to the kernel (and so to the namespaces and Landlock).
#[cfg(target_arch = "x86_64")]
fn refusals() -> Result<BpfProgram, JailError> {
    use std::collections::BTreeMap;
    let failed = |e: &dyn std::fmt::Display| JailError::Seccomp(e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &call in REFUSED {
        rules.insert(call, Vec::new());
    }
    for call in [libc::SYS_socket, libc::SYS_socketpair] {
        let not_unix = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )
        .map_err(|e| failed(&e))?;
        rules.insert(
            call,
            vec![SeccompRule::new(vec![not_unix]).map_err(|e| failed(&e))?],
        );
    }
    let arch = std::env::consts::ARCH.try_into().map_err(|e| failed(&e))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| failed(&e))?;
    filter.try_into().map_err(|e| failed(&e))
}

/// No filter was written for other architectures: waypipe is not started
/// under gVisor there rather than started less confined.
#[cfg(not(target_arch = "x86_64"))]
fn refusals() -> Result<BpfProgram, JailError> {
    Err(JailError::Seccomp(format!(
        "no filter for the {} architecture",
        std::env::consts::ARCH
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_root_holds_the_system_the_program_and_the_two_folders_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let sockets = tmp.path().join("run/waypipe/s");
        let wayland = tmp.path().join("run/sandboxes/w/1");
        std::fs::create_dir_all(&sockets).expect("sockets");
        std::fs::create_dir_all(&wayland).expect("wayland");
        let program = tmp.path().join("bin/waypipe");
        std::fs::create_dir_all(program.parent().expect("parent")).expect("bin");
        std::fs::write(&program, "").expect("program");
        let jail = WaypipeJail::prepare(&program, &sockets, &wayland).expect("prepared");
        let text = |c: &CString| c.to_string_lossy().into_owned();
        let binds: Vec<(String, String)> =
            jail.binds.iter().map(|(s, t)| (text(s), text(t))).collect();
        let root = tmp.path().canonicalize().expect("canonical");
        for shown in [
            program.canonicalize().expect("canonical"),
            sockets.clone(),
            wayland.clone(),
        ] {
            let shown = shown.display().to_string();
            assert!(
                binds
                    .iter()
                    .any(|(s, t)| *s == shown && *t == format!("/proc{shown}")),
                "{shown} in {binds:?}"
            );
        }
        // Nothing else of the test's folder, nor $HOME, nor /etc but the cache.
        for (source, _) in &binds {
            assert!(
                !source.starts_with(&*root.display().to_string())
                    || source.ends_with("waypipe")
                    || source.ends_with("/s")
                    || source.ends_with("/1"),
                "{source}"
            );
            assert!(!source.starts_with("/home") && !source.starts_with("/root"));
            assert!(
                !source.starts_with("/etc") || source == LD_CACHE,
                "{source}"
            );
        }
        // Parents come before children.
        let dirs: Vec<String> = jail.dirs.iter().map(text).collect();
        let at = |d: &str| dirs.iter().position(|x| x == d);
        let run = format!("/proc{}", tmp.path().join("run").display());
        let socket_dir = format!("/proc{}", sockets.display());
        assert!(at(&run).expect("run") < at(&socket_dir).expect("socket folder"));
        assert!(!jail.seccomp.is_empty());
        // A relative folder is refused, never shown somewhere else.
        let err = WaypipeJail::prepare(&program, Path::new("run/waypipe"), &wayland)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("not an absolute path"), "{err}");
        let uid_map = String::from_utf8(jail.uid_map.clone()).expect("text");
        assert!(!uid_map.starts_with("0 "), "{uid_map}: never root inside");
    }
}
