//! The store behind idempotency: three atomic operations on a key, which the
//! memory store implements with a map lock and the Redis store with Lua.

use std::fmt;
use std::time::Duration;

/// Who holds a claim: a random token drawn per claim, so a late completion
/// by an owner whose claim was taken over cannot touch the new owner's.
pub type Owner = u64;

/// What a key's record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    /// A claim is held and its execution window has not run out.
    InProgress,
    /// The operation completed; duplicates are refused until the memory TTL.
    Completed,
}

impl RecordState {
    /// The public name, as `IdempotencyDuplicateError.state` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::InProgress => "in_progress",
            RecordState::Completed => "completed",
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free (or its old record had expired): the claim is ours.
    Claimed,
    /// A claim older than its execution window was taken over: its owner is
    /// presumed crashed.
    TookOver,
    /// The key is held or done. `same_payload` is false when both sides
    /// carried a fingerprint and they differ.
    Duplicate {
        /// The existing record's state.
        state: RecordState,
        /// Whether the payloads match (true when either side has none).
        same_payload: bool,
    },
}

/// The store could not answer (a base error: the shared stores use it too).
pub use crate::core::error::StoreError;

/// Atomic operations on idempotency records. Each is one indivisible step
/// on one key: the store's clock decides expiry.
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Claims `key` for `owner` unless a live record holds it. A running
    /// claim older than `execution_ttl` is taken over.
    fn claim(
        &self,
        key: &str,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Marks `owner`'s claim completed, blocking duplicates for
    /// `memory_ttl`. False (and nothing changed) when `owner` no longer
    /// holds the key.
    fn complete(&self, key: &str, owner: Owner, memory_ttl: Duration) -> Result<bool, StoreError>;

    /// Drops `owner`'s running claim so a later attempt may run. False
    /// (and nothing changed) when `owner` no longer holds it.
    fn release(&self, key: &str, owner: Owner) -> Result<bool, StoreError>;

    /// Whether operations go over the network (the caller then releases
    /// the GIL around them; an in-process store is not worth the switch).
    fn is_remote(&self) -> bool {
        false
    }

    /// [`IdempotencyStore::claim`] as a future, for callers that await it
    /// (async callsites) instead of blocking. In-process stores answer at
    /// once; a remote one awaits its round trip.
    fn claim_async(
        &self,
        key: String,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> ClaimFuture<'_> {
        Box::pin(std::future::ready(self.claim(
            &key,
            owner,
            fingerprint,
            execution_ttl,
        )))
    }
}

/// What [`IdempotencyStore::claim_async`] returns.
pub type ClaimFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ClaimOutcome, StoreError>> + Send + 'a>,
>;

/// A store that answers every operation with an error: what the gate sees
/// while its backing service is down. Used to inject that fault on purpose
/// (tests, drills), and to exercise the fail-closed path.
#[derive(Debug, Clone)]
pub struct UnreachableStore {
    reason: String,
}

impl UnreachableStore {
    /// A store that is down for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    fn error(&self) -> StoreError {
        StoreError(self.reason.clone())
    }
}

impl IdempotencyStore for UnreachableStore {
    fn claim(
        &self,
        _: &str,
        _: Owner,
        _: Option<u64>,
        _: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        Err(self.error())
    }

    fn complete(&self, _: &str, _: Owner, _: Duration) -> Result<bool, StoreError> {
        Err(self.error())
    }

    fn release(&self, _: &str, _: Owner) -> Result<bool, StoreError> {
        Err(self.error())
    }
}
