//! The audit log's head anchored in the journal (issue 18): entries cut from
//! the log's end, an emptied log and a deleted one show at start-up, before
//! every append and in `zionctl audit verify`, and each break found is kept
//! in the journal so that it stays reported after the log is anchored again.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use zion_storage::{check_log, AuditAnchor, AuditCheck, AuditHead, AuditProblem};

use crate::error::StoreError;
use crate::journal::Journal;
use crate::store::{lock, StoreEvent};

/// A break of the audit chain, as recorded when it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// When it was found.
    pub time: SystemTime,
    /// What was wrong, e.g. "audit log … was truncated at entry 5: …".
    pub problem: String,
}

/// The audit log as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStatus {
    /// The anchored head (entries and last hash), if any.
    pub head: Option<AuditHead>,
    /// Every break found so far, oldest first.
    pub breaks: Vec<AuditBreak>,
}

impl AuditStatus {
    /// Whether no break was ever found.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// What `zionctl audit verify` finds, without the daemon and without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The log measured against the journal's anchor now.
    pub check: AuditCheck,
    /// The anchor it was measured against.
    pub anchored: Option<AuditHead>,
    /// Breaks found earlier (by the daemon) and recorded in the journal.
    pub breaks: Vec<AuditBreak>,
}

impl AuditReport {
    /// Whether the log is whole now and no break was ever recorded.
    pub fn is_intact(&self) -> bool {
        self.check.problem.is_none() && self.breaks.is_empty()
    }
}

/// Measures the log at `log` against the anchor in the journal at `journal`
/// (both only read).
pub fn verify(journal: &Path, log: &Path) -> Result<AuditReport, StoreError> {
    let (anchored, breaks) = if journal.exists() {
        let journal = Journal::open_read_only(journal)?;
        (journal.audit_head()?, breaks(&journal)?)
    } else {
        (None, Vec::new())
    };
    let check = check_log(log, anchored.as_ref())
        .map_err(|e| StoreError::Storage(zion_storage::StorageError::from(e)))?;
    Ok(AuditReport {
        check,
        anchored,
        breaks,
    })
}

pub(crate) fn breaks(journal: &Journal) -> Result<Vec<AuditBreak>, StoreError> {
    Ok(journal
        .audit_breaks()?
        .into_iter()
        .map(|(time, problem)| AuditBreak { time, problem })
        .collect())
}

/// The anchor: its own connection to the journal (appends happen while the
/// store's connection is held), and the store's subscribers to tell of a break.
pub(crate) struct JournalAnchor {
    pub journal: Mutex<Journal>,
    pub subscribers: Arc<Mutex<Vec<Sender<StoreEvent>>>>,
}

impl std::fmt::Debug for JournalAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalAnchor").finish_non_exhaustive()
    }
}

impl AuditAnchor for JournalAnchor {
    fn load(&self) -> Result<Option<AuditHead>, String> {
        lock(&self.journal).audit_head().map_err(|e| e.to_string())
    }

    fn store(&self, head: &AuditHead) -> Result<(), String> {
        lock(&self.journal)
            .set_audit_head(head)
            .map_err(|e| e.to_string())
    }

    fn broken(&self, problem: &AuditProblem) {
        let text = problem.to_string();
        tracing::error!(
            "AUDIT LOG BROKEN: {text}; see `zionctl audit verify` (the break stays recorded in the quarantine journal)"
        );
        {
            let journal = lock(&self.journal);
            // A break inside the chain stays there: recorded (and announced) once.
            let known = journal
                .audit_breaks()
                .ok()
                .and_then(|b| b.last().map(|(_, p)| p == &text))
                .unwrap_or(false);
            if known {
                return;
            }
            if let Err(e) = journal.record_audit_break(&text) {
                tracing::error!("could not record the audit log's break in the journal: {e}");
            }
        }
        let event = StoreEvent::AuditBroken(text);
        lock(&self.subscribers).retain(|tx| tx.send(event.clone()).is_ok());
    }
}
