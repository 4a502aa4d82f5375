//! Opening (and creating) directories beneath the storage root one component
//! at a time, never following a symbolic link.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::StorageError;

/// Set once the kernel (or a seccomp filter) said openat2 does not exist.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens the storage root itself; it may be a symlink (it is the user's choice).
pub(crate) fn open_root(root: &Path) -> Result<OwnedFd, StorageError> {
    rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => StorageError::DestinationMissing {
            path: root.to_owned(),
        },
        Errno::NOTDIR => StorageError::NotADirectory {
            path: root.to_owned(),
        },
        e => StorageError::io("opening the storage root", root, e.into()),
    })
}

/// Opens `root/components…`, refusing any component that is a symlink or not a
/// directory. With `create`, missing components are made with that mode
/// (otherwise a missing one is [`StorageError::DestinationMissing`]).
pub(crate) fn open_dir(
    root: &Path,
    root_fd: &OwnedFd,
    components: &[&str],
    create: Option<Mode>,
) -> Result<OwnedFd, StorageError> {
    open_dir_creating_from(root, root_fd, components, create.map(|m| (0, m)))
}

/// Gives a folder just made in `parent` the owner of `parent`: a folder
/// made in a profile's home (`~/Incoming/<from>`) belongs to the profile's
/// container user (its home's owner under rootful Podman's user namespace,
/// issue 18), not to the daemon. Best effort: without the right to chown,
/// the daemon owns both already.
fn inherit_owner(parent: &OwnedFd, name: &str) {
    let Ok(st) = rustix::fs::fstat(parent) else {
        return;
    };
    if let Ok(fd) = open_component(parent, name) {
        let _ = rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        );
    }
}

/// Like [`open_dir`], creating only components from index `from` on.
pub(crate) fn open_dir_creating_from(
    root: &Path,
    root_fd: &OwnedFd,
    components: &[&str],
    create: Option<(usize, Mode)>,
) -> Result<OwnedFd, StorageError> {
    let mut path = root.to_path_buf();
    let mut current: Option<OwnedFd> = None;
    for (i, component) in components.iter().enumerate() {
        path.push(component);
        let parent = current.as_ref().unwrap_or(root_fd);
        let may_create = create.filter(|(from, _)| i >= *from).map(|(_, mode)| mode);
        let fd = match (open_component(parent, component), may_create) {
            (Err(Errno::NOENT), Some(mode)) => {
                match rustix::fs::mkdirat(parent, *component, mode) {
                    Ok(()) => inherit_owner(parent, component),
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(StorageError::io("creating directory", path, e.into())),
                }
                // The new entry must survive a crash before anything is put in it.
                rustix::fs::fsync(parent).map_err(|e| {
                    StorageError::io("syncing directory", parent_path(&path), e.into())
                })?;
                open_component(parent, component)
            }
            (other, _) => other,
        };
        current = Some(fd.map_err(|e| refusal(parent, component, path.clone(), e))?);
    }
    match current {
        Some(fd) => Ok(fd),
        None => {
            rustix::io::dup(root_fd).map_err(|e| StorageError::io("duplicating", root, e.into()))
        }
    }
}

/// Sets a directory's mode (profile directories stay private even if someone loosened them).
pub(crate) fn enforce_mode(dir: &OwnedFd, mode: u32, path: &Path) -> Result<(), StorageError> {
    rustix::fs::fchmod(dir, Mode::from_raw_mode(mode))
        .map_err(|e| StorageError::io("setting the mode of", path, e.into()))
}

/// Opens one directory entry as a directory, without following a symlink.
fn open_component(parent: &OwnedFd, component: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(parent, component, flags, Mode::empty(), resolve) {
            Err(Errno::NOSYS) => {
                tracing::warn!(
                    "openat2 is unavailable; resolving with openat and O_NOFOLLOW per component"
                );
                NO_OPENAT2.store(true, Ordering::Relaxed);
            }
            other => return other,
        }
    }
    // Equivalent for a single validated component (no "/", not ".."):
    // O_NOFOLLOW refuses a symlink in the last (only) position.
    rustix::fs::openat(parent, component, flags, Mode::empty())
}

/// Turns a failed open of `component` into an error that says what is there.
fn refusal(parent: &OwnedFd, component: &str, path: PathBuf, e: Errno) -> StorageError {
    let is_symlink = rustix::fs::statat(parent.as_fd(), component, AtFlags::SYMLINK_NOFOLLOW)
        .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
        .unwrap_or(false);
    match e {
        _ if is_symlink => StorageError::SymlinkRefused { path },
        Errno::LOOP | Errno::XDEV => StorageError::SymlinkRefused { path },
        Errno::NOTDIR => StorageError::NotADirectory { path },
        Errno::NOENT => StorageError::DestinationMissing { path },
        e => StorageError::io("opening directory", path, e.into()),
    }
}

fn parent_path(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}
