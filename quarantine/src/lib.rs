//! Zion's quarantine: where downloads and transfers wait, are scanned, and are
//! released.

pub mod verdict;

// The store and its journal, ingest, recovery, watcher and policy.
pub mod audit;
mod batch;
pub mod derived;
pub mod early_scan;
pub mod error;
pub mod ingest;
pub mod item;
mod journal;
pub mod origin;
pub mod policy;
pub mod recall;
pub mod recovery;
pub mod state;
pub mod store;
pub mod transfer;
pub mod watcher;
pub mod witness;

pub use verdict::{member_path, ArchiveProblem, RuleMatch, Verdict, MEMBER_SEPARATOR};

pub use audit::{AuditBreak, AuditReport, AuditStatus};
pub use early_scan::{IngestScan, ScanFile};
pub use error::StoreError;
pub use ingest::{IngestLimits, IngestOutcome, Refusal, RefuseReason};
pub use item::{Item, ItemId, Source};
pub use origin::{Origin, Provenance};
pub use policy::{due, release_at, Action, AutoRelease, ByteSize, Policy};
pub use recall::{CopyStatus, Recall, RecallError, RecalledCopy};
pub use recovery::RecoveryReport;
pub use state::{next, DecidedBy, Event, State, StateKind, TransitionError};
pub use store::{Store, StoreEvent, StorePaths};
pub use transfer::{Rule, Target, Transfer, Transfers};
pub use watcher::{InboxWatcher, WatchEvent, WatcherConfig};
pub use witness::{HostOrigins, WitnessRefusal};
