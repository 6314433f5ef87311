//! What forwarding the local queue to Redis needs from it: the file's
//! identity, each record's token, and holding an entry while it is carried
//! over so no replay takes it meanwhile.

use crate::core::dlq::entry::Entry;
use crate::core::dlq::sqlite::{entry, SqliteDlq, COLUMNS, REPLAY_LEASE_MS};
use crate::core::dlq::store::{store, DlqError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// How long a forward holds an entry: far above one bounded Redis write.
pub const FORWARD_HOLD_MS: i64 = 5_000;

impl SqliteDlq {
    /// This file's random identity, made on first use: entries forwarded
    /// to another store carry `instance:id` so forwarding twice (a crash
    /// between the copy and the delete) is recognised there.
    pub fn instance(&self) -> Result<String, DlqError> {
        let connection = self.connection.lock();
        connection
            .execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?1)",
                params![format!("{:016x}", fastrand::u64(..))],
            )
            .map_err(store)?;
        connection
            .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                r.get(0)
            })
            .map_err(store)
    }

    /// The token another store knows entry `id` by, if it was recorded with
    /// one.
    pub fn token(&self, id: i64) -> Result<Option<String>, DlqError> {
        self.connection
            .lock()
            .query_row(
                "SELECT token FROM entries WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(store)
    }

    /// The oldest entries no live replay holds: what may be forwarded to
    /// the shared store now.
    pub fn forwardable(&self, limit: u64) -> Result<Vec<Entry>, DlqError> {
        let connection = self.connection.lock();
        let mut query = connection
            .prepare(&format!(
                "SELECT {COLUMNS} FROM entries WHERE state != 'replaying' OR claimed_ms < ?1 \
                 ORDER BY id LIMIT ?2"
            ))
            .map_err(store)?;
        let rows = query
            .query_map(
                params![self.now_ms() - REPLAY_LEASE_MS, limit as i64],
                entry,
            )
            .map_err(store)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store)
    }

    /// Whether any entry waits in this file (in Redis mode every local
    /// entry is one still to be forwarded, held or not).
    pub fn waiting(&self) -> Result<bool, DlqError> {
        self.connection
            .lock()
            .query_row("SELECT EXISTS(SELECT 1 FROM entries)", [], |r| r.get(0))
            .map_err(store)
    }

    /// Holds an entry while it is forwarded (no replay may take it
    /// meanwhile), returning it as it was; `None` if a live replay holds it
    /// or it is gone. The hold lasts [`FORWARD_HOLD_MS`], not a replay's
    /// lease: a forward is one bounded Redis write, and a flusher killed
    /// mid-forward must not keep the entry from the next one for long.
    pub fn hold(&self, id: i64) -> Result<Option<Entry>, DlqError> {
        let mut connection = self.connection.lock();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store)?;
        let now = self.now_ms();
        let found = tx
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM entries WHERE id = ?1 \
                     AND (state != 'replaying' OR claimed_ms < ?2)"
                ),
                params![id, now - REPLAY_LEASE_MS],
                entry,
            )
            .optional()
            .map_err(store)?;
        if found.is_some() {
            // Every reader expires a hold REPLAY_LEASE_MS after claimed_ms.
            let expires_sooner = now - REPLAY_LEASE_MS + FORWARD_HOLD_MS;
            tx.execute(
                "UPDATE entries SET state = 'replaying', claimed_ms = ?2 WHERE id = ?1",
                params![id, expires_sooner],
            )
            .map_err(store)?;
        }
        tx.commit().map_err(store)?;
        Ok(found)
    }

    /// Gives back an entry [`SqliteDlq::hold`] took, in its former state
    /// (the forward failed).
    pub fn release(&self, held: &Entry) -> Result<(), DlqError> {
        let state = match held.state.as_str() {
            "needs_review" => "needs_review",
            _ => "pending",
        };
        self.connection
            .lock()
            .execute(
                "UPDATE entries SET state = ?2, claimed_ms = 0 WHERE id = ?1",
                params![held.id.parse::<i64>().unwrap_or(-1), state],
            )
            .map(|_| ())
            .map_err(store)
    }
}
