//! The durable local dead-letter queue: SQLite under the data directory,
//! synchronous writes, so an entry acknowledged survives `kill -9`.

use crate::core::clock::{process_clock, SharedClock};
use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry, Overflow};
use crate::core::dlq::listing::{ListQuery, Page};
use crate::core::dlq::store::{store, DlqError, Stats};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Seconds a replay may hold an entry before another replayer may take it
/// (the first one presumably died mid-replay).
pub const REPLAY_LEASE_MS: i64 = 60_000;

/// The queue. See the module docs.
#[derive(Debug)]
pub struct SqliteDlq {
    pub(super) connection: Mutex<Connection>,
    caps: Mutex<Caps>,
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
        crate::core::store::private_file::prepare(path).map_err(store)?;
        let connection = Connection::open(path).map_err(store)?;
        connection
            .busy_timeout(Duration::from_secs(2))
            .map_err(store)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(store)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(store)?;
        connection.execute_batch(SCHEMA).map_err(store)?;
        add_token_column(&connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
            caps: Mutex::new(caps),
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

    /// Records an entry durably, making room first as the caps say.
    pub fn record(&self, new: &NewEntry, replay_budget: u32) -> Result<(i64, Eviction), DlqError> {
        self.record_with_token(new, replay_budget, None)
    }

    /// [`SqliteDlq::record`], keeping the token another store knows the
    /// record by (Redis may hold it already: its answer was lost), so
    /// forwarding it there adds it once.
    pub fn record_with_token(
        &self,
        new: &NewEntry,
        replay_budget: u32,
        token: Option<&str>,
    ) -> Result<(i64, Eviction), DlqError> {
        let caps = *self.caps.lock();
        let mut connection = self.connection.lock();
        // IMMEDIATE: the counts below must not be read under a snapshot another
        // handle may write past, or the upgrade to a write fails at once with
        // SQLITE_BUSY (the busy timeout is not consulted for it).
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store)?;
        let mut eviction = Eviction::default();
        let in_zone: u64 = tx
            .query_row(
                "SELECT COUNT(*) FROM entries WHERE zone = ?1",
                params![new.zone],
                |r| r.get::<_, i64>(0),
            )
            .map_err(store)? as u64;
        if in_zone >= caps.max_per_zone {
            make_room(
                &tx,
                Some(&new.zone),
                in_zone + 1 - caps.max_per_zone,
                caps,
                "max_per_zone",
                &mut eviction,
            )?;
        }
        let total: u64 = tx
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map_err(store)? as u64;
        if total >= caps.max_size {
            make_room(
                &tx,
                None,
                total + 1 - caps.max_size,
                caps,
                "max_size",
                &mut eviction,
            )?;
        }
        let now = self.now_ms();
        tx.execute(
            "INSERT INTO entries (zone, function, arguments, replayable, error_type, error_message, \
             attempts, reason, replays_left, created_ms, updated_ms, token) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
            params![
                new.zone,
                new.function,
                new.arguments,
                i64::from(new.replayable),
                new.error_type,
                new.error_message,
                new.attempts,
                new.reason,
                replay_budget,
                now,
                token
            ],
        )
        .map_err(store)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(store)?;
        Ok((id, eviction))
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

/// Evicts (or, for `reject`, refuses) `count` of the oldest entries, of
/// `zone` or of all, as the overflow strategy says.
fn make_room(
    tx: &rusqlite::Transaction<'_>,
    zone: Option<&str>,
    count: u64,
    caps: Caps,
    cap: &'static str,
    eviction: &mut Eviction,
) -> Result<(), DlqError> {
    let limit = if cap == "max_size" {
        caps.max_size
    } else {
        caps.max_per_zone
    };
    if caps.overflow == Overflow::Reject {
        return Err(DlqError::Full { cap, limit });
    }
    let oldest = "SELECT id FROM entries WHERE (?1 IS NULL OR zone = ?1) AND state != 'replaying' \
                  ORDER BY id LIMIT ?2";
    let compress = caps.overflow == Overflow::CompressOldest;
    if compress {
        tx.execute(
            &format!(
                "INSERT INTO summaries (zone, error_type, count, first_ms, last_ms) \
                     SELECT zone, error_type, COUNT(*), MIN(created_ms), MAX(created_ms) \
                     FROM entries WHERE id IN ({oldest}) GROUP BY zone, error_type \
                     ON CONFLICT (zone, error_type) DO UPDATE SET \
                     count = count + excluded.count, last_ms = MAX(last_ms, excluded.last_ms)"
            ),
            params![zone, count as i64],
        )
        .map_err(store)?;
    }
    let evicted = tx
        .execute(
            &format!("DELETE FROM entries WHERE id IN ({oldest})"),
            params![zone, count as i64],
        )
        .map_err(store)? as u64;
    eviction.evicted += evicted;
    let mut counters = vec![("evicted", evicted)];
    if compress {
        eviction.compressed += evicted;
        counters.push(("compressed", evicted));
    }
    // Counted in the file: every process's evictions, across restarts.
    for (counter, n) in counters {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) \
             DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
            params![counter, n as i64],
        )
        .map_err(store)?;
    }
    Ok(())
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
