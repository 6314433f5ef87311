//! The dead-letter queue in Redis Streams, shared by every worker: one
//! stream per domain (time-ordered `XADD`), a consumer group whose pending
//! list holds the replay claims (`XCLAIM ... FORCE`, taken over after a
//! lease), a state hash beside it, and every multi-key step one Lua script
//! over keys that share the domain's hash tag (Redis Cluster safe).
//!
//! The per-domain cap is exact (checked inside the record script). The
//! overall cap spans domains, which a cluster cannot update atomically: it
//! is checked before the record and enforced right after by evicting the
//! fleet's oldest entries, so concurrent recorders may overshoot it by one
//! entry each, briefly.

use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry, Overflow};
use crate::core::dlq::listing::{ListQuery, Page};
use crate::core::dlq::redis_keys::{DomainKeys, RedisEntryId, DOMAINS_KEY};
use crate::core::dlq::redis_record::{entry, stream_fields, stream_order};
use crate::core::dlq::store::{DlqError, DlqStore, Stats};
use crate::core::store::RedisStore;
use parking_lot::Mutex;
use redis::{AsyncCommands, RedisResult, Script};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Helpers every script starts with.
pub(super) const COMMON: &str = include_str!("lua/common.lua");

macro_rules! script {
    ($name:ident, $file:literal) => {
        static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(&format!("{COMMON}\n{}", include_str!($file))));
    };
}

script!(RECORD, "lua/record.lua");
script!(GET, "lua/get.lua");
script!(LIST, "lua/list.lua");
script!(CLAIM, "lua/claim.lua");
script!(SUCCEEDED, "lua/succeeded.lua");
script!(FAILED, "lua/failed.lua");
script!(REDRIVE, "lua/redrive.lua");
script!(PURGE, "lua/purge.lua");
script!(STATS, "lua/stats.lua");

/// Stream entries one listing step reads at most: a few milliseconds of
/// Redis's time, however large the domain (a listing is many such steps).
const LIST_SCAN_BUDGET: u64 = 500;

/// What a script returns for one entry: stream id, fields, state JSON.
type RawEntry = (String, Vec<String>, String);

/// The Redis Streams queue. See the module docs.
#[derive(Debug)]
pub struct RedisDlq {
    redis: Arc<RedisStore>,
    caps: Mutex<Caps>,
    consumer: String,
    lease_ms: AtomicU64,
    /// The domain count the last record saw: below the overall cap's reach,
    /// a record needs no count of the whole queue.
    domains_seen: AtomicU64,
}

/// An entry that came from another store, kept as it was.
#[derive(Debug, Clone, Copy)]
struct Carried<'a> {
    state: &'a str,
    replays_left: u32,
    last_error: Option<&'a str>,
    created_ms: Option<i64>,
    /// The record's token: a second record with it is not added.
    token: Option<&'a str>,
}

impl<'a> Carried<'a> {
    /// A new record: pending, with a full budget, stamped now.
    fn fresh(replay_budget: u32, token: Option<&'a str>) -> Self {
        Self {
            state: "pending",
            replays_left: replay_budget,
            last_error: None,
            created_ms: None,
            token,
        }
    }
}

impl RedisDlq {
    /// A queue through `redis`; `consumer` names this process in the
    /// replay group; a claim older than `lease` may be taken over.
    pub fn new(redis: Arc<RedisStore>, caps: Caps, consumer: String, lease: Duration) -> Self {
        Self {
            redis,
            caps: Mutex::new(caps),
            consumer,
            lease_ms: AtomicU64::new(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)),
            // Unknown until the first record: counted then, to be safe.
            domains_seen: AtomicU64::new(u64::MAX),
        }
    }

    /// A new lease for claims made from now on.
    pub fn set_lease(&self, lease: Duration) {
        let ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        self.lease_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// The connection's health record (DEGRADED after a failure).
    pub fn redis(&self) -> &Arc<RedisStore> {
        &self.redis
    }

    /// Records `new` once: a second record with the same `token` (made
    /// again because the first one's answer was lost) is not added, and
    /// answers the first one's id, for as long as that entry lives.
    pub fn record_once(
        &self,
        new: &NewEntry,
        replay_budget: u32,
        token: &str,
    ) -> Result<(String, Eviction), DlqError> {
        self.insert(new, Carried::fresh(replay_budget, Some(token)))
    }

    /// Records `entry`, which another store held (the local queue during an
    /// outage), keeping its state, budget and time, once per `token`.
    pub fn forward(&self, entry: &Entry, token: &str) -> Result<(String, Eviction), DlqError> {
        let state = match entry.state.as_str() {
            "needs_review" => "needs_review",
            _ => "pending", // a local replay that died mid-way is pending again
        };
        self.insert(
            &entry.recorded,
            Carried {
                state,
                replays_left: entry.replays_left,
                last_error: entry.last_replay_error.as_deref(),
                created_ms: Some(entry.created_ms),
                token: Some(token),
            },
        )
    }

    pub(super) fn run<T, F, Fut>(&self, op: F) -> Result<T, DlqError>
    where
        F: FnOnce(crate::core::store::redis::Connection) -> Fut + Send,
        Fut: Future<Output = RedisResult<T>> + Send,
        T: Send,
    {
        // Called on one of the runtime's own threads (a breaker's fleet sync
        // announcing a close, say), blocking must first hand the thread's
        // other tasks elsewhere, or tokio refuses to nest a runtime.
        let ran = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(|| self.redis.run(op))
        } else {
            self.redis.run(op)
        };
        ran.map_err(|error| {
            if self.redis.health().is_degraded() {
                DlqError::Unavailable(error.0)
            } else {
                DlqError::Store(error.0)
            }
        })
    }

    /// Counts the fleet's entries, in words: what a Redis that comes back
    /// empty will have lost (see `store::incarnation`).
    pub fn census(
        mut connection: crate::core::store::redis::Connection,
    ) -> std::pin::Pin<Box<dyn Future<Output = RedisResult<String>> + Send>> {
        Box::pin(async move {
            let domains: Vec<String> = connection.smembers(DOMAINS_KEY).await?;
            let mut entries = 0_u64;
            for domain in &domains {
                entries += connection
                    .xlen::<_, u64>(DomainKeys::new(domain).stream)
                    .await?;
            }
            Ok(format!(
                "{entries} dead-letter entries in {} domains",
                domains.len()
            ))
        })
    }

    pub(super) fn domains(&self) -> Result<Vec<String>, DlqError> {
        let mut domains: Vec<String> =
            self.run(|mut c| async move { c.smembers::<_, Vec<String>>(DOMAINS_KEY).await })?;
        domains.sort();
        Ok(domains)
    }

    /// The zones to visit: one, or every domain.
    fn zones(&self, zone: Option<&str>) -> Result<Vec<String>, DlqError> {
        match zone {
            Some(zone) => Ok(vec![zone.to_owned()]),
            None => self.domains(),
        }
    }

    fn insert(&self, new: &NewEntry, carried: Carried<'_>) -> Result<(String, Eviction), DlqError> {
        let caps = *self.caps.lock();
        let keys = DomainKeys::new(&new.zone);
        // The overall cap, checked before the record while it is in reach
        // (so `reject` refuses before writing).
        let domains_before = self.domains_seen.load(Ordering::Relaxed);
        let mut over = 0;
        if Self::overall_cap_in_reach(caps, domains_before) {
            let total = self.total()?;
            if total >= caps.max_size {
                if caps.overflow == Overflow::Reject {
                    return Err(DlqError::Full {
                        cap: "max_size",
                        limit: caps.max_size,
                    });
                }
                over = total + 1 - caps.max_size;
            }
        }
        let mut invocation = with_keys(&RECORD, &keys);
        invocation
            .arg(caps.max_per_zone)
            .arg(caps.overflow.as_str())
            .arg(carried.state)
            .arg(carried.replays_left)
            .arg(carried.last_error.unwrap_or(""))
            .arg(
                carried
                    .created_ms
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            );
        for value in stream_fields(new) {
            invocation.arg(value);
        }
        invocation.arg(carried.token.unwrap_or(""));
        let zone = new.zone.clone();
        // The domain index and the record travel together: one round trip
        // on the multiplexed connection (the index is idempotent, and lives
        // on its own slot, so it cannot be in the script).
        let (domains, (status, stream_id, evicted, compressed)): (u64, (String, String, u64, u64)) =
            self.run(|c| async move {
                let (mut index, mut record) = (c.clone(), c);
                let mut pipe = redis::pipe();
                pipe.sadd(DOMAINS_KEY, zone).ignore().scard(DOMAINS_KEY);
                let (indexed, recorded) = futures_util::future::join(
                    pipe.query_async::<(u64,)>(&mut index),
                    invocation.invoke_async(&mut record),
                )
                .await;
                Ok((indexed?.0, recorded?))
            })?;
        self.domains_seen.store(domains, Ordering::Relaxed);
        if status == "full" {
            return Err(DlqError::Full {
                cap: "max_per_zone",
                limit: caps.max_per_zone,
            });
        }
        let id = RedisEntryId {
            zone: new.zone.clone(),
            stream_id,
        };
        let mut eviction = Eviction {
            evicted,
            compressed,
        };
        if status != "ok" {
            return Ok((id.to_string(), eviction)); // forwarded before: nothing new
        }
        // The entry is in: from here a failure must not fail the record (the
        // caller would keep a second copy locally). A cap left unenforced is
        // enforced by the next record, which counts again.
        if !Self::overall_cap_in_reach(caps, domains_before)
            && Self::overall_cap_in_reach(caps, domains)
        {
            // This record brought the cap in reach: counted after the fact.
            over = self.past_overall_cap(caps).unwrap_or(0);
            if over > 0
                && caps.overflow == Overflow::Reject
                && self.succeeded(&id.to_string()).is_ok()
            {
                return Err(DlqError::Full {
                    cap: "max_size",
                    limit: caps.max_size,
                });
            }
        } else {
            over = over.saturating_sub(evicted);
        }
        if over > 0 && caps.overflow != Overflow::Reject {
            let compress = caps.overflow == Overflow::CompressOldest;
            let _ = self.evict_oldest(over, compress, &mut eviction);
        }
        Ok((id.to_string(), eviction))
    }

    /// Runs a one-entry script on the entry named by `id`.
    fn on_entry<T, F>(
        &self,
        id: &str,
        script: &'static Script,
        args: F,
    ) -> Result<Option<T>, DlqError>
    where
        T: redis::FromRedisValue + Send,
        F: FnOnce(&mut redis::ScriptInvocation<'static>),
    {
        let Some(parsed) = RedisEntryId::parse(id) else {
            return Ok(None);
        };
        let keys = DomainKeys::new(&parsed.zone);
        let mut invocation = with_keys(script, &keys);
        invocation.arg(&parsed.stream_id);
        args(&mut invocation);
        self.run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .map(Some)
    }

    /// Up to `limit` matches of one domain after `start` (its stream id,
    /// and whether that id itself is excluded), in bounded script steps;
    /// and whether the domain may hold more.
    fn domain_page(
        &self,
        zone: &str,
        query: &ListQuery<'_>,
        start: (String, bool),
        limit: u64,
    ) -> Result<(Vec<RawEntry>, bool), DlqError> {
        let (state, error_type) = (
            query.state.unwrap_or("").to_owned(),
            query.error_type.unwrap_or("").to_owned(),
        );
        let (mut from, mut exclusive) = start;
        let mut out: Vec<RawEntry> = Vec::new();
        while (out.len() as u64) < limit {
            let keys = DomainKeys::new(zone);
            let want = limit - out.len() as u64;
            let (state, error_type, step_from) = (state.clone(), error_type.clone(), from.clone());
            let (matches, last): (Vec<RawEntry>, String) = self.run(|mut c| async move {
                with_keys(&LIST, &keys)
                    .arg(state)
                    .arg(error_type)
                    .arg(want)
                    .arg(step_from)
                    .arg(u8::from(exclusive))
                    .arg(LIST_SCAN_BUDGET)
                    .invoke_async(&mut c)
                    .await
            })?;
            out.extend(matches);
            if last.is_empty() {
                return Ok((out, false));
            }
            (from, exclusive) = (last, true);
        }
        Ok((out, true))
    }

    fn parsed(zone: &str, raw: RawEntry) -> Result<Entry, DlqError> {
        entry(zone, &raw.0, &raw.1, &raw.2).map_err(DlqError::Store)
    }
}

/// `script` with a domain's keys, in the order every script takes them.
pub(super) fn with_keys(
    script: &'static Script,
    keys: &DomainKeys,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    for key in keys.all() {
        invocation.key(key);
    }
    invocation
}

impl DlqStore for RedisDlq {
    fn set_caps(&self, caps: Caps) {
        *self.caps.lock() = caps;
    }

    fn record(&self, new: &NewEntry, replay_budget: u32) -> Result<(String, Eviction), DlqError> {
        self.insert(new, Carried::fresh(replay_budget, None))
    }

    fn get(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        let found: Option<Option<RawEntry>> = self.on_entry(id, &GET, |_| ())?;
        match (found.flatten(), RedisEntryId::parse(id)) {
            (Some(raw), Some(parsed)) => Self::parsed(&parsed.zone, raw).map(Some),
            _ => Ok(None),
        }
    }

    fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page, DlqError> {
        let after = match after.map(|id| RedisEntryId::parse(id).ok_or(id)) {
            Some(Err(id)) => {
                return Err(DlqError::Store(format!("not a Redis entry id: {id:.40}")))
            }
            Some(Ok(id)) => Some(id),
            None => None,
        };
        // Every domain in one order, (stream id, zone): a domain sorting
        // after the last entry's own starts at its stream id, the others
        // just past it.
        let mut found = Vec::new();
        let mut more = false;
        for zone in self.zones(query.zone)? {
            let start = match &after {
                None => ("-".to_owned(), false),
                Some(id) => (id.stream_id.clone(), zone.as_str() <= id.zone.as_str()),
            };
            let (entries, rest) = self.domain_page(&zone, query, start, limit)?;
            more |= rest;
            found.extend(
                entries
                    .into_iter()
                    .map(|e| ((stream_order(&e.0), zone.clone()), e)),
            );
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        more |= found.len() as u64 > limit;
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let entries = found
            .into_iter()
            .map(|((_, zone), raw)| Self::parsed(&zone, raw))
            .collect::<Result<_, _>>()?;
        Ok(Page { entries, more })
    }

    fn claim(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        let consumer = self.consumer.clone();
        let lease = self.lease_ms.load(Ordering::Relaxed);
        let claimed: Option<Option<RawEntry>> = self.on_entry(id, &CLAIM, |inv| {
            inv.arg(consumer).arg(lease);
        })?;
        match (claimed.flatten(), RedisEntryId::parse(id)) {
            (Some(raw), Some(parsed)) => Self::parsed(&parsed.zone, raw).map(Some),
            _ => Ok(None),
        }
    }

    fn succeeded(&self, id: &str) -> Result<(), DlqError> {
        self.on_entry::<i64, _>(id, &SUCCEEDED, |_| ()).map(|_| ())
    }

    fn failed(&self, id: &str, error: &str) -> Result<String, DlqError> {
        let error = error.to_owned();
        let state: Option<String> = self.on_entry(id, &FAILED, |inv| {
            inv.arg(error).arg("0");
        })?;
        Ok(state.unwrap_or_else(|| "gone".to_owned()))
    }

    fn review(&self, id: &str, error: &str) -> Result<String, DlqError> {
        let error = error.to_owned();
        let state: Option<String> = self.on_entry(id, &FAILED, |inv| {
            inv.arg(error).arg("1");
        })?;
        Ok(state.unwrap_or_else(|| "gone".to_owned()))
    }

    fn redrive(&self, id: &str, budget: u32) -> Result<bool, DlqError> {
        let done: Option<i64> = self.on_entry(id, &REDRIVE, |inv| {
            inv.arg(budget);
        })?;
        Ok(done == Some(1))
    }

    fn purge(&self, zone: Option<&str>, state: Option<&str>) -> Result<u64, DlqError> {
        let mut purged = 0;
        for zone in self.zones(zone)? {
            let keys = DomainKeys::new(&zone);
            let state = state.unwrap_or("");
            purged += self.run(|mut c| async move {
                with_keys(&PURGE, &keys)
                    .arg(state)
                    .invoke_async::<u64>(&mut c)
                    .await
            })?;
        }
        Ok(purged)
    }

    fn stats(&self) -> Result<Stats, DlqError> {
        let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
        let mut stats = Stats::default();
        for zone in self.domains()? {
            let keys = DomainKeys::new(&zone);
            type Counts = (u64, Vec<String>, Vec<String>, (String, String));
            let (length, states, summary, (evicted, compressed)): Counts = self
                .run(|mut c| async move { with_keys(&STATS, &keys).invoke_async(&mut c).await })?;
            for pair in states.chunks_exact(2) {
                *by_state.entry(pair[0].clone()).or_default() +=
                    pair[1].parse::<u64>().unwrap_or(0);
            }
            for pair in summary.chunks_exact(2) {
                let count = pair[1].parse().unwrap_or(0);
                stats
                    .compressed
                    .push((zone.clone(), pair[0].clone(), count));
            }
            stats.evictions.evicted += evicted.parse::<u64>().unwrap_or(0);
            stats.evictions.compressed += compressed.parse::<u64>().unwrap_or(0);
            if length > 0 {
                stats.by_zone.push((zone, length));
            }
            stats.total += length;
        }
        stats.by_state = by_state.into_iter().collect();
        Ok(stats)
    }
}
