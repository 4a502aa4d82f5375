//! A private `/tmp` for one test: what the code under test creates in
//! `/tmp` (Smithay's `/tmp/.X11-unix` and `/tmp/.X<n>-lock`, say) must not
//! stay behind on the machine, nor may the test lean on what an earlier run
//! left there.
//!
//! A private network namespace comes with it: X servers also listen on the
//! abstract socket `@/tmp/.X11-unix/X<n>`, which lives in the network
//! namespace, and every private `/tmp` offers display 0. Pathname sockets
//! (Wayland, D-Bus, Podman) work across network namespaces.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use rustix::fs::Mode;
use rustix::mount::{
    mount, mount_bind, mount_change, mount_move, MountFlags, MountPropagationFlags,
};
use rustix::thread::UnshareFlags;

use crate::HarnessError;

/// Gives the calling thread a mount namespace of its own with an empty
/// tmpfs on `/tmp`, and a network namespace of its own. The thread, and every process it starts from now on,
/// sees that `/tmp`; the rest of the process and the machine do not. The
/// namespace goes when the thread and those processes have ended (libtest
/// runs each test on a thread of its own), so nothing the test put in
/// `/tmp` outlives it, even when it is killed.
///
/// Needs `CAP_SYS_ADMIN` (root): a user namespace, the unprivileged way, is
/// refused to a thread of a process that has several.
pub fn enter() -> Result<(), HarnessError> {
    let tmp = Path::new("/tmp");
    let err = |what: &'static str| {
        move |e: rustix::io::Errno| HarnessError::Io {
            what,
            path: tmp.to_owned(),
            source: e.into(),
        }
    };
    // SAFETY: only the mount namespace (and with it the thread's root and
    // working folder) is unshared, not the file descriptor table, so every
    // thread keeps seeing every descriptor.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS | UnshareFlags::NEWNET) }.map_err(
        err("unsharing the mount and network namespaces for a private /tmp"),
    )?;
    // Mounts made here must not propagate back to the machine's namespace.
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(err("making the private mount namespace private"))?;
    mount(
        "tmpfs",
        tmp,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(c"mode=1777"),
    )
    .map_err(err("mounting a private tmpfs on /tmp"))?;
    Ok(())
}

/// Makes `cmd` run in a network namespace of its own and a mount namespace
/// of its own whose `/tmp` is an empty tmpfs holding only `keep` (a folder under `/tmp`, a test environment's
/// say), bound at its own path: the program finds its folders where the test
/// put them, and whatever else it creates in `/tmp` goes with its namespace.
/// For a program the test starts as a process (the compositor binary, whose
/// Xwayland needs `/tmp/.X11-unix`); a test thread uses [`enter`].
///
/// The program fails to start (with the reason) where mounts are not
/// allowed (not root).
pub fn keeping(cmd: &mut Command, keep: &Path) -> Result<(), HarnessError> {
    let tmp = Path::new("/tmp");
    let rel = keep.strip_prefix(tmp).map_err(|_| HarnessError::Io {
        what: "keeping a folder in a private /tmp (it must be under /tmp)",
        path: keep.to_owned(),
        source: std::io::ErrorKind::InvalidInput.into(),
    })?;
    let scratch = keep.join(".private-tmp");
    std::fs::create_dir_all(&scratch).map_err(HarnessError::io(
        "creating a private /tmp's mount point",
        &scratch,
    ))?;
    let cstr = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| HarnessError::Io {
            what: "a path for a private /tmp",
            path: p.to_owned(),
            source: std::io::ErrorKind::InvalidInput.into(),
        })
    };
    // Everything the child needs is allocated here: between fork and exec
    // only system calls run.
    let mut inner = scratch.clone();
    let mut dirs = Vec::new();
    for part in rel.components() {
        inner.push(part);
        dirs.push(cstr(&inner)?);
    }
    let keep = cstr(keep)?;
    let scratch = cstr(&scratch)?;
    let inner = cstr(&inner)?;
    let mode = c"mode=1777";
    // SAFETY: the closure makes system calls only (no allocation, no locks),
    // as the time between fork and exec requires.
    unsafe {
        cmd.pre_exec(move || {
            rustix::thread::unshare_unsafe(UnshareFlags::NEWNS | UnshareFlags::NEWNET)?;
            mount_change(
                c"/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )?;
            mount(
                c"tmpfs",
                scratch.as_c_str(),
                c"tmpfs",
                MountFlags::NOSUID | MountFlags::NODEV,
                Some(mode),
            )?;
            for dir in &dirs {
                rustix::fs::mkdir(dir.as_c_str(), Mode::from_raw_mode(0o755))?;
            }
            mount_bind(keep.as_c_str(), inner.as_c_str())?;
            mount_move(scratch.as_c_str(), c"/tmp")?;
            Ok(())
        });
    }
    Ok(())
}
