//! Taking a file from the inbox into the store, so that at every instant it
//! is in exactly one of the two: journal `ingesting`, copy while hashing
//! (its writeback started once made), check the source did not change,
//! rename to `objects/<sha256>`, fdatasync, journal `stored`, then remove the
//! inbox file. With an [`crate::IngestScan`] the copy is scanned while it is synced
//! and committed, its verdict recorded after (see [`crate::early_scan`]).
//!
//! A profile can make a file that costs it nothing (`truncate -s 1T`): before
//! anything is copied, its size is held against its owner's quota and the
//! bytes the copy will really write against the disk's free-space reserve,
//! and the copy keeps holes holes (`SEEK_DATA`/`SEEK_HOLE`, and blocks of
//! zeros are never written), so the store pays what the sender paid.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::early_scan::{ScanJob, Scans};
use crate::error::StoreError;
use crate::item::{Item, ItemId, Source};
use crate::journal::{InboxIdentity, NewItem, Owner};
use crate::state::Event;
use crate::store::{lock, open_dir, step, sync_dir, Store, StoreEvent};
use crate::verdict::Verdict;

/// How much the quarantine takes in: per owner, and from the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Bytes (apparent size) the items of one profile — or of one inbox
    /// folder that belongs to none — may hold in the quarantine together.
    pub quota: u64,
    /// Free space on the store's filesystem that ingest never uses.
    pub reserve: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            quota: zion_config::quarantine::DEFAULT_QUOTA,
            reserve: zion_config::quarantine::DEFAULT_RESERVE,
        }
    }
}

/// Prefix of the copies being made in `objects/` (removed by recovery).
pub(crate) const TEMP_PREFIX: &str = ".ingest-";

const CHUNK: usize = 1 << 20;
/// From this many copies on, a batch is synced with one `syncfs` rather
/// than an `fdatasync` each (as a batch of releases is).
const SYNCFS_FROM: usize = 8;
/// The most one `copy_file_range` call is asked for.
const KERNEL_CHUNK: u64 = 16 << 20;

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
    /// Taking it would put its owner over the quota (it is tried again later).
    OverQuota {
        /// Its size (apparent: holes count).
        size: u64,
        /// What the owner holds already.
        held: u64,
        /// The quota.
        quota: u64,
        /// Whose quota: `profile work` or `inbox sb1`.
        owner: String,
    },
    /// Copying it would cut into the disk's free-space reserve (tried again later).
    LowSpace {
        /// Bytes the copy would write (its data, holes excluded).
        need: u64,
        /// Free bytes on the store's filesystem, less copies in progress.
        free: u64,
        /// The reserve.
        reserve: u64,
    },
}

impl RefuseReason {
    /// Whether the file may be taken later as it is (room may be made).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RefuseReason::OverQuota { .. } | RefuseReason::LowSpace { .. }
        )
    }
}

/// Bytes, said for a person: `1.5 GiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
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
            RefuseReason::OverQuota {
                size,
                held,
                quota,
                owner,
            } => write!(
                f,
                "it is {} and {owner} already holds {} in the quarantine, over its quota of {} \
                 (release or delete items, or raise `quota` under [quarantine] in zion.toml)",
                human(*size),
                human(*held),
                human(*quota)
            ),
            RefuseReason::LowSpace {
                need,
                free,
                reserve,
            } => write!(
                f,
                "copying it needs {} and only {} is free on the quarantine's disk, which keeps {} in reserve \
                 (free some space, or lower `reserve` under [quarantine] in zion.toml)",
                human(*need),
                human(*free),
                human(*reserve)
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let then = if self.reason.is_transient() {
            "it stays where it is and is taken once there is room"
        } else {
            "the quarantine takes only regular files and left it where it is"
        };
        write!(
            f,
            "refused {}: {}; {then}",
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

/// How long nothing has changed the file `st` describes.
fn quiet_for(st: &rustix::fs::Stat) -> Duration {
    quiet_since(st.st_ctime, i64::try_from(st.st_ctime_nsec).unwrap_or(-1))
}

/// How long ago a file's ctime (`secs`, `nanos`) was: how long nothing has
/// changed it (writes, renames, links and attributes all set the ctime, and
/// no program can set it back, as it can the mtime). Zero for a time that
/// is not one.
pub(crate) fn quiet_since(secs: i64, nanos: i64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    match (u64::try_from(secs), u32::try_from(nanos)) {
        (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => {
            now.saturating_sub(Duration::new(secs, nanos))
        }
        _ => Duration::ZERO,
    }
}

impl Store {
    /// Opens `inbox/<source>/<name>` and checks it, before anything of it is
    /// written anywhere. Files that are not regular files with one name are
    /// refused and left where they are. `batch` keeps what the next file of
    /// the batch needs too.
    fn open_checked(
        &self,
        source: &str,
        name: &OsStr,
        batch: &mut BatchContext,
    ) -> Result<Result<Opened, IngestOutcome>, StoreError> {
        Source::check_name(source).map_err(|reason| StoreError::InvalidSource {
            name: source.to_owned(),
            reason,
        })?;
        let dir_path = self.paths.inbox.join(source);
        let path = dir_path.join(name);
        let gone = || Ok(Err(IngestOutcome::Gone { path: path.clone() }));
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
            return gone();
        }
        if batch.source.is_none() {
            let known = lock(&self.journal).source(source)?;
            batch.source = Some(known.unwrap_or_else(|| Source {
                name: source.to_owned(),
                label: source.to_owned(),
                profile: None,
            }));
        }
        let dir = match &mut batch.dir {
            Some(dir) => dir.clone(),
            None => match open_dir(&dir_path) {
                Ok(opened) => batch.dir.insert(Arc::new(opened)).clone(),
                Err(StoreError::Io { source, .. })
                    if source.raw_os_error() == Some(libc_enoent()) =>
                {
                    return gone()
                }
                Err(e) => return Err(e),
            },
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
            return Ok(Err(IngestOutcome::Refused(Refusal { path, reason })));
        }
        if before.st_nlink > 1 {
            return Ok(Err(IngestOutcome::Refused(Refusal {
                path,
                reason: RefuseReason::HardLink {
                    links: before.st_nlink,
                },
            })));
        }
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return gone(),
            // Swapped for a link or a special file since the look: look again later.
            Err(Errno::LOOP) | Err(Errno::NXIO) => {
                return Ok(Err(IngestOutcome::Changing { path }))
            }
            Err(e) => return Err(StoreError::errno("opening", &path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        if st.st_ino != before.st_ino
            || st.st_dev != before.st_dev
            || FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
        {
            return Ok(Err(IngestOutcome::Changing { path }));
        }
        if st.st_nlink > 1 {
            return Ok(Err(IngestOutcome::Refused(Refusal {
                path,
                reason: RefuseReason::HardLink { links: st.st_nlink },
            })));
        }
        let first = InboxIdentity::of(&st);
        // What the sparse copy writes: the sender's allocated blocks at most.
        let need = u64::try_from(st.st_blocks)
            .unwrap_or(0)
            .saturating_mul(512)
            .min(first.size);
        Ok(Ok(Opened {
            name: name.to_owned(),
            path,
            fd,
            first,
            need,
        }))
    }

    /// Gives the opened files of one batch their `ingesting` rows, in one
    /// turn of the journal (one commit, not waited for: lost in a crash, a
    /// copy is a temporary file recovery removes, and the inbox file is
    /// still there; the `stored` commit that matters is durable, and carries
    /// these rows with it). A file stored before, whose inbox file could not
    /// be removed then, is removed now; a file its owner may not hold is
    /// refused. The quota counts the batch's files already let in, and
    /// nothing else writes rows during the turn, so it holds as exactly as
    /// one turn per file did.
    fn admit(
        &self,
        source: &str,
        src: &Source,
        dir: &Arc<OwnedFd>,
        opened: Vec<(usize, Opened)>,
        results: &mut [Result<IngestOutcome, StoreError>],
    ) -> Vec<(usize, Admitted)> {
        enum Decision {
            Known(ItemId),
            OverQuota { held: u64 },
            Admitted(ItemId),
        }
        let limits = *lock(&self.limits);
        let owner = match &src.profile {
            Some(profile) => Owner::Profile(profile),
            None => Owner::Inbox(source),
        };
        // What the host saw, taken for the files let in; given back if they
        // are not stored after all.
        let mut taken: Vec<(usize, crate::witness::Taken)> = Vec::new();
        let turn = lock(&self.journal).lazily(|j| {
            j.atomically(|j| {
                let mut held = j.bytes_held(&owner)?;
                let mut decisions = Vec::with_capacity(opened.len());
                for (n, o) in &opened {
                    if let Some(existing) = j.pending_with(&o.first)? {
                        decisions.push(Decision::Known(existing));
                        continue;
                    }
                    // Sizes first: nothing is copied that the owner may not hold.
                    if held.saturating_add(o.first.size) > limits.quota {
                        decisions.push(Decision::OverQuota { held });
                        continue;
                    }
                    let safe_name = zion_storage::sanitize_name(&o.name);
                    let id = j.insert_ingesting(&NewItem {
                        original_name: &o.name,
                        safe_name: safe_name.as_str(),
                        source: src,
                        size: o.first.size,
                    })?;
                    // Where it came from: what the host saw of this source's
                    // download under this name and size, else what the file
                    // says (read from the open file, bounded and sanitised;
                    // recorded as its claim).
                    let seen = self.host_origins.take(source, &o.name, o.first.size);
                    let origin = match &seen {
                        Some(seen) => Some(seen.origin()),
                        None => crate::origin::claimed_by_file(&o.fd),
                    };
                    taken.extend(seen.map(|seen| (*n, seen)));
                    if let Some(origin) = origin {
                        j.set_origin(id, &origin)?;
                    }
                    held = held.saturating_add(o.first.size);
                    decisions.push(Decision::Admitted(id));
                }
                Ok(decisions)
            })
        });
        let decisions = match turn {
            Ok(decisions) => decisions,
            Err(e) => {
                // Rolled back whole: every file stays in its inbox.
                self.host_origins
                    .put_back(taken.into_iter().map(|(_, seen)| seen));
                let text = e.to_string();
                for (n, o) in opened {
                    results[n] = Err(StoreError::Io {
                        op: "recording the ingest of",
                        path: o.path,
                        source: std::io::Error::other(text.clone()),
                    });
                }
                return Vec::new();
            }
        };
        let dir_path = self.paths.inbox.join(source);
        let mut admitted = Vec::with_capacity(opened.len());
        for ((n, o), decision) in opened.into_iter().zip(decisions) {
            match decision {
                Decision::Admitted(id) => {
                    let at = taken.iter().position(|(m, _)| *m == n);
                    let seen = at.map(|at| taken.swap_remove(at).1);
                    admitted.push((
                        n,
                        Admitted {
                            id,
                            opened: o,
                            seen,
                        },
                    ));
                }
                Decision::OverQuota { held } => {
                    results[n] = Ok(IngestOutcome::Refused(Refusal {
                        path: o.path,
                        reason: RefuseReason::OverQuota {
                            size: o.first.size,
                            held,
                            quota: limits.quota,
                            owner: match owner {
                                Owner::Profile(p) => format!("profile {p}"),
                                Owner::Inbox(i) => format!("inbox {i}"),
                            },
                        },
                    }));
                }
                Decision::Known(existing) => {
                    tracing::info!(
                        "{} is item {existing} already; removing it from the inbox",
                        o.path.display()
                    );
                    results[n] = remove_inbox_file(dir, &dir_path, &o.name, &o.first, true)
                        .and_then(|_| lock(&self.journal).clear_inbox(existing))
                        .map(|()| IngestOutcome::Gone { path: o.path });
                }
            }
        }
        admitted
    }

    /// Copies an admitted file into a temporary file of the store, hashing
    /// it, and checks that the inbox file did not change meanwhile; on any
    /// trouble its row is undone. `scans` (and the largest size they take)
    /// gets the copy as soon as it is made.
    fn copy_admitted(
        &self,
        source: &str,
        src: &Source,
        dir: &Arc<OwnedFd>,
        admitted: Admitted,
        scans: Option<(&Scans<'_>, u64)>,
        settle: Duration,
    ) -> Result<Prepared, StoreError> {
        macro_rules! outcome {
            ($e:expr) => {
                Ok(Prepared::Outcome($e))
            };
        }
        let Admitted {
            id,
            opened:
                Opened {
                    name,
                    path,
                    fd,
                    first,
                    need,
                    ..
                },
            seen,
        } = admitted;
        let dir_path = self.paths.inbox.join(source);
        let gone = || outcome!(IngestOutcome::Gone { path: path.clone() });
        let temp = OsString::from(format!("{TEMP_PREFIX}{id}"));
        let seen = std::cell::Cell::new(seen);
        let rollback = |why: &str| -> Result<(), StoreError> {
            tracing::debug!("ingest of {} rolled back: {why}", path.display());
            // Taken again later, the file still gets what the host saw.
            self.host_origins.put_back(seen.take());
            remove_temp(self, &temp)?;
            lock(&self.journal).lazily(|j| j.delete_row(id))
        };

        // Nothing is copied that the disk cannot spare.
        let reserve = lock(&self.limits).reserve;
        let _claim = match self.claim_space(need, reserve) {
            Ok(Ok(claim)) => claim,
            Ok(Err(free)) => {
                rollback("there is not room for its copy")?;
                return outcome!(IngestOutcome::Refused(Refusal {
                    path: path.clone(),
                    reason: RefuseReason::LowSpace {
                        need,
                        free,
                        reserve,
                    },
                }));
            }
            Err(e) => {
                rollback("the free space could not be measured")?;
                return Err(e);
            }
        };

        // A hole filled during the copy writes more than was claimed: slack
        // for filesystems that count blocks differently, then it is "changing".
        let budget = need.saturating_add((need / 16).max(CHUNK as u64));
        // Scanned from the moment the copy is made, while it is hashed and
        // checked and the batch's next files are copied. The verdict counts
        // only if this copy is stored (see `ingest_all`).
        let mut scan_it = |out: &OwnedFd| {
            let Some((scans, _)) = scans.filter(|(_, max)| first.size <= *max) else {
                return;
            };
            if let Some(file) = self.reopen_to_scan(id, &temp, out) {
                scans.push(ScanJob {
                    id,
                    source: src.label.clone(),
                    file,
                });
            }
        };
        // Written back while it is made when no scan at ingest will take
        // longer than its sync (see `IngestScan::faster_than_disk`).
        let write_back =
            scans.is_none_or(|(scans, max)| first.size > max || scans.faster_than_disk);
        let copied = match self.copy_in(&fd, &temp, first.size, budget, write_back, &mut scan_it) {
            Ok(copied) => copied,
            Err(e) => {
                rollback("the copy failed")?;
                return Err(e);
            }
        };
        let Some((sha, size, file)) = copied else {
            rollback("the file grew or filled its holes during the copy")?;
            return outcome!(IngestOutcome::Changing { path });
        };
        let mut after =
            rustix::fs::fstat(&fd).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        // Copied while it settled: the rest of its quiet time is waited
        // for here, then it is looked at again.
        let wait = settle.saturating_sub(quiet_for(&after));
        if !wait.is_zero() && unchanged(&first, &InboxIdentity::of(&after)) {
            std::thread::sleep(wait);
            after =
                rustix::fs::fstat(&fd).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        }
        if after.st_nlink == 0 {
            rollback("the file was removed during the copy")?;
            return gone();
        }
        let last = InboxIdentity::of(&after);
        if !unchanged(&first, &last) || size != first.size || quiet_for(&after) < settle {
            rollback("the file changed during the copy")?;
            return outcome!(IngestOutcome::Changing { path });
        }
        match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
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

        // Freeing a file's blocks takes a while (0.56 s for 1 GB on ext4
        // here; on a filesystem mounted with `discard`, even a small file's
        // unlink waits for the device): with this descriptor open, the
        // unlink only takes the name, and the blocks are freed when it is
        // closed, on a thread of its own.
        Ok(Prepared::Copied(Box::new(Copied {
            id,
            temp,
            file,
            inbox_file: Some(fd),
            sha,
            size,
            last,
            dir: dir.clone(),
            dir_path,
            name,
            path,
            label: src.label.clone(),
        })))
    }

    /// Takes the file `name` of the inbox folder `source` into the store
    /// (see the module's documentation for each step).
    pub fn ingest(&self, source: &str, name: &OsStr) -> Result<IngestOutcome, StoreError> {
        self.ingest_all(source, &[name.to_owned()])
            .pop()
            .unwrap_or_else(|| {
                Ok(IngestOutcome::Gone {
                    path: self.paths.inbox.join(source).join(name),
                })
            })
    }

    /// Takes many files of one inbox folder, each as [`Store::ingest`]
    /// takes one, with the journal's and the durable steps done once for all
    /// (group commit): their `ingesting` rows in one turn of the journal
    /// before anything is copied, the copies written back as they are made
    /// and synced before one folder sync, their `stored` rows in one commit,
    /// the inbox folder synced once after their removal. A file is reported stored only once
    /// all of that is durable. With an [`crate::IngestScan`] set, the copies are
    /// scanned meanwhile and stored with their verdicts (recorded after the
    /// `stored` commit). One result per name, in order.
    pub fn ingest_all(
        &self,
        source: &str,
        names: &[OsString],
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        self.ingest_all_settled(source, names, Duration::ZERO)
    }

    /// [`Store::ingest_all`] of files that must have settled: a file is
    /// stored only if nothing changed it (write, rename, link, attributes:
    /// its ctime) for `settle` by the end of its copy, and one that had not
    /// been still that long when it was opened is waited for the rest. So a
    /// large file can be copied while it settles, and be stored exactly as
    /// if it had been waited for first: the quiet time then ends after the
    /// copy, and covers it. A file changed meanwhile is
    /// [`IngestOutcome::Changing`], its copy discarded, the inbox untouched.
    pub fn ingest_all_settled(
        &self,
        source: &str,
        names: &[OsString],
        settle: Duration,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        let started = std::time::Instant::now();
        let mut results = Vec::with_capacity(names.len());
        let early = lock(&self.ingest_scan).clone();
        let mut copying = Default::default();
        // Every file opened and checked first, then let in with one turn of
        // the journal for all, then copied.
        let mut batch = BatchContext::default();
        let mut opened = Vec::new();
        for name in names {
            match self.open_checked(source, name, &mut batch) {
                Ok(Ok(file)) => {
                    opened.push((results.len(), file));
                    // Until the file's own outcome is known.
                    results.push(Ok(IngestOutcome::Gone {
                        path: PathBuf::new(),
                    }));
                }
                Ok(Err(outcome)) => results.push(Ok(outcome)),
                Err(e) => results.push(Err(e)),
            }
        }
        let (admitted, shared) = match (batch.source, batch.dir) {
            (Some(src), Some(dir)) if !opened.is_empty() => {
                let admitted = self.admit(source, &src, &dir, opened, &mut results);
                (admitted, Some((src, dir)))
            }
            _ => (Vec::new(), None),
        };
        let (stored, verdicts) = std::thread::scope(|scope| {
            // Each copy is scanned as soon as it is made, and the scans go
            // on while the batch is made durable.
            let scans = early
                .as_ref()
                .map(|how| (Scans::start(scope, how), how.max_size));
            let mut copied = Vec::new();
            if let Some((src, dir)) = &shared {
                for (n, file) in admitted {
                    let scans = scans.as_ref().map(|(s, max)| (s, *max));
                    match self.copy_admitted(source, src, dir, file, scans, settle) {
                        Ok(Prepared::Copied(c)) => copied.push((n, c)),
                        Ok(Prepared::Outcome(outcome)) => results[n] = Ok(outcome),
                        Err(e) => results[n] = Err(e),
                    }
                }
            }
            if copied.is_empty() {
                return (None, Vec::new());
            }
            copying = started.elapsed();
            let stored = self.store_copies(copied, &mut results);
            // No verdict is recorded before its `stored` row is durable.
            let verdicts = scans.map(|(s, _)| s.finish()).unwrap_or_default();
            (stored, verdicts)
        });
        let Some(mut stored) = stored else {
            return results;
        };
        let storing = started.elapsed() - copying;
        // Only items now durably `stored` get theirs (not one rolled back
        // after its scan began, nor one whose object could not be put in
        // place).
        let verdicts: Vec<(ItemId, Verdict)> = verdicts
            .into_iter()
            .filter(|(id, _)| stored.iter().any(|(_, c)| c.id == *id))
            .collect();

        // Now, and only now, the inbox files may go. If that fails, the
        // journal still knows the file (recovery and the next offer remove it).
        let sync_each = stored.len() <= 1;
        let mut removed = Vec::new();
        let mut to_close = Vec::new();
        for (_, c) in &mut stored {
            match remove_inbox_file(&c.dir, &c.dir_path, &c.name, &c.last, sync_each) {
                Ok(_) => removed.push(c.id),
                Err(e) => tracing::warn!(
                    "item {} is stored but its inbox file stays for now: {e}",
                    c.id
                ),
            }
            to_close.extend(c.inbox_file.take());
        }
        close_later(to_close);
        if !sync_each {
            if let Some((_, c)) = stored.first() {
                if let Err(e) = sync_dir(&c.dir, &c.dir_path) {
                    tracing::warn!("syncing {}: {e}", c.dir_path.display());
                }
            }
        }
        // Lost in a crash, it is found again: the inbox file is gone already.
        let cleared = lock(&self.journal).lazily(|j| {
            j.atomically(|j| {
                for id in &removed {
                    j.clear_inbox(*id)?;
                }
                Ok(())
            })
        });
        if let Err(e) = cleared {
            tracing::warn!("forgetting ingested inbox files: {e}");
        }
        // The verdicts, lazily as every verdict is: lost in a crash, the
        // item is `stored` and scanned again.
        if !verdicts.is_empty() {
            let recorded = lock(&self.journal).lazily(|j| {
                j.atomically(|j| {
                    for (id, verdict) in &verdicts {
                        step(j, *id, Event::ScanStarted, None, None)?;
                        let finished = Event::ScanFinished(verdict.clone());
                        step(j, *id, finished, Some(Some(verdict)), None)?;
                    }
                    Ok(())
                })
            });
            if let Err(e) = recorded {
                tracing::warn!("the scans made at ingest are not recorded (scanned again): {e}");
            }
        }
        tracing::debug!(
            "ingest of {} files ({} scanned): copied in {copying:.1?}, stored (and scanned) in {storing:.1?}, \
             inbox files removed and verdicts recorded in {:.1?}",
            stored.len(),
            verdicts.len(),
            started.elapsed() - copying - storing
        );
        let ids: Vec<ItemId> = stored.iter().map(|(_, c)| c.id).collect();
        for ((n, c), item) in stored.into_iter().zip(self.get_all(&ids)) {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    results[n] = Err(e);
                    continue;
                }
            };
            tracing::info!(
                item = %c.id,
                source = %c.label,
                sha256 = %hex::encode(c.sha),
                size = c.size,
                state = item.state.kind().as_str(),
                "ingested {}",
                c.path.display()
            );
            self.emit(StoreEvent::ItemAdded(item.clone()));
            results[n] = Ok(IngestOutcome::Stored(Box::new(item)));
        }
        results
    }

    /// A read-only descriptor of the copy `out` (named `temp`), to scan
    /// (the copy's own descriptor can write: no scanner gets that). A copy
    /// that cannot be opened again is scanned later by the pipeline.
    fn reopen_to_scan(&self, id: ItemId, temp: &OsStr, out: &OwnedFd) -> Option<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC;
        let same = |fd: &OwnedFd| {
            let (Ok(a), Ok(b)) = (rustix::fs::fstat(fd), rustix::fs::fstat(out)) else {
                return false;
            };
            a.st_ino == b.st_ino && a.st_dev == b.st_dev
        };
        match rustix::fs::openat(&self.objects_dir, temp, flags, Mode::empty()) {
            Ok(file) if same(&file) => Some(file),
            Ok(_) => {
                tracing::warn!("item {id}: its copy was replaced before its scan");
                None
            }
            Err(e) => {
                tracing::warn!("item {id}: its copy cannot be opened to scan: {e}");
                None
            }
        }
    }

    /// Puts the copies in place as objects, syncs them and commits their
    /// `stored` rows together, under the objects lock; `None` when that
    /// commit failed (then every row is undone, and `results` says why).
    fn store_copies(
        &self,
        copied: Vec<(usize, Box<Copied>)>,
        results: &mut [Result<IngestOutcome, StoreError>],
    ) -> Option<Vec<(usize, Box<Copied>)>> {
        let _objects = lock(&self.objects_lock);
        let started = std::time::Instant::now();
        let mut placed = Vec::with_capacity(copied.len());
        for (n, c) in copied {
            match self.place_object(&c) {
                Ok(()) => placed.push((n, c)),
                Err(e) => results[n] = Err(e),
            }
        }
        let synced = self.sync_copies(&placed);
        let syncing = started.elapsed();
        let committed = synced.and_then(|()| {
            lock(&self.journal).atomically(|j| {
                for (_, c) in &placed {
                    j.mark_stored(c.id, &c.sha, c.size, &c.last)?;
                }
                Ok(())
            })
        });
        tracing::debug!(
            "{} copies synced in {syncing:.1?}, committed in {:.1?}",
            placed.len(),
            started.elapsed() - syncing
        );
        let Err(e) = committed else {
            return Some(placed);
        };
        // Rows still `ingesting`, inbox files untouched: undo them
        // (recovery does the same after a crash).
        let text = e.to_string();
        for (n, c) in placed {
            if let Err(undo) = lock(&self.journal).delete_row(c.id) {
                tracing::warn!("quarantine item {}: {undo}", c.id);
            }
            results[n] = Err(StoreError::Io {
                op: "recording the ingest of",
                path: c.path.clone(),
                source: std::io::Error::other(text.clone()),
            });
        }
        if let Err(e) = self.remove_orphan_objects() {
            tracing::warn!("after a failed ingest: {e}");
        }
        None
    }

    /// Makes `placed` copies and their names durable. Each copy's writeback
    /// was started as it was made. A few are synced one by one; a batch
    /// with one `syncfs` of the store's filesystem, since every `fdatasync`
    /// of a new file commits and flushes the disk's cache on its own (see
    /// [`SYNCFS_FROM`]).
    fn sync_copies(&self, placed: &[(usize, Box<Copied>)]) -> Result<(), StoreError> {
        if placed.len() >= SYNCFS_FROM {
            return rustix::fs::syncfs(&self.objects_dir).map_err(|e| {
                StoreError::errno("syncing the filesystem of", &self.paths.objects, e)
            });
        }
        for (_, c) in placed {
            rustix::fs::fdatasync(&c.file).map_err(|e| StoreError::errno("syncing", &c.path, e))?;
        }
        sync_dir(&self.objects_dir, &self.paths.objects)
    }

    /// Renames a copy to its object name (or drops it when that object is
    /// already there: the same bytes are shared). Objects lock held.
    fn place_object(&self, c: &Copied) -> Result<(), StoreError> {
        let object = hex::encode(c.sha);
        match rustix::fs::renameat_with(
            &self.objects_dir,
            c.temp.as_os_str(),
            &self.objects_dir,
            object.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => Ok(()),
            Err(Errno::EXIST) => remove_temp(self, &c.temp),
            Err(e) => {
                tracing::debug!(
                    "ingest of {} rolled back: the object could not be put in place",
                    c.path.display()
                );
                remove_temp(self, &c.temp)?;
                lock(&self.journal).delete_row(c.id)?;
                Err(StoreError::errno(
                    "storing the object",
                    self.paths.objects.join(&object),
                    e,
                ))
            }
        }
    }

    /// Reserves `need` bytes of the store's filesystem for a copy, keeping
    /// `reserve` free; `Err(free)` when there is not room (free bytes, less
    /// the copies in progress). The claim is given back when dropped.
    fn claim_space(&self, need: u64, reserve: u64) -> Result<Result<Claim<'_>, u64>, StoreError> {
        let vfs = rustix::fs::fstatvfs(&self.objects_dir).map_err(|e| {
            StoreError::errno("measuring the free space of", &self.paths.objects, e)
        })?;
        let mut claimed = lock(&self.claimed);
        let free = vfs
            .f_bavail
            .saturating_mul(vfs.f_frsize)
            .saturating_sub(*claimed);
        if free < need.saturating_add(reserve) {
            return Ok(Err(free));
        }
        *claimed += need;
        Ok(Ok(Claim { store: self, need }))
    }

    /// Copies `fd` (`expected` bytes long) into `objects/<temp>` while
    /// hashing, its writeback started once made (the caller syncs it). Holes stay holes: only the data the kernel
    /// reports (`SEEK_DATA`/`SEEK_HOLE`) is read, and, in a file small enough
    /// to go through the buffer, blocks of zeros in it are skipped, not written. `None` when the file grew, shrank, or more than
    /// `budget` bytes of data turned up (holes filled during the copy).
    pub(crate) fn copy_in(
        &self,
        fd: &OwnedFd,
        temp: &OsStr,
        expected: u64,
        budget: u64,
        write_back: bool,
        on_copied: &mut dyn FnMut(&OwnedFd),
    ) -> Result<Option<([u8; 32], u64, OwnedFd)>, StoreError> {
        let temp_path = self.paths.objects.join(temp);
        let out = rustix::fs::openat(
            &self.objects_dir,
            temp,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| StoreError::errno("creating", &temp_path, e))?;
        // A large file is copied by the kernel (`copy_file_range`: no trip
        // through this process, a shared extent where the filesystem can
        // clone), then hashed as read back from the copy, which only this
        // process can write: the hash is of what is stored, whatever the
        // inbox file does meanwhile. Measured on ext4 here for 1 GB: 0.4 s
        // against 2.9 s through a buffer. Small files go through the buffer.
        let kernel_copy = expected > CHUNK as u64;
        // A small file gets small buffers: two of a whole chunk, zeroed for
        // each of ten thousand files, cost more than copying them.
        let chunk = usize::try_from(expected).map_or(CHUNK, |e| e.clamp(1, CHUNK));
        let sha = std::thread::scope(|scope| {
            // The kernel's copy and the hashing of what it copied run side
            // by side: a thread hashes each copied range behind the copy.
            let mut hashing = if kernel_copy {
                Hashing::behind(scope, &out)
            } else {
                Hashing::Inline(Sha256::new(), &out)
            };
            let copied = self.copy_ranges(
                fd,
                &out,
                &temp_path,
                expected,
                budget,
                chunk,
                kernel_copy,
                write_back,
                &mut hashing,
            )?;
            if copied.is_none() {
                return Ok(None);
            }
            // The length, holes to the end included: the copy is whole, and
            // is handed on while its last ranges are still being hashed.
            rustix::fs::ftruncate(&out, expected)
                .map_err(|e| StoreError::errno("writing", &temp_path, e))?;
            on_copied(&out);
            hashing
                .finish()
                .map(Some)
                .map_err(|e| StoreError::errno("reading back", &temp_path, e))
        })?;
        let Some(sha) = sha else {
            return Ok(None);
        };
        // On its way to the disk from now on, while the copy is scanned.
        // Not during the copy when a longer scan follows: the disk then sets
        // the copy's pace (1 GB copied in 1.8 s rather than 1.3 s, measured
        // here under load), and the scan the sync runs beside hides it.
        start_writeback(&out, 0, 0);
        Ok(Some((sha, expected, out)))
    }

    /// The copy of [`Store::copy_in`]: each data range of `fd` into `out`
    /// (by the kernel while `kernel_copy`), every byte fed to `hashing` in
    /// order; `None` when the file grew, shrank or overran `budget`.
    #[allow(clippy::too_many_arguments)]
    fn copy_ranges(
        &self,
        fd: &OwnedFd,
        out: &OwnedFd,
        temp_path: &std::path::Path,
        expected: u64,
        budget: u64,
        chunk: usize,
        mut kernel_copy: bool,
        write_back: bool,
        hashing: &mut Hashing<'_>,
    ) -> Result<Option<u64>, StoreError> {
        let read_err = |e: Errno| StoreError::errno("reading the inbox file for", temp_path, e);
        let mut buf = vec![0u8; chunk];
        let zeros = vec![0u8; chunk];
        let mut written: u64 = 0;
        let mut pos: u64 = 0;
        while pos < expected {
            let data = match rustix::fs::seek(fd, rustix::fs::SeekFrom::Data(pos)) {
                Ok(at) => at.min(expected),
                // No data after `pos`: a hole to the end.
                Err(Errno::NXIO) => expected,
                // A filesystem without hole reporting: all of it is data.
                Err(Errno::INVAL) | Err(Errno::OPNOTSUPP) => pos,
                Err(e) => return Err(read_err(e)),
            }
            .max(pos);
            hashing.zeros(data - pos);
            pos = data;
            if pos >= expected {
                break;
            }
            let hole = match rustix::fs::seek(fd, rustix::fs::SeekFrom::Hole(pos)) {
                Ok(at) => at.min(expected),
                Err(Errno::NXIO) => return Ok(None),
                Err(Errno::INVAL) | Err(Errno::OPNOTSUPP) => expected,
                Err(e) => return Err(read_err(e)),
            };
            // Changed between the two looks: read at least a chunk.
            let hole = if hole <= pos {
                (pos + chunk as u64).min(expected)
            } else {
                hole
            };
            while pos < hole && kernel_copy {
                let want = (hole - pos).min(KERNEL_CHUNK) as usize;
                let (mut from, mut to) = (pos, pos);
                let n = match rustix::fs::copy_file_range(
                    fd,
                    Some(&mut from),
                    out,
                    Some(&mut to),
                    want,
                ) {
                    Ok(0) => return Ok(None),
                    Ok(n) => n as u64,
                    Err(Errno::INTR) => continue,
                    // Not between these two files: through the buffer.
                    Err(Errno::XDEV | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                        kernel_copy = false;
                        break;
                    }
                    Err(e) => return Err(read_err(e)),
                };
                written += n;
                if written > budget {
                    return Ok(None);
                }
                hashing.copied(pos, n);
                if write_back {
                    start_writeback(out, pos, n);
                }
                pos += n;
            }
            while pos < hole {
                let want = (hole - pos).min(chunk as u64) as usize;
                let n = match rustix::io::pread(fd, &mut buf[..want], pos) {
                    Ok(0) => return Ok(None),
                    Ok(n) => n,
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(read_err(e)),
                };
                let bytes = &buf[..n];
                hashing.bytes(bytes);
                if bytes != &zeros[..n] {
                    written += n as u64;
                    if written > budget {
                        return Ok(None);
                    }
                    write_all_at(out, bytes, pos)
                        .map_err(|e| StoreError::errno("writing", temp_path, e))?;
                }
                pos += n as u64;
            }
        }
        // Still growing: there is more than `expected`.
        let mut one = [0u8; 1];
        match rustix::io::pread(fd, &mut one[..], expected) {
            Ok(0) => {}
            Ok(_) => return Ok(None),
            Err(e) => return Err(read_err(e)),
        }
        tracing::debug!(
            "copied {written} bytes of data of {expected} into {}",
            temp_path.display()
        );
        Ok(Some(written))
    }
}

/// What the hasher of a copy is fed, in the file's order.
enum Feed {
    /// This many zero bytes (a hole).
    Zeros(u64),
    /// The copy's bytes at this offset and length, read back from it.
    Copied(u64, u64),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// The SHA-256 of a copy as it is made: in this thread, or in one that
/// follows the kernel's copy, reading back what was copied.
enum Hashing<'scope> {
    /// In this thread; copied ranges are read back from the copy.
    Inline(Sha256, &'scope OwnedFd),
    /// Reading the copy back failed.
    Failed(Errno),
    Behind {
        feed: std::sync::mpsc::SyncSender<Feed>,
        thread: std::thread::ScopedJoinHandle<'scope, Result<[u8; 32], Errno>>,
    },
}

impl<'scope> Hashing<'scope> {
    fn behind<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        copy: &'env OwnedFd,
    ) -> Hashing<'scope> {
        let (feed, rx) = std::sync::mpsc::sync_channel::<Feed>(64);
        let thread = scope.spawn(move || {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; CHUNK];
            for item in rx {
                match item {
                    Feed::Zeros(len) => hash_zeros(&mut hasher, len),
                    Feed::Copied(at, len) => hash_back(copy, &mut hasher, &mut buf, at, len)?,
                    Feed::Bytes(bytes) => hasher.update(&bytes),
                }
            }
            Ok(hasher.finalize().into())
        });
        Hashing::Behind { feed, thread }
    }

    fn send(&mut self, item: Feed) {
        match self {
            Hashing::Inline(hasher, copy) => match item {
                Feed::Zeros(len) => hash_zeros(hasher, len),
                Feed::Bytes(bytes) => hasher.update(&bytes),
                Feed::Copied(at, len) => {
                    let mut buf = vec![0u8; CHUNK];
                    if let Err(e) = hash_back(copy, hasher, &mut buf, at, len) {
                        // The copy cannot be read: no hash of it may pass.
                        *self = Hashing::Failed(e);
                    }
                }
            },
            Hashing::Failed(_) => {}
            // A hasher that stopped says why at `finish`.
            Hashing::Behind { feed, .. } => {
                let _ = feed.send(item);
            }
        }
    }

    fn zeros(&mut self, len: u64) {
        if len > 0 {
            self.send(Feed::Zeros(len));
        }
    }

    fn copied(&mut self, at: u64, len: u64) {
        self.send(Feed::Copied(at, len));
    }

    fn bytes(&mut self, bytes: &[u8]) {
        match self {
            Hashing::Inline(hasher, _) => hasher.update(bytes),
            Hashing::Failed(_) => {}
            Hashing::Behind { .. } => self.send(Feed::Bytes(bytes.to_vec())),
        }
    }

    fn finish(self) -> Result<[u8; 32], Errno> {
        match self {
            Hashing::Inline(hasher, _) => Ok(hasher.finalize().into()),
            Hashing::Failed(e) => Err(e),
            Hashing::Behind { feed, thread } => {
                drop(feed);
                thread.join().unwrap_or(Err(Errno::IO))
            }
        }
    }
}

/// Feeds `len` zero bytes to `hasher`.
fn hash_zeros(hasher: &mut Sha256, mut len: u64) {
    const ZEROS: [u8; 4096] = [0; 4096];
    while len > 0 {
        let n = len.min(ZEROS.len() as u64) as usize;
        hasher.update(&ZEROS[..n]);
        len -= n as u64;
    }
}

/// Space claimed for a copy in progress; given back when dropped.
struct Claim<'a> {
    store: &'a Store,
    need: u64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut claimed = lock(&self.store.claimed);
        *claimed = claimed.saturating_sub(self.need);
    }
}

/// Feeds `len` bytes of `file` from `at` to `hasher`, through `buf`.
fn hash_back(
    file: &OwnedFd,
    hasher: &mut Sha256,
    buf: &mut [u8],
    mut at: u64,
    len: u64,
) -> Result<(), Errno> {
    let end = at + len;
    while at < end {
        let want = (end - at).min(buf.len() as u64) as usize;
        match rustix::io::pread(file, &mut buf[..want], at) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => {
                hasher.update(&buf[..n]);
                at += n as u64;
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_all_at(out: &OwnedFd, mut bytes: &[u8], mut at: u64) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::pwrite(out, bytes, at) {
            Ok(0) => return Err(Errno::NOSPC),
            Ok(n) => {
                bytes = &bytes[n..];
                at += n as u64;
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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

/// What the first, private half of an ingest came to.
enum Prepared {
    /// Nothing to store (refused, gone, changing).
    Outcome(IngestOutcome),
    /// Copied and hashed into a temporary file, its row `ingesting`.
    Copied(Box<Copied>),
}

/// A file of a batch, opened and checked, before it has a row.
struct Opened {
    name: OsString,
    path: PathBuf,
    /// The inbox file, open from here on.
    fd: OwnedFd,
    /// The inbox file as it was when opened.
    first: InboxIdentity,
    /// What the sparse copy writes: the sender's allocated blocks at most.
    need: u64,
}

/// A file let into a batch: its row `ingesting`, not yet copied.
struct Admitted {
    id: ItemId,
    opened: Opened,
    /// What the host saw of its download, given back if it is rolled back.
    seen: Option<crate::witness::Taken>,
}

/// What the files of one batch share: their inbox folder, opened once, and
/// their source's record, read once.
#[derive(Default)]
struct BatchContext {
    dir: Option<Arc<OwnedFd>>,
    source: Option<Source>,
}

/// A file copied into the store, not yet its object.
struct Copied {
    id: ItemId,
    temp: OsString,
    /// The inbox file, open while its name is removed.
    inbox_file: Option<OwnedFd>,
    /// The copy, open (a batch syncs it before its row says `stored`).
    file: OwnedFd,
    sha: [u8; 32],
    size: u64,
    /// The inbox file as it was when the copy ended.
    last: InboxIdentity,
    /// The inbox folder (one descriptor for the whole batch).
    dir: Arc<OwnedFd>,
    dir_path: PathBuf,
    name: OsString,
    path: PathBuf,
    label: String,
}

/// Starts writing `len` bytes of `file` from `offset` (0, 0: all of it) to
/// disk without waiting, so that the `fdatasync` before the `stored` commit
/// finds them written (and a batch's syncs wait for the disk once). Only a
/// hint: a failure changes nothing.
fn start_writeback(file: &OwnedFd, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on a file descriptor we own, no memory passed.
    let r = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if r != 0 {
        tracing::debug!("sync_file_range: {}", std::io::Error::last_os_error());
    }
}

/// Closes `files` on a thread of its own (freeing the blocks of unlinked
/// files takes a while); here when no thread can be started.
fn close_later(files: Vec<OwnedFd>) {
    if files.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("zion-q-close".into())
        .spawn(move || drop(files));
    if let Err(e) = spawned {
        tracing::debug!("closing removed inbox files here: {e}");
    }
}

/// Removes the inbox entry `name` if it is still the file that was stored
/// (same device, inode, size and times); anything else there is left alone.
pub(crate) fn remove_inbox_file(
    dir: &OwnedFd,
    dir_path: &std::path::Path,
    name: &OsStr,
    identity: &InboxIdentity,
    sync: bool,
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
    if sync {
        sync_dir(dir, dir_path)?;
    }
    Ok(true)
}
