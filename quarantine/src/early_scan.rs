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
use std::sync::{Arc, Mutex};
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
}

impl std::fmt::Debug for IngestScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestScan")
            .field("max_size", &self.max_size)
            .field("threads", &self.threads)
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

/// Scans running on a batch's copies.
pub(crate) struct Scans<'scope> {
    threads: Vec<ScopedJoinHandle<'scope, Vec<(ItemId, Verdict)>>>,
}

impl<'scope> Scans<'scope> {
    /// Starts scanning each of `jobs` on up to `how.threads` threads of `scope`.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        how: &'env IngestScan,
        jobs: Vec<ScanJob>,
    ) -> Scans<'scope> {
        let count = how.threads.clamp(1, jobs.len().max(1));
        let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
        let mut threads = Vec::with_capacity(count);
        for _ in 0..count {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name("zion-q-early-scan".into())
                .spawn_scoped(scope, move || {
                    let mut done = Vec::new();
                    loop {
                        let Some(job) = lock(&queue).pop_front() else {
                            break;
                        };
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
        Scans { threads }
    }

    /// Every verdict, once all the scans ended; an item whose scan thread
    /// failed has none (the pipeline scans it).
    pub fn finish(self) -> Vec<(ItemId, Verdict)> {
        let mut all = Vec::new();
        for thread in self.threads {
            match thread.join() {
                Ok(done) => all.extend(done),
                Err(_) => tracing::error!("a scan at ingest panicked"),
            }
        }
        all
    }
}
