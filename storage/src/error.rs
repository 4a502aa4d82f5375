//! What can go wrong in storage, said so that the user knows what to do.

use std::io;
use std::path::PathBuf;

use crate::audit::AuditError;

/// An error of the storage layer: layout, release or audit log.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A system call failed on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done, e.g. "opening the release source".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A destination string or a profile name could not be parsed.
    #[error("invalid destination {input:?}: {reason}")]
    InvalidDestination {
        /// What was given.
        input: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A directory on the way to a destination is a symbolic link: refused, never followed.
    #[error("refusing {path}: it is a symbolic link (storage never follows symlinks; remove or replace it with a real directory)")]
    SymlinkRefused {
        /// The offending component.
        path: PathBuf,
    },
    /// Something on the way to a destination is not a directory.
    #[error("refusing {path}: it is not a directory")]
    NotADirectory {
        /// The offending component.
        path: PathBuf,
    },
    /// The destination's base directory does not exist.
    #[error(
        "destination {path} does not exist (create the storage layout for this profile first)"
    )]
    DestinationMissing {
        /// The missing directory.
        path: PathBuf,
    },
    /// The release source is not a regular file.
    #[error("release source {path} is not a regular file")]
    SourceNotRegular {
        /// The source path.
        path: PathBuf,
    },
    /// The bytes do not hash to what the caller said they must.
    #[error("{path} has SHA-256 {actual}, expected {expected}: nothing was moved")]
    HashMismatch {
        /// The file whose hash was wrong (the source, or the copy being made).
        path: PathBuf,
        /// The expected hash, hex.
        expected: String,
        /// The hash found, hex.
        actual: String,
    },
    /// The destination's filesystem is full.
    #[error("no space left in {dir} for {needed} bytes: the source is untouched and nothing partial was left; free some space and release again")]
    NoSpace {
        /// The destination directory.
        dir: PathBuf,
        /// The size of the file being released.
        needed: u64,
    },
    /// Every collision name `name (1).ext` … `name (N).ext` is taken.
    #[error("{dir} already holds {name} and its numbered variants up to ({max})")]
    TooManyCollisions {
        /// The destination directory.
        dir: PathBuf,
        /// The name wanted.
        name: String,
        /// The highest number tried.
        max: u32,
    },
    /// The file was released, but appending its audit record failed.
    #[error("released to {released} but the audit log could not record it: {source}")]
    AuditAfterRelease {
        /// Where the file now is.
        released: PathBuf,
        /// Why the audit append failed.
        #[source]
        source: Box<StorageError>,
    },
    /// The audit log is unreadable or does not verify.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl StorageError {
    /// Wraps an [`io::Error`] with what was being done and where.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
