//! The idempotency gate: claims with owner tokens over whichever store is
//! configured, and the two clocks of the spec (the execution window of a
//! running claim, the memory TTL of a completed one).

use crate::core::clock::{from_nanos, to_nanos, SharedClock};
use crate::core::idempotency::claim_key::ClaimKey;
use crate::core::idempotency::memory::MemoryStore;
use crate::core::idempotency::store::{
    ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError, UnreachableStore,
};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seconds a completed operation keeps blocking duplicates
/// (`BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS`).
pub const DEFAULT_MEMORY_TTL_SECONDS: f64 = 1800.0;
/// Seconds a running claim is honoured before it may be taken over.
pub const DEFAULT_EXECUTION_TTL_SECONDS: f64 = 1800.0;

/// A claim held on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    key: ClaimKey,
    owner: Owner,
    took_over: bool,
    /// Where the gate's own memory store put the record, when the claim
    /// was made there: its completion neither hashes the key again nor
    /// (while the record is among the store's recent ones) looks it up.
    own: Option<OwnRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OwnRecord {
    hash: u64,
    /// Meaningful when `placed`: kept apart from an `Option` so the whole
    /// claim stays small (it is moved a few times a call).
    place: u32,
    placed: bool,
}

impl Claim {
    /// The namespaced key.
    pub fn key(&self) -> &str {
        self.key.as_str()
    }

    /// The owner token.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// A claim known only by its key and owner: a write replayed from the
    /// write-ahead log after the process that made it is gone.
    pub fn restore(key: String, owner: Owner) -> Self {
        Self {
            key: key.into(),
            owner,
            took_over: false,
            own: None,
        }
    }

    /// Whether this claim took over one whose execution window ran out (its
    /// owner presumably crashed mid-operation).
    pub fn took_over(&self) -> bool {
        self.took_over
    }
}

/// What stands behind the gate's own memory store: never asked while it is
/// in use.
fn behind_own() -> Arc<dyn IdempotencyStore> {
    Arc::new(UnreachableStore::new(
        "the idempotency gate's own memory store is in use",
    ))
}

/// Why a call may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The operation ran (`Completed`) or is running (`InProgress`).
    Duplicate(RecordState),
    /// As `Duplicate`, but the payload differs from the original's.
    PayloadMismatch(RecordState),
    /// The store could not answer: fail-closed unless the caller opted out.
    Unavailable(StoreError),
}

/// Claims, completions and releases over the configured store.
///
/// ```
/// use baldur::core::clock::SystemClock;
/// use baldur::core::idempotency::{ClaimKey, IdempotencyGate, MemoryStore, Refusal, RecordState};
/// use std::sync::Arc;
/// use std::time::Duration;
/// let gate = IdempotencyGate::new(Arc::new(MemoryStore::new(SystemClock::shared())));
/// let window = Duration::from_secs(60);
/// let claim = gate.claim(ClaimKey::joined("charge", "order-1"), None, window).unwrap();
/// gate.complete(&claim).unwrap();
/// let again = gate.claim("charge:order-1".to_owned(), None, window);
/// assert_eq!(again.unwrap_err(), Refusal::Duplicate(RecordState::Completed));
/// ```
#[derive(Debug)]
pub struct IdempotencyGate {
    store: RwLock<Arc<dyn IdempotencyStore>>,
    /// Whether `store` goes over the network, readable without its lock:
    /// every idempotent call asks.
    remote: AtomicBool,
    /// A memory store of the gate's own ([`IdempotencyGate::in_memory`]),
    /// used without the lock while `on_own` says so: the lock's two atomic
    /// writes a call were a tenth of an idempotent call's cost.
    own: Option<MemoryStore>,
    on_own: AtomicBool,
    memory_ttl_nanos: AtomicU64,
}

impl IdempotencyGate {
    /// A gate over `store`, with the default memory TTL.
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Self {
            remote: AtomicBool::new(store.is_remote()),
            store: RwLock::new(store),
            own: None,
            on_own: AtomicBool::new(false),
            memory_ttl_nanos: AtomicU64::new(to_nanos(Duration::from_secs_f64(
                DEFAULT_MEMORY_TTL_SECONDS,
            ))),
        }
    }

    /// A gate on a memory store of its own reading `clock`, which
    /// [`IdempotencyGate::use_own_memory`] empties and goes back to.
    pub fn in_memory(clock: SharedClock) -> Self {
        let mut gate = Self::new(behind_own());
        gate.own = Some(MemoryStore::new(clock));
        gate.on_own = AtomicBool::new(true);
        gate
    }

    /// Replaces the store (claims held in the old one are forgotten).
    pub fn set_store(&self, store: Arc<dyn IdempotencyStore>) {
        let mut current = self.store.write();
        self.remote.store(store.is_remote(), Ordering::Relaxed);
        *current = store;
        self.on_own.store(false, Ordering::Relaxed);
        if let Some(own) = &self.own {
            own.clear();
        }
    }

    /// Goes back to the gate's own memory store, emptied (claims held
    /// before are forgotten, as on a fresh store). A gate made with
    /// [`IdempotencyGate::new`] has none: it gets a fresh one on `clock`.
    pub fn use_own_memory(&self, clock: SharedClock) {
        let Some(own) = &self.own else {
            self.set_store(Arc::new(MemoryStore::new(clock)));
            return;
        };
        own.clear();
        // The store left is dropped (a Redis store's connections close).
        let mut current = self.store.write();
        *current = behind_own();
        self.remote.store(false, Ordering::Relaxed);
        self.on_own.store(true, Ordering::Relaxed);
    }

    /// Whether the configured store goes over the network.
    #[inline]
    pub fn is_remote(&self) -> bool {
        self.remote.load(Ordering::Relaxed)
    }

    #[inline]
    fn own_in_use(&self) -> Option<&MemoryStore> {
        self.own
            .as_ref()
            .filter(|_| self.on_own.load(Ordering::Relaxed))
    }

    /// Runs `operation` on the configured store. An in-process store is
    /// used under the lock's read side (cheaper than a reference count's
    /// two atomic writes); a remote one is cloned out first, so a store
    /// swap never waits on a round trip.
    #[inline]
    fn with_store<T>(&self, operation: impl FnOnce(&dyn IdempotencyStore) -> T) -> T {
        if self.is_remote() {
            let store = self.store.read().clone();
            operation(store.as_ref())
        } else {
            operation(self.store.read().as_ref())
        }
    }

    /// Sets how long a completed operation blocks duplicates.
    pub fn set_memory_ttl(&self, ttl: Duration) {
        self.memory_ttl_nanos
            .store(to_nanos(ttl), Ordering::Relaxed);
    }

    /// How long a completed operation blocks duplicates.
    pub fn memory_ttl(&self) -> Duration {
        from_nanos(self.memory_ttl_nanos.load(Ordering::Relaxed))
    }

    /// Claims `key` (already namespaced) for a new owner.
    pub fn claim(
        &self,
        key: impl Into<ClaimKey>,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<Claim, Refusal> {
        let key = key.into();
        let owner = fastrand::u64(..);
        if let Some(own) = self.own_in_use() {
            let hash = own.hash(key.as_bytes());
            let claimed = own.claim_hashed(hash, key.as_bytes(), owner, fingerprint, execution_ttl);
            let (outcome, place) = match claimed {
                Ok((outcome, place)) => (Ok(outcome), place),
                Err(error) => (Err(error), None),
            };
            let own = OwnRecord {
                hash,
                place: place.unwrap_or(0),
                placed: place.is_some(),
            };
            return Self::decide(key, owner, Some(own), outcome);
        }
        let outcome =
            self.with_store(|store| store.claim(key.as_str(), owner, fingerprint, execution_ttl));
        Self::decide(key, owner, None, outcome)
    }

    /// [`IdempotencyGate::claim`] as a future: an async callsite awaits the
    /// store's round trip instead of blocking its event loop.
    pub fn claim_async(
        &self,
        key: impl Into<ClaimKey>,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> impl std::future::Future<Output = Result<Claim, Refusal>> + Send + 'static {
        let key = key.into();
        // The gate's own store answers at once; another is awaited.
        let answered = match self.own_in_use() {
            Some(_) => Ok(self.claim(key, fingerprint, execution_ttl)),
            None => Err((self.store.read().clone(), key, fastrand::u64(..))),
        };
        async move {
            let (store, key, owner) = match answered {
                Ok(claimed) => return claimed,
                Err(pending) => pending,
            };
            let outcome = store
                .claim_async(key.as_str().to_owned(), owner, fingerprint, execution_ttl)
                .await;
            Self::decide(key, owner, None, outcome)
        }
    }

    fn decide(
        key: ClaimKey,
        owner: Owner,
        own: Option<OwnRecord>,
        outcome: Result<ClaimOutcome, StoreError>,
    ) -> Result<Claim, Refusal> {
        match outcome {
            Ok(ClaimOutcome::Claimed) => Ok(Claim {
                key,
                owner,
                took_over: false,
                own,
            }),
            Ok(ClaimOutcome::TookOver) => Ok(Claim {
                key,
                owner,
                took_over: true,
                own,
            }),
            Ok(ClaimOutcome::Duplicate {
                state,
                same_payload: true,
            }) => Err(Refusal::Duplicate(state)),
            Ok(ClaimOutcome::Duplicate {
                state,
                same_payload: false,
            }) => Err(Refusal::PayloadMismatch(state)),
            Err(error) => Err(Refusal::Unavailable(error)),
        }
    }

    /// The operation succeeded. False when the claim was taken over
    /// meanwhile: the new owner's record is left alone.
    pub fn complete(&self, claim: &Claim) -> Result<bool, StoreError> {
        self.complete_with_ttl(claim, self.memory_ttl())
    }

    /// As [`IdempotencyGate::complete`], with the memory TTL given (a
    /// completion replayed from the write-ahead log keeps its own).
    pub fn complete_with_ttl(
        &self,
        claim: &Claim,
        memory_ttl: Duration,
    ) -> Result<bool, StoreError> {
        if let Some(own) = self.own_in_use() {
            let key = claim.key.as_bytes();
            let (hash, place) = match claim.own {
                Some(OwnRecord {
                    hash,
                    place,
                    placed,
                }) => (hash, placed.then_some(place)),
                None => (own.hash(key), None),
            };
            return own.complete_hashed(hash, place, key, claim.owner, memory_ttl);
        }
        self.with_store(|store| store.complete(claim.key(), claim.owner, memory_ttl))
    }

    /// The operation did not succeed: a later attempt may run. False when
    /// the claim was taken over meanwhile.
    pub fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        if let Some(own) = self.own_in_use() {
            let key = claim.key.as_bytes();
            let hash = claim
                .own
                .map_or_else(|| own.hash(key), |record| record.hash);
            return own.release_hashed(hash, key, claim.owner);
        }
        self.with_store(|store| store.release(claim.key(), claim.owner))
    }
}
