//! The release audit log: one JSON line per release, each chained to the one
//! before by a SHA-256 hash so that an edited, removed or reordered entry shows.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// An append-only, hash-chained, fsync'd log of releases (JSON lines).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
}

/// What the next append needs: the open file, how long it was last seen, and its last hash.
#[derive(Debug)]
struct Tail {
    file: File,
    len: u64,
    last_hash: String,
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
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err)?;
        let mut tail = Tail {
            file,
            len: 0,
            last_hash: GENESIS.to_owned(),
        };
        with_lock(&mut tail, &path, |tail| reload_tail(&path, tail))?;
        Ok(AuditLog {
            path,
            tail: Mutex::new(tail),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` (filling `prev_hash` and `hash`) and fsyncs it before returning.
    pub fn append(&self, mut entry: AuditEntry) -> Result<(), StorageError> {
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
            // Another process may have appended since we last looked.
            let len = tail.file.metadata().map_err(io_err)?.len();
            if len != tail.len {
                reload_tail(path, tail)?;
            }
            entry.prev_hash = tail.last_hash.clone();
            entry.hash = entry.compute_hash(&entry.prev_hash);
            let mut line = serde_json::to_string(&entry)
                .map_err(|e| io_err(io::Error::new(io::ErrorKind::InvalidData, e)))?;
            line.push('\n');
            let written = tail
                .file
                .write_all(line.as_bytes())
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
            tail.len += line.len() as u64;
            tail.last_hash = entry.hash.clone();
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
    /// be seen this way: compare [`AuditLog::head`] with a copy kept elsewhere.
    pub fn verify(&self) -> Result<usize, AuditError> {
        let text = read_all(&self.path)?;
        let mut prev = GENESIS.to_owned();
        let mut count = 0;
        for (i, line) in lines(&text) {
            let entry = parse_line(&self.path, i, line)?;
            if entry.prev_hash != prev {
                let reason = if i == 1 {
                    "the first entry does not start the chain (entries before it were removed)"
                        .to_owned()
                } else {
                    format!(
                        "its prev does not match the hash of line {} (an entry was removed, inserted or reordered)",
                        i - 1
                    )
                };
                return Err(AuditError::ChainBroken {
                    path: self.path.clone(),
                    line: i,
                    reason,
                });
            }
            if entry.compute_hash(&prev) != entry.hash {
                return Err(AuditError::Edited {
                    path: self.path.clone(),
                    line: i,
                });
            }
            prev = entry.hash;
            count += 1;
        }
        Ok(count)
    }

    /// Whether an entry for `item_id` is in the log (crash recovery asks this).
    pub fn contains_item(&self, item_id: &str) -> Result<bool, AuditError> {
        Ok(self.entries()?.iter().any(|e| e.item_id == item_id))
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
