//! The quarantine pipeline on the daemon's runtime: store events in, and for
//! each item what the policy says is due — scan it (in a confined worker, a
//! few at a time), mark it too large, or release it when its delay is over.
//! Blocking work (SQLite, file copies, the scan) runs in `spawn_blocking`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::Semaphore;
use zion_quarantine::{
    due, release_at, Action, DecidedBy, Item, ItemId, Policy, Store, StoreError, StoreEvent,
    Verdict, WatchEvent,
};
use zion_storage::Destination;

use super::notify::{self, Notifier};

/// Scans one object of a source (the item's `source`) and says what it is.
/// Must never return `Clean` for a scan that did not finish.
pub type ScanFn = Arc<dyn Fn(&str, &Path) -> Verdict + Send + Sync>;

/// Forwards a std channel (the store's and the watcher's) into the runtime.
pub fn bridge<T: Send + 'static>(rx: std::sync::mpsc::Receiver<T>) -> UnboundedReceiver<T> {
    let (tx, out) = unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("zion-q-bridge".into())
        .spawn(move || {
            while let Ok(v) = rx.recv() {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start a quarantine event thread: {e}");
    }
    out
}

/// The pipeline's parts.
pub struct Pipeline {
    /// The store.
    pub store: Arc<Store>,
    /// The `[quarantine]` policy.
    pub policy: Policy,
    /// The scanner.
    pub scan: ScanFn,
    /// Where verdicts are announced.
    pub notifier: Notifier,
    /// How many scans may run at once.
    pub parallel_scans: usize,
}

/// What a finished task tells the loop: the items it is done with.
struct Done(Vec<ItemId>);

/// The most releases committed together (see [`releaser`]).
const RELEASE_BATCH: usize = 256;

struct Runner {
    p: Arc<Pipeline>,
    scans: Arc<Semaphore>,
    /// Releases due, taken in batches by [`releaser`].
    releases: UnboundedSender<(ItemId, Destination)>,
    in_flight: HashSet<ItemId>,
    timers: BTreeMap<ItemId, SystemTime>,
    done: UnboundedSender<Done>,
}

impl Pipeline {
    /// Runs until both channels close: acts on what is due for every item in
    /// the store now, then on every event.
    pub async fn run(
        self,
        mut events: UnboundedReceiver<StoreEvent>,
        mut watch: UnboundedReceiver<WatchEvent>,
    ) {
        let (done_tx, mut done_rx) = unbounded_channel();
        let (release_tx, release_rx) = unbounded_channel();
        let p = Arc::new(self);
        tokio::spawn(releaser(p.clone(), release_rx, done_tx.clone()));
        let mut r = Runner {
            scans: Arc::new(Semaphore::new(p.parallel_scans.max(1))),
            releases: release_tx,
            p,
            in_flight: HashSet::new(),
            timers: BTreeMap::new(),
            done: done_tx,
        };
        if let Some(problem) = r.p.store.audit_problem_at_open() {
            r.p.notifier.send(&notify::audit_message(problem)).await;
        }
        match r.blocking(|s| s.list()).await {
            Ok(items) => items.iter().for_each(|i| r.consider(i)),
            Err(e) => tracing::error!("cannot list the quarantine: {e}"),
        }
        let mut watch_open = true;
        loop {
            let sleep = r.next_timer();
            tokio::select! {
                event = events.recv() => match event {
                    Some(StoreEvent::ItemAdded(item)) => {
                        // Scanned at ingest: its verdict is news.
                        r.p.notifier.verdict(&item);
                        r.consider(&item)
                    }
                    Some(StoreEvent::ItemChanged(item)) => r.consider(&item),
                    // Logged as an error where it was found.
                    Some(StoreEvent::AuditBroken(problem)) => {
                        r.p.notifier.send(&notify::audit_message(&problem)).await
                    }
                    None => break,
                },
                w = watch.recv(), if watch_open => match w {
                    Some(w) => {
                        log_watch(&w);
                        if let WatchEvent::Refused(refusal) = &w {
                            if let Some(msg) = notify::refusal_message(refusal) {
                                r.p.notifier.send(&msg).await;
                            }
                        }
                    }
                    None => watch_open = false,
                },
                Some(Done(ids)) = done_rx.recv() => {
                    for id in &ids {
                        r.in_flight.remove(id);
                    }
                    r.reconsider_all(ids).await;
                }
                () = tokio::time::sleep(sleep) => r.fire_timers().await,
            }
        }
    }
}

fn log_watch(w: &WatchEvent) {
    match w {
        WatchEvent::Ingested(id) => tracing::debug!("inbox: item {id} taken"),
        // The watcher logs refusals and failures itself.
        WatchEvent::Refused(_) | WatchEvent::Failed { .. } => {}
    }
}

impl Runner {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        run_blocking(self.p.store.clone(), f).await
    }

    fn next_timer(&self) -> Duration {
        let now = SystemTime::now();
        self.timers
            .values()
            .min()
            .map(|at| at.duration_since(now).unwrap_or_default())
            // Nothing planned: wake up rarely, for nothing.
            .unwrap_or(Duration::from_secs(3600))
    }

    async fn fire_timers(&mut self) {
        let now = SystemTime::now();
        let due: Vec<ItemId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.timers.remove(&id);
            self.reconsider(id).await;
        }
    }

    /// As [`Runner::reconsider`] for each of `ids`, read in one go.
    async fn reconsider_all(&mut self, ids: Vec<ItemId>) {
        if let [id] = ids[..] {
            return self.reconsider(id).await;
        }
        let store = self.p.store.clone();
        let read = tokio::task::spawn_blocking(move || {
            let items = store.get_all(&ids);
            ids.into_iter().zip(items).collect::<Vec<_>>()
        })
        .await;
        match read {
            Ok(items) => {
                for (id, item) in items {
                    match item {
                        Ok(item) => self.consider(&item),
                        Err(StoreError::NoSuchItem(_)) => {}
                        Err(e) => tracing::warn!("quarantine item {id}: {e}"),
                    }
                }
            }
            Err(e) => tracing::error!("looking at released items again: {e}"),
        }
    }

    async fn reconsider(&mut self, id: ItemId) {
        match self.blocking(move |s| s.get(id)).await {
            Ok(item) => self.consider(&item),
            Err(StoreError::NoSuchItem(_)) => {}
            Err(e) => tracing::warn!("quarantine item {id}: {e}"),
        }
    }

    /// Starts what is due for `item`, or plans it for later.
    fn consider(&mut self, item: &Item) {
        let id = item.id;
        self.timers.remove(&id);
        if self.in_flight.contains(&id) {
            return;
        }
        let p = self.p.clone();
        let done = self.done.clone();
        match due(item, SystemTime::now(), &p.policy) {
            Some(Action::Scan) => {
                self.in_flight.insert(id);
                let scans = self.scans.clone();
                tokio::spawn(async move {
                    let _permit = scans.acquire_owned().await;
                    scan(&p, id).await;
                    let _ = done.send(Done(vec![id]));
                });
            }
            Some(Action::MarkTooLarge { limit }) => {
                self.in_flight.insert(id);
                tokio::spawn(async move {
                    match run_blocking(p.store.clone(), move |s| s.mark_too_large(id, limit)).await
                    {
                        Ok(item) => p.notifier.verdict(&item),
                        Err(e) => tracing::warn!("quarantine item {id}: {e}"),
                    }
                    let _ = done.send(Done(vec![id]));
                });
            }
            Some(Action::Release { destination }) => {
                self.in_flight.insert(id);
                if self.releases.send((id, destination)).is_err() {
                    tracing::error!("quarantine item {id}: the releases have stopped");
                }
            }
            None => {
                if let Some(at) = release_at(item, &p.policy) {
                    self.timers.insert(id, at);
                }
            }
        }
    }
}

/// Releases what the policy found due, as many at a time as have queued up
/// (up to [`RELEASE_BATCH`]) while the previous batch was committed: one
/// durable commit per batch, not several per file.
async fn releaser(
    p: Arc<Pipeline>,
    mut due: UnboundedReceiver<(ItemId, Destination)>,
    done: UnboundedSender<Done>,
) {
    while let Some(first) = due.recv().await {
        let mut batch = vec![first];
        while batch.len() < RELEASE_BATCH {
            match due.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let store = p.store.clone();
        let work = batch.clone();
        let results =
            tokio::task::spawn_blocking(move || store.release_all(&work, DecidedBy::Policy)).await;
        let results = match results {
            Ok(results) => results,
            Err(e) => {
                tracing::error!("a batch of automatic releases stopped: {e}");
                Vec::new()
            }
        };
        for (n, (id, destination)) in batch.iter().enumerate() {
            match results.get(n) {
                Some(Ok(item)) => tracing::info!(
                    "quarantine item {id} released by the policy to {destination}: {}",
                    super::wire::item_info(item).detail
                ),
                Some(Err(e)) => tracing::warn!("automatic release: {e}"),
                None => {}
            }
        }
        let _ = done.send(Done(batch.iter().map(|(id, _)| *id).collect()));
    }
}

async fn run_blocking<T: Send + 'static>(
    store: Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Io {
            op: "running a quarantine task",
            path: Default::default(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// `stored → scanning → verdict`, then the notification: for a first verdict,
/// or when a rescan (after a rule change, say) changed it — not a hundred
/// notifications repeating what the user was already told.
async fn scan(p: &Pipeline, id: ItemId) {
    let scan_fn = p.scan.clone();
    let finished = run_blocking(p.store.clone(), move |s| {
        let item = s.get(id)?;
        let path = s.begin_scan(id)?;
        let started = std::time::Instant::now();
        let verdict = scan_fn(&item.source, &path);
        let previous = item.verdict;
        tracing::info!(
            item = %id,
            "scanned in {:.0?}: {}",
            started.elapsed(),
            super::wire::verdict_word(&verdict)
        );
        let news = previous.as_ref() != Some(&verdict);
        s.finish_scan(id, verdict).map(|item| (item, news))
    })
    .await;
    match finished {
        Ok((item, true)) => p.notifier.verdict(&item),
        Ok((item, false)) => tracing::debug!("item {}: verdict unchanged", item.id),
        // Deleted while it was being scanned, for instance.
        Err(e) => tracing::info!("quarantine item {id}: scan not recorded: {e}"),
    }
}
