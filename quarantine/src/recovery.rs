//! Start-up recovery: finishes or rolls back whatever a crash interrupted,
//! so that every file is in exactly one of inbox, store or destination.

use std::os::unix::ffi::OsStrExt;

use rustix::fs::AtFlags;
use rustix::io::Errno;
use zion_storage::{Destination, StorageError};

use crate::error::StoreError;
use crate::ingest::{remove_inbox_file, TEMP_PREFIX};
use crate::item::{Item, ItemId};
use crate::state::{Event, State, StateKind};
use crate::store::{is_object_name, lock, open_dir, sync_dir, Store};

/// What recovery did when the store was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Partial copies removed from `objects/`.
    pub temp_files_removed: usize,
    /// Ingests that had not reached `stored`: rows dropped, files left in the inbox.
    pub ingests_rolled_back: Vec<ItemId>,
    /// Stored items whose inbox file was still there: the inbox file was removed.
    pub inbox_files_removed: Vec<ItemId>,
    /// Scans that were running: back to `stored`, to be scanned again.
    pub scans_interrupted: Vec<ItemId>,
    /// Releases completed (found in place, or done again).
    pub releases_finished: Vec<ItemId>,
    /// Releases that could not be completed: back to their verdict.
    pub releases_rolled_back: Vec<ItemId>,
    /// Objects no item needs, removed.
    pub orphan_objects_removed: usize,
    /// Items that need an object the store does not have (reported, not fixed).
    pub objects_missing: Vec<ItemId>,
}

impl RecoveryReport {
    /// Whether there was nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

impl Store {
    /// Runs every recovery step; called by [`Store::open`].
    pub(crate) fn recover(&self) -> Result<RecoveryReport, StoreError> {
        let mut report = RecoveryReport::default();
        let _objects = lock(&self.objects_lock);
        report.temp_files_removed = self.remove_temp_files()?;
        self.roll_back_ingests(&mut report)?;
        self.finish_inbox_removals(&mut report)?;
        let scanning = lock(&self.journal).in_state(StateKind::Scanning)?;
        for item in scanning {
            self.transition(item.id, Event::ScanInterrupted, None, None)?;
            report.scans_interrupted.push(item.id);
        }
        let releasing = lock(&self.journal).in_state(StateKind::Releasing)?;
        for item in releasing {
            self.recover_release(&item, &mut report)?;
        }
        report.orphan_objects_removed = self.remove_orphan_objects()?;
        let items = lock(&self.journal).list()?;
        for item in items {
            let Some(sha) = item.sha256 else { continue };
            if item.state.kind().holds_object() && !self.object_path(&sha).exists() {
                tracing::error!(
                    "quarantine item {} ({}) needs object {} which is missing",
                    item.id,
                    item.safe_name,
                    hex::encode(sha)
                );
                report.objects_missing.push(item.id);
            }
        }
        Ok(report)
    }

    fn remove_temp_files(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for name in self.object_dir_names()? {
            if name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
                match rustix::fs::unlinkat(&self.objects_dir, name.as_os_str(), AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => removed += 1,
                    Err(e) => {
                        return Err(StoreError::errno(
                            "removing the partial copy",
                            self.paths.objects.join(&name),
                            e,
                        ))
                    }
                }
            }
        }
        if removed > 0 {
            sync_dir(&self.objects_dir, &self.paths.objects)?;
        }
        Ok(removed)
    }

    /// `ingesting` rows never reached `stored`: their inbox file is the file.
    fn roll_back_ingests(&self, report: &mut RecoveryReport) -> Result<(), StoreError> {
        let journal = lock(&self.journal);
        for item in journal.in_state(StateKind::Ingesting)? {
            journal.delete_row(item.id)?;
            report.ingests_rolled_back.push(item.id);
        }
        Ok(())
    }

    /// `stored` rows whose inbox file may still be there: it goes now (if it
    /// is still the very file that was stored), or, if the object did not
    /// survive, the ingest is undone and the inbox file stays.
    fn finish_inbox_removals(&self, report: &mut RecoveryReport) -> Result<(), StoreError> {
        let pending = lock(&self.journal).pending_inbox()?;
        for (item, identity) in pending {
            let object_there = item
                .sha256
                .is_some_and(|sha| self.object_path(&sha).exists());
            if !object_there && item.state == State::Stored {
                tracing::warn!(
                    "quarantine item {}: object missing, leaving {} in the inbox",
                    item.id,
                    item.safe_name
                );
                lock(&self.journal).delete_row(item.id)?;
                report.ingests_rolled_back.push(item.id);
                continue;
            }
            let dir_path = self.paths.inbox.join(&item.inbox);
            match open_dir(&dir_path) {
                Ok(dir) => {
                    if remove_inbox_file(&dir, &dir_path, &item.original_name, &identity, true)? {
                        report.inbox_files_removed.push(item.id);
                    }
                }
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            lock(&self.journal).clear_inbox(item.id)?;
        }
        Ok(())
    }

    /// A `releasing` row: the file is either in place (finish the record), or
    /// still in the store (release it again), per the journal's intent.
    fn recover_release(&self, item: &Item, report: &mut RecoveryReport) -> Result<(), StoreError> {
        let State::Releasing {
            destination, by, ..
        } = &item.state
        else {
            return Ok(());
        };
        let roll_back = |report: &mut RecoveryReport, why: &dyn std::fmt::Display| {
            tracing::warn!("quarantine item {}: release not completed: {why}", item.id);
            report.releases_rolled_back.push(item.id);
            self.transition(item.id, Event::ReleaseFailed, None, None)
                .map(|_| ())
        };
        let dest: Destination = match destination.parse() {
            Ok(d) => d,
            Err(e) => return roll_back(report, &e),
        };
        let decided_by = by.as_str();
        let resumed = self.with_request(item, &dest, decided_by, |req| {
            zion_storage::remove_partials(&self.layout, &dest)?;
            zion_storage::resume_release(&self.layout, &self.audit, req)
        });
        let path = match resumed {
            Ok(Some(path)) => path,
            Ok(None) => {
                let again = self.with_request(item, &dest, decided_by, |req| {
                    zion_storage::release_with(
                        &self.layout,
                        &self.audit,
                        req,
                        &crate::store::STORE_RELEASE,
                    )
                });
                match again {
                    Ok(released) => released.path,
                    Err(StoreError::Release {
                        source: StorageError::AuditAfterRelease { released, .. },
                        ..
                    }) => {
                        tracing::error!(
                            "quarantine item {}: released to {} but not audited",
                            item.id,
                            released.display()
                        );
                        released
                    }
                    Err(e) => return roll_back(report, &e),
                }
            }
            Err(e) => return roll_back(report, &e),
        };
        self.finish_release(item, path)?;
        report.releases_finished.push(item.id);
        Ok(())
    }

    /// Objects no item in a holding state refers to (left by a crash between
    /// the rename and `stored`, or between `deleted`/`released` and the unlink).
    pub(crate) fn remove_orphan_objects(&self) -> Result<usize, StoreError> {
        let referenced = lock(&self.journal).referenced_objects()?;
        let mut removed = 0;
        for name in self.object_dir_names()? {
            let bytes = name.as_bytes();
            if !is_object_name(bytes) {
                continue;
            }
            let Some(text) = name.to_str() else { continue };
            if referenced.contains(text) {
                continue;
            }
            match rustix::fs::unlinkat(&self.objects_dir, text, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => removed += 1,
                Err(e) => {
                    return Err(StoreError::errno(
                        "removing the orphan object",
                        self.paths.objects.join(text),
                        e,
                    ))
                }
            }
        }
        if removed > 0 {
            sync_dir(&self.objects_dir, &self.paths.objects)?;
        }
        Ok(removed)
    }

    fn object_dir_names(&self) -> Result<Vec<std::ffi::OsString>, StoreError> {
        let entries = std::fs::read_dir(&self.paths.objects)
            .map_err(|e| StoreError::io("listing", &self.paths.objects, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("listing", &self.paths.objects, e))?;
            names.push(entry.file_name());
        }
        Ok(names)
    }
}
