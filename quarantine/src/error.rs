//! What can go wrong in the quarantine store, said so that the user knows what to do.

use std::io;
use std::path::PathBuf;

use crate::item::ItemId;
use crate::state::TransitionError;

/// An error of the store, its journal or the watcher.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A system call failed on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The SQLite journal failed.
    #[error("quarantine journal {path}: {source}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A journal row could not be read back (edited by hand, or a newer version).
    #[error("quarantine journal {path}: item {id}: {reason}")]
    CorruptRow {
        /// The journal file.
        path: PathBuf,
        /// The row.
        id: i64,
        /// What was wrong.
        reason: String,
    },
    /// No item has this id.
    #[error("no quarantine item {0} (see `zionctl quarantine list`)")]
    NoSuchItem(ItemId),
    /// The item is not in a state that allows this.
    #[error("quarantine item {id}: {source}")]
    Transition {
        /// The item.
        id: ItemId,
        /// Why not.
        #[source]
        source: TransitionError,
    },
    /// The object an item needs is not in the store.
    #[error("quarantine item {id}: its object {path} is missing from the store")]
    ObjectMissing {
        /// The item.
        id: ItemId,
        /// The object's path.
        path: PathBuf,
    },
    /// An inbox source name is not a plain folder name.
    #[error("invalid inbox source {name:?}: {reason}")]
    InvalidSource {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Releasing into storage failed; the item keeps its verdict and nothing moved.
    #[error("quarantine item {id}: release failed: {source}")]
    Release {
        /// The item.
        id: ItemId,
        /// Storage's error.
        #[source]
        source: zion_storage::StorageError,
    },
    /// The storage layer failed outside a release (audit log, destination parsing).
    #[error(transparent)]
    Storage(#[from] zion_storage::StorageError),
    /// The inbox watcher could not be set up.
    #[error("watching the inbox {path}: {source}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// notify's error.
        #[source]
        source: notify::Error,
    },
}

impl StoreError {
    /// Wraps an [`io::Error`] with what was being done and where.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Wraps a [`rustix::io::Errno`] with what was being done and where.
    pub(crate) fn errno(op: &'static str, path: impl Into<PathBuf>, e: rustix::io::Errno) -> Self {
        StoreError::io(op, path, e.into())
    }
}
