//! The way back out of storage (issue 17, recall): a released copy looked at
//! where it was released, and taken back only while it still is the content
//! that was released. Nothing here follows a symbolic link: the destination
//! folder is opened beneath the storage root one component at a time, and
//! the copy with `O_NOFOLLOW`.
//!
//! Taking a copy back renames it to a hidden name first (atomic: whatever is
//! under the name at that moment is what is examined), checks that what was
//! renamed is a regular file with the released SHA-256, and only then
//! unlinks it; anything else is renamed back where it was and left alone.

use std::fs::File;
use std::path::PathBuf;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::beneath;
use crate::error::StorageError;
use crate::layout::{Destination, Layout};
use crate::name::SafeName;
use crate::place;

/// Prefix of the hidden name a copy has while it is being taken back.
pub const RECALL_PREFIX: &str = ".zion-recall-";

/// What is found under a released copy's name.
#[derive(Debug)]
pub enum Found {
    /// A regular file, opened (not yet hashed).
    File(File),
    /// A symbolic link: never followed.
    Symlink,
    /// Something else (a folder, a pipe, a device).
    NotAFile,
    /// Nothing (or the destination folder itself is gone).
    Missing,
}

/// What taking a copy back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeBack {
    /// It had the released content and is gone from the destination.
    Removed,
    /// What is there is not the released content; it was left where it was
    /// (or, if its name was taken meanwhile, beside it under `left_at`).
    Kept {
        /// Why it was not taken.
        reason: String,
        /// Where it is now.
        left_at: PathBuf,
    },
    /// Nothing is there any more.
    Missing,
}

/// Checks that `name` is what a release could have created: one plain,
/// visible path segment.
fn released_name(dest_dir: &std::path::Path, name: &str) -> Result<SafeName, StorageError> {
    SafeName::parse(name).ok_or_else(|| StorageError::SourceNotRegular {
        path: dest_dir.join(name),
    })
}

/// Opens a destination folder beneath the storage root, following no link.
/// `None` when it is not there.
fn open_dir(layout: &Layout, dest: &Destination) -> Result<Option<OwnedFd>, StorageError> {
    dest.validate()?;
    let root = match beneath::open_root(layout.root()) {
        Ok(root) => root,
        Err(StorageError::DestinationMissing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    match beneath::open_dir(layout.root(), &root, &dest.components(), None) {
        Ok(dir) => Ok(Some(dir)),
        Err(StorageError::DestinationMissing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `name` in `dir` without following a link, saying what it is.
fn open_entry(dir: &OwnedFd, name: &str, path: &std::path::Path) -> Result<Found, StorageError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => return Ok(Found::Symlink),
        Err(Errno::NOENT) => return Ok(Found::Missing),
        Err(e) => {
            return Err(StorageError::io(
                "opening the released copy",
                path,
                e.into(),
            ))
        }
    };
    let st = rustix::fs::fstat(&fd)
        .map_err(|e| StorageError::io("inspecting the released copy", path, e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Ok(Found::NotAFile);
    }
    Ok(Found::File(File::from(fd)))
}

/// Opens the copy released as `name` into `dest`, for reading.
pub fn open_copy(layout: &Layout, dest: &Destination, name: &str) -> Result<Found, StorageError> {
    let dir_path = layout.destination_dir(dest);
    released_name(&dir_path, name)?;
    let Some(dir) = open_dir(layout, dest)? else {
        return Ok(Found::Missing);
    };
    open_entry(&dir, name, &dir_path.join(name))
}

/// The SHA-256 of a whole open file.
pub fn sha256_of(file: &File) -> std::io::Result<[u8; 32]> {
    place::sha256_of(file)
}

/// Takes the copy released as `name` into `dest` out of storage if it still
/// has the SHA-256 `sha256`. `tag` names the hidden name it has meanwhile
/// (`.zion-recall-<tag>`); a hidden copy left by an interrupted take-back
/// with the same tag is finished first.
pub fn take_back(
    layout: &Layout,
    dest: &Destination,
    name: &str,
    sha256: &[u8; 32],
    tag: &str,
) -> Result<TakeBack, StorageError> {
    let dir_path = layout.destination_dir(dest);
    let safe = released_name(&dir_path, name)?;
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(StorageError::InvalidDestination {
            input: tag.to_owned(),
            reason: "a recall tag is letters, digits and '-'".into(),
        });
    }
    let Some(dir) = open_dir(layout, dest)? else {
        return Ok(TakeBack::Missing);
    };
    let hidden = format!("{RECALL_PREFIX}{tag}");
    let hidden_path = dir_path.join(&hidden);
    // An interrupted take-back left the copy under the hidden name.
    let resumed = match rustix::fs::statat(&dir, hidden.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => true,
        Err(Errno::NOENT) => false,
        Err(e) => return Err(StorageError::io("inspecting", &hidden_path, e.into())),
    };
    if !resumed {
        match rustix::fs::renameat_with(&dir, name, &dir, hidden.as_str(), RenameFlags::NOREPLACE) {
            Ok(()) => {}
            Err(Errno::NOENT) => return Ok(TakeBack::Missing),
            Err(e) => {
                return Err(StorageError::io(
                    "setting aside the released copy",
                    dir_path.join(name),
                    e.into(),
                ))
            }
        }
    }
    let give_back = |reason: String| -> Result<TakeBack, StorageError> {
        let left_at = put_back(&dir, &dir_path, &hidden, &safe)?;
        Ok(TakeBack::Kept { reason, left_at })
    };
    let file = match open_entry(&dir, &hidden, &hidden_path)? {
        Found::File(file) => file,
        Found::Symlink => return give_back("it was replaced by a symbolic link".into()),
        Found::NotAFile => return give_back("it was replaced by something not a file".into()),
        Found::Missing => return Ok(TakeBack::Missing),
    };
    let actual = sha256_of(&file)
        .map_err(|e| StorageError::io("reading the released copy", &hidden_path, e))?;
    if &actual != sha256 {
        return give_back(format!(
            "its content changed since it was released (SHA-256 now {})",
            hex::encode(actual)
        ));
    }
    // Still the very file that was hashed under the hidden name?
    let ours = rustix::fs::fstat(&file)
        .map_err(|e| StorageError::io("inspecting", &hidden_path, e.into()))?;
    match rustix::fs::statat(&dir, hidden.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now) if now.st_dev == ours.st_dev && now.st_ino == ours.st_ino => {}
        Ok(_) => return give_back("it was replaced while it was being checked".into()),
        Err(Errno::NOENT) => return Ok(TakeBack::Missing),
        Err(e) => return Err(StorageError::io("inspecting", &hidden_path, e.into())),
    }
    rustix::fs::unlinkat(&dir, hidden.as_str(), AtFlags::empty())
        .map_err(|e| StorageError::io("removing the released copy", &hidden_path, e.into()))?;
    place::sync_dir(&dir, &dir_path)?;
    Ok(TakeBack::Removed)
}

/// Renames the hidden entry back to `name`, or to the first free numbered
/// variant when the name was taken meanwhile; where it is now.
fn put_back(
    dir: &OwnedFd,
    dir_path: &std::path::Path,
    hidden: &str,
    name: &SafeName,
) -> Result<PathBuf, StorageError> {
    for n in 0..=place::MAX_COLLISIONS {
        let candidate = if n == 0 {
            name.clone()
        } else {
            name.numbered(n)
        };
        match rustix::fs::renameat_with(
            dir,
            hidden,
            dir,
            candidate.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                place::sync_dir(dir, dir_path)?;
                return Ok(dir_path.join(candidate.as_str()));
            }
            Err(Errno::EXIST) => continue,
            Err(e) => {
                return Err(StorageError::io(
                    "putting back the copy",
                    dir_path.join(hidden),
                    e.into(),
                ))
            }
        }
    }
    Err(StorageError::TooManyCollisions {
        dir: dir_path.to_owned(),
        name: name.to_string(),
        max: place::MAX_COLLISIONS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path().join("zion"));
        layout.create(&["work"]).expect("layout");
        (dir, layout)
    }

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn the_released_content_is_taken_and_nothing_else() {
        let (_dir, layout) = layout();
        let shared = layout.shared();
        std::fs::write(shared.join("a.txt"), b"released").expect("write");
        std::fs::write(shared.join("b.txt"), b"edited since").expect("write");

        let a = take_back(
            &layout,
            &Destination::Shared,
            "a.txt",
            &sha(b"released"),
            "1",
        );
        let b = take_back(
            &layout,
            &Destination::Shared,
            "b.txt",
            &sha(b"released"),
            "2",
        );

        assert_eq!(a.expect("a"), TakeBack::Removed);
        match b.expect("b") {
            TakeBack::Kept { reason, left_at } => {
                assert!(reason.contains("changed"), "{reason}");
                assert_eq!(left_at, shared.join("b.txt"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!shared.join("a.txt").exists());
        assert_eq!(
            std::fs::read(shared.join("b.txt")).expect("kept"),
            b"edited since"
        );
        let missing = take_back(&layout, &Destination::Shared, "a.txt", &sha(b"x"), "3");
        assert_eq!(missing.expect("missing"), TakeBack::Missing);
    }

    #[test]
    fn a_symlink_in_place_of_the_copy_is_neither_followed_nor_taken() {
        let (dir, layout) = layout();
        let home = layout.profile_home("work");
        let target = dir.path().join("secret");
        std::fs::write(&target, b"released").expect("write");
        std::os::unix::fs::symlink(&target, home.join("a.txt")).expect("symlink");

        let found = open_copy(
            &layout,
            &Destination::Profile {
                name: "work".into(),
            },
            "a.txt",
        );
        assert!(matches!(found, Ok(Found::Symlink)), "{found:?}");
        let taken = take_back(
            &layout,
            &Destination::Profile {
                name: "work".into(),
            },
            "a.txt",
            &sha(b"released"),
            "1",
        )
        .expect("take back");

        assert!(
            matches!(&taken, TakeBack::Kept { reason, .. } if reason.contains("symbolic link")),
            "{taken:?}"
        );
        assert_eq!(std::fs::read(&target).expect("target"), b"released");
        let link = std::fs::symlink_metadata(home.join("a.txt")).expect("still there");
        assert!(link.file_type().is_symlink());
    }

    #[test]
    fn an_interrupted_take_back_is_finished_and_a_taken_name_gets_a_variant() {
        let (_dir, layout) = layout();
        let shared = layout.shared();
        // A crash after the copy was set aside: finished on the next try.
        std::fs::write(shared.join(".zion-recall-7"), b"released").expect("write");
        let done = take_back(
            &layout,
            &Destination::Shared,
            "a.txt",
            &sha(b"released"),
            "7",
        );
        assert_eq!(done.expect("resume"), TakeBack::Removed);
        assert!(!shared.join(".zion-recall-7").exists());

        // Set aside, then found changed while the name was reused: put beside it.
        std::fs::write(shared.join(".zion-recall-8"), b"other").expect("write");
        std::fs::write(shared.join("a.txt"), b"new file").expect("write");
        let kept = take_back(
            &layout,
            &Destination::Shared,
            "a.txt",
            &sha(b"released"),
            "8",
        );
        match kept.expect("kept") {
            TakeBack::Kept { left_at, .. } => assert_eq!(left_at, shared.join("a (1).txt")),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(shared.join("a.txt")).expect("a"), b"new file");
        assert_eq!(
            std::fs::read(shared.join("a (1).txt")).expect("a1"),
            b"other"
        );
    }

    #[test]
    fn names_no_release_could_make_are_refused() {
        let (_dir, layout) = layout();
        for name in ["../x", ".hidden", "a/b", ""] {
            assert!(
                take_back(&layout, &Destination::Shared, name, &[0; 32], "1").is_err(),
                "{name:?}"
            );
        }
        assert!(take_back(&layout, &Destination::Shared, "a", &[0; 32], "../1").is_err());
    }
}
