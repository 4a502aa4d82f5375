//! Host folders that containers see, made and opened without following
//! links (issue 18, finding 1), and opened to exactly the ids a container's
//! user namespace maps (finding 3) with POSIX ACLs rather than wide modes.
//!
//! Every path the host later uses (a mount source, a socket, a lock file, a
//! folder it creates or chmods) is walked from a trusted folder one
//! component at a time with `O_NOFOLLOW`: a link planted anywhere on the way
//! is never followed. A link where a folder belongs is removed and the
//! folder made anew; a link where a lock file or socket belongs is removed
//! before the file is made.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// Permissions in an ACL entry.
pub use exacl::Perm;

/// Opens the folder `rel` under the trusted folder `base` (which must
/// exist), creating each missing component with mode `mode`, and sets the
/// mode of every component it walks to `mode`. No component is followed if
/// it is a link: such a link is removed and a folder made in its place.
/// Anything else that is not a folder is an error.
pub fn ensure_dir(base: &Path, rel: &Path, mode: u32) -> io::Result<OwnedFd> {
    walk(base, rel, mode, true)
}

/// As [`ensure_dir`], but only folders it creates get `mode`: those that
/// exist keep theirs.
pub fn ensure_dir_keeping_modes(base: &Path, rel: &Path, mode: u32) -> io::Result<OwnedFd> {
    walk(base, rel, mode, false)
}

fn walk(base: &Path, rel: &Path, mode: u32, chmod: bool) -> io::Result<OwnedFd> {
    let mut dir = open_dir(rustix::fs::CWD, base, true)?;
    for component in rel.components() {
        let name = match component {
            Component::Normal(name) => name,
            Component::CurDir => continue,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a plain relative path", rel.display()),
                ))
            }
        };
        dir = ensure_child(&dir, name, mode)?;
        if chmod {
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(mode))?;
        }
    }
    Ok(dir)
}

/// Opens (creating) the folder `name` in `parent`, replacing a link.
fn ensure_child(parent: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    for _ in 0..3 {
        match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        match open_dir(parent, name, false) {
            Ok(fd) => return Ok(fd),
            Err(e) => {
                if !remove_link(parent, name)? {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{} is not a folder: {e}", Path::new(name).display()),
                    ));
                }
                tracing::warn!(
                    "removed a link where the folder {} belongs",
                    Path::new(name).display()
                );
            }
        }
    }
    Err(io::Error::other(format!(
        "{} keeps changing under the host",
        Path::new(name).display()
    )))
}

fn open_dir<Fd: AsFd>(at: Fd, path: impl rustix::path::Arg, follow: bool) -> io::Result<OwnedFd> {
    let mut flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    Ok(rustix::fs::openat(at, path, flags, Mode::empty())?)
}

/// Removes `name` in `dir` if it is a symbolic link; says whether it was.
pub fn remove_link(dir: &impl AsFd, name: &OsStr) -> io::Result<bool> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            Ok(true)
        }
        Ok(_) | Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Removes every link among `names` in the folder `dir` (a path the caller
/// made with [`ensure_dir`]): where a lock file or a socket goes.
pub fn remove_links_in(dir: &Path, names: &[&str]) -> io::Result<()> {
    let fd = open_dir(rustix::fs::CWD, dir, false)?;
    for name in names {
        if remove_link(&fd, OsStr::new(name))? {
            tracing::warn!("removed a link planted as {}", dir.join(name).display());
        }
    }
    Ok(())
}

/// Lets each host uid of `uids` use what the compositor serves in the
/// socket folder `dir`: list and search (`r-x`) on it and on its `X11` folder, and
/// read-write (what `connect()` needs) on every socket in either. Other
/// ACL entries are kept. The entries on `dir` itself are also the record
/// of who may use its sockets: see [`share_sockets`].
pub fn grant_sockets(dir: &Path, uids: &[u32]) -> io::Result<()> {
    // Listing too: the names in a socket folder are no secret from the
    // container it serves, and tools find sockets by listing.
    let search = exacl::Perm::READ | exacl::Perm::EXECUTE;
    let use_socket = exacl::Perm::READ | exacl::Perm::WRITE;
    grant(dir, uids, search)?;
    for folder in [dir.to_path_buf(), dir.join(X11)] {
        let Ok(meta) = std::fs::symlink_metadata(&folder) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        if folder != dir {
            grant(&folder, uids, search)?;
        }
        for entry in std::fs::read_dir(&folder)?.flatten() {
            let is_socket = std::fs::symlink_metadata(entry.path())
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
            if is_socket {
                grant(&entry.path(), uids, use_socket)?;
            }
        }
    }
    Ok(())
}

/// Grants the users named in `dir`'s own ACL (those [`grant_sockets`] let
/// in) the use of every socket in it: the compositor calls this after it
/// binds a socket, so that a socket made anew (a restart) is usable by
/// exactly the ids the daemon let in, without the compositor knowing them.
pub fn share_sockets(dir: &Path) -> io::Result<()> {
    let uids = named_users(dir)?;
    if uids.is_empty() {
        return Ok(());
    }
    grant_sockets(dir, &uids)
}

/// The uids with an entry of their own in `path`'s ACL.
pub fn named_users(path: &Path) -> io::Result<Vec<u32>> {
    let acl = exacl::getfacl(path, Some(exacl::AclOption::ACCESS_ACL))?;
    Ok(acl
        .iter()
        .filter(|e| e.kind == exacl::AclEntryKind::User && e.allow)
        .filter_map(|e| e.name.parse().ok())
        .collect())
}

/// Gives each of `uids` exactly `perms` on `path` (a folder or a file, never
/// a link), keeping every other entry; the mask is widened to what the
/// named entries and the owning group hold, no further.
pub fn grant(path: &Path, uids: &[u32], perms: exacl::Perm) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a link: no access is granted through it",
                path.display()
            ),
        ));
    }
    let mut acl = exacl::getfacl(path, Some(exacl::AclOption::ACCESS_ACL))?;
    let names: Vec<String> = uids.iter().map(u32::to_string).collect();
    acl.retain(|e| {
        !(e.kind == exacl::AclEntryKind::Mask
            || (e.kind == exacl::AclEntryKind::User && names.contains(&e.name)))
    });
    for name in &names {
        acl.push(exacl::AclEntry::allow_user(name, perms, None));
    }
    let mask = acl
        .iter()
        .filter(|e| {
            e.kind == exacl::AclEntryKind::Group
                || (e.kind == exacl::AclEntryKind::User && !e.name.is_empty())
        })
        .fold(exacl::Perm::empty(), |m, e| m | e.perms);
    acl.push(exacl::AclEntry::allow_mask(mask, None));
    exacl::setfacl(&[path], &acl, Some(exacl::AclOption::ACCESS_ACL))
}

/// The folder, in a profile's socket folder, holding its X11 socket.
const X11: &str = "X11";

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn missing_folders_are_made_with_the_mode_asked() {
        let base = tempfile::tempdir().expect("tempdir");
        ensure_dir(base.path(), Path::new("zion/work/X11"), 0o700).expect("made");
        for dir in ["zion", "zion/work", "zion/work/X11"] {
            let meta = std::fs::metadata(base.path().join(dir)).expect("there");
            assert!(meta.is_dir());
            assert_eq!(meta.permissions().mode() & 0o7777, 0o700, "{dir}");
        }
    }

    #[test]
    fn a_link_where_a_folder_belongs_is_replaced_not_followed() {
        let base = tempfile::tempdir().expect("tempdir");
        let victim = base.path().join("victim");
        std::fs::create_dir(&victim).expect("victim");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).expect("mode");
        std::fs::create_dir_all(base.path().join("zion/work")).expect("work");
        std::os::unix::fs::symlink(&victim, base.path().join("zion/work/X11")).expect("link");
        ensure_dir(base.path(), Path::new("zion/work/X11"), 0o700).expect("made");
        let x11 = std::fs::symlink_metadata(base.path().join("zion/work/X11")).expect("X11");
        assert!(x11.is_dir(), "still a link");
        let mode = std::fs::metadata(&victim)
            .expect("victim")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "the link's target was chmodded");
    }

    #[test]
    fn a_file_where_a_folder_belongs_is_an_error() {
        let base = tempfile::tempdir().expect("tempdir");
        std::fs::write(base.path().join("zion"), "x").expect("file");
        assert!(ensure_dir(base.path(), Path::new("zion/work"), 0o700).is_err());
        assert!(ensure_dir(base.path(), Path::new("../up"), 0o700).is_err());
    }

    #[test]
    fn granted_ids_reach_the_sockets_and_nothing_else() {
        use std::os::unix::net::UnixListener;
        let base = tempfile::tempdir().expect("tempdir");
        let dir = ensure_dir(base.path(), Path::new("zion/work"), 0o700).expect("dir");
        drop(dir);
        let work = base.path().join("zion/work");
        ensure_dir(base.path(), Path::new("zion/work/X11"), 0o700).expect("X11");
        let _wayland = UnixListener::bind(work.join("wayland-0")).expect("bind");
        std::fs::write(work.join("wayland-0.lock"), "").expect("lock");
        grant_sockets(&work, &[0x7000_0000]).expect("granted");
        assert_eq!(named_users(&work).expect("acl"), [0x7000_0000]);
        assert_eq!(
            named_users(&work.join("wayland-0")).expect("acl"),
            [0x7000_0000]
        );
        assert_eq!(named_users(&work.join("X11")).expect("acl"), [0x7000_0000]);
        assert!(named_users(&work.join("wayland-0.lock"))
            .expect("acl")
            .is_empty());
        // A socket made later (a restarted compositor) is shared alike.
        let _x0 = UnixListener::bind(work.join("X11/X0")).expect("bind X0");
        share_sockets(&work).expect("shared");
        assert_eq!(
            named_users(&work.join("X11/X0")).expect("acl"),
            [0x7000_0000]
        );
        // The owning group gains nothing: the folder stays 0700 to it.
        let acl = exacl::getfacl(&work, None).expect("acl");
        let group = acl
            .iter()
            .find(|e| e.kind == exacl::AclEntryKind::Group && e.name.is_empty())
            .expect("group entry");
        assert!(group.perms.is_empty(), "{acl:?}");
    }

    #[test]
    fn a_link_planted_as_a_lock_file_is_removed_and_its_target_kept() {
        let base = tempfile::tempdir().expect("tempdir");
        let victim = base.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        std::os::unix::fs::symlink(&victim, base.path().join("wayland-0.lock")).expect("link");
        std::fs::write(base.path().join("wayland-0"), "").expect("plain file");
        remove_links_in(base.path(), &["wayland-0.lock", "wayland-0", "absent"]).expect("removed");
        assert!(!base.path().join("wayland-0.lock").exists());
        assert!(base.path().join("wayland-0").exists(), "a plain file stays");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
    }
}
