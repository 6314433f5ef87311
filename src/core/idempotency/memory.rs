//! The in-process idempotency store: a concurrent map whose records expire
//! by the injected clock.
//!
//! A hash map rather than a cache library: moka's compute-with costs about
//! 2 µs for a claim and its completion here, dashmap's entry API 0.15 µs,
//! and an idempotent call's whole budget is 1 µs. Expired records are
//! treated as absent when read, and swept out in amortised batches.

use crate::core::clock::{to_nanos, Nanos, SharedClock};
use crate::core::idempotency::store::{
    ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError,
};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often, at most, a sweep of expired records runs (by the store's clock).
const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Record {
    owner: Owner,
    state: RecordState,
    fingerprint: Option<u64>,
    /// When the record stops counting: the execution window's end for a
    /// running claim, the memory TTL's end for a completed one.
    expires_at: Nanos,
}

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
    records: DashMap<String, Record>,
    clock: SharedClock,
    next_sweep_at: AtomicU64,
    len_after_sweep: AtomicUsize,
}

impl MemoryStore {
    /// An empty store reading `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            records: DashMap::new(),
            clock,
            next_sweep_at: AtomicU64::new(0),
            len_after_sweep: AtomicUsize::new(0),
        }
    }

    /// Records held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Drops every expired record now.
    pub fn sweep(&self) {
        let now = self.clock.now();
        self.next_sweep_at
            .store(now.saturating_add(to_nanos(SWEEP_EVERY)), Ordering::Relaxed);
        self.sweep_expired(now);
    }

    fn sweep_expired(&self, now: Nanos) {
        self.records.retain(|_, record| record.expires_at > now);
        self.len_after_sweep
            .store(self.records.len(), Ordering::Relaxed);
    }

    /// Sweeps when the sweep interval passed or the map doubled since the
    /// last sweep, so the cost stays amortised over inserts. One sweeper at
    /// a time: whoever moves the next-sweep time forward does it.
    fn maybe_sweep(&self, now: Nanos) {
        let due = self.next_sweep_at.load(Ordering::Relaxed);
        let grown = self.records.len() > 2 * self.len_after_sweep.load(Ordering::Relaxed) + 1024;
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
            state: RecordState::InProgress,
            fingerprint,
            expires_at: now.saturating_add(to_nanos(execution_ttl)),
        };
        let outcome = match self.records.entry(key.to_owned()) {
            Entry::Vacant(vacant) => {
                vacant.insert(fresh);
                ClaimOutcome::Claimed
            }
            Entry::Occupied(mut occupied) => {
                let existing = *occupied.get();
                if existing.expires_at > now {
                    let same_payload = match (existing.fingerprint, fingerprint) {
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
                    RecordState::InProgress => ClaimOutcome::TookOver,
                    RecordState::Completed => ClaimOutcome::Claimed,
                }
            }
        };
        self.maybe_sweep(now);
        Ok(outcome)
    }

    fn complete(&self, key: &str, owner: Owner, memory_ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(match self.records.get_mut(key) {
            Some(mut record)
                if record.owner == owner && record.state == RecordState::InProgress =>
            {
                record.state = RecordState::Completed;
                record.expires_at = now.saturating_add(to_nanos(memory_ttl));
                true
            }
            _ => false,
        })
    }

    fn release(&self, key: &str, owner: Owner) -> Result<bool, StoreError> {
        Ok(self
            .records
            .remove_if(key, |_, record| {
                record.owner == owner && record.state == RecordState::InProgress
            })
            .is_some())
    }
}
