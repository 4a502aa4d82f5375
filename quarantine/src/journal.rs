//! The SQLite journal (WAL, `synchronous=FULL`): one row per item, committed
//! before the effect it announces.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Row};

use zion_storage::AuditHead;

use crate::error::StoreError;
use crate::item::{Item, ItemId, Source};
use crate::origin::Origin;
use crate::state::{State, StateKind};
use crate::verdict::Verdict;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    original_name BLOB NOT NULL,
    safe_name TEXT NOT NULL,
    inbox TEXT NOT NULL,
    source TEXT NOT NULL,
    profile TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT,
    added_ms INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_json TEXT NOT NULL,
    verdict_json TEXT,
    destination TEXT,
    held INTEGER NOT NULL DEFAULT 0,
    -- Identity of the inbox file while its removal is pending (set with
    -- 'stored', cleared once the file is gone).
    inbox_dev INTEGER,
    inbox_ino INTEGER,
    inbox_size INTEGER,
    inbox_mtime_ns INTEGER,
    inbox_ctime_ns INTEGER
);
CREATE INDEX IF NOT EXISTS items_sha256 ON items(sha256);
CREATE INDEX IF NOT EXISTS items_state ON items(state);
-- What a profile or an inbox holds (checked at every ingest).
CREATE INDEX IF NOT EXISTS items_profile_state ON items(profile, state);
CREATE INDEX IF NOT EXISTS items_inbox_state ON items(inbox, state);
CREATE INDEX IF NOT EXISTS items_inbox ON items(inbox_ino) WHERE inbox_ino IS NOT NULL;
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    profile TEXT
);
-- The audit log's head as last appended (issue 18): a log cut short shows.
CREATE TABLE IF NOT EXISTS audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    entries INTEGER NOT NULL,
    head TEXT NOT NULL
);
-- Every break of the audit chain found, kept after the log is anchored again.
CREATE TABLE IF NOT EXISTS audit_breaks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    problem TEXT NOT NULL
);
PRAGMA user_version = 1;
";

/// Where each item came from (issue 17), added beside `items` so that older
/// journals gain it as they open: one row per item that has an origin.
const ORIGIN_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS item_origins (
    item INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    provenance TEXT NOT NULL CHECK (provenance IN ('host', 'file')),
    url TEXT,
    referrer TEXT,
    note TEXT
);
";

const ITEM_COLUMNS: &str = "id, original_name, safe_name, inbox, source, profile, size, sha256, \
     added_ms, changed_ms, state_json, verdict_json, destination, held, \
     (SELECT json_object('provenance', provenance, 'url', url, 'referrer', referrer, 'note', note) \
      FROM item_origins WHERE item_origins.item = items.id) AS origin_json";

/// The states whose items need their object (see [`StateKind::holds_object`]).
const HOLDING: &str =
    "('stored', 'scanning', 'clean', 'infected', 'error', 'too_large', 'releasing')";

/// What identifies the inbox file an item was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InboxIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl InboxIdentity {
    /// The identity of what `fstat`/`statat` returned.
    pub fn of(st: &rustix::fs::Stat) -> InboxIdentity {
        InboxIdentity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime_ns: st.st_mtime.saturating_mul(1_000_000_000) + st.st_mtime_nsec as i64,
            ctime_ns: st.st_ctime.saturating_mul(1_000_000_000) + st.st_ctime_nsec as i64,
        }
    }
}

/// A new item, before its first row.
pub(crate) struct NewItem<'a> {
    pub original_name: &'a std::ffi::OsStr,
    pub safe_name: &'a str,
    pub source: &'a Source,
    pub size: u64,
}

/// Whose bytes a quota counts: a profile's (all its outboxes and
/// sandboxes together), or an inbox folder's when it belongs to none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner<'a> {
    /// Every item whose source belongs to this profile.
    Profile(&'a str),
    /// Every item from this inbox folder.
    Inbox(&'a str),
}

/// The journal database.
pub(crate) struct Journal {
    conn: Connection,
    path: PathBuf,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Journal {
    /// Opens (creating) the journal at `path` in WAL mode with full sync.
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        let err = |source| StoreError::Journal {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(32);
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                "quarantine journal {}: WAL refused, running in {mode} mode",
                path.display()
            );
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.execute_batch(ORIGIN_SCHEMA).map_err(err)?;
        Ok(Journal {
            conn,
            path: path.to_owned(),
        })
    }

    /// Runs `f` with commits that do not wait for the disk (`synchronous =
    /// NORMAL`): for changes a crash may undo without harm (a scan's state,
    /// a verdict, which recovery or a rescan restores). The WAL is written
    /// in order, so the next durable commit makes them durable too.
    pub fn lazily<T>(
        &self,
        f: impl FnOnce(&Journal) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Not through the statement cache: SQLite may apply a pragma when
        // its statement is prepared, so a cached one would not apply again.
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(|e| self.err(e))?;
        let result = f(self);
        self.conn
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(|e| self.err(e))?;
        result
    }

    /// Runs `f` in one transaction: every change it makes is committed
    /// together, with one fsync, or none is. The transaction takes the
    /// write lock when it begins (`BEGIN IMMEDIATE`, waiting as any write
    /// does): one that read first, then wrote after the audit log's own
    /// connection had committed, would fail at once with "database is
    /// locked" (in WAL mode a reader may not write from a stale snapshot).
    pub fn atomically<T>(
        &self,
        f: impl FnOnce(&Journal) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.err(e))?;
        let value = f(self)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(value)
    }

    /// Opens an existing journal read-only, changing nothing (`zionctl audit verify`).
    pub fn open_read_only(path: &Path) -> Result<Journal, StoreError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StoreError::Journal {
                path: path.to_owned(),
                source,
            })?;
        Ok(Journal {
            conn,
            path: path.to_owned(),
        })
    }

    /// The audit log's anchored head, if one was ever recorded.
    pub fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT entries, head FROM audit_anchor WHERE id = 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional();
        match row {
            Ok(row) => Ok(row.map(|(entries, hash)| AuditHead {
                entries: u64::try_from(entries).unwrap_or(0),
                hash,
            })),
            // A journal from before the anchor (read-only: not upgraded).
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Records the audit log's head. Durable when this returns.
    pub fn set_audit_head(&self, head: &AuditHead) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit_anchor (id, entries, head) VALUES (1, ?1, ?2) \
                 ON CONFLICT(id) DO UPDATE SET entries = excluded.entries, head = excluded.head",
            params![i64::try_from(head.entries).unwrap_or(i64::MAX), head.hash],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a break of the audit chain.
    pub fn record_audit_break(&self, problem: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit_breaks (time_ms, problem) VALUES (?1, ?2)",
            params![now_ms(), problem],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every recorded break of the audit chain, oldest first.
    pub fn audit_breaks(&self) -> Result<Vec<(SystemTime, String)>, StoreError> {
        let stmt = self
            .conn
            .prepare("SELECT time_ms, problem FROM audit_breaks ORDER BY id");
        let mut stmt = match stmt {
            Ok(stmt) => stmt,
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(self.err(e)),
        };
        let rows = stmt
            .query_map([], |r| Ok((time_of(r.get(0)?), r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Bytes the quarantine holds for `owner` (a profile, else an inbox
    /// folder): every item that still needs its object, or is being taken in.
    pub fn bytes_held(&self, owner: &Owner<'_>) -> Result<u64, StoreError> {
        let states = "('ingesting', 'stored', 'scanning', 'clean', 'infected', 'error', 'too_large', 'releasing')";
        let (column, value) = match owner {
            Owner::Profile(p) => ("profile", *p),
            Owner::Inbox(i) => ("inbox", *i),
        };
        let sql = format!(
            "SELECT COALESCE(SUM(size), 0) FROM items WHERE {column} = ?1 AND state IN {states}"
        );
        let n: i64 = self
            .query_one(&sql, params![value], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Runs `sql` through the connection's statement cache: parsed once,
    /// not for each of ten thousand items.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// One row of `sql`, through the statement cache.
    fn query_one<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }

    /// The connection, for the tables other modules keep (`recall`).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Journal {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a new item in `ingesting`; durable when this returns.
    pub fn insert_ingesting(&self, new: &NewItem) -> Result<ItemId, StoreError> {
        let now = now_ms();
        let state = State::Ingesting;
        self
            .exec(
                "INSERT INTO items (original_name, safe_name, inbox, source, profile, size, \
                 added_ms, changed_ms, state, state_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
                params![
                    new.original_name.as_bytes(),
                    new.safe_name,
                    new.source.name,
                    new.source.label,
                    new.source.profile,
                    i64::try_from(new.size).unwrap_or(i64::MAX),
                    now,
                    state.kind().as_str(),
                    state_json(&state),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(ItemId(self.conn.last_insert_rowid()))
    }

    /// `ingesting → stored`, with the hash, the size and the inbox file's identity.
    pub fn mark_stored(
        &self,
        id: ItemId,
        sha256: &[u8; 32],
        size: u64,
        inbox: &InboxIdentity,
    ) -> Result<(), StoreError> {
        let state = State::Stored;
        let n = self
            .exec(
                "UPDATE items SET state = ?2, state_json = ?3, sha256 = ?4, size = ?5, changed_ms = ?6, \
                 inbox_dev = ?7, inbox_ino = ?8, inbox_size = ?9, inbox_mtime_ns = ?10, inbox_ctime_ns = ?11 \
                 WHERE id = ?1 AND state = 'ingesting'",
                params![
                    id.0,
                    state.kind().as_str(),
                    state_json(&state),
                    hex::encode(sha256),
                    i64::try_from(size).unwrap_or(i64::MAX),
                    now_ms(),
                    inbox.dev as i64,
                    inbox.ino as i64,
                    inbox.size as i64,
                    inbox.mtime_ns,
                    inbox.ctime_ns,
                ],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchItem(id));
        }
        Ok(())
    }

    /// Records where an item came from (its row goes with the item's).
    pub fn set_origin(&self, id: ItemId, origin: &Origin) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO item_origins (item, provenance, url, referrer, note) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(item) DO UPDATE SET \
                 provenance = excluded.provenance, url = excluded.url, \
                 referrer = excluded.referrer, note = excluded.note",
            params![
                id.0,
                origin.provenance.as_str(),
                origin.url,
                origin.referrer,
                origin.note
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes a row (an ingest rolled back).
    pub fn delete_row(&self, id: ItemId) -> Result<(), StoreError> {
        self.exec("DELETE FROM items WHERE id = ?1", params![id.0])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Writes a new state (and, when given, verdict and destination).
    /// Durable when this returns. A pending inbox identity stays: the
    /// pipeline may scan and release an item before its ingest has removed
    /// the inbox file, and recovery (or the release) must still remove it.
    pub fn set_state(
        &self,
        id: ItemId,
        state: &State,
        verdict: Option<Option<&Verdict>>,
        destination: Option<&str>,
    ) -> Result<(), StoreError> {
        let verdict_json = verdict.map(|v| v.map(verdict_json));
        let n = self
            .exec(
                "UPDATE items SET state = ?2, state_json = ?3, changed_ms = ?4, \
                 verdict_json = CASE WHEN ?5 THEN ?6 ELSE verdict_json END, \
                 destination = COALESCE(?7, destination) \
                 WHERE id = ?1",
                params![
                    id.0,
                    state.kind().as_str(),
                    state_json(state),
                    now_ms(),
                    verdict_json.is_some(),
                    verdict_json.flatten(),
                    destination,
                ],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchItem(id));
        }
        Ok(())
    }

    /// Sets or clears the user's hold.
    pub fn set_held(&self, id: ItemId, held: bool) -> Result<(), StoreError> {
        let n = self
            .exec(
                "UPDATE items SET held = ?2 WHERE id = ?1",
                params![id.0, held],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchItem(id));
        }
        Ok(())
    }

    /// Forgets the inbox identity once the inbox file is gone.
    pub fn clear_inbox(&self, id: ItemId) -> Result<(), StoreError> {
        self.exec(
            "UPDATE items SET inbox_dev = NULL, inbox_ino = NULL, inbox_size = NULL, \
                 inbox_mtime_ns = NULL, inbox_ctime_ns = NULL WHERE id = ?1",
            params![id.0],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// One item.
    pub fn get(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1");
        let row = self
            .query_one(&sql, params![id.0], |r| Ok(read_row(r)))
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(|r| r.map_err(|e| self.corrupt(e))).transpose()
    }

    /// Every item, oldest first.
    pub fn list(&self) -> Result<Vec<Item>, StoreError> {
        self.query_items(&format!("SELECT {ITEM_COLUMNS} FROM items ORDER BY id"), [])
    }

    /// The items in one state, oldest first.
    pub fn in_state(&self, kind: StateKind) -> Result<Vec<Item>, StoreError> {
        self.query_items(
            &format!("SELECT {ITEM_COLUMNS} FROM items WHERE state = ?1 ORDER BY id"),
            params![kind.as_str()],
        )
    }

    /// How many items other than `except` still need the object `sha256`.
    pub fn references(&self, sha256: &[u8; 32], except: ItemId) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM items WHERE sha256 = ?1 AND id != ?2 AND state IN {HOLDING}"
        );
        let n: i64 = self
            .query_one(&sql, params![hex::encode(sha256), except.0], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The hex hashes of every object some item still needs.
    pub fn referenced_objects(&self) -> Result<HashSet<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT sha256 FROM items WHERE sha256 IS NOT NULL AND state IN {HOLDING}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Stored items whose inbox file may not have been removed yet.
    pub fn pending_inbox(&self) -> Result<Vec<(Item, InboxIdentity)>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS}, inbox_dev, inbox_ino, inbox_size, inbox_mtime_ns, inbox_ctime_ns \
             FROM items WHERE inbox_ino IS NOT NULL ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let identity = InboxIdentity {
                    dev: r.get::<_, i64>("inbox_dev")? as u64,
                    ino: r.get::<_, i64>("inbox_ino")? as u64,
                    size: r.get::<_, i64>("inbox_size")? as u64,
                    mtime_ns: r.get("inbox_mtime_ns")?,
                    ctime_ns: r.get("inbox_ctime_ns")?,
                };
                Ok((read_row(r), identity))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (item, identity) = row.map_err(|e| self.err(e))?;
            out.push((item.map_err(|e| self.corrupt(e))?, identity));
        }
        Ok(out)
    }

    /// The item whose inbox file (pending removal) has exactly this identity.
    pub fn pending_with(&self, identity: &InboxIdentity) -> Result<Option<ItemId>, StoreError> {
        self.query_one(
            "SELECT id FROM items WHERE inbox_dev = ?1 AND inbox_ino = ?2 AND inbox_size = ?3 \
                 AND inbox_mtime_ns = ?4 AND inbox_ctime_ns = ?5",
            params![
                identity.dev as i64,
                identity.ino as i64,
                identity.size as i64,
                identity.mtime_ns,
                identity.ctime_ns
            ],
            |r| r.get(0).map(ItemId),
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Records (or updates) an inbox source.
    pub fn upsert_source(&self, source: &Source) -> Result<(), StoreError> {
        self
            .exec(
                "INSERT INTO sources (name, label, profile) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(name) DO UPDATE SET label = excluded.label, profile = excluded.profile",
                params![source.name, source.label, source.profile],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A recorded source.
    pub fn source(&self, name: &str) -> Result<Option<Source>, StoreError> {
        self.conn
            .query_row(
                "SELECT name, label, profile FROM sources WHERE name = ?1",
                params![name],
                |r| {
                    Ok(Source {
                        name: r.get(0)?,
                        label: r.get(1)?,
                        profile: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every recorded source.
    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, label, profile FROM sources ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Source {
                    name: r.get(0)?,
                    label: r.get(1)?,
                    profile: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn query_items(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Item>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, |r| Ok(read_row(r)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(|e| self.err(e))?.map_err(|e| self.corrupt(e))?);
        }
        Ok(out)
    }

    fn corrupt(&self, (id, reason): (i64, String)) -> StoreError {
        StoreError::CorruptRow {
            path: self.path.clone(),
            id,
            reason,
        }
    }
}

fn state_json(state: &State) -> String {
    // A state is plain data: serializing it cannot fail.
    serde_json::to_string(state).unwrap_or_else(|_| "{\"state\":\"error\"}".into())
}

fn verdict_json(verdict: &Verdict) -> String {
    serde_json::to_string(verdict).unwrap_or_else(|_| "{\"verdict\":\"error\"}".into())
}

/// Reads an item row; the error names the row and what was wrong.
fn read_row(r: &Row) -> Result<Item, (i64, String)> {
    let id: i64 = r.get(0).map_err(|e| (0, e.to_string()))?;
    let bad = |e: rusqlite::Error| (id, e.to_string());
    let name: Vec<u8> = r.get(1).map_err(bad)?;
    let sha: Option<String> = r.get(7).map_err(bad)?;
    let sha256 = match sha {
        None => None,
        Some(text) => {
            let mut out = [0u8; 32];
            hex::decode_to_slice(&text, &mut out)
                .map_err(|e| (id, format!("sha256 {text:?}: {e}")))?;
            Some(out)
        }
    };
    let state_text: String = r.get(10).map_err(bad)?;
    let state: State = serde_json::from_str(&state_text)
        .map_err(|e| (id, format!("state {state_text:?}: {e}")))?;
    let verdict_text: Option<String> = r.get(11).map_err(bad)?;
    let verdict = match verdict_text {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Verdict>(&text)
                .map_err(|e| (id, format!("verdict {text:?}: {e}")))?,
        ),
    };
    let origin_text: Option<String> = r.get(14).map_err(bad)?;
    let origin = match origin_text {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Origin>(&text)
                .map_err(|e| (id, format!("origin {text:?}: {e}")))?,
        ),
    };
    Ok(Item {
        id: ItemId(id),
        original_name: OsString::from_vec(name),
        safe_name: r.get(2).map_err(bad)?,
        inbox: r.get(3).map_err(bad)?,
        source: r.get(4).map_err(bad)?,
        profile: r.get(5).map_err(bad)?,
        size: u64::try_from(r.get::<_, i64>(6).map_err(bad)?).unwrap_or(0),
        sha256,
        added: time_of(r.get(8).map_err(bad)?),
        changed: time_of(r.get(9).map_err(bad)?),
        state,
        verdict,
        destination: r.get(12).map_err(bad)?,
        held: r.get(13).map_err(bad)?,
        origin,
    })
}
