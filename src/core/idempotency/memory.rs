//! The in-process idempotency store: a sharded map whose records expire by
//! the injected clock.
//!
//! Hand-sharded rather than a cache library or a concurrent map: an
//! idempotent call's whole budget is a few hundred nanoseconds. A claim or
//! a completion hashes the key once with a seeded foldhash (SipHash cost
//! more than the rest of the claim) and takes one shard's lock once. A
//! shard keeps its newest records in a small table of their own, where a
//! claim inserts and its completion finds it in the cache, and moves them
//! into its main table in batches (`memory_table.rs` keeps keys in one
//! buffer per table, so a record allocates nothing). Expired records are
//! treated as absent when read, and swept out in amortised batches.

use crate::core::clock::{to_nanos, Nanos, SharedClock};
use crate::core::idempotency::memory_table::{Record, Table};
use crate::core::idempotency::store::{
    ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError,
};
use foldhash::fast::RandomState;
use parking_lot::Mutex;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often, at most, a sweep of expired records runs (by the store's clock).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Records inserted beyond the last sweep's survivors before growth alone
/// triggers a sweep: the store holds at most twice its live records plus this.
const GROWTH_SLACK: usize = 1024;
/// New records a shard keeps apart before moving them to its main table
/// together: small enough to stay in the cache, where a claim inserts and
/// its completion finds it, while the main table (a memory TTL of keys,
/// megabytes) takes them in batches, its cache misses overlapping instead
/// of each stalling a call.
const YOUNG: usize = 1024;

/// One shard's records: the recent ones, and the rest.
#[derive(Debug, Default)]
struct Tables {
    young: Table,
    old: Table,
}

impl Tables {
    fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Record> {
        match self.young.get_mut(hash, key) {
            Some(record) => Some(record),
            None => self.old.get_mut(hash, key),
        }
    }

    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// One shard on a cache line of its own, so two threads claiming keys of
/// different shards do not contend for one line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(Mutex<Tables>);

/// The memory store. Correct for one process; every worker has its own.
///
/// ```
/// use baldur::core::clock::SystemClock;
/// use baldur::core::idempotency::memory::MemoryStore;
/// use baldur::core::idempotency::store::{ClaimOutcome, IdempotencyStore};
/// use std::time::Duration;
/// let store = MemoryStore::new(SystemClock::shared());
/// let ttl = Duration::from_secs(60);
/// assert_eq!(store.claim("charge:1", 7, None, ttl).unwrap(), ClaimOutcome::Claimed);
/// assert!(store.complete("charge:1", 7, ttl).unwrap());
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Shard]>,
    /// Hashes keys, once a call: the shard from high bits, the tables' own
    /// places from the rest.
    hasher: RandomState,
    clock: SharedClock,
    next_sweep_at: AtomicU64,
    len_after_sweep: AtomicUsize,
    inserted_since_sweep: AtomicUsize,
}

impl MemoryStore {
    /// An empty store reading `clock`.
    pub fn new(clock: SharedClock) -> Self {
        // A few shards per core keep threads apart; a power of two picks one
        // with a mask.
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let count = (cores * 4).next_power_of_two().clamp(4, 64);
        Self {
            shards: (0..count).map(|_| Shard::default()).collect(),
            hasher: RandomState::default(),
            clock,
            next_sweep_at: AtomicU64::new(0),
            len_after_sweep: AtomicUsize::new(0),
            inserted_since_sweep: AtomicUsize::new(0),
        }
    }

    /// Records held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.0.lock().len()).sum()
    }

    /// Whether the store holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every record, live or not (the gate's store made fresh).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            *shard.0.lock() = Tables::default();
        }
        self.next_sweep_at.store(0, Ordering::Relaxed);
        self.len_after_sweep.store(0, Ordering::Relaxed);
        self.inserted_since_sweep.store(0, Ordering::Relaxed);
    }

    /// Drops every expired record now.
    pub fn sweep(&self) {
        let now = self.clock.now();
        self.next_sweep_at
            .store(now.saturating_add(to_nanos(SWEEP_EVERY)), Ordering::Relaxed);
        self.sweep_expired(now);
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Mutex<Tables> {
        // Bits a table uses neither for its index (low) nor its tags (top 7).
        &self.shards[(hash >> 40) as usize & (self.shards.len() - 1)].0
    }

    fn sweep_expired(&self, now: Nanos) {
        self.inserted_since_sweep.store(0, Ordering::Relaxed);
        let mut kept = 0;
        for shard in self.shards.iter() {
            let mut tables = shard.0.lock();
            tables.young.retain(|record| record.expires_at > now);
            tables.old.retain(|record| record.expires_at > now);
            kept += tables.len();
        }
        self.len_after_sweep.store(kept, Ordering::Relaxed);
    }

    /// Sweeps when the sweep interval passed or the store doubled (give or
    /// take the slack) since the last sweep, so the cost stays amortised
    /// over inserts. One sweeper at a time: whoever moves the next-sweep
    /// time forward does it.
    #[inline]
    fn maybe_sweep(&self, now: Nanos, inserted: bool) {
        let due = self.next_sweep_at.load(Ordering::Relaxed);
        let grown = inserted
            && self.inserted_since_sweep.fetch_add(1, Ordering::Relaxed)
                >= self.len_after_sweep.load(Ordering::Relaxed) + GROWTH_SLACK;
        if !grown && now < due {
            return;
        }
        let next = now.saturating_add(to_nanos(SWEEP_EVERY));
        if self
            .next_sweep_at
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.sweep_expired(now);
        }
    }
}

impl MemoryStore {
    /// The store's hash of `key`, for the `*_hashed` operations: the gate
    /// hashes a claim's key once, and its completion uses the same hash.
    #[inline]
    pub(super) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// [`IdempotencyStore::claim`] of a key this store hashed to `hash`,
    /// and where a new record went while it stays there (for
    /// [`MemoryStore::complete_hashed`]).
    pub(super) fn claim_hashed(
        &self,
        hash: u64,
        key: &[u8],
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<(ClaimOutcome, Option<u32>), StoreError> {
        let now = self.clock.now();
        let fresh = Record {
            owner,
            fingerprint: fingerprint.unwrap_or(0),
            expires_at: now.saturating_add(to_nanos(execution_ttl)),
            has_fingerprint: fingerprint.is_some(),
            state: RecordState::InProgress,
        };
        let mut tables = self.shard(hash).lock();
        let (outcome, place, inserted) = match tables.get_mut(hash, key) {
            Some(existing) if existing.expires_at > now => {
                let same_payload = match (existing.fingerprint(), fingerprint) {
                    (Some(theirs), Some(ours)) => theirs == ours,
                    _ => true,
                };
                let duplicate = ClaimOutcome::Duplicate {
                    state: existing.state,
                    same_payload,
                };
                return Ok((duplicate, None));
            }
            Some(expired) => {
                let state = expired.state;
                *expired = fresh;
                match state {
                    RecordState::InProgress => (ClaimOutcome::TookOver, None, false),
                    RecordState::Completed => (ClaimOutcome::Claimed, None, false),
                }
            }
            None => {
                let Ok(place) = tables.young.insert(hash, key, fresh) else {
                    return Err(StoreError(
                        "the memory idempotency store holds 4 GiB of keys (or 4 billion) \
                         in one shard"
                            .into(),
                    ));
                };
                let mut place = Some(place);
                if tables.young.len() >= YOUNG {
                    let Tables { young, old } = &mut *tables;
                    // No room in the main table: the recent ones stay apart.
                    if young.move_into(old) {
                        place = None;
                    }
                }
                (ClaimOutcome::Claimed, place, true)
            }
        };
        drop(tables);
        self.maybe_sweep(now, inserted);
        Ok((outcome, place))
    }

    /// [`IdempotencyStore::complete`] of a key this store hashed to `hash`.
    /// `place`: where the claim said its new record went.
    pub(super) fn complete_hashed(
        &self,
        hash: u64,
        place: Option<u32>,
        key: &[u8],
        owner: Owner,
        memory_ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut tables = self.shard(hash).lock();
        let tables = &mut *tables;
        let found = match place.filter(|&place| tables.young.owns(place, hash, owner)) {
            Some(place) => tables.young.record_at(place),
            None => tables.get_mut(hash, key),
        };
        Ok(match found {
            Some(record) if record.owner == owner && record.state == RecordState::InProgress => {
                record.state = RecordState::Completed;
                record.expires_at = now.saturating_add(to_nanos(memory_ttl));
                true
            }
            _ => false,
        })
    }

    /// [`IdempotencyStore::release`] of a key this store hashed to `hash`.
    pub(super) fn release_hashed(
        &self,
        hash: u64,
        key: &[u8],
        owner: Owner,
    ) -> Result<bool, StoreError> {
        let held =
            |record: &Record| record.owner == owner && record.state == RecordState::InProgress;
        let mut tables = self.shard(hash).lock();
        Ok(tables.young.remove_if(hash, key, held) || tables.old.remove_if(hash, key, held))
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim(
        &self,
        key: &str,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        let key = key.as_bytes();
        self.claim_hashed(self.hash(key), key, owner, fingerprint, execution_ttl)
            .map(|(outcome, _)| outcome)
    }

    fn complete(&self, key: &str, owner: Owner, memory_ttl: Duration) -> Result<bool, StoreError> {
        let key = key.as_bytes();
        self.complete_hashed(self.hash(key), None, key, owner, memory_ttl)
    }

    fn release(&self, key: &str, owner: Owner) -> Result<bool, StoreError> {
        let key = key.as_bytes();
        self.release_hashed(self.hash(key), key, owner)
    }
}
