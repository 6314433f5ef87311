//! Recording into the SQLite queue, in groups: concurrent recorders share
//! one IMMEDIATE transaction and its one fsync (`synchronous=FULL`), each
//! entry still checked against the caps on its own, in arrival order, and
//! answered with its own id, eviction or refusal. A recorder returns only
//! once the transaction holding its entry committed: acknowledged means on
//! disk, as with a transaction of its own.

use crate::core::dlq::entry::{Caps, Eviction, NewEntry, Overflow};
use crate::core::dlq::sqlite::{Pending, Recorded, SqliteDlq};
use crate::core::dlq::store::{store, DlqError};
use rusqlite::{params, Connection, ToSql, Transaction, TransactionBehavior};
use std::collections::HashMap;

impl SqliteDlq {
    /// Records an entry durably, making room first as the caps say.
    pub fn record(&self, new: &NewEntry, replay_budget: u32) -> Recorded {
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
    ) -> Recorded {
        let pending = Pending {
            new: new.clone(),
            replay_budget,
            token: token.map(str::to_owned),
        };
        self.group
            .submit(pending, |batch| self.commit(&batch))
            .unwrap_or_else(|| {
                Err(DlqError::Store(
                    "the thread committing this entry panicked; it may not be recorded".to_owned(),
                ))
            })
    }

    /// Records `batch` in one transaction, in order, each entry checked
    /// against the caps on its own: one refused (a full queue under
    /// `reject`) or failing leaves the others recorded. If the commit
    /// fails, none is.
    fn commit(&self, batch: &[Pending]) -> Vec<Recorded> {
        let caps = *self.caps.lock();
        let mut connection = self.connection.lock();
        // IMMEDIATE: the counts below must not be read under a snapshot another
        // handle may write past, or the upgrade to a write fails at once with
        // SQLITE_BUSY (the busy timeout is not consulted for it). It also
        // keeps the counts exact for the whole batch: no other handle writes
        // until it commits.
        let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(error) => return vec![Err(store(error)); batch.len()],
        };
        let mut counts = Counts::default();
        let mut results = Vec::with_capacity(batch.len());
        for pending in batch {
            let recorded = record_one(&mut tx, &mut counts, pending, caps, self.now_ms());
            // An I/O error may have rolled the whole transaction back:
            // what follows would commit on its own, so it stops here.
            let aborted = recorded.is_err() && tx.is_autocommit();
            results.push(recorded);
            if aborted {
                let error = DlqError::Store("the transaction was rolled back".to_owned());
                results.resize(batch.len(), Err(error));
                return results;
            }
        }
        if let Err(error) = tx.commit() {
            return vec![Err(store(error)); batch.len()];
        }
        results
    }
}

/// The entries in the queue, in all and by zone, counted once per batch
/// and kept up to date as it inserts (an eviction makes them counted
/// again): a count is a scan, and the batch holds the only writer.
#[derive(Default)]
struct Counts {
    total: Option<u64>,
    zones: HashMap<String, u64>,
}

impl Counts {
    fn total(&mut self, connection: &Connection) -> Result<u64, DlqError> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        let total = count(connection, "SELECT COUNT(*) FROM entries", params![])?;
        Ok(*self.total.insert(total))
    }

    fn zone(&mut self, connection: &Connection, zone: &str) -> Result<u64, DlqError> {
        if let Some(n) = self.zones.get(zone) {
            return Ok(*n);
        }
        let n = count(
            connection,
            "SELECT COUNT(*) FROM entries WHERE zone = ?1",
            params![zone],
        )?;
        self.zones.insert(zone.to_owned(), n);
        Ok(n)
    }

    fn inserted(&mut self, zone: &str) {
        self.total = self.total.map(|n| n + 1);
        if let Some(n) = self.zones.get_mut(zone) {
            *n += 1;
        }
    }

    fn forget(&mut self) {
        *self = Self::default();
    }
}

fn count(connection: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<u64, DlqError> {
    connection
        .prepare_cached(sql)
        .and_then(|mut query| query.query_row(params, |r| r.get::<_, i64>(0)))
        .map(|n| n as u64)
        .map_err(store)
}

/// Records one entry of the batch, making room first as the caps say. An
/// entry that must evict does so within a savepoint, so that a failure
/// after the eviction leaves no trace of it; without eviction its one
/// INSERT is atomic on its own.
fn record_one(
    tx: &mut Transaction<'_>,
    counts: &mut Counts,
    pending: &Pending,
    caps: Caps,
    now: i64,
) -> Recorded {
    let zone = pending.new.zone.as_str();
    let in_zone = counts.zone(tx, zone)?;
    let total = counts.total(tx)?;
    if in_zone < caps.max_per_zone && total < caps.max_size {
        let id = insert(tx, pending, now)?;
        counts.inserted(zone);
        return Ok((id, Eviction::default()));
    }
    counts.forget();
    let savepoint = tx.savepoint().map_err(store)?;
    let mut eviction = Eviction::default();
    if in_zone >= caps.max_per_zone {
        let count = in_zone + 1 - caps.max_per_zone;
        make_room(
            &savepoint,
            Some(zone),
            count,
            caps,
            "max_per_zone",
            &mut eviction,
        )?;
    }
    let total = Counts::default().total(&savepoint)?;
    if total >= caps.max_size {
        let count = total + 1 - caps.max_size;
        make_room(&savepoint, None, count, caps, "max_size", &mut eviction)?;
    }
    let id = insert(&savepoint, pending, now)?;
    savepoint.commit().map_err(store)?;
    Ok((id, eviction))
}

/// Inserts one entry; its row id.
fn insert(connection: &Connection, pending: &Pending, now: i64) -> Result<i64, DlqError> {
    let new = &pending.new;
    connection
        .prepare_cached(
            "INSERT INTO entries (zone, function, arguments, replayable, error_type, error_message, \
             attempts, reason, replays_left, created_ms, updated_ms, token) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                new.zone,
                new.function,
                new.arguments,
                i64::from(new.replayable),
                new.error_type,
                new.error_message,
                new.attempts,
                new.reason,
                pending.replay_budget,
                now,
                pending.token
            ])
        })
        .map_err(store)?;
    Ok(connection.last_insert_rowid())
}

/// Evicts (or, for `reject`, refuses) `count` of the oldest entries, of
/// `zone` or of all, as the overflow strategy says.
fn make_room(
    connection: &Connection,
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
        connection
            .execute(
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
    let evicted = connection
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
        connection
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) \
                 DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
                params![counter, n as i64],
            )
            .map_err(store)?;
    }
    Ok(())
}
