//! The release audit log: one JSON line per release, each chained to the one
//! before by a SHA-256 hash so that an edited, removed or reordered entry shows.
//!
//! The chain alone cannot show entries cut from its end (nor a log emptied or
//! deleted): its head — how many entries, and the last one's hash — is
//! anchored elsewhere through an [`AuditAnchor`] (the quarantine keeps it in its
//! SQLite journal). Each append writes and fsyncs the entry first and anchors
//! it after, so a crash between the two leaves the log exactly one entry
//! ahead of its anchor, chained onto it: that entry is adopted, never
//! mistaken for tampering; a log behind its anchor, or off it, is reported.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::StorageError;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One release, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// When, in seconds since the Unix epoch (UTC).
    pub time: u64,
    /// The quarantine item released.
    pub item_id: String,
    /// The name the file came with (lossy if it was not UTF-8; see `original_name_hex`).
    pub original_name: String,
    /// The original name's raw bytes in hex, present only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_name_hex: Option<String>,
    /// Where the file is now.
    pub final_path: String,
    /// Where it came from, e.g. `sandbox:work/3` or `profile:work`.
    pub source_label: String,
    /// The destination, as text (`shared`, `profile:work`, …).
    pub destination: String,
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// The scan verdict, e.g. `clean`.
    pub verdict: String,
    /// Who decided: `policy` or `user`.
    pub decided_by: String,
    /// The URL it was downloaded from, if known (issue 17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_url: Option<String>,
    /// The page the download started from, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_referrer: Option<String>,
    /// Who says so: `host` (observed) or `file` (claimed by the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_provenance: Option<String>,
    /// What was done when it was not a release, e.g. `returned into item 7`
    /// (a recalled copy taken out of its destination into the quarantine,
    /// issue 17); `final_path` is then where the copy was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The previous entry's `hash` ([`GENESIS`] for the first); set by [`AuditLog::append`].
    #[serde(rename = "prev", default)]
    pub prev_hash: String,
    /// SHA-256 over `prev` and this entry's fields; set by [`AuditLog::append`].
    #[serde(default)]
    pub hash: String,
}

/// The fields an entry's hash covers, in a fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    time: u64,
    item_id: &'a str,
    original_name: &'a str,
    original_name_hex: Option<&'a str>,
    final_path: &'a str,
    source_label: &'a str,
    destination: &'a str,
    sha256: &'a str,
    verdict: &'a str,
    decided_by: &'a str,
    // Left out when absent, so that entries from before keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_referrer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_provenance: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
}

impl AuditEntry {
    /// The hash this entry must carry, given the hash of the entry before it.
    pub fn compute_hash(&self, prev: &str) -> String {
        let canonical = Canonical {
            time: self.time,
            item_id: &self.item_id,
            original_name: &self.original_name,
            original_name_hex: self.original_name_hex.as_deref(),
            final_path: &self.final_path,
            source_label: &self.source_label,
            destination: &self.destination,
            sha256: &self.sha256,
            verdict: &self.verdict,
            decided_by: &self.decided_by,
            origin_url: self.origin_url.as_deref(),
            origin_referrer: self.origin_referrer.as_deref(),
            origin_provenance: self.origin_provenance.as_deref(),
            action: self.action.as_deref(),
        };
        let mut hasher = Sha256::new();
        hasher.update(prev.as_bytes());
        hasher.update(b"\n");
        // Serializing plain strings and integers cannot fail; the fallback
        // still hashes every field.
        match serde_json::to_vec(&canonical) {
            Ok(bytes) => hasher.update(&bytes),
            Err(_) => hasher.update(format!("{:?}", self.time).as_bytes()),
        }
        hex::encode(hasher.finalize())
    }
}

/// Why the audit log could not be read or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing the log failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The log.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A line is not a complete entry (cut short, or not an entry at all).
    #[error("audit log {path} line {line}: not a valid entry ({reason})")]
    Malformed {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the parser said.
        reason: String,
    },
    /// An entry's contents do not match its own hash.
    #[error(
        "audit log {path} line {line}: entry was edited (its hash does not match its contents)"
    )]
    Edited {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An entry does not follow the one before it.
    #[error("audit log {path} line {line}: chain broken, {reason}")]
    ChainBroken {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Which link failed.
        reason: String,
    },
}

/// The head of the chain: how many entries, and the last one's hash
/// ([`GENESIS`] when there are none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Complete entries in the log.
    pub entries: u64,
    /// The last entry's `hash`.
    pub hash: String,
}

impl AuditHead {
    /// The head of an empty log.
    pub fn empty() -> AuditHead {
        AuditHead {
            entries: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// What is wrong with an audit log, measured against its anchored head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditProblem {
    /// The log is gone although entries were recorded.
    #[error("audit log {path} is missing: {expected} entries were recorded in it")]
    Missing {
        /// The log.
        path: PathBuf,
        /// Entries the anchor knows of.
        expected: u64,
    },
    /// Entries were cut from its end.
    #[error(
        "audit log {path} was truncated at entry {}: it has {found} entries, {expected} were recorded",
        found + 1
    )]
    Truncated {
        /// The log.
        path: PathBuf,
        /// Entries left.
        found: u64,
        /// Entries the anchor knows of.
        expected: u64,
    },
    /// The entry the anchor names is not the one there (edited with its hash
    /// recomputed, or the tail replaced).
    #[error(
        "audit log {path}: entry {entry} was edited or replaced (its hash is not the one recorded)"
    )]
    Replaced {
        /// The log.
        path: PathBuf,
        /// 1-based entry number.
        entry: u64,
    },
    /// The chain itself does not verify (see [`AuditError`]).
    #[error("{0}")]
    Chain(String),
}

/// A log measured against its anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// What the log holds now: complete entries and the last one's hash.
    pub found: AuditHead,
    /// What is wrong, if anything.
    pub problem: Option<AuditProblem>,
}

/// Keeps the chain's head outside the log, durably.
pub trait AuditAnchor: Send + Sync + std::fmt::Debug {
    /// The head recorded last; `None` when none ever was.
    fn load(&self) -> Result<Option<AuditHead>, String>;
    /// Records `head`; durable when this returns.
    fn store(&self, head: &AuditHead) -> Result<(), String>;
    /// The log does not extend the recorded head: record and report it. The
    /// log then anchors what it holds now, so each break is reported once.
    fn broken(&self, problem: &AuditProblem);
}

/// Measures the log at `path` against `recorded` without changing anything
/// (`zionctl audit verify` uses this, as does every anchored append). An
/// incomplete last line is an append a crash interrupted and is not counted.
pub fn check_log(path: &Path, recorded: Option<&AuditHead>) -> Result<AuditCheck, AuditError> {
    let expected = recorded.map_or(0, |h| h.entries);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let problem = (expected > 0).then(|| AuditProblem::Missing {
                path: path.to_owned(),
                expected,
            });
            return Ok(AuditCheck {
                found: AuditHead::empty(),
                problem,
            });
        }
        Err(source) => {
            return Err(AuditError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&bytes[..complete]);
    let mut hashes = Vec::new();
    let mut problem = None;
    let mut prev = GENESIS.to_owned();
    for (i, line) in lines(&text) {
        match parse_line(path, i, line) {
            Ok(entry) => {
                if problem.is_none() {
                    if let Err(e) = check_link(path, i, &prev, &entry) {
                        problem = Some(AuditProblem::Chain(e.to_string()));
                    }
                }
                prev = entry.hash.clone();
                hashes.push(entry.hash);
            }
            Err(e) => {
                problem.get_or_insert(AuditProblem::Chain(e.to_string()));
                hashes.push(String::new());
            }
        }
    }
    let found = AuditHead {
        entries: hashes.len() as u64,
        hash: hashes.last().cloned().unwrap_or_else(|| GENESIS.to_owned()),
    };
    if let Some(recorded) = recorded {
        if found.entries < recorded.entries {
            // Cutting the tail is what the anchor is for: it outranks whatever
            // else is wrong with the lines that are left.
            problem = Some(AuditProblem::Truncated {
                path: path.to_owned(),
                found: found.entries,
                expected: recorded.entries,
            });
        } else if recorded.entries > 0
            && hashes.get(recorded.entries as usize - 1) != Some(&recorded.hash)
            && problem.is_none()
        {
            problem = Some(AuditProblem::Replaced {
                path: path.to_owned(),
                entry: recorded.entries,
            });
        }
    }
    Ok(AuditCheck { found, problem })
}

/// Whether `entry` (line `line`) follows `prev` and matches its own hash.
fn check_link(path: &Path, line: usize, prev: &str, entry: &AuditEntry) -> Result<(), AuditError> {
    if entry.prev_hash != prev {
        let reason = if line == 1 {
            "the first entry does not start the chain (entries before it were removed)".to_owned()
        } else {
            format!(
                "its prev does not match the hash of line {} (an entry was removed, inserted or reordered)",
                line - 1
            )
        };
        return Err(AuditError::ChainBroken {
            path: path.to_owned(),
            line,
            reason,
        });
    }
    if entry.compute_hash(prev) != entry.hash {
        return Err(AuditError::Edited {
            path: path.to_owned(),
            line,
        });
    }
    Ok(())
}

/// An append-only, hash-chained, fsync'd log of releases (JSON lines).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
    anchor: OnceLock<Box<dyn AuditAnchor>>,
    /// The log did not exist when it was opened (it was created empty).
    created: bool,
}

/// What the next append needs: the open file, how long it was last seen, and its last hash.
#[derive(Debug)]
struct Tail {
    file: File,
    len: u64,
    last_hash: String,
    /// The anchored log as this process's last append left it.
    measured: Option<Measured>,
}

/// An anchored log as an append left it. While the file is still that
/// inode, of that length, unchanged since (its ctime: any write, truncation
/// or `utimensat` moves it) and its anchor still records `head`, nothing
/// has touched the log, and the next append need not read and rehash all of
/// it again: that costs a pass over every entry ever written, for each
/// batch of releases.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Measured {
    dev: u64,
    ino: u64,
    len: u64,
    ctime: (i64, i64),
    head: AuditHead,
}

impl Measured {
    fn of(meta: &std::fs::Metadata, head: AuditHead) -> Measured {
        Measured {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            head,
        }
    }

    /// Whether the file is as it was left.
    fn holds_for(&self, meta: &std::fs::Metadata) -> bool {
        let now = Measured::of(meta, self.head.clone());
        now == *self
    }
}

impl AuditLog {
    /// Opens (creating, mode 0600) the log at `path`. An incomplete last line
    /// left by a crash during an append is cut off (that append never succeeded).
    pub fn open(path: impl Into<PathBuf>) -> Result<AuditLog, StorageError> {
        let path = path.into();
        let io_err = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        let created = !path.exists();
        let file = open_file(&path).map_err(io_err)?;
        let mut tail = Tail {
            file,
            len: 0,
            last_hash: GENESIS.to_owned(),
            measured: None,
        };
        with_lock(&mut tail, &path, |tail| reload_tail(&path, tail))?;
        Ok(AuditLog {
            path,
            tail: Mutex::new(tail),
            anchor: OnceLock::new(),
            created,
        })
    }

    /// Anchors the chain's head in `anchor` (once; later calls are refused)
    /// and measures the log against what it recorded: a log a crash left one
    /// entry ahead is adopted; anything else that does not extend the
    /// recorded head is reported through [`AuditAnchor::broken`] and returned.
    pub fn set_anchor(
        &self,
        anchor: Box<dyn AuditAnchor>,
    ) -> Result<Option<AuditProblem>, StorageError> {
        if self.anchor.set(anchor).is_err() {
            return Err(StorageError::from(AuditError::Io {
                path: self.path.clone(),
                source: io::Error::other("the audit log already has an anchor"),
            }));
        }
        let mut tail = self
            .tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let created = self.created;
        with_lock(&mut tail, &self.path, |_| self.reconcile(created))
            .map(|(_, problem)| problem)
            .map_err(StorageError::from)
    }

    /// The head an append extends: the one this process's last append left
    /// when the log and its anchor are untouched since, else what
    /// [`AuditLog::reconcile`] measures. Log lock held.
    fn head_for_append(&self, tail: &Tail, created: bool) -> Result<AuditHead, AuditError> {
        if let (Some(anchor), Some(measured)) = (self.anchor.get(), &tail.measured) {
            let untouched = tail
                .file
                .metadata()
                .is_ok_and(|meta| measured.holds_for(&meta))
                && anchor.load().ok().flatten().as_ref() == Some(&measured.head);
            if untouched && !created {
                return Ok(measured.head.clone());
            }
        }
        Ok(self.reconcile(created)?.0)
    }

    /// Measures the log against its anchor (when it has one), reports a
    /// break, and anchors what the log holds now. Log lock held.
    fn reconcile(&self, created: bool) -> Result<(AuditHead, Option<AuditProblem>), AuditError> {
        let Some(anchor) = self.anchor.get() else {
            return Ok((AuditHead::empty(), None));
        };
        let io_err = |why: String| AuditError::Io {
            path: self.path.clone(),
            source: io::Error::other(why),
        };
        let recorded = anchor.load().map_err(io_err)?;
        let mut check = check_log(&self.path, recorded.as_ref())?;
        if let (
            true,
            Some(AuditProblem::Truncated {
                found: 0, expected, ..
            }),
        ) = (created, &check.problem)
        {
            // Open created it afresh: the log was deleted, not emptied.
            check.problem = Some(AuditProblem::Missing {
                path: self.path.clone(),
                expected: *expected,
            });
        }
        if let Some(problem) = &check.problem {
            anchor.broken(problem);
        } else if let Some(recorded) = &recorded {
            if check.found.entries > recorded.entries {
                tracing::info!(
                    "audit log {}: {} entries beyond the recorded head (an append the anchor missed, e.g. a crash between the two): adopted",
                    self.path.display(),
                    check.found.entries - recorded.entries
                );
            }
        }
        if recorded.as_ref() != Some(&check.found) {
            anchor.store(&check.found).map_err(io_err)?;
        }
        Ok((check.found, check.problem))
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` (filling `prev_hash` and `hash`) and fsyncs it before returning.
    pub fn append(&self, entry: AuditEntry) -> Result<(), StorageError> {
        self.append_all(vec![entry])
    }

    /// Appends `entries` in order, chained, with one fsync and one anchor
    /// update for all of them: durable together when this returns.
    pub fn append_all(&self, mut entries: Vec<AuditEntry>) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tail = self
            .tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tail = &mut *tail;
        let path = &self.path;
        with_lock(tail, path, |tail| {
            let io_err = |source| AuditError::Io {
                path: path.clone(),
                source,
            };
            // The log deleted or replaced under us: appending to the old
            // inode would write where no one will ever read.
            let ours = tail.file.metadata().map_err(io_err)?;
            let same = std::fs::symlink_metadata(path)
                .is_ok_and(|now| now.dev() == ours.dev() && now.ino() == ours.ino());
            if !same {
                tracing::warn!(
                    "audit log {} was removed or replaced while open: reopening it",
                    path.display()
                );
                tail.file = open_file(path).map_err(io_err)?;
                rustix::fs::flock(&tail.file, FlockOperation::LockExclusive)
                    .map_err(|e| io_err(e.into()))?;
                reload_tail(path, tail)?;
            }
            // Another process may have appended since we last looked.
            let len = tail.file.metadata().map_err(io_err)?.len();
            if len != tail.len {
                reload_tail(path, tail)?;
            }
            // Verify against the anchor before extending the chain.
            let head = self.head_for_append(tail, !same)?;
            let mut prev = tail.last_hash.clone();
            let mut lines = String::new();
            for entry in &mut entries {
                entry.prev_hash = std::mem::take(&mut prev);
                entry.hash = entry.compute_hash(&entry.prev_hash);
                prev = entry.hash.clone();
                lines.push_str(
                    &serde_json::to_string(&entry)
                        .map_err(|e| io_err(io::Error::new(io::ErrorKind::InvalidData, e)))?,
                );
                lines.push('\n');
            }
            let written = tail
                .file
                .write_all(lines.as_bytes())
                .and_then(|()| tail.file.sync_data());
            if let Err(e) = written {
                // Leave no half line behind for the next append to chain onto.
                if let Err(undo) = tail.file.set_len(tail.len) {
                    tracing::warn!(
                        "audit log {}: could not cut a failed append: {undo:?}",
                        path.display()
                    );
                }
                return Err(io_err(e));
            }
            tail.len += lines.len() as u64;
            tail.last_hash = prev;
            tail.measured = None;
            if let Some(anchor) = self.anchor.get() {
                let next = AuditHead {
                    entries: head.entries + entries.len() as u64,
                    hash: tail.last_hash.clone(),
                };
                // The entry is durable: if the anchor is not, the next check
                // finds the log one entry ahead and adopts it.
                match anchor.store(&next) {
                    Ok(()) => {
                        tail.measured = tail
                            .file
                            .metadata()
                            .ok()
                            .map(|meta| Measured::of(&meta, next));
                    }
                    Err(e) => tracing::warn!(
                        "audit log {}: entry written but its head not anchored: {e}",
                        path.display()
                    ),
                }
            }
            Ok(())
        })
        .map_err(StorageError::from)
    }

    /// Every entry, in order (without checking the chain; see [`AuditLog::verify`]).
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let text = read_all(&self.path)?;
        let mut entries = Vec::new();
        for (i, line) in lines(&text) {
            entries.push(parse_line(&self.path, i, line)?);
        }
        Ok(entries)
    }

    /// Recomputes the whole chain; returns how many entries were checked, or
    /// the first bad line and why. An entry removed from the very end cannot
    /// be seen this way: [`check_log`] measures the log against its anchor.
    pub fn verify(&self) -> Result<usize, AuditError> {
        let text = read_all(&self.path)?;
        let mut prev = GENESIS.to_owned();
        let mut count = 0;
        for (i, line) in lines(&text) {
            let entry = parse_line(&self.path, i, line)?;
            check_link(&self.path, i, &prev, &entry)?;
            prev = entry.hash;
            count += 1;
        }
        Ok(count)
    }

    /// Whether the release of `item_id` is in the log (crash recovery asks this).
    pub fn contains_item(&self, item_id: &str) -> Result<bool, AuditError> {
        Ok(self
            .entries()?
            .iter()
            .any(|e| e.item_id == item_id && e.action.is_none()))
    }

    /// The hash of the last entry ([`GENESIS`] when empty): keep it elsewhere to
    /// detect a truncated log.
    pub fn head(&self) -> Result<String, AuditError> {
        Ok(self
            .entries()?
            .last()
            .map_or_else(|| GENESIS.to_owned(), |e| e.hash.clone()))
    }
}

fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// Runs `f` holding an exclusive `flock` on the log, so that processes sharing
/// it append one at a time.
fn with_lock<T>(
    tail: &mut Tail,
    path: &Path,
    f: impl FnOnce(&mut Tail) -> Result<T, AuditError>,
) -> Result<T, AuditError> {
    rustix::fs::flock(&tail.file, FlockOperation::LockExclusive).map_err(|e| AuditError::Io {
        path: path.to_owned(),
        source: e.into(),
    })?;
    let result = f(tail);
    if let Err(e) = rustix::fs::flock(&tail.file, FlockOperation::Unlock) {
        tracing::warn!("audit log {}: unlock failed: {e:?}", path.display());
    }
    result
}

/// Rereads the log's end: cuts an incomplete last line, finds the last hash.
fn reload_tail(path: &Path, tail: &mut Tail) -> Result<(), AuditError> {
    let io_err = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    (&tail.file).seek(SeekFrom::Start(0)).map_err(io_err)?;
    (&tail.file).read_to_end(&mut bytes).map_err(io_err)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() {
        tracing::warn!(
            "audit log {}: cutting an incomplete last line of {} bytes (an append interrupted by a crash)",
            path.display(),
            bytes.len() - complete
        );
        tail.file.set_len(complete as u64).map_err(io_err)?;
        tail.file.sync_data().map_err(io_err)?;
        bytes.truncate(complete);
    }
    tail.len = complete as u64;
    let text = String::from_utf8_lossy(&bytes);
    tail.last_hash = match lines(&text).last() {
        None => GENESIS.to_owned(),
        Some((i, line)) => parse_line(path, i, line)?.hash,
    };
    Ok(())
}

fn read_all(path: &Path) -> Result<String, AuditError> {
    let bytes = std::fs::read(path).map_err(|source| AuditError::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        AuditError::Malformed {
            path: path.to_owned(),
            line,
            reason: "not UTF-8".into(),
        }
    })
}

/// The log's lines with 1-based numbers; a last line without its newline is
/// still returned (and will fail to parse if it was cut short).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .enumerate()
        .filter(move |_| !text.is_empty())
        .map(|(i, l)| (i + 1, l))
}

fn parse_line(path: &Path, line: usize, text: &str) -> Result<AuditEntry, AuditError> {
    serde_json::from_str(text).map_err(|e| AuditError::Malformed {
        path: path.to_owned(),
        line,
        reason: e.to_string(),
    })
}
