//! Taking a file from the inbox into the store, so that at every instant it
//! is in exactly one of the two: journal `ingesting`, copy while hashing,
//! fsync, check the source did not change, rename to `objects/<sha256>`,
//! journal `stored`, then remove the inbox file.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::item::{Item, Source};
use crate::journal::{InboxIdentity, NewItem};
use crate::store::{lock, open_dir, sync_dir, Store, StoreEvent};

/// Prefix of the copies being made in `objects/` (removed by recovery).
pub(crate) const TEMP_PREFIX: &str = ".ingest-";

const CHUNK: usize = 1 << 20;

/// What became of a file offered to [`Store::ingest`].
#[derive(Debug)]
pub enum IngestOutcome {
    /// It is in the store; the inbox file is gone.
    Stored(Box<Item>),
    /// It is not a file the quarantine takes; it was left where it is.
    Refused(Refusal),
    /// It changed while being copied (still being written): try again later.
    Changing {
        /// The inbox file.
        path: PathBuf,
    },
    /// It is no longer there (removed or renamed): nothing to do.
    Gone {
        /// The inbox path it had.
        path: PathBuf,
    },
}

/// A file refused at the inbox, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The inbox entry.
    pub path: PathBuf,
    /// Why it was refused.
    pub reason: RefuseReason,
}

/// Why an inbox entry is not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefuseReason {
    /// A symbolic link (never followed), with its target if readable.
    Symlink {
        /// What it points to.
        target: Option<PathBuf>,
    },
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character or block device node.
    Device,
    /// A folder (only files directly in the inbox folder are taken).
    Directory,
    /// A regular file with more than one name (it could be someone else's file).
    HardLink {
        /// Its link count.
        links: u64,
    },
}

impl fmt::Display for RefuseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefuseReason::Symlink { target: Some(t) } => {
                write!(f, "it is a symbolic link (to {}), and links are never followed", t.display())
            }
            RefuseReason::Symlink { target: None } => {
                f.write_str("it is a symbolic link, and links are never followed")
            }
            RefuseReason::Fifo => f.write_str("it is a named pipe (FIFO), not a file"),
            RefuseReason::Socket => f.write_str("it is a socket, not a file"),
            RefuseReason::Device => f.write_str("it is a device node, not a file"),
            RefuseReason::Directory => {
                f.write_str("it is a folder; put files directly in the inbox folder")
            }
            RefuseReason::HardLink { links } => write!(
                f,
                "it is a hard link ({links} names share its data), which could expose a file that is not the sender's"
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused {}: {}; the quarantine takes only regular files and left it where it is",
            self.path.display(),
            self.reason
        )
    }
}

fn refuse_kind(ft: FileType) -> Option<RefuseReason> {
    match ft {
        FileType::RegularFile => None,
        FileType::Symlink => Some(RefuseReason::Symlink { target: None }),
        FileType::Fifo => Some(RefuseReason::Fifo),
        FileType::Socket => Some(RefuseReason::Socket),
        FileType::CharacterDevice | FileType::BlockDevice => Some(RefuseReason::Device),
        FileType::Directory | FileType::Unknown => Some(RefuseReason::Directory),
    }
}

/// What must stay the same between before and after the copy.
fn unchanged(a: &InboxIdentity, b: &InboxIdentity) -> bool {
    a == b
}

impl Store {
    /// Takes `inbox/<source>/<name>` into the store. Files that are not
    /// regular files with one name are refused and left where they are.
    pub fn ingest(&self, source: &str, name: &OsStr) -> Result<IngestOutcome, StoreError> {
        Source::check_name(source).map_err(|reason| StoreError::InvalidSource {
            name: source.to_owned(),
            reason,
        })?;
        let dir_path = self.paths.inbox.join(source);
        let path = dir_path.join(name);
        let gone = || Ok(IngestOutcome::Gone { path: path.clone() });
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
            return gone();
        }
        let src = {
            let journal = lock(&self.journal);
            journal.source(source)?.unwrap_or_else(|| Source {
                name: source.to_owned(),
                label: source.to_owned(),
                profile: None,
            })
        };
        let dir = match open_dir(&dir_path) {
            Ok(dir) => dir,
            Err(StoreError::Io { source, .. }) if source.raw_os_error() == Some(libc_enoent()) => {
                return gone()
            }
            Err(e) => return Err(e),
        };

        let before = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return gone(),
            Err(e) => return Err(StoreError::errno("inspecting", &path, e)),
        };
        if let Some(reason) = refuse_kind(FileType::from_raw_mode(before.st_mode)) {
            let reason = match reason {
                RefuseReason::Symlink { .. } => RefuseReason::Symlink {
                    target: rustix::fs::readlinkat(&dir, name, Vec::new())
                        .ok()
                        .map(|t| PathBuf::from(OsStr::from_bytes(t.as_bytes()))),
                },
                other => other,
            };
            return Ok(IngestOutcome::Refused(Refusal { path, reason }));
        }
        if before.st_nlink > 1 {
            return Ok(IngestOutcome::Refused(Refusal {
                path,
                reason: RefuseReason::HardLink {
                    links: before.st_nlink,
                },
            }));
        }
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return gone(),
            // Swapped for a link or a special file since the look: look again later.
            Err(Errno::LOOP) | Err(Errno::NXIO) => return Ok(IngestOutcome::Changing { path }),
            Err(e) => return Err(StoreError::errno("opening", &path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        if st.st_ino != before.st_ino
            || st.st_dev != before.st_dev
            || FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
        {
            return Ok(IngestOutcome::Changing { path });
        }
        if st.st_nlink > 1 {
            return Ok(IngestOutcome::Refused(Refusal {
                path,
                reason: RefuseReason::HardLink { links: st.st_nlink },
            }));
        }
        let first = InboxIdentity::of(&st);
        let already = lock(&self.journal).pending_with(&first)?;
        if let Some(existing) = already {
            // Stored before, but its inbox file could not be removed then.
            tracing::info!(
                "{} is item {existing} already; removing it from the inbox",
                path.display()
            );
            remove_inbox_file(&dir, &dir_path, name, &first)?;
            lock(&self.journal).clear_inbox(existing)?;
            return gone();
        }

        let safe_name = zion_storage::sanitize_name(name);
        let id = lock(&self.journal).insert_ingesting(&NewItem {
            original_name: name,
            safe_name: safe_name.as_str(),
            source: &src,
            size: first.size,
        })?;
        let temp = OsString::from(format!("{TEMP_PREFIX}{id}"));
        let rollback = |why: &str| -> Result<(), StoreError> {
            tracing::debug!("ingest of {} rolled back: {why}", path.display());
            remove_temp(self, &temp)?;
            lock(&self.journal).delete_row(id)
        };

        let copied = match self.copy_in(&fd, &temp, first.size) {
            Ok(copied) => copied,
            Err(e) => {
                rollback("the copy failed")?;
                return Err(e);
            }
        };
        let Some((sha, size)) = copied else {
            rollback("the file grew during the copy")?;
            return Ok(IngestOutcome::Changing { path });
        };
        let after =
            rustix::fs::fstat(&fd).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        if after.st_nlink == 0 {
            rollback("the file was removed during the copy")?;
            return gone();
        }
        let last = InboxIdentity::of(&after);
        if !unchanged(&first, &last) || size != first.size {
            rollback("the file changed during the copy")?;
            return Ok(IngestOutcome::Changing { path });
        }
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if now.st_ino == after.st_ino && now.st_dev == after.st_dev => {}
            Ok(_) | Err(Errno::NOENT) => {
                rollback("the name was removed or replaced during the copy")?;
                return gone();
            }
            Err(e) => {
                rollback("the inbox could not be checked")?;
                return Err(StoreError::errno("inspecting", &path, e));
            }
        }

        // The object and the `stored` row together, under the objects lock.
        {
            let _objects = lock(&self.objects_lock);
            let object = hex::encode(sha);
            match rustix::fs::renameat_with(
                &self.objects_dir,
                temp.as_os_str(),
                &self.objects_dir,
                object.as_str(),
                RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {}
                // The same bytes are already stored: share that object.
                Err(Errno::EXIST) => remove_temp(self, &temp)?,
                Err(e) => {
                    rollback("the object could not be put in place")?;
                    return Err(StoreError::errno(
                        "storing the object",
                        self.paths.objects.join(&object),
                        e,
                    ));
                }
            }
            sync_dir(&self.objects_dir, &self.paths.objects)?;
            lock(&self.journal).mark_stored(id, &sha, size, &last)?;
        }

        // Now, and only now, the inbox file may go. If that fails, the
        // journal still knows the file (recovery and the next offer remove it).
        if let Err(e) = remove_inbox_file(&dir, &dir_path, name, &last) {
            tracing::warn!("item {id} is stored but its inbox file stays for now: {e}");
        }
        let item = self.get(id)?;
        tracing::info!(
            item = %id,
            source = %src.label,
            sha256 = %hex::encode(sha),
            size,
            "ingested {}",
            path.display()
        );
        self.emit(StoreEvent::ItemAdded(item.clone()));
        Ok(IngestOutcome::Stored(Box::new(item)))
    }

    /// Copies `fd` into `objects/<temp>` while hashing, and fsyncs it.
    /// `None` when there was more than `expected` to read (still growing).
    fn copy_in(
        &self,
        fd: &OwnedFd,
        temp: &OsStr,
        expected: u64,
    ) -> Result<Option<([u8; 32], u64)>, StoreError> {
        let temp_path = self.paths.objects.join(temp);
        let out = rustix::fs::openat(
            &self.objects_dir,
            temp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| StoreError::errno("creating", &temp_path, e))?;
        let mut out = File::from(out);
        let dup = rustix::io::dup(fd).map_err(|e| StoreError::errno("reading", &temp_path, e))?;
        let mut input = File::from(dup);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total: u64 = 0;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::io("reading the inbox file for", &temp_path, e)),
            };
            total += n as u64;
            if total > expected {
                return Ok(None);
            }
            let chunk = &buf[..n];
            hasher.update(chunk);
            out.write_all(chunk)
                .map_err(|e| StoreError::io("writing", &temp_path, e))?;
        }
        out.sync_all()
            .map_err(|e| StoreError::io("syncing", &temp_path, e))?;
        Ok(Some((hasher.finalize().into(), total)))
    }
}

fn libc_enoent() -> i32 {
    Errno::NOENT.raw_os_error()
}

fn remove_temp(store: &Store, temp: &OsStr) -> Result<(), StoreError> {
    match rustix::fs::unlinkat(&store.objects_dir, temp, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(StoreError::errno(
            "removing the partial copy",
            store.paths.objects.join(temp),
            e,
        )),
    }
}

/// Removes the inbox entry `name` if it is still the file that was stored
/// (same device, inode, size and times); anything else there is left alone.
pub(crate) fn remove_inbox_file(
    dir: &OwnedFd,
    dir_path: &std::path::Path,
    name: &OsStr,
    identity: &InboxIdentity,
) -> Result<bool, StoreError> {
    let path = dir_path.join(name);
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if InboxIdentity::of(&st) == *identity => {}
        Ok(_) | Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(StoreError::errno("inspecting", &path, e)),
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => {}
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => {
            return Err(StoreError::errno(
                "removing the ingested inbox file",
                &path,
                e,
            ))
        }
    }
    sync_dir(dir, dir_path)?;
    Ok(true)
}
