//! The quarantine store: objects by SHA-256 in `objects/`, items in the
//! journal, and every operation on an item after it arrived (scan, release,
//! delete, rescan). Ingest is in [`crate::ingest`], start-up recovery in
//! [`crate::recovery`].

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use zion_storage::{AuditLog, Destination, Layout, ReleaseRequest, StorageError};

use crate::audit::{AuditStatus, JournalAnchor};
use crate::early_scan::IngestScan;
use crate::error::StoreError;
use crate::ingest::IngestLimits;
use crate::item::{Item, ItemId, Source};
use crate::journal::Journal;
use crate::recovery::RecoveryReport;
use crate::state::{next, DecidedBy, Event, State};
use crate::verdict::Verdict;

/// How store objects are released. An object's name is its SHA-256, checked
/// when it was ingested into the daemon's private store, so a same-filesystem
/// release is a plain rename that takes the same time for any size; a copy to
/// another filesystem is still verified byte for byte.
pub(crate) const STORE_RELEASE: zion_storage::ReleaseOptions = zion_storage::ReleaseOptions {
    verify_source: false,
    sync_dirs: true,
};

/// Where the store keeps its files; defined with the rest of the path layout
/// in `zion-config`, re-exported so that its users keep their imports.
pub use zion_config::paths::StorePaths;

/// A change the store announces to its subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A new item is in the store.
    ItemAdded(Item),
    /// An item changed state (or hold).
    ItemChanged(Item),
    /// The audit log does not extend its anchored head: what is wrong.
    AuditBroken(String),
}

/// The quarantine store. Share it between threads with an `Arc`.
pub struct Store {
    pub(crate) paths: StorePaths,
    pub(crate) layout: Layout,
    pub(crate) audit: AuditLog,
    pub(crate) journal: Mutex<Journal>,
    /// Held while deciding whether an object is still needed and acting on
    /// it (ingest's final rename, release, delete), so that an object is never
    /// removed or moved away while another item comes to need it.
    pub(crate) objects_lock: Mutex<()>,
    pub(crate) objects_dir: OwnedFd,
    subscribers: Arc<Mutex<Vec<Sender<StoreEvent>>>>,
    recovery: RecoveryReport,
    /// Ingest limits (quota per source, free-space reserve).
    pub(crate) limits: Mutex<IngestLimits>,
    /// Bytes being copied in right now, counted against the free space.
    pub(crate) claimed: Mutex<u64>,
    /// What was wrong with the audit log when the store was opened.
    audit_problem: Option<String>,
    /// Downloads the host saw, waiting for their file (issue 17).
    pub(crate) host_origins: crate::witness::HostOrigins,
    /// How ingest scans what it takes in, if it does.
    pub(crate) ingest_scan: Mutex<Option<IngestScan>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("paths", &self.paths).finish()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn create_dir(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| StoreError::io("creating", path, e))
}

pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd, StoreError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StoreError::errno("opening the folder", path, e))
}

pub(crate) fn sync_dir(dir: &OwnedFd, path: &Path) -> Result<(), StoreError> {
    rustix::fs::fsync(dir).map_err(|e| StoreError::errno("syncing the folder", path, e))
}

/// Whether `name` is what the store calls an object: 64 lower-case hex digits.
pub(crate) fn is_object_name(name: &[u8]) -> bool {
    name.len() == 64 && name.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Store {
    /// Opens the store (creating its folders and journal) and recovers from
    /// whatever a crash interrupted; releases go into `layout`, recorded in `audit`.
    pub fn open(paths: StorePaths, layout: Layout, audit: AuditLog) -> Result<Store, StoreError> {
        create_dir(&paths.inbox, 0o755)?;
        create_dir(&paths.objects, 0o700)?;
        if let Some(parent) = paths.journal.parent() {
            create_dir(parent, 0o700)?;
        }
        let journal = Journal::open(&paths.journal)?;
        crate::recall::migrate(&journal)?;
        let objects_dir = open_dir(&paths.objects)?;
        let subscribers = Arc::new(Mutex::new(Vec::new()));
        // Before recovery, which may append the entries of interrupted releases.
        let anchor = JournalAnchor {
            journal: Mutex::new(Journal::open(&paths.journal)?),
            subscribers: subscribers.clone(),
        };
        let audit_problem = audit.set_anchor(Box::new(anchor))?.map(|p| p.to_string());
        let mut store = Store {
            paths,
            layout,
            audit,
            journal: Mutex::new(journal),
            objects_lock: Mutex::new(()),
            objects_dir,
            subscribers,
            recovery: RecoveryReport::default(),
            limits: Mutex::new(IngestLimits::default()),
            claimed: Mutex::new(0),
            audit_problem,
            host_origins: Default::default(),
            ingest_scan: Mutex::new(None),
        };
        store.recovery = store.recover()?;
        if !store.recovery.is_empty() {
            tracing::info!("quarantine recovery: {:?}", store.recovery);
        }
        Ok(store)
    }

    /// Has [`Store::ingest_all`] scan each copy while it is made durable
    /// (see [`crate::early_scan`]), or not (`None`, the default: every item
    /// is stored unscanned, for the caller to scan).
    pub fn set_ingest_scan(&self, how: Option<IngestScan>) {
        *lock(&self.ingest_scan) = how;
    }

    /// Its paths.
    pub fn paths(&self) -> &StorePaths {
        &self.paths
    }

    /// The storage layout releases go into.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The audit log's anchored head and every break of its chain found so far.
    pub fn audit_status(&self) -> Result<AuditStatus, StoreError> {
        let journal = lock(&self.journal);
        Ok(AuditStatus {
            head: journal.audit_head()?,
            breaks: crate::audit::breaks(&journal)?,
        })
    }

    /// What was wrong with the audit log when the store was opened, if
    /// anything (breaks found later arrive as [`StoreEvent::AuditBroken`]).
    pub fn audit_problem_at_open(&self) -> Option<&str> {
        self.audit_problem.as_deref()
    }

    /// Downloads the host saw: what the daemon records there becomes the
    /// origin (provenance `host`) of the file that arrives under that name
    /// and size from that source, over whatever the file claims.
    pub fn host_origins(&self) -> &crate::witness::HostOrigins {
        &self.host_origins
    }

    /// Sets how much each source may hold and how much disk ingest leaves free.
    pub fn set_limits(&self, limits: IngestLimits) {
        *lock(&self.limits) = limits;
    }

    /// What recovery did when the store was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Where the object with this hash is (whether or not it exists).
    pub fn object_path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.paths.objects.join(hex::encode(sha256))
    }

    /// A channel of every later [`StoreEvent`].
    pub fn subscribe(&self) -> Receiver<StoreEvent> {
        let (tx, rx) = mpsc::channel();
        lock(&self.subscribers).push(tx);
        rx
    }

    pub(crate) fn emit(&self, event: StoreEvent) {
        lock(&self.subscribers).retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// Registers an inbox source and creates its folder; returns the folder.
    pub fn add_source(&self, source: &Source) -> Result<PathBuf, StoreError> {
        Source::check_name(&source.name).map_err(|reason| StoreError::InvalidSource {
            name: source.name.clone(),
            reason,
        })?;
        let dir = self.paths.inbox.join(&source.name);
        create_dir(&dir, 0o700)?;
        lock(&self.journal).upsert_source(source)?;
        Ok(dir)
    }

    /// Every registered source.
    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        lock(&self.journal).sources()
    }

    /// Every item, oldest first (rows being ingested included).
    pub fn list(&self) -> Result<Vec<Item>, StoreError> {
        lock(&self.journal).list()
    }

    /// One item.
    pub fn get(&self, id: ItemId) -> Result<Item, StoreError> {
        lock(&self.journal)
            .get(id)?
            .ok_or(StoreError::NoSuchItem(id))
    }

    /// Each of `ids` as [`Store::get`] gives it, read in one turn of the
    /// journal (a batch of releases is looked at again this way).
    pub fn get_all(&self, ids: &[ItemId]) -> Vec<Result<Item, StoreError>> {
        let journal = lock(&self.journal);
        ids.iter()
            .map(|&id| journal.get(id)?.ok_or(StoreError::NoSuchItem(id)))
            .collect()
    }

    /// Applies `event` to an item: checks it with [`next`], commits the new
    /// state, announces it, and returns the item as it now is.
    pub(crate) fn transition(
        &self,
        id: ItemId,
        event: Event,
        verdict: Option<Option<&Verdict>>,
        destination: Option<&str>,
    ) -> Result<Item, StoreError> {
        self.apply(id, event, verdict, destination, true)
    }

    /// [`Store::transition`] without waiting for the disk: for what a crash
    /// may undo (recovery takes `scanning` back to `stored`; a lost verdict
    /// is scanned again). Anything acted on later (a release) is committed
    /// durably first, and the write-ahead log keeps order, so no effect
    /// ever rests on a state the disk does not have.
    fn transition_lazily(
        &self,
        id: ItemId,
        event: Event,
        verdict: Option<Option<&Verdict>>,
    ) -> Result<Item, StoreError> {
        self.apply(id, event, verdict, None, false)
    }

    fn apply(
        &self,
        id: ItemId,
        event: Event,
        verdict: Option<Option<&Verdict>>,
        destination: Option<&str>,
        durable: bool,
    ) -> Result<Item, StoreError> {
        let item = {
            let journal = lock(&self.journal);
            let step = |j: &Journal| step(j, id, event, verdict, destination);
            if durable {
                step(&journal)?
            } else {
                journal.lazily(step)?
            }
        };
        self.emit(StoreEvent::ItemChanged(item.clone()));
        Ok(item)
    }

    /// `stored → scanning`; returns the object to scan.
    pub fn begin_scan(&self, id: ItemId) -> Result<PathBuf, StoreError> {
        let item = self.get(id)?;
        let path = self.existing_object(&item)?;
        self.transition_lazily(id, Event::ScanStarted, None)?;
        Ok(path)
    }

    /// `scanning → clean | infected | error | too_large`.
    pub fn finish_scan(&self, id: ItemId, verdict: Verdict) -> Result<Item, StoreError> {
        self.transition_lazily(
            id,
            Event::ScanFinished(verdict.clone()),
            Some(Some(&verdict)),
        )
    }

    /// `stored → too_large`: the policy will not have it scanned.
    pub fn mark_too_large(&self, id: ItemId, limit: u64) -> Result<Item, StoreError> {
        let size = self.get(id)?.size;
        let verdict = Verdict::TooLarge { size, limit };
        self.transition(
            id,
            Event::TooLarge { size, limit },
            Some(Some(&verdict)),
            None,
        )
    }

    /// Back to `stored`, to be scanned again.
    pub fn rescan(&self, id: ItemId) -> Result<Item, StoreError> {
        self.transition(id, Event::Rescan, None, None)
    }

    /// Holds an item (the policy will not release it) or lets it go.
    pub fn hold(&self, id: ItemId, held: bool) -> Result<Item, StoreError> {
        let item = {
            let journal = lock(&self.journal);
            journal.set_held(id, held)?;
            journal.get(id)?.ok_or(StoreError::NoSuchItem(id))?
        };
        self.emit(StoreEvent::ItemChanged(item.clone()));
        Ok(item)
    }

    /// Deletes an item; its object goes once no other item needs it.
    pub fn delete(&self, id: ItemId) -> Result<Item, StoreError> {
        let _objects = lock(&self.objects_lock);
        let item = self.transition(id, Event::Delete, None, None)?;
        if let Some(sha) = item.sha256 {
            self.collect_object(&sha)?;
        }
        Ok(item)
    }

    /// Releases an item into `destination`. Anything that did not scan clean
    /// needs `override_verdict` (and the user); the policy releases clean items only.
    pub fn release(
        &self,
        id: ItemId,
        destination: &Destination,
        decided_by: DecidedBy,
        override_verdict: bool,
    ) -> Result<Item, StoreError> {
        destination.validate()?;
        let _objects = lock(&self.objects_lock);
        if let Some((_, e)) = self.take_inbox_files(&[id]).pop() {
            return Err(e);
        }
        let dest_text = destination.to_string();
        let item = self.transition(
            id,
            Event::Release {
                destination: dest_text.clone(),
                by: decided_by,
                override_verdict,
            },
            None,
            Some(&dest_text),
        )?;
        match self.place(&item, destination, decided_by) {
            Ok(released) => self.finish_release(&item, released.path),
            Err(e @ StorageError::AuditAfterRelease { .. }) => {
                // The file is in place but unaudited: stay `releasing`, so
                // that recovery appends the audit entry on the next start.
                tracing::error!("quarantine item {id}: {e}");
                Err(StoreError::Release { id, source: e })
            }
            Err(e) => {
                tracing::warn!("quarantine item {id}: release to {dest_text} failed: {e}");
                self.transition(id, Event::ReleaseFailed, None, None)?;
                Err(StoreError::Release { id, source: e })
            }
        }
    }

    /// Removes the inbox files that items among `ids` still have: an
    /// ingest commits its batch `stored` before it removes the batch's
    /// inbox files, and a release that overtook it would leave the file
    /// both in its inbox and in storage (issue 17: never visible twice).
    /// An inbox file that is no longer the one stored is left alone.
    /// Objects lock held. Returns the items whose inbox file could not be
    /// removed, with why: they are not released now.
    pub(crate) fn take_inbox_files(&self, ids: &[ItemId]) -> Vec<(ItemId, StoreError)> {
        let pending = match lock(&self.journal).pending_inbox() {
            Ok(pending) => pending,
            Err(e) => {
                let text = e.to_string();
                return ids
                    .iter()
                    .map(|&id| {
                        let why = std::io::Error::other(text.clone());
                        (
                            id,
                            StoreError::io("looking for its inbox file", &self.paths.journal, why),
                        )
                    })
                    .collect();
            }
        };
        let mut failed = Vec::new();
        for (item, identity) in pending.into_iter().filter(|(i, _)| ids.contains(&i.id)) {
            let dir_path = self.paths.inbox.join(&item.inbox);
            let removed = match open_dir(&dir_path) {
                Ok(dir) => crate::ingest::remove_inbox_file(
                    &dir,
                    &dir_path,
                    &item.original_name,
                    &identity,
                    true,
                ),
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            };
            let cleared =
                removed.and_then(|gone| lock(&self.journal).clear_inbox(item.id).map(|()| gone));
            match cleared {
                Ok(true) => tracing::debug!(
                    "quarantine item {}: its inbox file is taken before its release",
                    item.id
                ),
                Ok(false) => {}
                Err(e) => failed.push((item.id, e)),
            }
        }
        failed
    }

    /// `releasing → released`, then drops the object if no one needs it. Objects lock held.
    pub(crate) fn finish_release(&self, item: &Item, path: PathBuf) -> Result<Item, StoreError> {
        let done = self.transition(item.id, Event::Released { path }, None, None)?;
        if let Some(sha) = item.sha256 {
            self.collect_object(&sha)?;
        }
        Ok(done)
    }

    /// The release request for an item in `releasing`. Objects lock held.
    pub(crate) fn with_request<T>(
        &self,
        item: &Item,
        destination: &Destination,
        decided_by: &str,
        f: impl FnOnce(&ReleaseRequest) -> Result<T, StorageError>,
    ) -> Result<T, StoreError> {
        let sha = item.sha256.ok_or(StoreError::CorruptRow {
            path: self.paths.journal.clone(),
            id: item.id.0,
            reason: "released before its hash was known".into(),
        })?;
        let others = lock(&self.journal).references(&sha, item.id)?;
        let source = self.object_path(&sha);
        let verdict = match &item.state {
            State::Releasing { verdict, .. } => verdict_word(verdict),
            other => other.kind().as_str().to_owned(),
        };
        let item_id = item.id.to_string();
        let req = ReleaseRequest {
            source: &source,
            sha256: sha,
            remove_source: others == 0,
            destination,
            original_name: &item.original_name,
            item_id: &item_id,
            source_label: &item.source,
            verdict: &verdict,
            decided_by,
            origin: item.origin.as_ref().map(|o| zion_storage::ReleaseOrigin {
                url: o.url.as_deref(),
                referrer: o.referrer.as_deref(),
                provenance: o.provenance.as_str(),
            }),
        };
        f(&req).map_err(|source| StoreError::Release {
            id: item.id,
            source,
        })
    }

    fn place(
        &self,
        item: &Item,
        destination: &Destination,
        decided_by: DecidedBy,
    ) -> Result<zion_storage::Released, StorageError> {
        let outcome = self.with_request(item, destination, decided_by.as_str(), |req| {
            zion_storage::release_with(&self.layout, &self.audit, req, &STORE_RELEASE)
        });
        match outcome {
            Ok(released) => Ok(released),
            Err(StoreError::Release { source, .. }) => Err(source),
            Err(other) => Err(StorageError::Io {
                op: "preparing the release of",
                path: self.paths.journal.clone(),
                source: std::io::Error::other(other.to_string()),
            }),
        }
    }

    /// Removes the object if no item needs it any more. Objects lock held.
    pub(crate) fn collect_object(&self, sha256: &[u8; 32]) -> Result<(), StoreError> {
        if lock(&self.journal).references(sha256, ItemId(0))? > 0 {
            return Ok(());
        }
        let name = hex::encode(sha256);
        match rustix::fs::unlinkat(&self.objects_dir, name.as_str(), AtFlags::empty()) {
            Ok(()) => sync_dir(&self.objects_dir, &self.paths.objects),
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(StoreError::errno(
                "removing the object",
                self.paths.objects.join(&name),
                e,
            )),
        }
    }

    fn existing_object(&self, item: &Item) -> Result<PathBuf, StoreError> {
        let sha = item.sha256.ok_or(StoreError::Transition {
            id: item.id,
            source: crate::state::TransitionError::Illegal {
                from: item.state.kind(),
                event: "scan started",
            },
        })?;
        let path = self.object_path(&sha);
        match rustix::fs::statat(
            &self.objects_dir,
            hex::encode(sha).as_str(),
            AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Ok(_) => Ok(path),
            Err(Errno::NOENT) => Err(StoreError::ObjectMissing { id: item.id, path }),
            Err(e) => Err(StoreError::errno("inspecting the object", path, e)),
        }
    }
}

/// Applies `event` to item `id` in `j`: checks it with [`next`], writes the
/// new state (and verdict and destination when given), and returns the item
/// as it now is. Commits as `j` does (alone, lazily, or in a transaction).
pub(crate) fn step(
    j: &Journal,
    id: ItemId,
    event: Event,
    verdict: Option<Option<&Verdict>>,
    destination: Option<&str>,
) -> Result<Item, StoreError> {
    let item = j.get(id)?.ok_or(StoreError::NoSuchItem(id))?;
    let state = next(&item.state, event).map_err(|source| StoreError::Transition { id, source })?;
    j.set_state(id, &state, verdict, destination)?;
    j.get(id)?.ok_or(StoreError::NoSuchItem(id))
}

/// The audit log's word for a verdict.
pub(crate) fn verdict_word(v: &Verdict) -> String {
    match v {
        Verdict::Clean => "clean".into(),
        Verdict::Infected { matches } => {
            let rules: Vec<&str> = matches.iter().map(|m| m.rule.as_str()).collect();
            format!("infected ({}), released by override", rules.join(", "))
        }
        Verdict::Error { .. } => "error, released by override".into(),
        Verdict::TooLarge { .. } => "too large, not scanned".into(),
        Verdict::Unscannable { problem, .. } => {
            format!("{problem}, released by override")
        }
    }
}
