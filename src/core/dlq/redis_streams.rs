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

use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry};
use crate::core::dlq::listing::{ListQuery, Page};
use crate::core::dlq::redis_keys::{DomainKeys, RedisEntryId, DOMAINS_KEY};
use crate::core::dlq::redis_record::{entry, stream_order};
use crate::core::dlq::store::{DlqError, DlqStore, Stats};
use crate::core::store::{CallerConnections, RedisStore};
use parking_lot::Mutex;
use redis::{AsyncCommands, RedisResult, Script};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The domain's keys, named: the start of every script.
pub(super) const KEYS: &str = include_str!("lua/keys.lua");

/// The keys and the helpers that remove entries: the start of every script
/// but the record's, which defines the helpers only when it must make room
/// (defining them costs a record ~1 us of Redis's time).
pub(super) const COMMON: &str = concat!(
    include_str!("lua/keys.lua"),
    "\n",
    include_str!("lua/common.lua")
);

macro_rules! script {
    ($name:ident, $file:literal) => {
        static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(&format!("{COMMON}\n{}", include_str!($file))));
    };
}

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
    /// Blocking connections, one per calling thread (single node only):
    /// a record is then one write and one read (`redis_round_trip`).
    callers: Option<CallerConnections>,
    pub(super) caps: Mutex<Caps>,
    consumer: String,
    lease_ms: AtomicU64,
    /// The domain count the last record saw: below the overall cap's reach,
    /// a record needs no count of the whole queue.
    pub(super) domains_seen: AtomicU64,
}

impl RedisDlq {
    /// A queue through `redis`; `consumer` names this process in the
    /// replay group; a claim older than `lease` may be taken over.
    pub fn new(redis: Arc<RedisStore>, caps: Caps, consumer: String, lease: Duration) -> Self {
        Self {
            callers: redis.caller_connections(),
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
        ran.map_err(|error| self.failure(error.0))
    }

    /// A failed operation's error: unavailable while the store is DEGRADED
    /// (the caller falls back on the local queue), else a store error.
    pub(super) fn failure(&self, error: String) -> DlqError {
        if self.redis.health().is_degraded() {
            DlqError::Unavailable(error)
        } else {
            DlqError::Store(error)
        }
    }

    /// This thread's own connections, for a single node and a thread
    /// outside the runtime (whose own threads share its connection).
    pub(super) fn callers(&self) -> Option<&CallerConnections> {
        let on_runtime = tokio::runtime::Handle::try_current().is_ok();
        self.callers.as_ref().filter(|_| !on_runtime)
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
        self.record_fresh(new, replay_budget, None)
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
