//! Group commits: many releases for one journal fsync, one sync per
//! filesystem and one audit fsync (issue 17, item 5). An item is reported
//! released only once its whole batch is durable; a crash anywhere in
//! between leaves `releasing` rows that recovery finishes or undoes, as for
//! a single release.

use std::ffi::OsString;
use std::path::PathBuf;

use zion_storage::{Destination, ReleaseRequest, StorageError};

use crate::error::StoreError;
use crate::item::{Item, ItemId};
use crate::journal::Journal;
use crate::state::{DecidedBy, Event, State};
use crate::store::{lock, step, verdict_word, Store, StoreEvent, STORE_RELEASE};

/// What a release request borrows, owned for the length of a batch.
struct Owned {
    source: PathBuf,
    sha256: [u8; 32],
    remove_source: bool,
    destination: Destination,
    original_name: OsString,
    item_id: String,
    source_label: String,
    verdict: String,
    origin: Option<crate::origin::Origin>,
}

impl Owned {
    fn request<'a>(&'a self, decided_by: &'a str) -> ReleaseRequest<'a> {
        ReleaseRequest {
            source: &self.source,
            sha256: self.sha256,
            remove_source: self.remove_source,
            destination: &self.destination,
            original_name: &self.original_name,
            item_id: &self.item_id,
            source_label: &self.source_label,
            verdict: &self.verdict,
            decided_by,
            origin: self.origin.as_ref().map(|o| zion_storage::ReleaseOrigin {
                url: o.url.as_deref(),
                referrer: o.referrer.as_deref(),
                provenance: o.provenance.as_str(),
            }),
        }
    }
}

impl Store {
    /// Releases every `(item, destination)` of `batch` that scanned clean,
    /// as [`Store::release`] does one (never overriding a verdict), with
    /// three durable commits for the whole batch instead of several per
    /// item. One result per entry, in order.
    pub fn release_all(
        &self,
        batch: &[(ItemId, Destination)],
        decided_by: DecidedBy,
    ) -> Vec<Result<Item, StoreError>> {
        let _objects = lock(&self.objects_lock);
        let mut results: Vec<Result<Item, StoreError>> = Vec::with_capacity(batch.len());
        let ids: Vec<ItemId> = batch.iter().map(|(id, _)| *id).collect();
        let mut held: std::collections::HashMap<ItemId, StoreError> =
            self.take_inbox_files(&ids).into_iter().collect();
        // 1. Every item `releasing`, durable together.
        let started = {
            let journal = lock(&self.journal);
            journal.atomically(|j| {
                for (id, destination) in batch {
                    if let Some(e) = held.remove(id) {
                        results.push(Err(e));
                        continue;
                    }
                    match start(j, *id, destination, decided_by) {
                        Err(e @ StoreError::Journal { .. }) => return Err(e),
                        other => results.push(other),
                    }
                }
                Ok(())
            })
        };
        if let Err(e) = started {
            let text = e.to_string();
            return batch
                .iter()
                .map(|_| {
                    Err(StoreError::Io {
                        op: "starting a batch of releases",
                        path: self.paths.journal.clone(),
                        source: std::io::Error::other(text.clone()),
                    })
                })
                .collect();
        }
        for item in results.iter().flatten() {
            self.emit(StoreEvent::ItemChanged(item.clone()));
        }

        // 2. The files in place, synced once, audited with one fsync.
        let mut owned: Vec<(usize, Owned)> = Vec::new();
        for (n, result) in results.iter_mut().enumerate() {
            let Ok(item) = result else { continue };
            match self.owned_request(item, &batch[n].1) {
                Ok(o) => owned.push((n, o)),
                Err(e) => *result = Err(e),
            }
        }
        let by = decided_by.as_str();
        let reqs: Vec<ReleaseRequest<'_>> = owned.iter().map(|(_, o)| o.request(by)).collect();
        let placed = zion_storage::release_all(&self.layout, &self.audit, &reqs, &STORE_RELEASE);

        // 3. `released` (or back, for those that could not be placed), durable together.
        let mut done: Vec<(usize, PathBuf)> = Vec::new();
        let mut failed: Vec<usize> = Vec::new();
        for ((n, _), outcome) in owned.iter().zip(placed) {
            let id = batch[*n].0;
            match outcome {
                Ok(released) => done.push((*n, released.path)),
                Err(e @ StorageError::AuditAfterRelease { .. }) => {
                    // In place but unaudited: stays `releasing` for recovery.
                    tracing::error!("quarantine item {id}: {e}");
                    results[*n] = Err(StoreError::Release { id, source: e });
                }
                Err(e) => {
                    tracing::warn!(
                        "quarantine item {id}: release to {} failed: {e}",
                        batch[*n].1
                    );
                    failed.push(*n);
                    results[*n] = Err(StoreError::Release { id, source: e });
                }
            }
        }
        let finished = {
            let journal = lock(&self.journal);
            journal.atomically(|j| {
                let mut items = Vec::new();
                for (n, path) in &done {
                    let id = batch[*n].0;
                    let item = step(j, id, Event::Released { path: path.clone() }, None, None)?;
                    items.push((*n, item));
                }
                for n in &failed {
                    step(j, batch[*n].0, Event::ReleaseFailed, None, None)?;
                }
                Ok(items)
            })
        };
        match finished {
            Ok(items) => {
                for (n, item) in items {
                    self.emit(StoreEvent::ItemChanged(item.clone()));
                    if let Some(sha) = item.sha256 {
                        if let Err(e) = self.collect_object(&sha) {
                            tracing::warn!("quarantine item {}: {e}", item.id);
                        }
                    }
                    results[n] = Ok(item);
                }
            }
            Err(e) => {
                // Placed and audited, not yet recorded: recovery finishes them.
                tracing::error!("recording a batch of releases: {e}");
                for (n, _) in &done {
                    results[*n] = Err(StoreError::Io {
                        op: "recording the release of",
                        path: self.paths.journal.clone(),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
            }
        }
        results
    }

    /// The release request of an item in `releasing`. Objects lock held.
    fn owned_request(&self, item: &Item, destination: &Destination) -> Result<Owned, StoreError> {
        let sha256 = item.sha256.ok_or(StoreError::CorruptRow {
            path: self.paths.journal.clone(),
            id: item.id.0,
            reason: "released before its hash was known".into(),
        })?;
        let others = lock(&self.journal).references(&sha256, item.id)?;
        let verdict = match &item.state {
            State::Releasing { verdict, .. } => verdict_word(verdict),
            other => other.kind().as_str().to_owned(),
        };
        Ok(Owned {
            source: self.object_path(&sha256),
            sha256,
            remove_source: others == 0,
            destination: destination.clone(),
            original_name: item.original_name.clone(),
            item_id: item.id.to_string(),
            source_label: item.source.clone(),
            verdict,
            origin: item.origin.clone(),
        })
    }
}

/// `→ releasing` inside the batch's transaction.
fn start(
    j: &Journal,
    id: ItemId,
    destination: &Destination,
    by: DecidedBy,
) -> Result<Item, StoreError> {
    destination.validate()?;
    let text = destination.to_string();
    let event = Event::Release {
        destination: text.clone(),
        by,
        override_verdict: false,
    };
    step(j, id, event, None, Some(&text))
}
