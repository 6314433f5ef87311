//! The durable local dead-letter queue: SQLite under the data directory,
//! synchronous writes, so an entry acknowledged survives `kill -9`;
//! concurrent records share one commit (`sqlite_record`).

use crate::core::clock::{process_clock, SharedClock};
use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry};
use crate::core::dlq::group_commit::GroupCommit;
use crate::core::dlq::listing::{ListQuery, Page};
use crate::core::dlq::store::{store, DlqError, Stats};
use crate::core::store::sqlite_connection::{open_durable, SqliteConnection};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::time::Duration;

/// Seconds a replay may hold an entry before another replayer may take it
/// (the first one presumably died mid-replay).
pub const REPLAY_LEASE_MS: i64 = 60_000;

/// One entry waiting for the next commit (`sqlite_record`).
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) new: NewEntry,
    pub(super) replay_budget: u32,
    pub(super) token: Option<String>,
}

/// What recording one entry answers: its row id and what made room for it.
pub(super) type Recorded = Result<(i64, Eviction), DlqError>;

/// The queue. See the module docs.
#[derive(Debug)]
pub struct SqliteDlq {
    pub(super) connection: SqliteConnection,
    pub(super) caps: Mutex<Caps>,
    /// Records waiting to share the next commit (`sqlite_record`).
    pub(super) group: GroupCommit<Pending, Recorded>,
    /// Stamps entries (created, updated, claimed) with its wall time.
    clock: SharedClock,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL, function TEXT NOT NULL, arguments TEXT NOT NULL,
    replayable INTEGER NOT NULL, error_type TEXT NOT NULL, error_message TEXT NOT NULL,
    attempts INTEGER NOT NULL, reason TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', replays_left INTEGER NOT NULL,
    last_replay_error TEXT, claimed_ms INTEGER NOT NULL DEFAULT 0, token TEXT,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_zone ON entries (zone, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (
    zone TEXT NOT NULL, error_type TEXT NOT NULL, count INTEGER NOT NULL,
    first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
    PRIMARY KEY (zone, error_type)
);";

pub(super) const COLUMNS: &str =
    "id, zone, function, arguments, replayable, error_type, error_message, \
                       attempts, reason, state, replays_left, last_replay_error, created_ms, \
                       updated_ms";

pub(super) fn entry(row: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: row.get::<_, i64>(0)?.to_string(),
        recorded: NewEntry {
            zone: row.get(1)?,
            function: row.get(2)?,
            arguments: row.get(3)?,
            replayable: row.get::<_, i64>(4)? != 0,
            error_type: row.get(5)?,
            error_message: row.get(6)?,
            attempts: row.get(7)?,
            reason: row.get(8)?,
        },
        state: row.get(9)?,
        replays_left: row.get(10)?,
        last_replay_error: row.get(11)?,
        created_ms: row.get(12)?,
        updated_ms: row.get(13)?,
    })
}

impl SqliteDlq {
    /// Opens (creating) the queue at `path`, on the process's clock.
    pub fn open(path: &Path, caps: Caps) -> Result<Self, DlqError> {
        Self::open_with_clock(path, caps, process_clock())
    }

    /// Opens (creating) the queue at `path`, stamping entries with
    /// `clock`'s wall time.
    pub fn open_with_clock(path: &Path, caps: Caps, clock: SharedClock) -> Result<Self, DlqError> {
        // It holds call arguments: 0600 in a 0700 directory.
        let connection = open_durable(path, Duration::from_secs(2), SCHEMA).map_err(store)?;
        add_token_column(&connection)?;
        Ok(Self {
            connection: SqliteConnection::new(connection),
            caps: Mutex::new(caps),
            group: GroupCommit::new(),
            clock,
        })
    }

    /// Wall-clock milliseconds, the queue's timestamps.
    pub(super) fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.wall_millis()).unwrap_or(i64::MAX)
    }

    /// New limits, applied from the next record on.
    pub fn set_caps(&self, caps: Caps) {
        *self.caps.lock() = caps;
    }

    /// One entry.
    pub fn get(&self, id: i64) -> Result<Option<Entry>, DlqError> {
        let connection = self.connection.lock();
        connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM entries WHERE id = ?1"),
                params![id],
                entry,
            )
            .optional()
            .map_err(store)
    }

    /// A page of entries after row `after` (from the first when `None`),
    /// oldest first, filtered by zone, state and error type.
    pub fn page(
        &self,
        query: &ListQuery<'_>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Page, DlqError> {
        let connection = self.connection.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {COLUMNS} FROM entries WHERE id > ?1 AND (?2 IS NULL OR zone = ?2) \
                 AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR error_type = ?4) \
                 ORDER BY id LIMIT ?5"
            ))
            .map_err(store)?;
        // One row past the page says whether more follow.
        let fetch = i64::try_from(limit)
            .unwrap_or(i64::MAX - 1)
            .saturating_add(1);
        let rows = statement
            .query_map(
                params![
                    after.unwrap_or(0),
                    query.zone,
                    query.state,
                    query.error_type,
                    fetch
                ],
                entry,
            )
            .map_err(store)?;
        let mut entries = rows.collect::<Result<Vec<_>, _>>().map_err(store)?;
        let more = entries.len() as u64 > limit;
        entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(Page { entries, more })
    }

    /// Takes an entry for replay: only one replayer holds it at a time (a
    /// hold older than the lease is taken over). `None`: not replayable now.
    pub fn claim(&self, id: i64) -> Result<Option<Entry>, DlqError> {
        let now = self.now_ms();
        let taken = self
            .connection
            .lock()
            .execute(
                "UPDATE entries SET state = 'replaying', claimed_ms = ?2, updated_ms = ?2 \
                 WHERE id = ?1 AND replayable = 1 AND (state = 'pending' \
                 OR (state = 'replaying' AND claimed_ms < ?3))",
                params![id, now, now - REPLAY_LEASE_MS],
            )
            .map_err(store)?;
        if taken == 1 {
            self.get(id)
        } else {
            Ok(None)
        }
    }

    /// The replay succeeded: the entry is done.
    pub fn succeeded(&self, id: i64) -> Result<(), DlqError> {
        self.connection
            .lock()
            .execute("DELETE FROM entries WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(store)
    }

    /// The replay failed: one replay spent; none left means `needs_review`.
    /// Returns the entry's new state.
    pub fn failed(&self, id: i64, error: &str) -> Result<String, DlqError> {
        self.spend(id, error, false)
    }

    /// The replay cannot run at all: `needs_review` now, its budget spent.
    /// Returns the entry's new state.
    pub fn review(&self, id: i64, error: &str) -> Result<String, DlqError> {
        self.spend(id, error, true)
    }

    /// Spends one replay, or (`all`) every one left.
    fn spend(&self, id: i64, error: &str, all: bool) -> Result<String, DlqError> {
        let connection = self.connection.lock();
        connection
            .execute(
                "UPDATE entries SET \
                 replays_left = CASE WHEN ?4 THEN 0 ELSE MAX(replays_left - 1, 0) END, \
                 state = CASE WHEN ?4 OR replays_left <= 1 THEN 'needs_review' ELSE 'pending' END, \
                 last_replay_error = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, error, self.now_ms(), all],
            )
            .map_err(store)?;
        connection
            .query_row(
                "SELECT state FROM entries WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .map_err(store)
    }

    /// A needs-review entry gets a fresh replay budget. False if it is not
    /// in `needs_review`.
    pub fn redrive(&self, id: i64, budget: u32) -> Result<bool, DlqError> {
        self.connection
            .lock()
            .execute(
                "UPDATE entries SET state = 'pending', replays_left = ?2, updated_ms = ?3 \
                 WHERE id = ?1 AND state = 'needs_review'",
                params![id, budget, self.now_ms()],
            )
            .map(|changed| changed == 1)
            .map_err(store)
    }

    /// Deletes the entries matching the filters (explicit, never implied).
    pub fn purge(&self, zone: Option<&str>, state: Option<&str>) -> Result<u64, DlqError> {
        self.connection
            .lock()
            .execute(
                "DELETE FROM entries WHERE (?1 IS NULL OR zone = ?1) AND (?2 IS NULL OR state = ?2)",
                params![zone, state],
            )
            .map(|n| n as u64)
            .map_err(store)
    }

    /// The queue's counts.
    pub fn stats(&self) -> Result<Stats, DlqError> {
        let connection = self.connection.lock();
        let pairs = |sql: &str| -> Result<Vec<(String, u64)>, DlqError> {
            let mut query = connection.prepare(sql).map_err(store)?;
            let rows = query
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(store)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(store)
        };
        let by_state = pairs("SELECT state, COUNT(*) FROM entries GROUP BY state ORDER BY state")?;
        let by_zone = pairs("SELECT zone, COUNT(*) FROM entries GROUP BY zone ORDER BY zone")?;
        let mut query = connection
            .prepare("SELECT zone, error_type, count FROM summaries ORDER BY zone, error_type")
            .map_err(store)?;
        let compressed = query
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(store)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store)?;
        let counter = |key: &str| -> Result<u64, DlqError> {
            connection
                .query_row(
                    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1",
                    params![key],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map(|n| n.unwrap_or(0) as u64)
                .map_err(store)
        };
        Ok(Stats {
            total: by_state.iter().map(|(_, n)| n).sum(),
            by_state,
            by_zone,
            compressed,
            evictions: Eviction {
                evicted: counter("evicted")?,
                compressed: counter("compressed")?,
            },
        })
    }
}

/// Files made before entries kept a token gain the column (another process
/// may add it first: then it is there).
fn add_token_column(connection: &Connection) -> Result<(), DlqError> {
    let has = |c: &Connection| -> Result<bool, DlqError> {
        c.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('entries') WHERE name = 'token'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n == 1)
        .map_err(store)
    };
    if has(connection)? {
        return Ok(());
    }
    match connection.execute("ALTER TABLE entries ADD COLUMN token TEXT", []) {
        Ok(_) => Ok(()),
        Err(_) if has(connection)? => Ok(()),
        Err(error) => Err(store(error)),
    }
}
