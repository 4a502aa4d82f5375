//! The inbox watcher: inotify (through notify) over one folder per source;
//! takes each file once it has settled under its final name (closed after
//! writing or renamed into place, then left alone for a moment), sweeps every
//! folder on start and when the kernel's event queue overflowed, and retries
//! files that are still being written.
//!
//! Programs save by writing a temporary name and renaming it over the final
//! one (GLib's `.goutputstream-XXXXXX`, rsync's `.name.XXXXXX`, `name.tmp`):
//! hidden and temporary names are never taken (taking one would make the
//! program's rename fail, and take the file twice), and a final name is
//! taken only after a quiet time with no write, close or rename on it.
//! Each source's files are taken on a thread of their own, one at a time per
//! source, so that a large or stalled file from one source never delays
//! another source's.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, INotifyWatcher, RecursiveMode, Watcher};

use crate::error::StoreError;
use crate::ingest::{quiet_since, IngestOutcome, Refusal};
use crate::item::{ItemId, Source};
use crate::store::Store;

/// How the watcher paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherConfig {
    /// How long to wait before offering again a file that was still changing.
    pub retry: Duration,
    /// A file is taken only once nothing changed it (write, close after
    /// writing, rename, attributes: its ctime) for this long.
    pub settle: Duration,
    /// Name endings of downloads and saves in progress, ignored until renamed
    /// (compared without regard to ASCII case). Hidden names always wait.
    pub partial_suffixes: Vec<String>,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig {
            retry: Duration::from_millis(500),
            settle: Duration::from_millis(300),
            partial_suffixes: [".part", ".crdownload", ".download", ".tmp", "~"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A file is now a quarantine item.
    Ingested(ItemId),
    /// An inbox entry was refused and left where it is (reported once).
    Refused(Refusal),
    /// Taking a file failed; it stays in the inbox and is tried again.
    Failed {
        /// The inbox file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// What a filesystem event asks the watcher to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// A file was closed after writing or renamed into place: offer it once
    /// it has settled.
    Complete { source: String, name: OsString },
    /// A file was written to or its attributes changed: it has not settled.
    Activity { source: String, name: OsString },
    /// Something appeared: offer it if it is not a plain file being written.
    Created { source: String, name: OsString },
    /// A name went away.
    Removed { source: String, name: OsString },
    /// A new source folder.
    NewSource(String),
    /// Events were lost: look at everything.
    Sweep,
}

/// Whether `name` in inbox folder `source` is where a profile's outbox to
/// another profile is mounted (`profile-work/personal`).
fn is_outbox_mount_point(source: &str, name: &OsStr) -> bool {
    name.to_str().is_some_and(|to| {
        crate::transfer::parse_inbox(source)
            .is_some_and(|t| t.to == crate::transfer::Target::Shared)
            && crate::transfer::parse_inbox(&format!("{source}.to-{to}")).is_some()
    })
}

/// Whether `name` is a download or a save in progress, left alone until it
/// is renamed to its final name. Pure.
pub(crate) fn waits_for_rename(name: &OsStr, suffixes: &[String]) -> bool {
    let bytes = name.as_bytes();
    // Hidden names are where programs write before renaming into place:
    // GLib's `.goutputstream-XXXXXX`, rsync's `.name.XXXXXX`, Chromium's
    // `.org.chromium.Chromium.XXXXXX`, Emacs' `.#name`. Taking one at its
    // close makes the program's rename fail (its save is lost) or takes the
    // file twice.
    bytes.starts_with(b".")
        || suffixes.iter().any(|s| {
            let s = s.as_bytes();
            bytes.len() > s.len() && bytes[bytes.len() - s.len()..].eq_ignore_ascii_case(s)
        })
}

/// How long nothing has changed `meta`'s file (see [`quiet_since`]).
fn quiet_for(meta: &std::fs::Metadata) -> Duration {
    use std::os::unix::fs::MetadataExt;
    quiet_since(meta.ctime(), meta.ctime_nsec())
}

/// Splits `path` under `inbox` into (source, name), or just (source,) for a source folder.
fn locate(inbox: &Path, path: &Path) -> Option<(String, Option<OsString>)> {
    let rest = path.strip_prefix(inbox).ok()?;
    let mut parts = rest.components().map(|c| match c {
        Component::Normal(p) => Some(p.to_owned()),
        _ => None,
    });
    let source = parts.next()??.into_string().ok()?;
    let name = parts.next().map(|n| n.unwrap_or_default());
    if parts.next().is_some() {
        return None;
    }
    Some((source, name))
}

/// What a notify event means for the inbox. Pure.
pub(crate) fn classify(inbox: &Path, event: &notify::Event, partial: &[String]) -> Vec<Trigger> {
    if event.need_rescan() {
        return vec![Trigger::Sweep];
    }
    let mut out = Vec::new();
    for path in &event.paths {
        let Some((source, name)) = locate(inbox, path) else {
            continue;
        };
        let Some(name) = name else {
            if matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            ) {
                out.push(Trigger::NewSource(source));
            }
            continue;
        };
        let removal = matches!(
            event.kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
        );
        if removal {
            out.push(Trigger::Removed { source, name });
            continue;
        }
        if waits_for_rename(&name, partial) {
            continue;
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                out.push(Trigger::Complete { source, name })
            }
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Metadata(_) | ModifyKind::Any) => {
                out.push(Trigger::Activity { source, name })
            }
            EventKind::Create(CreateKind::File | CreateKind::Any | CreateKind::Other) => {
                out.push(Trigger::Created { source, name })
            }
            EventKind::Create(CreateKind::Folder) => out.push(Trigger::Created { source, name }),
            _ => {}
        }
    }
    out
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    Rescan,
    Stop,
    /// The ingest of a batch of a source's files finished, one result each.
    Done(String, Vec<(OsString, Result<IngestOutcome, StoreError>)>),
}

/// The running watcher; stops (and joins its thread) when dropped.
pub struct InboxWatcher {
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

impl InboxWatcher {
    /// Watches the store's inbox, takes what is already there, and reports on the returned channel.
    pub fn start(
        store: Arc<Store>,
        config: WatcherConfig,
    ) -> Result<(InboxWatcher, Receiver<WatchEvent>), StoreError> {
        let inbox = store.paths().inbox.clone();
        let (tx, rx) = mpsc::channel();
        let fs_tx = tx.clone();
        let notify_config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher = INotifyWatcher::new(
            move |res| {
                let _ = fs_tx.send(Msg::Fs(res));
            },
            notify_config,
        )
        .map_err(|source| StoreError::Watch {
            path: inbox.clone(),
            source,
        })?;
        watcher
            .watch(&inbox, RecursiveMode::NonRecursive)
            .map_err(|source| StoreError::Watch {
                path: inbox.clone(),
                source,
            })?;
        let (out_tx, out_rx) = mpsc::channel();
        let mut worker = Worker {
            tx: tx.clone(),
            busy: HashMap::new(),
            waiting: HashMap::new(),
            store,
            config,
            inbox,
            watcher,
            watched: HashSet::new(),
            pending: HashMap::new(),
            queue: BTreeSet::new(),
            reported: HashSet::new(),
            failed: HashSet::new(),
            unsettled: HashSet::new(),
            out: out_tx,
            stop: false,
        };
        worker.sweep_all();
        let thread = std::thread::Builder::new()
            .name("zion-inbox".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| StoreError::io("starting the inbox watcher for", PathBuf::new(), e))?;
        Ok((
            InboxWatcher {
                tx,
                thread: Some(thread),
            },
            out_rx,
        ))
    }

    /// Looks at every inbox folder again.
    pub fn rescan(&self) {
        let _ = self.tx.send(Msg::Rescan);
    }
}

impl Drop for InboxWatcher {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the inbox watcher thread panicked");
            }
        }
    }
}

type Key = (String, OsString);

/// The most files of one source taken in one group commit.
const MAX_BATCH: usize = 256;

/// From this size on, a file that has not settled yet is offered at once
/// and copied while it settles: its copy takes a good part of the settle
/// time (1 GB: about 0.5-1 s here, against a settle time of 0.3 s).
const SETTLE_WHILE_COPYING: u64 = 64 << 20;

struct Worker {
    /// Where the ingest threads report.
    tx: Sender<Msg>,
    /// Sources with an ingest running, and its thread.
    busy: HashMap<String, JoinHandle<()>>,
    /// Files due while their source was busy, offered as soon as it is not.
    waiting: HashMap<String, BTreeSet<OsString>>,
    store: Arc<Store>,
    config: WatcherConfig,
    inbox: PathBuf,
    watcher: INotifyWatcher,
    watched: HashSet<String>,
    /// Files to offer, and from when.
    pending: HashMap<Key, Instant>,
    /// The same, ordered by when each is due.
    queue: BTreeSet<(Instant, Key)>,
    /// Refusals already reported (until the name changes).
    reported: HashSet<Key>,
    /// Failures already reported.
    failed: HashSet<Key>,
    /// Large files that changed while they were copied to settle: they
    /// wait to settle before they are copied again.
    unsettled: HashSet<Key>,
    out: Sender<WatchEvent>,
    stop: bool,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) {
        while !self.stop {
            let wait = self
                .queue
                .first()
                .map(|(due, _)| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(wait) {
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.offer_due(&rx);
        }
        // Let the ingests in progress finish their file.
        for (_, thread) in self.busy.drain() {
            if thread.join().is_err() {
                tracing::error!("an inbox ingest thread panicked");
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Stop => self.stop = true,
            Msg::Done(source, results) => {
                if let Some(thread) = self.busy.remove(&source) {
                    if thread.join().is_err() {
                        tracing::error!("the inbox ingest thread of {source} panicked");
                    }
                }
                for (name, result) in results {
                    self.finish((source.clone(), name), result);
                }
                // What became due meanwhile goes in one batch; the rest
                // waits, unexamined, for the next.
                let mut names = self.waiting.remove(&source).unwrap_or_default();
                let mut ready = Vec::new();
                while ready.len() < MAX_BATCH {
                    let Some(name) = names.pop_first() else {
                        break;
                    };
                    if self.ready(&(source.clone(), name.clone())) {
                        ready.push(name);
                    }
                }
                if !names.is_empty() {
                    self.waiting.insert(source.clone(), names);
                }
                if !ready.is_empty() {
                    self.take(&source, ready);
                }
            }
            Msg::Rescan => self.sweep_all(),
            Msg::Fs(Err(e)) => {
                tracing::warn!("inbox watch error, sweeping: {e:?}");
                self.sweep_all();
            }
            Msg::Fs(Ok(event)) => {
                for trigger in classify(&self.inbox, &event, &self.config.partial_suffixes) {
                    self.apply(trigger);
                }
            }
        }
    }

    fn apply(&mut self, trigger: Trigger) {
        let now = Instant::now();
        match trigger {
            Trigger::Sweep => {
                tracing::info!("inbox events were lost (queue overflow): sweeping every folder");
                self.sweep_all();
            }
            Trigger::NewSource(source) => self.sweep_source(&source),
            Trigger::Complete { source, name } => {
                // A large file is looked at now, to be copied while it
                // settles (see `ready`); any other after the settle time.
                let large = std::fs::symlink_metadata(self.inbox.join(&source).join(&name))
                    .is_ok_and(|m| m.is_file() && m.len() >= SETTLE_WHILE_COPYING);
                let key = (source, name);
                self.reported.remove(&key);
                let due = if large && !self.unsettled.contains(&key) {
                    now
                } else {
                    now + self.config.settle
                };
                self.postpone(key, due);
            }
            Trigger::Activity { source, name } => {
                // Only a file already due waits longer; one still being
                // written is offered at its close.
                let key = (source, name);
                if self.pending.contains_key(&key) {
                    self.postpone(key, now + self.config.settle);
                }
            }
            Trigger::Created { source, name } => {
                // A plain file being written is taken when closed; anything
                // else (link, pipe, device, hard link) gets no close event.
                let path = self.inbox.join(&source).join(&name);
                if let Ok(meta) = std::fs::symlink_metadata(&path) {
                    use std::os::unix::fs::MetadataExt;
                    if !meta.file_type().is_file() || meta.nlink() > 1 {
                        self.schedule((source, name), now);
                    }
                }
            }
            Trigger::Removed { source, name } => {
                if let Some(names) = self.waiting.get_mut(&source) {
                    names.remove(&name);
                }
                let key = (source, name);
                self.unschedule(&key);
                self.reported.remove(&key);
                self.failed.remove(&key);
                self.unsettled.remove(&key);
            }
        }
    }

    fn schedule(&mut self, key: Key, at: Instant) {
        match self.pending.get(&key) {
            Some(due) if *due <= at => {}
            _ => self.plan(key, at),
        }
    }

    /// Offers `key` no earlier than `at`.
    fn postpone(&mut self, key: Key, at: Instant) {
        match self.pending.get(&key) {
            Some(due) if *due >= at => {}
            _ => self.plan(key, at),
        }
    }

    /// Offers `key` at `at`, whenever it was due before.
    fn plan(&mut self, key: Key, at: Instant) {
        if let Some(old) = self.pending.insert(key.clone(), at) {
            self.queue.remove(&(old, key.clone()));
        }
        self.queue.insert((at, key));
    }

    fn unschedule(&mut self, key: &Key) {
        if let Some(due) = self.pending.remove(key) {
            self.queue.remove(&(due, key.clone()));
        }
    }

    fn sweep_all(&mut self) {
        let entries = match std::fs::read_dir(&self.inbox) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("cannot list the inbox {}: {e}", self.inbox.display());
                return;
            }
        };
        let mut sources: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| Source::check_name(name).is_ok())
            .collect();
        sources.sort();
        for source in sources {
            self.sweep_source(&source);
        }
    }

    fn sweep_source(&mut self, source: &str) {
        if Source::check_name(source).is_err() {
            return;
        }
        let dir = self.inbox.join(source);
        if self.watched.insert(source.to_owned()) {
            if let Err(e) = self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {e:?}", dir.display());
                self.watched.remove(source);
            }
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("cannot list {}: {e}", dir.display());
                return;
            }
        };
        let now = Instant::now();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if waits_for_rename(&name, &self.config.partial_suffixes) {
                continue;
            }
            // Not announced complete: wait until it has been still for a while.
            let quiet = entry
                .metadata()
                .map_or(self.config.settle, |m| quiet_for(&m));
            let wait = self.config.settle.saturating_sub(quiet);
            self.schedule((source.to_owned(), name), now + wait);
        }
    }

    /// Offers every due file, handling messages in between so that events
    /// for files already pending merge into one offer.
    fn offer_due(&mut self, rx: &Receiver<Msg>) {
        loop {
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg);
            }
            if self.stop {
                return;
            }
            // Every file due now, oldest first.
            let now = Instant::now();
            let mut any = false;
            while let Some((due, _)) = self.queue.first() {
                if *due > now {
                    break;
                }
                let Some((_, key)) = self.queue.pop_first() else {
                    break;
                };
                self.pending.remove(&key);
                any = true;
                self.offer(key);
            }
            if !any {
                return;
            }
        }
    }

    fn offer(&mut self, key: Key) {
        // A busy source's files are looked at when it is free again.
        if self.busy.contains_key(&key.0) {
            let (source, name) = key;
            self.waiting.entry(source).or_default().insert(name);
            return;
        }
        if !self.ready(&key) {
            return;
        }
        let (source, name) = key;
        self.take(&source, vec![name]);
    }

    /// Whether `key` may be taken now; if not, it is planned for later
    /// (or dropped, when its name is gone).
    fn ready(&mut self, key: &Key) -> bool {
        let (source, name) = key;
        let dir = self.inbox.join(source);
        // A browser may keep a placeholder under the final name while the
        // `.part` file grows: wait for the rename.
        let in_progress = self.config.partial_suffixes.iter().any(|suffix| {
            let mut partial = name.clone();
            partial.push(suffix);
            dir.join(partial).symlink_metadata().is_ok()
        });
        if in_progress {
            self.schedule(key.clone(), Instant::now() + self.config.retry);
            return false;
        }
        // Taken only once it has settled under this name: nothing wrote to,
        // renamed or re-attributed it for the settle time (whatever events
        // were merged or lost; mtime is no guide, rsync sets it back). An
        // empty placeholder whose `.part` is about to appear waits too.
        match dir.join(name).symlink_metadata() {
            Ok(meta) => {
                let quiet = quiet_for(&meta);
                // A large file is copied while it settles: its ingest
                // stores it only once it has been still for the settle
                // time, copy included (`Store::ingest_all_settled`). One
                // that changed meanwhile settles first the next time, so
                // that a file kept changing is not copied again and again.
                let copy_while_settling =
                    meta.len() >= SETTLE_WHILE_COPYING && !self.unsettled.contains(key);
                if meta.is_file() && quiet < self.config.settle && !copy_while_settling {
                    self.postpone(key.clone(), Instant::now() + (self.config.settle - quiet));
                    return false;
                }
            }
            // Renamed away or removed since: its new name has its own events.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            Err(_) => {}
        }
        true
    }

    /// Ingests `names` of `source` on a thread of their own, in batches
    /// (each one group commit, see [`Store::ingest_all`]).
    fn take(&mut self, source: &str, mut names: Vec<OsString>) {
        if names.len() > MAX_BATCH {
            let rest = names.split_off(MAX_BATCH);
            self.waiting
                .entry(source.to_owned())
                .or_default()
                .extend(rest);
        }
        let (store, tx, job) = (self.store.clone(), self.tx.clone(), source.to_owned());
        let settle = self.config.settle;
        let spawned = std::thread::Builder::new()
            .name(format!(
                "zion-inbox-{}",
                source.chars().take(4).collect::<String>()
            ))
            .spawn({
                let names = names.clone();
                move || {
                    let results = store.ingest_all_settled(&job, &names, settle);
                    let _ = tx.send(Msg::Done(job, names.into_iter().zip(results).collect()));
                }
            });
        match spawned {
            Ok(thread) => {
                self.busy.insert(source.to_owned(), thread);
            }
            Err(e) => {
                tracing::warn!("could not start an inbox ingest thread: {e}");
                for name in names {
                    self.schedule(
                        (source.to_owned(), name),
                        Instant::now() + self.config.retry,
                    );
                }
            }
        }
    }

    /// Acts on what became of an offered file.
    fn finish(&mut self, key: Key, result: Result<IngestOutcome, StoreError>) {
        let (source, name) = &key;
        let dir = self.inbox.join(source);
        match result {
            Ok(IngestOutcome::Stored(item)) => {
                self.failed.remove(&key);
                self.unsettled.remove(&key);
                let _ = self.out.send(WatchEvent::Ingested(item.id));
            }
            Ok(IngestOutcome::Refused(refusal))
                if refusal.reason == crate::ingest::RefuseReason::Directory
                    && is_outbox_mount_point(source, name) =>
            {
                // `~/Outbox/<to>`: another inbox folder mounted over this one.
                self.reported.insert(key);
            }
            Ok(IngestOutcome::Refused(refusal)) if refusal.reason.is_transient() => {
                // Room may be made (items released or deleted, space freed):
                // look again now and then, and say it once.
                if self.reported.insert(key.clone()) {
                    tracing::warn!("{refusal}");
                    let _ = self.out.send(WatchEvent::Refused(refusal));
                }
                self.schedule(key, Instant::now() + self.config.retry * 20);
            }
            Ok(IngestOutcome::Refused(refusal)) => {
                if self.reported.insert(key) {
                    tracing::warn!("{refusal}");
                    let _ = self.out.send(WatchEvent::Refused(refusal));
                }
            }
            Ok(IngestOutcome::Changing { .. }) => {
                self.unsettled.insert(key.clone());
                self.schedule(key, Instant::now() + self.config.retry);
            }
            Ok(IngestOutcome::Gone { .. }) => {
                self.unsettled.remove(&key);
            }
            Err(e) => {
                let path = dir.join(name);
                tracing::warn!("could not take {}: {e}", path.display());
                if self.failed.insert(key.clone()) {
                    let _ = self.out.send(WatchEvent::Failed {
                        path,
                        error: e.to_string(),
                    });
                }
                self.schedule(key, Instant::now() + self.config.retry * 10);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{Flag, RemoveKind};

    fn suffixes() -> Vec<String> {
        WatcherConfig::default().partial_suffixes
    }

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn close_after_write_and_rename_into_place_complete_a_file() {
        let inbox = Path::new("/q/inbox");
        let closed = event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/q/inbox/sb1/report.pdf",
        );
        let renamed = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            "/q/inbox/sb1/report.pdf",
        );
        for e in [closed, renamed] {
            assert_eq!(
                classify(inbox, &e, &suffixes()),
                vec![Trigger::Complete {
                    source: "sb1".into(),
                    name: "report.pdf".into()
                }]
            );
        }
    }

    #[test]
    fn writes_and_attribute_changes_are_activity_that_delays_a_file() {
        let inbox = Path::new("/q/inbox");
        for kind in [
            EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(notify::event::MetadataKind::Any)),
        ] {
            assert_eq!(
                classify(inbox, &event(kind, "/q/inbox/sb1/report.pdf"), &suffixes()),
                vec![Trigger::Activity {
                    source: "sb1".into(),
                    name: "report.pdf".into()
                }]
            );
        }
    }

    #[test]
    fn partial_download_names_are_ignored_until_renamed() {
        let inbox = Path::new("/q/inbox");
        for name in [
            "a.part",
            "b.crdownload",
            "c.download",
            "report.odt.tmp",
            "lu1234abcd.TMP",
            "notes.txt~",
            ".goutputstream-Q1W2E3",
            ".report.pdf.Xa9b3C",
            ".#notes.txt",
        ] {
            let e = event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &format!("/q/inbox/sb1/{name}"),
            );
            assert!(classify(inbox, &e, &suffixes()).is_empty(), "{name}");
        }
        // Hidden names wait, ".part" itself included.
        assert!(waits_for_rename(OsStr::new(".part"), &suffixes()));
        // Chromium's temporary file, before it is renamed to the download's name.
        assert!(waits_for_rename(
            OsStr::new(".org.chromium.Chromium.BXu744"),
            &suffixes()
        ));
        for name in [
            "report.pdf",
            "tmp",
            "part",
            "a.tmpl",
            "~notes.txt",
            "x.parts",
        ] {
            assert!(!waits_for_rename(OsStr::new(name), &suffixes()), "{name}");
        }
    }

    #[test]
    fn queue_overflow_asks_for_a_sweep() {
        let e = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(
            classify(Path::new("/q/inbox"), &e, &suffixes()),
            vec![Trigger::Sweep]
        );
    }

    #[test]
    fn new_source_folders_removals_and_deep_paths() {
        let inbox = Path::new("/q/inbox");
        let e = event(EventKind::Create(CreateKind::Folder), "/q/inbox/sb2");
        assert_eq!(
            classify(inbox, &e, &suffixes()),
            vec![Trigger::NewSource("sb2".into())]
        );
        let e = event(EventKind::Remove(RemoveKind::File), "/q/inbox/sb2/x");
        assert_eq!(
            classify(inbox, &e, &suffixes()),
            vec![Trigger::Removed {
                source: "sb2".into(),
                name: "x".into()
            }]
        );
        let deep = event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/q/inbox/sb2/sub/x",
        );
        assert!(classify(inbox, &deep, &suffixes()).is_empty());
        let outside = event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/elsewhere/x",
        );
        assert!(classify(inbox, &outside, &suffixes()).is_empty());
    }
}
