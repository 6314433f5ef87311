//! The in-process idempotency store: a sharded map whose records expire by
//! the injected clock.
//!
//! Hand-sharded rather than a cache library or a concurrent map: an
//! idempotent call's whole budget is a few hundred nanoseconds. A claim or
//! a completion takes one shard's lock once and hashes the key with a
//! seeded foldhash (SipHash cost more than the rest of the claim); a
//! record is 48 bytes, key included, so a store holding a memory TTL's
//! worth of keys misses the cache less. Expired records are treated as
//! absent when read, and swept out in amortised batches.

use crate::core::clock::{to_nanos, Nanos, SharedClock};
use crate::core::idempotency::store::{
    ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError,
};
use foldhash::fast::RandomState;
use parking_lot::Mutex;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often, at most, a sweep of expired records runs (by the store's clock).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Records inserted beyond the last sweep's survivors before growth alone
/// triggers a sweep: the store holds at most twice its live records plus this.
const GROWTH_SLACK: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Record {
    owner: Owner,
    /// The payload's fingerprint; meaningful only when `has_fingerprint`.
    fingerprint: u64,
    /// When the record stops counting: the execution window's end for a
    /// running claim, the memory TTL's end for a completed one.
    expires_at: Nanos,
    has_fingerprint: bool,
    state: RecordState,
}

impl Record {
    fn fingerprint(&self) -> Option<u64> {
        self.has_fingerprint.then_some(self.fingerprint)
    }
}

type Records = HashMap<Box<str>, Record, RandomState>;

/// One shard on a cache line of its own, so two threads claiming keys of
/// different shards do not contend for one line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(Mutex<Records>);

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
    /// Picks a key's shard (each shard hashes again with its own seed).
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

    /// Drops every expired record now.
    pub fn sweep(&self) {
        let now = self.clock.now();
        self.next_sweep_at
            .store(now.saturating_add(to_nanos(SWEEP_EVERY)), Ordering::Relaxed);
        self.sweep_expired(now);
    }

    #[inline]
    fn shard(&self, key: &str) -> &Mutex<Records> {
        // High bits: the shard's own table indexes by the low ones.
        let hash = self.hasher.hash_one(key);
        &self.shards[(hash >> 40) as usize & (self.shards.len() - 1)].0
    }

    fn sweep_expired(&self, now: Nanos) {
        self.inserted_since_sweep.store(0, Ordering::Relaxed);
        let mut kept = 0;
        for shard in self.shards.iter() {
            let mut records = shard.0.lock();
            records.retain(|_, record| record.expires_at > now);
            kept += records.len();
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

impl IdempotencyStore for MemoryStore {
    fn claim(
        &self,
        key: &str,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        let now = self.clock.now();
        let fresh = Record {
            owner,
            fingerprint: fingerprint.unwrap_or(0),
            expires_at: now.saturating_add(to_nanos(execution_ttl)),
            has_fingerprint: fingerprint.is_some(),
            state: RecordState::InProgress,
        };
        let (outcome, inserted) = match self.shard(key).lock().entry(key.into()) {
            Entry::Vacant(vacant) => {
                vacant.insert(fresh);
                (ClaimOutcome::Claimed, true)
            }
            Entry::Occupied(mut occupied) => {
                let existing = *occupied.get();
                if existing.expires_at > now {
                    let same_payload = match (existing.fingerprint(), fingerprint) {
                        (Some(theirs), Some(ours)) => theirs == ours,
                        _ => true,
                    };
                    return Ok(ClaimOutcome::Duplicate {
                        state: existing.state,
                        same_payload,
                    });
                }
                occupied.insert(fresh);
                match existing.state {
                    RecordState::InProgress => (ClaimOutcome::TookOver, false),
                    RecordState::Completed => (ClaimOutcome::Claimed, false),
                }
            }
        };
        self.maybe_sweep(now, inserted);
        Ok(outcome)
    }

    fn complete(&self, key: &str, owner: Owner, memory_ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(match self.shard(key).lock().get_mut(key) {
            Some(record) if record.owner == owner && record.state == RecordState::InProgress => {
                record.state = RecordState::Completed;
                record.expires_at = now.saturating_add(to_nanos(memory_ttl));
                true
            }
            _ => false,
        })
    }

    fn release(&self, key: &str, owner: Owner) -> Result<bool, StoreError> {
        let mut records = self.shard(key).lock();
        let held = records
            .get(key)
            .is_some_and(|record| record.owner == owner && record.state == RecordState::InProgress);
        if held {
            records.remove(key);
        }
        Ok(held)
    }
}
