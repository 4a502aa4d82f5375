//! Scanning a copy while its ingest is made durable (issue 17, item 5).
//!
//! A scan needs only the finished copy, whose bytes and hash are known once
//! it is made; the copy's sync to disk and the `stored` commit are there for
//! a crash. So the two run side by side: the scan reads the copy through a
//! read-only descriptor while the copy is synced and its row committed, and
//! on a large file the scan, the longer of the two, hides the sync.
//!
//! The verdict is recorded only after the `stored` commit returned (lazily,
//! as every verdict is), so a crash at any moment loses at most a scan,
//! never a file, and releases nothing unscanned: before the commit the
//! ingest is rolled back by recovery (the inbox file is still there and is
//! taken and scanned again); after it the item is `stored`, without a
//! verdict, and is scanned by the pipeline. A release commits durably, and
//! the write-ahead log keeps order, so no release rests on a verdict the
//! disk does not hold.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::item::ItemId;
use crate::store::lock;
use crate::verdict::Verdict;

/// Scans an open, read-only copy for an item of `source` (its
/// [`crate::Item::source`], whose scan workers serve no other) and says what
/// it is. Must never say `Clean` for a scan that did not finish.
pub type ScanFile = Arc<dyn Fn(&str, BorrowedFd<'_>) -> Verdict + Send + Sync>;

/// How [`crate::Store::ingest_all`] scans what it takes in.
#[derive(Clone)]
pub struct IngestScan {
    /// The scanner.
    pub scan: ScanFile,
    /// Larger items are not scanned here (the policy marks them too large).
    pub max_size: u64,
    /// How many scans of one batch run at once.
    pub threads: usize,
    /// The scan of a large copy usually ends before the copy is on disk
    /// (YARA-X here: 1 GB scanned in 0.16 s, written in about 1 s). The copy
    /// is then written back while it is made, so that its sync does not
    /// start after it; with a slower scan (libyara: 1 GB in 2-3 s) the sync
    /// runs beside the scan instead, and the copy goes at memory's pace.
    pub faster_than_disk: bool,
}

impl std::fmt::Debug for IngestScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestScan")
            .field("max_size", &self.max_size)
            .field("threads", &self.threads)
            .field("faster_than_disk", &self.faster_than_disk)
            .finish_non_exhaustive()
    }
}

/// One copy to scan.
pub(crate) struct ScanJob {
    /// Its item.
    pub id: ItemId,
    /// The item's source.
    pub source: String,
    /// The copy, read-only.
    pub file: OwnedFd,
}

/// A verdict for one copy of the batch. An item number is never given
/// twice (the journal's ids are `AUTOINCREMENT`), so the verdict of a copy
/// whose ingest was rolled back matches no stored item.
pub(crate) type Scanned = (ItemId, Verdict);

/// The copies waiting for a scan thread, and whether more will come.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<ScanJob>,
    closed: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// Scans running on a batch's copies, each started as soon as its copy is
/// made, while the batch's next files are copied.
pub(crate) struct Scans<'scope> {
    queue: Shared,
    threads: Vec<ScopedJoinHandle<'scope, Vec<Scanned>>>,
    /// [`IngestScan::faster_than_disk`].
    pub faster_than_disk: bool,
}

impl<'scope> Scans<'scope> {
    /// Starts `how.threads` scan threads on `scope`, waiting for copies.
    pub fn start<'env>(scope: &'scope Scope<'scope, 'env>, how: &'env IngestScan) -> Scans<'scope> {
        let queue: Shared = Arc::default();
        let mut threads = Vec::with_capacity(how.threads.max(1));
        for _ in 0..how.threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name("zion-q-early-scan".into())
                .spawn_scoped(scope, move || {
                    let mut done = Vec::new();
                    while let Some(job) = next(&queue) {
                        let (id, started) = (job.id, std::time::Instant::now());
                        let verdict = (how.scan)(&job.source, job.file.as_fd());
                        tracing::debug!(item = %id, "scanned at ingest in {:.0?}", started.elapsed());
                        done.push((id, verdict));
                    }
                    done
                });
            match spawned {
                Ok(thread) => threads.push(thread),
                // The items not scanned here are scanned by the pipeline.
                Err(e) => tracing::warn!("could not start a scan at ingest: {e}"),
            }
        }
        Scans {
            queue,
            threads,
            faster_than_disk: how.faster_than_disk,
        }
    }

    /// Queues a copy for the next free scan thread (none left: the
    /// pipeline scans it).
    pub fn push(&self, job: ScanJob) {
        if self.threads.is_empty() {
            return;
        }
        let (queue, ready) = &*self.queue;
        lock(queue).jobs.push_back(job);
        ready.notify_one();
    }

    /// Every verdict, once all the queued scans ended; an item whose scan
    /// thread failed has none (the pipeline scans it).
    pub fn finish(mut self) -> Vec<Scanned> {
        self.close();
        let mut all = Vec::new();
        for thread in std::mem::take(&mut self.threads) {
            match thread.join() {
                Ok(done) => all.extend(done),
                Err(_) => tracing::error!("a scan at ingest panicked"),
            }
        }
        all
    }

    /// No more copies: the threads end once the queue is empty.
    fn close(&self) {
        let (queue, ready) = &*self.queue;
        lock(queue).closed = true;
        ready.notify_all();
    }
}

impl Drop for Scans<'_> {
    /// A batch that ends early lets its threads go (its scope joins them).
    fn drop(&mut self) {
        self.close();
    }
}

/// The next queued copy; `None` once the queue is closed and empty.
fn next(queue: &Shared) -> Option<ScanJob> {
    let (queue, ready) = &**queue;
    let mut q = lock(queue);
    loop {
        if let Some(job) = q.jobs.pop_front() {
            return Some(job);
        }
        if q.closed {
            return None;
        }
        q = ready
            .wait(q)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}
