//! The write-ahead log: what should have reached the shared store while it
//! was unreachable, kept durably on local disk (SQLite, synchronous writes)
//! until it is replayed and acknowledged. Shared by the workers of one host
//! (SQLite locks the file), so any of them can replay what a crashed one
//! left behind.

use crate::core::clock::{process_clock, SharedClock};
use crate::core::store::sqlite_connection::SqliteConnection;
use parking_lot::Mutex;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One write waiting for the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    /// Complete an idempotency claim (its success happened).
    IdempotencyComplete {
        /// The namespaced key.
        key: String,
        /// The claim's owner token.
        owner: u64,
        /// The memory TTL, in milliseconds.
        memory_ttl_ms: u64,
    },
    /// Release an idempotency claim (its call did not succeed).
    IdempotencyRelease {
        /// The namespaced key.
        key: String,
        /// The claim's owner token.
        owner: u64,
    },
    /// Breaker decisions the fleet has not heard, from one process: a
    /// trip, probe outcomes, an operator's action, the state to merge
    /// most-restrictive-wins. One row per process and breaker, replaced
    /// each round it stays undelivered (it holds all of them), deleted
    /// when that process delivers it itself; replayed by another process
    /// only once its own has died.
    Breaker {
        /// The breaker's name.
        name: String,
        /// The process that decided (its live syncs deliver its own rows);
        /// 0 for rows from before it was logged (replayed by anyone).
        #[serde(default)]
        pid: u32,
        /// When that process started (clock ticks since boot, Linux), so
        /// a reused pid is not taken for the writer; 0 where unknown.
        #[serde(default)]
        started: u64,
        /// This worker tripped it.
        trip: bool,
        /// Probe successes.
        probe_successes: u32,
        /// Probe failures.
        probe_failures: u32,
        /// An operator's action (`force_open`, `force_close`, `reset`) and epoch.
        operator: Option<(String, u64)>,
        /// The state the worker reached alone, to merge.
        merge: Option<LoggedDecision>,
    },
}

/// A breaker state decided alone, with absolute wall-clock times (a
/// replay happens later, maybe in another process).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedDecision {
    /// `open`, `half_open`, ...
    pub state: String,
    /// Wall-clock milliseconds when an open state starts probing.
    pub open_until_ms: u64,
    /// Wall-clock milliseconds of the decision.
    pub decided_at_ms: u64,
}

impl Pending {
    /// The row a write replaces, if it is one of a kind per process and
    /// breaker; `None` for writes that are each their own row.
    pub fn slot(&self) -> Option<String> {
        match self {
            Self::Breaker {
                name, pid, started, ..
            } => Some(breaker_slot(*pid, *started, name)),
            _ => None,
        }
    }
}

/// The row of a process's undelivered decisions for breaker `name`.
pub fn breaker_slot(pid: u32, started: u64, name: &str) -> String {
    format!("breaker:{pid}:{started}:{name}")
}

/// A logged write and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Acknowledge with this.
    pub id: i64,
    /// The write.
    pub pending: Pending,
}

/// The log. Each call is one short SQLite transaction.
#[derive(Debug)]
pub struct WriteAheadLog {
    connection: SqliteConnection,
    path: PathBuf,
    quarantined: Mutex<Vec<String>>,
    /// Stamps each row's `logged_at_ms`.
    clock: SharedClock,
}

impl WriteAheadLog {
    /// Opens (creating) the log at `path`, on the process's clock.
    pub fn open(path: &Path) -> Result<Self, String> {
        Self::open_with_clock(path, process_clock())
    }

    /// Opens (creating) the log at `path`, stamping rows with `clock`'s
    /// wall time.
    pub fn open_with_clock(path: &Path, clock: SharedClock) -> Result<Self, String> {
        // Pending writes (idempotency keys, breaker decisions): 0600.
        crate::core::store::private_file::prepare(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let connection = Connection::open(path)
            .map_err(|e| format!("cannot open the write-ahead log {}: {e}", path.display()))?;
        connection
            .busy_timeout(Duration::from_secs(2))
            .and_then(|()| connection.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| {
                connection.execute_batch(
                    "CREATE TABLE IF NOT EXISTS pending (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        payload TEXT NOT NULL,
                        logged_at_ms INTEGER NOT NULL,
                        slot TEXT UNIQUE
                    )",
                )
            })
            .and_then(|()| add_slot_column(&connection))
            .map_err(|e| format!("cannot prepare the write-ahead log: {e}"))?;
        Ok(Self {
            connection: SqliteConnection::new(connection),
            path: path.to_owned(),
            quarantined: Mutex::default(),
            clock,
        })
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs one write durably; returns its id. A write with a slot
    /// replaces the row in that slot (keeping its place in the order).
    pub fn append(&self, pending: &Pending) -> Result<i64, String> {
        let payload = serde_json::to_string(pending).map_err(|e| e.to_string())?;
        let now = self.clock.wall_millis();
        let connection = self.connection.lock();
        connection
            .query_row(
                "INSERT INTO pending (payload, logged_at_ms, slot) VALUES (?1, ?2, ?3)
                 ON CONFLICT(slot) DO UPDATE SET payload = excluded.payload,
                     logged_at_ms = excluded.logged_at_ms
                 RETURNING id",
                params![payload, now as i64, pending.slot()],
                |row| row.get(0),
            )
            .map_err(|e| format!("cannot append to the write-ahead log: {e}"))
    }

    /// Forgets the row in `slot`, if any (its process delivered it).
    pub fn clear_slot(&self, slot: &str) -> Result<(), String> {
        self.connection
            .lock()
            .execute("DELETE FROM pending WHERE slot = ?1", params![slot])
            .map(|_| ())
            .map_err(|e| format!("cannot clear write-ahead log slot {slot}: {e}"))
    }

    /// The oldest `limit` writes still waiting, in order.
    pub fn pending(&self, limit: usize) -> Result<Vec<Entry>, String> {
        self.pending_after(0, limit)
    }

    /// The oldest `limit` writes still waiting after id `after`, in order
    /// (a replay pages past the rows it leaves for their own process).
    pub fn pending_after(&self, after: i64, limit: usize) -> Result<Vec<Entry>, String> {
        let connection = self.connection.lock();
        let mut query = connection
            .prepare("SELECT id, payload FROM pending WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| e.to_string())?;
        let rows = query
            .query_map(params![after, limit as i64], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        for row in rows {
            let (id, payload) = row.map_err(|e| e.to_string())?;
            match serde_json::from_str(&payload) {
                Ok(pending) => entries.push(Entry { id, pending }),
                Err(error) => unreadable.push((id, error.to_string())),
            }
        }
        drop(query);
        for (id, error) in unreadable {
            // Set aside, never deleted: one bad row must not stop every
            // replay behind it, and a person may still want to read it.
            connection
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS quarantine AS SELECT * FROM pending WHERE 0;
                     INSERT INTO quarantine SELECT * FROM pending WHERE id = {id};
                     DELETE FROM pending WHERE id = {id};"
                ))
                .map_err(|e| format!("cannot set aside unreadable entry {id}: {e}"))?;
            self.quarantined.lock().push(format!(
                "write-ahead log entry {id} is unreadable ({error}): set aside"
            ));
        }
        Ok(entries)
    }

    /// Entries set aside as unreadable since the last call, described (the
    /// replay reports each as an ERROR event).
    pub fn take_quarantined(&self) -> Vec<String> {
        std::mem::take(&mut *self.quarantined.lock())
    }

    /// The write `id` reached the store: forgets it.
    pub fn ack(&self, id: i64) -> Result<(), String> {
        self.connection
            .lock()
            .execute("DELETE FROM pending WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(|e| format!("cannot acknowledge write-ahead log entry {id}: {e}"))
    }

    /// How many writes are waiting.
    pub fn len(&self) -> Result<u64, String> {
        self.connection
            .lock()
            .query_row("SELECT COUNT(*) FROM pending", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| e.to_string())
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> Result<bool, String> {
        self.len().map(|n| n == 0)
    }
}

/// A log written by an earlier version has no `slot` column: adds it.
fn add_slot_column(connection: &Connection) -> rusqlite::Result<()> {
    let has_slot = connection
        .prepare("SELECT 1 FROM pragma_table_info('pending') WHERE name = 'slot'")?
        .exists([])?;
    if !has_slot {
        connection.execute_batch(
            "ALTER TABLE pending ADD COLUMN slot TEXT;
             CREATE UNIQUE INDEX IF NOT EXISTS pending_slot ON pending (slot);",
        )?;
    }
    Ok(())
}

/// A log opened on first use (`init()` does no I/O): the path is known at
/// configuration, the file is touched only when something must be logged
/// or replayed.
#[derive(Debug)]
pub struct LazyWal {
    path: PathBuf,
    log: std::sync::OnceLock<Result<WriteAheadLog, String>>,
    clock: SharedClock,
}

impl LazyWal {
    /// A log to be kept at `path`, on the process's clock.
    pub fn new(path: PathBuf) -> Self {
        Self::with_clock(path, process_clock())
    }

    /// A log to be kept at `path`, stamping rows with `clock`'s wall time.
    pub fn with_clock(path: PathBuf, clock: SharedClock) -> Self {
        Self {
            path,
            log: std::sync::OnceLock::new(),
            clock,
        }
    }

    /// The log, opening it now if needed.
    pub fn get(&self) -> Result<&WriteAheadLog, String> {
        self.log
            .get_or_init(|| WriteAheadLog::open_with_clock(&self.path, self.clock.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
