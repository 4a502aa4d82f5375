//! Putting one file into a destination directory without ever overwriting or
//! exposing a partial file: rename with `RENAME_NOREPLACE`, or an anonymous
//! copy that is verified and then linked into place.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FallocateFlags, FileType, Mode, OFlags, RenameFlags, CWD};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::error::StorageError;
use crate::name::SafeName;

/// How many collision names (`name (1).ext` …) are tried before giving up.
pub(crate) const MAX_COLLISIONS: u32 = 9999;

/// Mode of every released file: readable, never executable.
pub(crate) const RELEASED_MODE: u32 = 0o644;

/// Prefix of the hidden temporary names used where `O_TMPFILE` is unsupported.
pub(crate) const PARTIAL_PREFIX: &str = ".zion-partial-";

/// The object being released, opened once and kept open.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) dir: OwnedFd,
    pub(crate) name: PathBuf,
    pub(crate) file: File,
    pub(crate) size: u64,
}

impl Source {
    /// Opens a regular file without following a symlink in its last component.
    pub(crate) fn open(path: &Path) -> Result<Source, StorageError> {
        let name = path
            .file_name()
            .ok_or_else(|| StorageError::SourceNotRegular {
                path: path.to_owned(),
            })?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = rustix::fs::open(
            parent,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            StorageError::io(
                "opening the directory of the release source",
                parent,
                e.into(),
            )
        })?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(|e| match e {
            Errno::LOOP => StorageError::SourceNotRegular {
                path: path.to_owned(),
            },
            e => StorageError::io("opening the release source", path, e.into()),
        })?;
        let st = rustix::fs::fstat(&fd)
            .map_err(|e| StorageError::io("inspecting the release source", path, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(StorageError::SourceNotRegular {
                path: path.to_owned(),
            });
        }
        Ok(Source {
            path: path.to_owned(),
            dir,
            name: PathBuf::from(name),
            file: File::from(fd),
            size: st.st_size as u64,
        })
    }

    /// Checks the bytes hash to `expected`.
    pub(crate) fn verify(&self, expected: &[u8; 32]) -> Result<(), StorageError> {
        let actual = sha256_of(&self.file)
            .map_err(|e| StorageError::io("reading the release source", &self.path, e))?;
        check_hash(&self.path, expected, &actual)
    }

    /// Removes the source's name, unless it no longer names the file we copied.
    pub(crate) fn remove(&self) -> Result<(), StorageError> {
        let ours = rustix::fs::fstat(&self.file)
            .map_err(|e| StorageError::io("inspecting the release source", &self.path, e.into()))?;
        match rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if now.st_dev == ours.st_dev && now.st_ino == ours.st_ino => {}
            Ok(_) => {
                tracing::warn!(
                    "{} was replaced during the release; the new file is left alone",
                    self.path.display()
                );
                return Ok(());
            }
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => {
                return Err(StorageError::io(
                    "inspecting the release source",
                    &self.path,
                    e.into(),
                ))
            }
        }
        rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty())
            .map_err(|e| StorageError::io("removing the released source", &self.path, e.into()))?;
        sync_dir(&self.dir, self.path.parent().unwrap_or(Path::new(".")))
    }
}

/// Renames the source into `dir` under the first free collision name.
/// `Ok(None)` when a rename cannot do it (another filesystem, or no
/// `RENAME_NOREPLACE` there): copy instead.
pub(crate) fn rename_into(
    src: &Source,
    dir: &OwnedFd,
    dir_path: &Path,
    name: &SafeName,
    sync_dirs: bool,
) -> Result<Option<(PathBuf, SafeName)>, StorageError> {
    for n in 0..=MAX_COLLISIONS {
        let candidate = candidate(name, n);
        match rustix::fs::renameat_with(
            &src.dir,
            &src.name,
            dir,
            candidate.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                if sync_dirs {
                    sync_dir(dir, dir_path)?;
                    sync_dir(&src.dir, src.path.parent().unwrap_or(Path::new(".")))?;
                }
                let path = dir_path.join(candidate.as_str());
                rustix::fs::fchmod(&src.file, Mode::from_raw_mode(RELEASED_MODE))
                    .map_err(|e| StorageError::io("setting the mode of", &path, e.into()))?;
                return Ok(Some((path, candidate)));
            }
            Err(Errno::EXIST) => continue,
            Err(Errno::XDEV) | Err(Errno::INVAL) | Err(Errno::NOSYS) => return Ok(None),
            Err(e) => return Err(placing_error(e, dir_path, src.size)),
        }
    }
    Err(too_many(dir_path, name))
}

/// Whether to use `O_TMPFILE` or a hidden name for the copy in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staging {
    /// An anonymous file, invisible until linked.
    Anonymous,
    /// A hidden `.zion-partial-*` name, renamed into place.
    Hidden,
}

/// Copies the source into `dir`, fsyncs and verifies the copy against
/// `expected`, then links it under the first free collision name.
pub(crate) fn copy_into(
    src: &Source,
    dir: &OwnedFd,
    dir_path: &Path,
    name: &SafeName,
    expected: &[u8; 32],
    labels: &[(&str, &str)],
    staging: Staging,
) -> Result<(PathBuf, SafeName), StorageError> {
    let mut tmp = Staged::create(dir, dir_path, staging, src.size)?;
    fill(src, &tmp.file, dir_path)?;
    tmp.file
        .sync_all()
        .map_err(|e| placing_error(errno_of(&e), dir_path, src.size))?;
    let actual =
        sha256_of(&tmp.file).map_err(|e| StorageError::io("rereading the copy in", dir_path, e))?;
    check_hash(
        &dir_path.join(format!("(copy of {})", src.path.display())),
        expected,
        &actual,
    )?;
    rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(RELEASED_MODE))
        .map_err(|e| StorageError::io("setting the mode of the copy in", dir_path, e.into()))?;
    crate::label::apply(&tmp.file, labels, dir_path);
    for n in 0..=MAX_COLLISIONS {
        let candidate = candidate(name, n);
        match tmp.place(dir, candidate.as_str()) {
            Ok(()) => {
                sync_dir(dir, dir_path)?;
                return Ok((dir_path.join(candidate.as_str()), candidate));
            }
            Err(Errno::EXIST) => continue,
            Err(Errno::NOENT) | Err(Errno::PERM) if tmp.staging() == Staging::Anonymous => {
                // No /proc and no CAP_DAC_READ_SEARCH: the anonymous file
                // cannot be given a name. Start again with a hidden one.
                tracing::warn!(
                    "cannot link an O_TMPFILE copy here; copying under a hidden name instead"
                );
                drop(tmp);
                return copy_into(src, dir, dir_path, name, expected, labels, Staging::Hidden);
            }
            Err(e) => return Err(placing_error(e, dir_path, src.size)),
        }
    }
    Err(too_many(dir_path, name))
}

/// A copy in progress inside the destination directory.
struct Staged<'a> {
    file: File,
    dir: BorrowedFd<'a>,
    /// `None` for an anonymous (`O_TMPFILE`) file; the hidden name otherwise,
    /// until it has been renamed into place.
    hidden: Option<String>,
    placed: bool,
}

impl<'a> Staged<'a> {
    fn create(
        dir: &'a OwnedFd,
        dir_path: &Path,
        staging: Staging,
        size: u64,
    ) -> Result<Staged<'a>, StorageError> {
        let mode = Mode::from_raw_mode(RELEASED_MODE);
        let mut staged = None;
        if staging == Staging::Anonymous {
            match rustix::fs::openat(
                dir,
                ".",
                OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
                mode,
            ) {
                Ok(fd) => staged = Some(Staged::new(fd, dir, None)),
                Err(Errno::OPNOTSUPP) | Err(Errno::ISDIR) | Err(Errno::INVAL) => {
                    tracing::debug!(
                        "O_TMPFILE unsupported in {}; staging under a hidden name",
                        dir_path.display()
                    );
                }
                Err(e) => return Err(placing_error(e, dir_path, size)),
            }
        }
        let staged = match staged {
            Some(s) => s,
            None => {
                let hidden = hidden_name();
                let flags = OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::RDWR
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(dir, hidden.as_str(), flags, mode)
                    .map_err(|e| placing_error(e, dir_path, size))?;
                Staged::new(fd, dir, Some(hidden))
            }
        };
        // Reserve the space up front: a full disk fails here, before any copying.
        match rustix::fs::fallocate(&staged.file, FallocateFlags::KEEP_SIZE, 0, size) {
            Ok(()) | Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => {}
            Err(_) if size == 0 => {}
            // Dropping `staged` removes a hidden file; an anonymous one just vanishes.
            Err(e) => return Err(placing_error(e, dir_path, size)),
        }
        Ok(staged)
    }

    fn new(fd: OwnedFd, dir: &'a OwnedFd, hidden: Option<String>) -> Staged<'a> {
        Staged {
            file: File::from(fd),
            dir: dir.as_fd(),
            hidden,
            placed: false,
        }
    }

    fn staging(&self) -> Staging {
        if self.hidden.is_some() {
            Staging::Hidden
        } else {
            Staging::Anonymous
        }
    }

    /// Gives the copy its final name; never replaces an existing entry.
    fn place(&mut self, dir: &OwnedFd, final_name: &str) -> Result<(), Errno> {
        match &self.hidden {
            None => {
                let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                let linked = match rustix::fs::linkat(
                    CWD,
                    proc_path.as_str(),
                    dir,
                    final_name,
                    AtFlags::SYMLINK_FOLLOW,
                ) {
                    // Without /proc, AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH).
                    Err(Errno::NOENT) => {
                        rustix::fs::linkat(&self.file, "", dir, final_name, AtFlags::EMPTY_PATH)
                    }
                    other => other,
                };
                linked?;
            }
            Some(hidden) => {
                match rustix::fs::renameat_with(
                    dir,
                    hidden.as_str(),
                    dir,
                    final_name,
                    RenameFlags::NOREPLACE,
                ) {
                    Err(Errno::INVAL) | Err(Errno::NOSYS) => {
                        // No RENAME_NOREPLACE here: a hard link never replaces either.
                        rustix::fs::linkat(
                            dir,
                            hidden.as_str(),
                            dir,
                            final_name,
                            AtFlags::empty(),
                        )?;
                        rustix::fs::unlinkat(dir, hidden.as_str(), AtFlags::empty())?;
                    }
                    other => other?,
                }
            }
        }
        self.placed = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        // An anonymous file vanishes with its descriptor; a hidden one must be removed.
        if let (Some(hidden), false) = (&self.hidden, self.placed) {
            if let Err(e) = rustix::fs::unlinkat(self.dir, hidden.as_str(), AtFlags::empty()) {
                tracing::warn!("could not remove the partial copy {hidden}: {e:?}");
            }
        }
    }
}

/// Copies every byte of the source into `dest` (kernel-side where possible).
fn fill(src: &Source, dest: &File, dir_path: &Path) -> Result<(), StorageError> {
    let mut reader = &src.file;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| StorageError::io("reading the release source", &src.path, e))?;
    let mut writer = dest;
    io::copy(&mut reader, &mut writer)
        .map_err(|e| placing_error(errno_of(&e), dir_path, src.size))?;
    Ok(())
}

/// The SHA-256 of a whole open file, read from its start.
pub(crate) fn sha256_of(file: &File) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    // Sized to the file: a small file's check zeroes no 256 KiB buffer.
    let size = file.metadata()?.len();
    let mut buf = vec![0u8; usize::try_from(size).map_or(256 * 1024, |n| n.clamp(1, 256 * 1024))];
    let mut offset = 0u64;
    loop {
        let n = match file.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(hasher.finalize().into())
}

fn check_hash(path: &Path, expected: &[u8; 32], actual: &[u8; 32]) -> Result<(), StorageError> {
    if expected == actual {
        return Ok(());
    }
    Err(StorageError::HashMismatch {
        path: path.to_owned(),
        expected: hex::encode(expected),
        actual: hex::encode(actual),
    })
}

/// Syncs every filesystem holding one of `dirs`, once each (`syncfs`).
pub(crate) fn sync_filesystems(dirs: &[&Path]) -> Result<(), StorageError> {
    let mut done = Vec::new();
    for dir in dirs {
        let fd = rustix::fs::open(
            *dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StorageError::io("opening", dir, e.into()))?;
        let dev = rustix::fs::fstat(&fd)
            .map_err(|e| StorageError::io("inspecting", dir, e.into()))?
            .st_dev;
        if done.contains(&dev) {
            continue;
        }
        rustix::fs::syncfs(&fd)
            .map_err(|e| StorageError::io("syncing the filesystem of", dir, e.into()))?;
        done.push(dev);
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &OwnedFd, path: &Path) -> Result<(), StorageError> {
    rustix::fs::fsync(dir).map_err(|e| StorageError::io("syncing directory", path, e.into()))
}

fn candidate(name: &SafeName, n: u32) -> SafeName {
    if n == 0 {
        name.clone()
    } else {
        name.numbered(n)
    }
}

fn hidden_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{PARTIAL_PREFIX}{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error)
}

/// A failure while writing into the destination; a full disk gets its own error.
fn placing_error(e: Errno, dir_path: &Path, size: u64) -> StorageError {
    match e {
        Errno::NOSPC | Errno::DQUOT => StorageError::NoSpace {
            dir: dir_path.to_owned(),
            needed: size,
        },
        e => StorageError::io("writing into", dir_path, e.into()),
    }
}

fn too_many(dir_path: &Path, name: &SafeName) -> StorageError {
    StorageError::TooManyCollisions {
        dir: dir_path.to_owned(),
        name: name.to_string(),
        max: MAX_COLLISIONS,
    }
}
