//! Namespaces of the scan worker: an empty network namespace (no interface
//! but a loopback that is down, so no route anywhere and no abstract Unix
//! socket of the host) and a mount namespace whose root is an empty,
//! read-only tmpfs (no path of the host, so no pathname socket either).
//!
//! A user namespace comes first where the kernel allows it, which lets an
//! unprivileged process make the other two; as root, the network and mount
//! namespaces are made directly when it does not.

use rustix::io::Errno;
use rustix::mount::{
    mount, mount_change, unmount, MountFlags, MountPropagationFlags, UnmountFlags,
};
use rustix::thread::UnshareFlags;
use serde::{Deserialize, Serialize};

/// The namespaces a worker runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Namespaces {
    /// In a user namespace of its own (its capabilities there are worthless
    /// outside it).
    pub user: bool,
    /// In an empty network namespace of its own.
    pub network: bool,
    /// In a mount namespace whose root is an empty read-only tmpfs.
    pub mount: bool,
}

/// Why a namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// `unshare` refused (no unprivileged user namespaces and not root, say).
    #[error("cannot make a network and mount namespace: {0} (unprivileged user namespaces are off and the worker is not root)")]
    Unshare(Errno),
    /// A step of leaving the host's filesystem failed.
    #[error("cannot leave the host's filesystem: {step}: {source}")]
    Mount {
        /// Which step.
        step: &'static str,
        /// The cause.
        source: Errno,
    },
}

/// Where the empty root is mounted before `pivot_root` makes it `/`: any
/// folder that exists; `/proc` does on every system with Landlock.
const MOUNT_POINT: &str = "/proc";

/// Moves the calling single-threaded process into new user (where possible),
/// network and mount namespaces, and makes an empty read-only tmpfs its root.
/// Must run before the capabilities are dropped.
pub fn enter() -> Result<Namespaces, NamespaceError> {
    let wanted = UnshareFlags::NEWNET | UnshareFlags::NEWNS;
    // SAFETY: none of NEWUSER, NEWNET or NEWNS touches the descriptor table
    // (the hazard `unshare_unsafe` names is `FILES`); the worker has one thread.
    let user = match unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | wanted) } {
        Ok(()) => true,
        Err(e) => {
            tracing::info!("no user namespace for the scan worker ({e}); trying as root");
            // SAFETY: as above.
            unsafe { rustix::thread::unshare_unsafe(wanted) }.map_err(NamespaceError::Unshare)?;
            false
        }
    };
    empty_root()?;
    Ok(Namespaces {
        user,
        network: true,
        mount: true,
    })
}

/// Replaces the root of this (new) mount namespace with an empty tmpfs and
/// detaches every host mount from it.
fn empty_root() -> Result<(), NamespaceError> {
    let step = |step: &'static str| move |source| NamespaceError::Mount { step, source };
    // Nothing done here may propagate back to the host's mounts.
    mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(step("making mounts private"))?;
    mount(
        "zion-scan-worker",
        MOUNT_POINT,
        "tmpfs",
        MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"size=4k,mode=0555",
    )
    .map_err(step("mounting an empty tmpfs"))?;
    rustix::process::chdir(MOUNT_POINT).map_err(step("entering the empty tmpfs"))?;
    // pivot_root(".", ".") stacks the old root on the new one; detaching "."
    // then drops the old root and everything mounted below it.
    rustix::process::pivot_root(".", ".").map_err(step("pivot_root"))?;
    unmount(".", UnmountFlags::DETACH).map_err(step("detaching the host's root"))?;
    rustix::process::chdir("/").map_err(step("entering the new root"))?;
    Ok(())
}
