//! Retro-hunt and recall (issue 17): released files are not forgotten.
//!
//! The journal keeps every released item's SHA-256, destination and path
//! (its `released` state). When the rules change, each distinct released
//! content is scanned again, once, read from where it was released after
//! checking it still has that SHA-256 ([`plan`], [`Store::open_released`]).
//! A new match recalls the content ([`Store::record_recall`]): every released
//! item with that SHA-256 is a copy, each with its [`CopyStatus`] (still the
//! content, changed since, gone). Nothing moves until the user asks
//! ([`Store::move_back`]): the content is put in the store and a held item
//! made for it, durably, before any copy is taken out of its destination;
//! a crash in between is finished by [`Store::resume_recalls`].
//!
//! The tables are this module's own (an additive migration, [`migrate`]).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, OptionalExtension};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zion_storage::recall::{self as storage_recall, Found, TakeBack};
use zion_storage::{Destination, Layout, StorageError};

use crate::error::StoreError;
use crate::ingest::TEMP_PREFIX;
use crate::item::{Item, ItemId};
use crate::journal::Journal;
use crate::state::{State, StateKind};
use crate::store::{lock, sync_dir, Store, StoreEvent};
use crate::verdict::{RuleMatch, Verdict};

const SCHEMA: &str = "
-- The rules the retro-hunt last saw, and since when they are in force.
CREATE TABLE IF NOT EXISTS recall_rules (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    since_ms INTEGER NOT NULL
);
-- Each released content scanned again, with which rules and what came of it.
CREATE TABLE IF NOT EXISTS recall_hunts (
    sha256 TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    hunted_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
-- Released contents a new rule matched.
CREATE TABLE IF NOT EXISTS recalls (
    sha256 TEXT PRIMARY KEY,
    matches_json TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    found_ms INTEGER NOT NULL
);
-- Every released item of a recalled content: where its copy stands.
CREATE TABLE IF NOT EXISTS recall_copies (
    item_id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    status_json TEXT NOT NULL,
    changed_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recall_copies_sha256 ON recall_copies(sha256);
";

/// Creates the recall tables if they are missing (older journals gain them).
pub(crate) fn migrate(journal: &Journal) -> Result<(), StoreError> {
    journal
        .conn()
        .execute_batch(SCHEMA)
        .map_err(|e| journal.err(e))
}

/// Where one released copy of a recalled content stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CopyStatus {
    /// Still the released content, where it was released: moved back when
    /// the user asks.
    Present,
    /// Not the released content any more (changed, or replaced by a link or
    /// a folder): not recalled, left alone.
    Changed {
        /// What is different.
        reason: String,
    },
    /// Gone from where it was released.
    Missing,
    /// Being moved back into the quarantine as item `into` (the store holds
    /// the content already).
    Returning {
        /// The held item that has the content.
        into: i64,
    },
    /// Moved back into the quarantine as item `into`.
    Returned {
        /// The held item that has the content.
        into: i64,
    },
}

impl CopyStatus {
    /// The status's word: `present`, `changed`, `missing`, `returning`, `returned`.
    pub fn word(&self) -> &'static str {
        match self {
            CopyStatus::Present => "present",
            CopyStatus::Changed { .. } => "changed",
            CopyStatus::Missing => "missing",
            CopyStatus::Returning { .. } => "returning",
            CopyStatus::Returned { .. } => "returned",
        }
    }

    /// What the user is told about this copy.
    pub fn detail(&self) -> String {
        match self {
            CopyStatus::Present => "still the released content; not moved until you ask".into(),
            CopyStatus::Changed { reason } => format!("not recalled: {reason}"),
            CopyStatus::Missing => "no longer there".into(),
            CopyStatus::Returning { into } => format!("being moved back as item {into}"),
            CopyStatus::Returned { into } => format!("moved back into quarantine as item {into}"),
        }
    }
}

/// One released copy of a recalled content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecalledCopy {
    /// The released item.
    pub item: ItemId,
    /// Its destination (`shared`, `profile:NAME`, `profile:NAME/incoming:FROM`).
    pub destination: String,
    /// Where it was released.
    pub path: PathBuf,
    /// Where it stands now.
    pub status: CopyStatus,
    /// When that status was found.
    pub changed: SystemTime,
}

/// A released content that a rule matched after its release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recall {
    /// The content's SHA-256.
    pub sha256: [u8; 32],
    /// The name it was first released with.
    pub name: String,
    /// The rules that matched.
    pub matches: Vec<RuleMatch>,
    /// When the match was found.
    pub found: SystemTime,
    /// Every released item of this content.
    pub copies: Vec<RecalledCopy>,
}

impl Recall {
    /// Every destination that received the content, each once, in release order.
    pub fn destinations(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for copy in &self.copies {
            if !out.contains(&copy.destination) {
                out.push(copy.destination.clone());
            }
        }
        out
    }

    /// The profiles that received it (Shared is seen by every profile, but
    /// is not one).
    pub fn profiles(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for dest in self.destinations() {
            if let Some(profile) = profile_of(&dest) {
                if !out.iter().any(|p| p == profile) {
                    out.push(profile.to_owned());
                }
            }
        }
        out
    }

    /// How many copies would move back if the user asked now.
    pub fn returnable(&self) -> usize {
        self.copies
            .iter()
            .filter(|c| c.status == CopyStatus::Present)
            .count()
    }

    /// The held item the content was moved back into, if it was.
    pub fn returned_as(&self) -> Option<ItemId> {
        self.copies.iter().find_map(|c| match c.status {
            CopyStatus::Returning { into } | CopyStatus::Returned { into } => Some(ItemId(into)),
            _ => None,
        })
    }

    /// Whether `id` is one of its released items.
    pub fn covers(&self, id: ItemId) -> bool {
        self.copies.iter().any(|c| c.item == id)
    }
}

/// The profile a destination text names, if any.
fn profile_of(destination: &str) -> Option<&str> {
    let rest = destination.strip_prefix("profile:")?;
    Some(rest.split_once('/').map_or(rest, |(p, _)| p))
}

/// What the recall could not do, said so that the user knows why.
#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No new rule matched this item's content since its release.
    #[error(
        "quarantine item {0} is not recalled: no rule has matched its content since it was released"
    )]
    NotRecalled(ItemId),
    /// There is nothing (left) to move back.
    #[error("quarantine item {id}: nothing to move back: {reason}")]
    NothingToMove {
        /// The item asked about.
        id: ItemId,
        /// Why.
        reason: String,
    },
}

/// What the rules seen now are, next to those recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesSeen {
    /// No rules were recorded yet (a new journal): what was released so far
    /// is taken as scanned with these.
    First,
    /// The same rules as recorded.
    Same,
    /// Different rules: what was released before now is hunted.
    Changed,
}

/// One content to hunt: its hash and its released items, the one to read
/// first first (Shared, which no profile can write, then by age).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunt {
    /// The content's SHA-256.
    pub sha256: [u8; 32],
    /// The released items carrying it.
    pub items: Vec<Item>,
}

/// Which released contents to scan again under the rules `fingerprint`, in
/// force since `since`: each distinct SHA-256 once; not one already scanned
/// with these rules (`hunted`: hex SHA-256 → fingerprint), nor one already
/// recalled, nor one whose every copy was released after the rules came in
/// force (scanned with them). Pure.
pub fn plan(
    released: &[Item],
    hunted: &HashMap<String, String>,
    recalled: &HashSet<String>,
    fingerprint: &str,
    since: SystemTime,
) -> Vec<Hunt> {
    let mut order: Vec<[u8; 32]> = Vec::new();
    let mut by_sha: HashMap<[u8; 32], (bool, Vec<Item>)> = HashMap::new();
    for item in released {
        let (Some(sha), StateKind::Released) = (item.sha256, item.state.kind()) else {
            continue;
        };
        let hex = hex::encode(sha);
        if recalled.contains(&hex) || hunted.get(&hex).is_some_and(|f| f == fingerprint) {
            continue;
        }
        let entry = by_sha.entry(sha).or_insert_with(|| {
            order.push(sha);
            (false, Vec::new())
        });
        entry.0 |= item.changed < since;
        entry.1.push(item.clone());
    }
    order
        .into_iter()
        .filter_map(|sha| {
            let (needed, mut items) = by_sha.remove(&sha)?;
            if !needed {
                return None;
            }
            items.sort_by_key(|i| (i.destination.as_deref() != Some("shared"), i.id));
            Some(Hunt { sha256: sha, items })
        })
        .collect()
}

/// Where a released item's copy is: its destination and its name there,
/// checked against the destination's folder. Pure.
pub fn copy_place(item: &Item, layout: &Layout) -> Result<(Destination, String), String> {
    let State::Released { path } = &item.state else {
        return Err(format!("item {} is not released", item.id));
    };
    let dest_text = item
        .destination
        .as_deref()
        .ok_or_else(|| format!("item {} has no recorded destination", item.id))?;
    let dest: Destination = dest_text.parse().map_err(|e| format!("{e}"))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no usable file name", path.display()))?;
    if layout.destination_dir(&dest).join(name) != *path {
        return Err(format!(
            "{} is not in the folder of {dest_text}",
            path.display()
        ));
    }
    Ok((dest, name.to_owned()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Plain data: serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn parse_sha(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl Store {
    /// Records the rules in force (`fingerprint`: what identifies them) and
    /// says how they compare with those recorded.
    pub fn note_rules(&self, fingerprint: &str) -> Result<RulesSeen, StoreError> {
        let journal = lock(&self.journal);
        let conn = journal.conn();
        let known: Option<String> = conn
            .query_row(
                "SELECT fingerprint FROM recall_rules WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| journal.err(e))?;
        let seen = match known {
            Some(f) if f == fingerprint => return Ok(RulesSeen::Same),
            Some(_) => RulesSeen::Changed,
            None => RulesSeen::First,
        };
        conn.execute(
            "INSERT INTO recall_rules (id, fingerprint, since_ms) VALUES (1, ?1, ?2) \
             ON CONFLICT(id) DO UPDATE SET fingerprint = excluded.fingerprint, since_ms = excluded.since_ms",
            params![fingerprint, now_ms()],
        )
        .map_err(|e| journal.err(e))?;
        Ok(seen)
    }

    /// How many items are being taken in or wait for (or are in) a scan:
    /// the retro-hunt waits until there are none, so that it never delays
    /// a new download's verdict.
    pub fn scans_waiting(&self) -> Result<u64, StoreError> {
        let journal = lock(&self.journal);
        let n: i64 = journal
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM items WHERE state IN ('ingesting', 'stored', 'scanning')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| journal.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The released contents to scan again with the rules recorded by
    /// [`Store::note_rules`] (see [`plan`]), and those rules' fingerprint.
    pub fn hunt_plan(&self) -> Result<(String, Vec<Hunt>), StoreError> {
        let journal = lock(&self.journal);
        let conn = journal.conn();
        let rules: Option<(String, i64)> = conn
            .query_row(
                "SELECT fingerprint, since_ms FROM recall_rules WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| journal.err(e))?;
        let Some((fingerprint, since_ms)) = rules else {
            return Ok((String::new(), Vec::new()));
        };
        let released = journal.in_state(StateKind::Released)?;
        let mut stmt = conn
            .prepare("SELECT sha256, fingerprint FROM recall_hunts")
            .map_err(|e| journal.err(e))?;
        let hunted = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .and_then(|rows| rows.collect::<Result<HashMap<_, _>, _>>())
            .map_err(|e| journal.err(e))?;
        let mut stmt = conn
            .prepare("SELECT sha256 FROM recalls")
            .map_err(|e| journal.err(e))?;
        let recalled = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<HashSet<_>, _>>())
            .map_err(|e| journal.err(e))?;
        let hunts = plan(
            &released,
            &hunted,
            &recalled,
            &fingerprint,
            time_of(since_ms),
        );
        Ok((fingerprint, hunts))
    }

    /// Records that `sha256` was hunted with the rules `fingerprint`, and
    /// what came of it (`clean`, `recalled`, `unscanned: why`).
    pub fn record_hunt(
        &self,
        sha256: &[u8; 32],
        fingerprint: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let journal = lock(&self.journal);
        journal
            .conn()
            .execute(
                "INSERT INTO recall_hunts (sha256, fingerprint, hunted_ms, outcome) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(sha256) DO UPDATE SET fingerprint = excluded.fingerprint, \
                 hunted_ms = excluded.hunted_ms, outcome = excluded.outcome",
                params![hex::encode(sha256), fingerprint, now_ms(), outcome],
            )
            .map_err(|e| journal.err(e))?;
        Ok(())
    }

    /// Opens a released item's copy where it was released, if it is still a
    /// regular file with the item's SHA-256; otherwise says what it is now.
    /// Never follows a symbolic link.
    pub fn open_released(&self, item: &Item) -> Result<Result<File, CopyStatus>, StoreError> {
        let Some(sha) = item.sha256 else {
            return Ok(Err(CopyStatus::Missing));
        };
        let (dest, name) = match copy_place(item, &self.layout) {
            Ok(place) => place,
            Err(reason) => return Ok(Err(CopyStatus::Changed { reason })),
        };
        let found = match storage_recall::open_copy(&self.layout, &dest, &name) {
            Ok(found) => found,
            // A folder on the way replaced by a link, say: not the copy.
            Err(e @ (StorageError::SymlinkRefused { .. } | StorageError::NotADirectory { .. })) => {
                return Ok(Err(CopyStatus::Changed {
                    reason: e.to_string(),
                }))
            }
            Err(e) => return Err(StoreError::Storage(e)),
        };
        let file = match found {
            Found::File(file) => file,
            Found::Symlink => {
                return Ok(Err(CopyStatus::Changed {
                    reason: "it was replaced by a symbolic link".into(),
                }))
            }
            Found::NotAFile => {
                return Ok(Err(CopyStatus::Changed {
                    reason: "it was replaced by something not a file".into(),
                }))
            }
            Found::Missing => return Ok(Err(CopyStatus::Missing)),
        };
        let actual = storage_recall::sha256_of(&file)
            .map_err(|e| StoreError::io("reading the released copy", path_of(item), e))?;
        if actual != sha {
            return Ok(Err(CopyStatus::Changed {
                reason: format!(
                    "its content changed since it was released (SHA-256 now {})",
                    hex::encode(actual)
                ),
            }));
        }
        Ok(Ok(file))
    }

    /// Recalls the content `sha256` that `matches` caught: every released
    /// item with it becomes a copy, each found as it is now. Returns the
    /// recall; moves nothing.
    pub fn record_recall(
        &self,
        sha256: &[u8; 32],
        matches: &[RuleMatch],
        fingerprint: &str,
    ) -> Result<Recall, StoreError> {
        let hex = hex::encode(sha256);
        let items = self.released_with(sha256)?;
        let mut statuses = Vec::new();
        for item in &items {
            let status = match self.open_released(item)? {
                Ok(_) => CopyStatus::Present,
                Err(status) => status,
            };
            statuses.push((item.id, status));
        }
        {
            let journal = lock(&self.journal);
            let tx = journal
                .conn()
                .unchecked_transaction()
                .map_err(|e| journal.err(e))?;
            let now = now_ms();
            tx.execute(
                "INSERT OR IGNORE INTO recalls (sha256, matches_json, fingerprint, found_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![hex, to_json(&matches), fingerprint, now],
            )
            .map_err(|e| journal.err(e))?;
            for (id, status) in &statuses {
                tx.execute(
                    "INSERT OR IGNORE INTO recall_copies (item_id, sha256, status_json, changed_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id.0, hex, to_json(status), now],
                )
                .map_err(|e| journal.err(e))?;
            }
            tx.commit().map_err(|e| journal.err(e))?;
        }
        self.recall_by_sha(sha256)?.ok_or(StoreError::NoSuchItem(
            items.first().map_or(ItemId(0), |i| i.id),
        ))
    }

    /// Every recall, oldest first.
    pub fn recalls(&self) -> Result<Vec<Recall>, StoreError> {
        let shas: Vec<String> = {
            let journal = lock(&self.journal);
            let mut stmt = journal
                .conn()
                .prepare("SELECT sha256 FROM recalls ORDER BY found_ms, sha256")
                .map_err(|e| journal.err(e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| journal.err(e))?;
            rows
        };
        let mut out = Vec::new();
        for sha in shas.iter().filter_map(|s| parse_sha(s)) {
            if let Some(recall) = self.recall_by_sha(&sha)? {
                out.push(recall);
            }
        }
        Ok(out)
    }

    /// The recall that item `id` (released) is a copy of, or that moved its
    /// copies back into item `id`.
    pub fn recall_of(&self, id: ItemId) -> Result<Option<Recall>, StoreError> {
        let item = self.get(id)?;
        let Some(sha) = item.sha256 else {
            return Ok(None);
        };
        Ok(self
            .recall_by_sha(&sha)?
            .filter(|r| r.covers(id) || r.returned_as() == Some(id)))
    }

    fn recall_by_sha(&self, sha256: &[u8; 32]) -> Result<Option<Recall>, StoreError> {
        let hex = hex::encode(sha256);
        let journal = lock(&self.journal);
        let conn = journal.conn();
        let head: Option<(String, i64)> = conn
            .query_row(
                "SELECT matches_json, found_ms FROM recalls WHERE sha256 = ?1",
                params![hex],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| journal.err(e))?;
        let Some((matches_json, found_ms)) = head else {
            return Ok(None);
        };
        let corrupt = |id: i64, reason: String| StoreError::CorruptRow {
            path: self.paths.journal.clone(),
            id,
            reason,
        };
        let matches: Vec<RuleMatch> = serde_json::from_str(&matches_json)
            .map_err(|e| corrupt(0, format!("recall of {hex}: matches: {e}")))?;
        let mut stmt = conn
            .prepare(
                "SELECT item_id, status_json, changed_ms FROM recall_copies \
                 WHERE sha256 = ?1 ORDER BY item_id",
            )
            .map_err(|e| journal.err(e))?;
        let rows = stmt
            .query_map(params![hex], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| journal.err(e))?;
        let mut copies = Vec::new();
        let mut name = String::new();
        for (id, status_json, changed_ms) in rows {
            let status: CopyStatus = serde_json::from_str(&status_json)
                .map_err(|e| corrupt(id, format!("recall status: {e}")))?;
            let Some(item) = journal.get(ItemId(id))? else {
                continue;
            };
            if name.is_empty() {
                name = item.original_name.to_string_lossy().into_owned();
            }
            copies.push(RecalledCopy {
                item: item.id,
                destination: item.destination.clone().unwrap_or_default(),
                path: path_of(&item),
                status,
                changed: time_of(changed_ms),
            });
        }
        Ok(Some(Recall {
            sha256: *sha256,
            name,
            matches,
            found: time_of(found_ms),
            copies,
        }))
    }

    /// Every released item with this content.
    fn released_with(&self, sha256: &[u8; 32]) -> Result<Vec<Item>, StoreError> {
        let released = lock(&self.journal).in_state(StateKind::Released)?;
        Ok(released
            .into_iter()
            .filter(|i| i.sha256.as_ref() == Some(sha256))
            .collect())
    }

    fn set_copy_status(&self, id: ItemId, status: &CopyStatus) -> Result<(), StoreError> {
        let journal = lock(&self.journal);
        journal
            .conn()
            .execute(
                "UPDATE recall_copies SET status_json = ?2, changed_ms = ?3 WHERE item_id = ?1",
                params![id.0, to_json(status), now_ms()],
            )
            .map_err(|e| journal.err(e))?;
        Ok(())
    }

    /// Moves every copy of the content item `id` is recalled for, that is
    /// still that content, back into the quarantine: first the content into
    /// the store and a held item for it (durable), then each copy out of its
    /// destination, only while it still has the content. The user's act,
    /// never the daemon's. Returns the recall as it now is and the held item.
    pub fn move_back(&self, id: ItemId) -> Result<(Recall, Item), RecallError> {
        let recall = self.recall_of(id)?.ok_or(RecallError::NotRecalled(id))?;
        let sha = recall.sha256;
        let nothing = |reason: String| RecallError::NothingToMove { id, reason };
        let present: Vec<ItemId> = recall
            .copies
            .iter()
            .filter(|c| c.status == CopyStatus::Present)
            .map(|c| c.item)
            .collect();
        if present.is_empty() {
            let said: Vec<String> = recall
                .copies
                .iter()
                .map(|c| format!("{} ({})", c.path.display(), c.status.detail()))
                .collect();
            return Err(nothing(said.join("; ")));
        }
        // The content into the store: already there, or copied from a copy
        // that still has it (checked as it is copied).
        let mut first: Option<Item> = None;
        let mut stored = self.object_path(&sha).exists();
        for copy_id in &present {
            let item = self.get(*copy_id)?;
            if first.is_none() {
                first = Some(item.clone());
            }
            if stored {
                continue;
            }
            match self.open_released(&item)? {
                Ok(file) => stored = self.store_content(&file, &sha)?,
                Err(status) => self.set_copy_status(item.id, &status)?,
            }
        }
        let Some(first) = first else {
            return Err(nothing("no copy is left".into()));
        };
        if !stored {
            return Err(nothing(
                "no released copy still has the recalled content".into(),
            ));
        }
        // The held item and every copy's `returning`, in one commit.
        let (held, created) = {
            let _objects = lock(&self.objects_lock);
            if !self.object_path(&sha).exists() {
                return Err(nothing("the content left the store meanwhile".into()));
            }
            let reuse = recall
                .returned_as()
                .and_then(|into| self.get(into).ok())
                .filter(|i| i.state.kind().holds_object());
            let journal = lock(&self.journal);
            let tx = journal
                .conn()
                .unchecked_transaction()
                .map_err(|e| journal.err(e))?;
            let (into, created) = match &reuse {
                Some(item) => (item.id, false),
                None => {
                    let verdict = Verdict::Infected {
                        matches: recall.matches.clone(),
                    };
                    let state = State::Infected {
                        matches: recall.matches.clone(),
                    };
                    let now = now_ms();
                    tx.execute(
                        "INSERT INTO items (original_name, safe_name, inbox, source, profile, size, sha256, \
                         added_ms, changed_ms, state, state_json, verdict_json, held) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, 1)",
                        params![
                            first.original_name.as_bytes(),
                            first.safe_name,
                            first.inbox,
                            first.source,
                            first.profile,
                            i64::try_from(first.size).unwrap_or(i64::MAX),
                            hex::encode(sha),
                            now,
                            state.kind().as_str(),
                            to_json(&state),
                            to_json(&verdict),
                        ],
                    )
                    .map_err(|e| journal.err(e))?;
                    (ItemId(tx.last_insert_rowid()), true)
                }
            };
            let returning = to_json(&CopyStatus::Returning { into: into.0 });
            let present_json = to_json(&CopyStatus::Present);
            tx.execute(
                "UPDATE recall_copies SET status_json = ?2, changed_ms = ?3 \
                 WHERE sha256 = ?1 AND status_json = ?4",
                params![hex::encode(sha), returning, now_ms(), present_json],
            )
            .map_err(|e| journal.err(e))?;
            tx.commit().map_err(|e| journal.err(e))?;
            let held = journal.get(into)?.ok_or(StoreError::NoSuchItem(into))?;
            (held, created)
        };
        if created {
            tracing::info!(
                item = %held.id,
                sha256 = %hex::encode(sha),
                "recalled content held in quarantine (released as item {id})"
            );
            self.emit(StoreEvent::ItemAdded(held.clone()));
        }
        self.finish_returns(&sha)?;
        let recall = self
            .recall_by_sha(&sha)?
            .ok_or(RecallError::NotRecalled(id))?;
        Ok((recall, held))
    }

    /// Takes out of their destinations the copies the journal says are
    /// being moved back (after a crash, too); returns how many were looked at.
    pub fn resume_recalls(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for recall in self.recalls()? {
            if recall
                .copies
                .iter()
                .any(|c| matches!(c.status, CopyStatus::Returning { .. }))
            {
                n += self.finish_returns(&recall.sha256)?;
            }
        }
        // A copy taken out just before a crash has its audit entry now (the
        // log read once, and only when some copy was ever returned).
        let recalls = self.recalls()?;
        let returned = recalls.iter().flat_map(|r| {
            r.copies.iter().filter_map(move |c| match c.status {
                CopyStatus::Returned { into } => Some((r, c, into)),
                _ => None,
            })
        });
        let mut written: Option<HashSet<(String, String)>> = None;
        for (recall, copy, into) in returned {
            let written = match &mut written {
                Some(w) => w,
                None => written.insert(
                    self.audit
                        .entries()
                        .map_err(StorageError::from)?
                        .into_iter()
                        .filter_map(|e| Some((e.item_id, e.action?)))
                        .collect(),
                ),
            };
            if !written.contains(&(copy.item.to_string(), returned_action(into))) {
                self.audit_return(recall, copy, into)?;
            }
        }
        Ok(n)
    }

    /// Writes the audit entry of a recalled copy taken out of its
    /// destination (the user's act), after the journal recorded it: a crash
    /// in between is made good by [`Store::resume_recalls`].
    fn audit_return(
        &self,
        recall: &Recall,
        copy: &RecalledCopy,
        into: i64,
    ) -> Result<(), StoreError> {
        let item = self.get(copy.item)?;
        let dest: Destination = copy
            .destination
            .parse()
            .map_err(|e| StoreError::CorruptRow {
                path: self.paths.journal.clone(),
                id: copy.item.0,
                reason: format!("recalled copy's destination: {e}"),
            })?;
        let rules: Vec<&str> = recall.matches.iter().map(|m| m.rule.as_str()).collect();
        let mut entry = self.with_request(&item, &dest, "user", |req| {
            Ok(zion_storage::audit_entry(req, &copy.path))
        })?;
        entry.verdict = format!("recalled: {}", rules.join(", "));
        entry.action = Some(returned_action(into));
        self.audit.append(entry)?;
        Ok(())
    }

    fn finish_returns(&self, sha256: &[u8; 32]) -> Result<usize, StoreError> {
        let Some(recall) = self.recall_by_sha(sha256)? else {
            return Ok(0);
        };
        let mut n = 0;
        for copy in &recall.copies {
            let CopyStatus::Returning { into } = copy.status else {
                continue;
            };
            n += 1;
            let item = self.get(copy.item)?;
            let status = match copy_place(&item, &self.layout) {
                Err(reason) => CopyStatus::Changed { reason },
                Ok((dest, name)) => {
                    let tag = copy.item.to_string();
                    match storage_recall::take_back(&self.layout, &dest, &name, sha256, &tag) {
                        Ok(TakeBack::Removed) => {
                            tracing::info!(
                                "recall: {} taken out of {} (held as item {into})",
                                copy.path.display(),
                                copy.destination
                            );
                            CopyStatus::Returned { into }
                        }
                        Ok(TakeBack::Kept { reason, left_at }) => {
                            tracing::warn!("recall: {} left alone: {reason}", left_at.display());
                            let reason = if left_at == copy.path {
                                reason
                            } else {
                                format!("{reason}; it is now at {}", left_at.display())
                            };
                            CopyStatus::Changed { reason }
                        }
                        Ok(TakeBack::Missing) => CopyStatus::Missing,
                        Err(
                            e @ (StorageError::SymlinkRefused { .. }
                            | StorageError::NotADirectory { .. }),
                        ) => CopyStatus::Changed {
                            reason: e.to_string(),
                        },
                        Err(e) => return Err(StoreError::Storage(e)),
                    }
                }
            };
            self.set_copy_status(copy.item, &status)?;
            if let CopyStatus::Returned { into } = status {
                if let Err(e) = self.audit_return(&recall, copy, into) {
                    // Made good by `resume_recalls` on the next start.
                    tracing::error!(
                        "recall: {} was taken out but its audit entry is not written yet: {e}",
                        copy.path.display()
                    );
                }
            }
        }
        Ok(n)
    }

    /// Copies an open file into the store as the object `sha256`, checking
    /// the bytes copied hash to it; false when they did not (the file
    /// changed under the copy).
    fn store_content(&self, file: &File, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let temp = OsString::from(format!(
            "{TEMP_PREFIX}recall-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let temp_path = self.paths.objects.join(&temp);
        let out = rustix::fs::openat(
            &self.objects_dir,
            temp.as_os_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| StoreError::errno("creating", &temp_path, e))?;
        let out = File::from(out);
        let remove = || {
            let _ = rustix::fs::unlinkat(&self.objects_dir, temp.as_os_str(), AtFlags::empty());
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut at = 0u64;
        loop {
            let n = match file.read_at(&mut buf, at) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    remove();
                    return Err(StoreError::io(
                        "reading the released copy for",
                        &temp_path,
                        e,
                    ));
                }
            };
            hasher.update(&buf[..n]);
            if let Err(e) = out.write_all_at(&buf[..n], at) {
                remove();
                return Err(StoreError::io("writing", &temp_path, e));
            }
            at += n as u64;
        }
        let actual: [u8; 32] = hasher.finalize().into();
        if &actual != sha256 {
            remove();
            return Ok(false);
        }
        if let Err(e) = out.sync_all() {
            remove();
            return Err(StoreError::io("syncing", &temp_path, e));
        }
        let _objects = lock(&self.objects_lock);
        let object = hex::encode(sha256);
        match rustix::fs::renameat_with(
            &self.objects_dir,
            temp.as_os_str(),
            &self.objects_dir,
            object.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {}
            Err(Errno::EXIST) => remove(),
            Err(e) => {
                remove();
                return Err(StoreError::errno(
                    "storing the object",
                    self.paths.objects.join(&object),
                    e,
                ));
            }
        }
        sync_dir(&self.objects_dir, &self.paths.objects)?;
        Ok(true)
    }
}

/// The path an item was released to (empty if it is not released).
fn path_of(item: &Item) -> PathBuf {
    match &item.state {
        State::Released { path } => path.clone(),
        _ => PathBuf::new(),
    }
}

/// The audit log's `action` of a recalled copy taken back into item `into`.
fn returned_action(into: i64) -> String {
    format!("returned into item {into}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(id: i64, sha: u8, dest: &str, changed_s: u64) -> Item {
        Item {
            id: ItemId(id),
            original_name: "a.txt".into(),
            safe_name: "a.txt".into(),
            inbox: "profile-work".into(),
            source: "profile:work".into(),
            profile: Some("work".into()),
            size: 1,
            sha256: Some([sha; 32]),
            added: UNIX_EPOCH,
            changed: UNIX_EPOCH + Duration::from_secs(changed_s),
            state: State::Released {
                path: "/data/zion/shared/a.txt".into(),
            },
            verdict: Some(Verdict::Clean),
            destination: Some(dest.into()),
            held: false,
            origin: None,
        }
    }

    #[test]
    fn each_content_is_hunted_once_shared_copy_first() {
        let items = vec![
            released(1, 1, "profile:work", 10),
            released(2, 2, "shared", 10),
            released(3, 1, "shared", 10),
        ];
        let hunts = plan(
            &items,
            &HashMap::new(),
            &HashSet::new(),
            "rules-b",
            UNIX_EPOCH + Duration::from_secs(100),
        );
        assert_eq!(hunts.len(), 2, "{hunts:?}");
        assert_eq!(hunts[0].sha256, [1; 32]);
        let ids: Vec<i64> = hunts[0].items.iter().map(|i| i.id.0).collect();
        assert_eq!(ids, [3, 1], "the Shared copy is read first");
        assert_eq!(hunts[1].sha256, [2; 32]);
    }

    #[test]
    fn content_already_hunted_recalled_or_released_under_the_rules_is_left() {
        let items = vec![
            released(1, 1, "shared", 10),
            released(2, 2, "shared", 10),
            released(3, 3, "shared", 200),
            released(4, 4, "shared", 10),
        ];
        let hunted = HashMap::from([
            (hex::encode([1u8; 32]), "rules-b".to_owned()),
            (hex::encode([4u8; 32]), "rules-a".to_owned()),
        ]);
        let recalled = HashSet::from([hex::encode([2u8; 32])]);
        let hunts = plan(
            &items,
            &hunted,
            &recalled,
            "rules-b",
            UNIX_EPOCH + Duration::from_secs(100),
        );
        let shas: Vec<[u8; 32]> = hunts.iter().map(|h| h.sha256).collect();
        // 1: hunted with these rules; 2: recalled; 3: released after the
        // rules came in force; 4: hunted with older rules.
        assert_eq!(shas, [[4; 32]]);
    }

    #[test]
    fn a_copy_is_where_its_destination_says_or_refused() {
        let layout = Layout::new("/data/zion");
        let item = released(1, 1, "shared", 10);
        assert_eq!(
            copy_place(&item, &layout),
            Ok((Destination::Shared, "a.txt".into()))
        );
        let mut elsewhere = item.clone();
        elsewhere.destination = Some("profile:work".into());
        assert!(copy_place(&elsewhere, &layout)
            .expect_err("not in work's home")
            .contains("not in the folder of profile:work"));
        let mut held = item.clone();
        held.state = State::Clean;
        assert!(copy_place(&held, &layout).is_err());
        let mut odd = item;
        odd.destination = Some("../x".into());
        assert!(copy_place(&odd, &layout).is_err());
    }

    #[test]
    fn a_recall_names_destinations_and_profiles_once() {
        let copy = |item: i64, dest: &str, status: CopyStatus| RecalledCopy {
            item: ItemId(item),
            destination: dest.into(),
            path: PathBuf::new(),
            status,
            changed: UNIX_EPOCH,
        };
        let recall = Recall {
            sha256: [1; 32],
            name: "a.txt".into(),
            matches: Vec::new(),
            found: UNIX_EPOCH,
            copies: vec![
                copy(1, "shared", CopyStatus::Present),
                copy(
                    2,
                    "profile:work/incoming:home",
                    CopyStatus::Returned { into: 9 },
                ),
                copy(
                    3,
                    "profile:work",
                    CopyStatus::Changed { reason: "x".into() },
                ),
                copy(4, "shared", CopyStatus::Missing),
            ],
        };
        assert_eq!(
            recall.destinations(),
            ["shared", "profile:work/incoming:home", "profile:work"]
        );
        assert_eq!(recall.profiles(), ["work"]);
        assert_eq!(recall.returnable(), 1);
        assert_eq!(recall.returned_as(), Some(ItemId(9)));
        assert!(recall.covers(ItemId(3)) && !recall.covers(ItemId(9)));
    }

    #[test]
    fn copy_statuses_round_trip_through_the_journal_encoding() {
        for status in [
            CopyStatus::Present,
            CopyStatus::Changed {
                reason: "edited".into(),
            },
            CopyStatus::Missing,
            CopyStatus::Returning { into: 4 },
            CopyStatus::Returned { into: 4 },
        ] {
            let text = to_json(&status);
            assert!(text.contains(status.word()), "{text}");
            let back: CopyStatus = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, status);
        }
    }
}
