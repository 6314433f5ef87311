//! The process's dead-letter queue as one queue: the local SQLite queue
//! always exists; with a Redis URL the Redis Streams queue is the queue,
//! and the local one takes the records Redis could not (DEGRADED), which
//! the flusher carries over on recovery. Ids route each operation:
//! `local:N` (or a bare number) to the local queue, `zone:ms-seq` to Redis.
//! Every method blocks on disk or network: not with the GIL held.

use crate::core::dlq::listing::{merge_pages, Cursor, ListQuery, Page};
use crate::core::dlq::{DlqError, DlqStore, Entry, Eviction, NewEntry, Stats};
use crate::core::metrics::registry::METRICS;
use crate::core::process::dlq_flush;
use crate::core::process::dlq_queues::{self, Queues, QueuesError};
use std::collections::BTreeMap;

/// Local entries' ids carry this prefix when Redis is the queue.
const LOCAL_PREFIX: &str = "local:";

/// Which queue an id names.
enum Route<'a> {
    Local(&'a str),
    Remote(&'a str),
    Nowhere,
}

/// A call recorded: its id, what was evicted to make room, and, when Redis
/// could not take it and the local queue did, why.
#[derive(Debug)]
pub struct Recorded {
    /// The entry's public id (`local:N` while Redis is the queue).
    pub id: String,
    /// What was evicted to make room.
    pub eviction: Eviction,
    /// Why Redis could not take it, when the local queue did.
    pub redis_error: Option<String>,
}

/// One page of a listing: the entries, why it is partial (`None`:
/// complete), and the cursor of the next page (`None`: no more).
#[derive(Debug)]
pub struct Listed {
    /// The page's entries, oldest first.
    pub entries: Vec<Entry>,
    /// Why the page is partial (Redis unreachable); `None`: complete.
    pub partial: Option<String>,
    /// Where the next page starts; `None`: no more.
    pub next: Option<Cursor>,
}

/// Counts over both queues.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Entries in all.
    pub total: u64,
    /// Entries by state.
    pub by_state: BTreeMap<String, u64>,
    /// Entries by zone.
    pub by_zone: BTreeMap<String, u64>,
    /// Entries folded into summaries, by zone and error type.
    pub compressed_summaries: Vec<(String, String, u64)>,
    /// Every eviction the stores made.
    pub evictions: Eviction,
    /// `sqlite` or `redis`: which queue is the queue.
    pub store: &'static str,
    /// Entries in the local queue.
    pub local: u64,
    /// Why Redis's counts are missing, or `None`.
    pub unavailable: Option<String>,
    /// The queue's Redis connection is DEGRADED.
    pub degraded: bool,
}

/// The queues, opened on first use; an error says why they cannot be
/// opened, or that `init()` has not configured them.
pub fn queues() -> Result<Queues, QueuesError> {
    let (queues, opened) = dlq_queues::open()
        .map_err(QueuesError::Open)?
        .ok_or(QueuesError::NotConfigured)?;
    // A predecessor may have left records Redis never got. (No thread when
    // there are none: one less thread for a fork to catch mid-lock.)
    if opened && queues.remote.is_some() && queues.local.waiting().unwrap_or(false) {
        dlq_flush::schedule(&queues);
    }
    Ok(queues)
}

impl Queues {
    fn route<'a>(&self, id: &'a str) -> Route<'a> {
        let row = id.strip_prefix(LOCAL_PREFIX).unwrap_or(id);
        if !row.is_empty() && row.bytes().all(|b| b.is_ascii_digit()) {
            Route::Local(row)
        } else if self.remote.is_some() {
            Route::Remote(id)
        } else {
            Route::Nowhere
        }
    }

    /// Runs `op` on the queue `id` names; `missing` when it names none.
    fn on_entry<T>(
        &self,
        id: &str,
        missing: T,
        op: impl FnOnce(&dyn DlqStore, &str) -> Result<T, DlqError>,
    ) -> Result<T, DlqError> {
        match self.route(id) {
            Route::Local(row) => op(self.local.as_ref(), row),
            Route::Remote(id) => op(self.remote.as_deref().expect("routed"), id),
            Route::Nowhere => Ok(missing),
        }
    }

    /// A local entry's public id: prefixed while Redis is the queue.
    fn public(&self, mut entry: Entry, local: bool) -> Entry {
        if local && self.remote.is_some() {
            entry.id = format!("{LOCAL_PREFIX}{}", entry.id);
        }
        entry
    }

    /// Records a call durably: in Redis when it is the queue, else (or when
    /// Redis cannot take it) locally, and the flusher carries it over later.
    /// A full Redis queue (`reject`) refuses it outright.
    pub fn record(&self, new: &NewEntry, replay_budget: u32) -> Result<Recorded, DlqError> {
        // The record's token: if Redis wrote it but its answer was lost (a
        // timeout), the copy kept locally is recognised when flushed there.
        let token = format!("{:032x}", fastrand::u128(..));
        let redis_error = match &self.remote {
            None => None,
            Some(remote) => match remote.record_once(new, replay_budget, &token) {
                Ok((id, eviction)) => {
                    return Ok(Recorded {
                        id,
                        eviction,
                        redis_error: None,
                    })
                }
                Err(full @ DlqError::Full { .. }) => return Err(full),
                Err(error) => Some(error.to_string()),
            },
        };
        let token = redis_error.as_ref().map(|_| token.as_str());
        let (id, eviction) = self.local.record_with_token(new, replay_budget, token)?;
        let id = match redis_error {
            None => id.to_string(),
            Some(_) => {
                dlq_flush::schedule(self);
                format!("{LOCAL_PREFIX}{id}")
            }
        };
        Ok(Recorded {
            id,
            eviction,
            redis_error,
        })
    }

    /// One entry, or `None`. An entry in an unreachable Redis is an error.
    pub fn get(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        let local = matches!(self.route(id), Route::Local(_));
        let found = self.on_entry(id, None, |store, id| store.get(id))?;
        Ok(found.map(|entry| self.public(entry, local)))
    }

    /// One page of entries, oldest first, after `cursor`. With Redis
    /// unreachable, the local queue's entries are all there is (and the
    /// page says why it is partial).
    pub fn list(
        &self,
        query: &ListQuery<'_>,
        cursor: &Cursor,
        limit: u64,
    ) -> Result<Listed, DlqError> {
        let mut partial = None;
        let remote = match &self.remote {
            Some(remote) if !cursor.remote_done => {
                match remote.list(query, cursor.remote_after.as_deref(), limit) {
                    Ok(page) => Some(page),
                    Err(error) => {
                        partial = Some(error.to_string());
                        None
                    }
                }
            }
            _ => None,
        };
        let local = if cursor.local_done {
            Page::default()
        } else {
            self.local
                .list(query, cursor.local_after.as_deref(), limit)?
        };
        let (entries, next) = merge_pages(cursor, remote, local, limit as usize);
        let entries = entries
            .into_iter()
            .map(|(entry, remote)| self.public(entry, !remote))
            .collect();
        Ok(Listed {
            entries,
            partial,
            next,
        })
    }

    /// Takes an entry for replay (one replayer at a time, fleet-wide in Redis).
    pub fn claim(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        let local = matches!(self.route(id), Route::Local(_));
        let claimed = self.on_entry(id, None, |store, id| store.claim(id))?;
        Ok(claimed.map(|entry| self.public(entry, local)))
    }

    /// The replay of `id` succeeded.
    pub fn succeeded(&self, id: &str) -> Result<(), DlqError> {
        METRICS.global.dlq_replay(true);
        self.on_entry(id, (), |store, id| store.succeeded(id))
    }

    /// The replay of `id` failed; returns its new state. `review`: the
    /// replay could not run at all (refused, or its function is gone), so
    /// the entry goes straight to `needs_review`.
    pub fn failed(&self, id: &str, error: &str, review: bool) -> Result<String, DlqError> {
        METRICS.global.dlq_replay(false);
        let state = self.on_entry(id, "gone".to_owned(), |store, id| {
            if review {
                store.review(id, error)
            } else {
                store.failed(id, error)
            }
        })?;
        if matches!(self.route(id), Route::Local(_)) {
            // A local entry a replay held is free again: on to Redis with
            // it (when Redis is the queue).
            dlq_flush::schedule(self);
        }
        Ok(state)
    }

    /// A fresh replay budget for a needs-review entry.
    pub fn redrive(&self, id: &str, budget: u32) -> Result<bool, DlqError> {
        self.on_entry(id, false, |store, id| store.redrive(id, budget))
    }

    /// Deletes the matching entries, in Redis and locally. Refused whole
    /// while Redis is unreachable (a purge must not half happen).
    pub fn purge(&self, zone: Option<&str>, state: Option<&str>) -> Result<u64, DlqError> {
        let remote = match &self.remote {
            Some(remote) => remote.purge(zone, state)?,
            None => 0,
        };
        Ok(remote + self.local.purge(zone, state)?)
    }

    /// Counts, by state and zone, plus every eviction the stores made (by
    /// any process: the fleet's, with Redis). Redis's counts are left out,
    /// saying why, while it is unreachable.
    pub fn stats(&self) -> Result<QueueStats, DlqError> {
        let remote = self.remote.as_ref().map(|remote| remote.stats());
        let local = self.local.stats()?;
        let mut stats = QueueStats {
            total: local.total,
            compressed_summaries: local.compressed.clone(),
            evictions: local.evictions,
            store: if self.remote.is_some() {
                "redis"
            } else {
                "sqlite"
            },
            local: local.total,
            degraded: self
                .remote
                .as_ref()
                .is_some_and(|r| r.redis().health().is_degraded()),
            ..QueueStats::default()
        };
        match remote {
            Some(Ok(remote)) => stats.add(remote),
            Some(Err(error)) => stats.unavailable = Some(error.to_string()),
            None => {}
        }
        merge(&mut stats.by_state, local.by_state);
        merge(&mut stats.by_zone, local.by_zone);
        Ok(stats)
    }
}

impl QueueStats {
    fn add(&mut self, remote: Stats) {
        self.total += remote.total;
        self.evictions.evicted += remote.evictions.evicted;
        self.evictions.compressed += remote.evictions.compressed;
        merge(&mut self.by_state, remote.by_state);
        merge(&mut self.by_zone, remote.by_zone);
        self.compressed_summaries.extend(remote.compressed);
    }
}

fn merge(into: &mut BTreeMap<String, u64>, pairs: Vec<(String, u64)>) {
    for (key, count) in pairs {
        *into.entry(key).or_default() += count;
    }
}
