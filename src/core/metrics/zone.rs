//! One zone's counters: how its calls ended, attempts, fallbacks, breaker
//! transitions and idempotency duplicates.

use crate::core::names::CircuitState;
use crate::core::tally::Tally;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a protected call ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum CallOutcome {
    /// An attempt returned.
    Success = 0,
    /// No attempt succeeded: retries exhausted, a fatal error, or the breaker
    /// opened during the retry loop.
    Failure = 1,
    /// The call's wall-clock bound ran out.
    Timeout = 2,
    /// The breaker refused the call on entry; nothing ran.
    Rejected = 3,
    /// The error was not the dependency's failure (`ignore=`, an HTTP 4xx).
    NotAFailure = 4,
    /// Cancelled or interrupted: no verdict on the dependency.
    Aborted = 5,
    /// Baldur was disabled (kill switch): the function ran unprotected.
    PassedThrough = 6,
}

impl CallOutcome {
    /// Every outcome, in label order.
    pub const ALL: [CallOutcome; 7] = [
        CallOutcome::Success,
        CallOutcome::Failure,
        CallOutcome::Timeout,
        CallOutcome::Rejected,
        CallOutcome::NotAFailure,
        CallOutcome::Aborted,
        CallOutcome::PassedThrough,
    ];

    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Success => "success",
            CallOutcome::Failure => "failure",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Rejected => "rejected",
            CallOutcome::NotAFailure => "not_a_failure",
            CallOutcome::Aborted => "aborted",
            CallOutcome::PassedThrough => "passed_through",
        }
    }
}

const OUTCOMES: usize = CallOutcome::ALL.len();
const STATES: usize = CircuitState::ALL.len();

/// Counters of one zone (or of the overflow series). Calls and attempts,
/// bumped on every call, are [`Tally`]s (a load and a store, exact under the
/// GIL); the rarer events are relaxed atomic adds.
#[derive(Debug, Default)]
pub struct ZoneCounters {
    calls: [Tally; OUTCOMES],
    attempts: Tally,
    fallbacks: AtomicU64,
    transitions: [AtomicU64; STATES],
    idempotency_duplicates: AtomicU64,
    retries_refused: AtomicU64,
}

/// A copy of one zone's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneSnapshot {
    /// Calls by outcome, indexed like [`CallOutcome::ALL`].
    pub calls: [u64; OUTCOMES],
    /// Attempts started (each one reached the dependency).
    pub attempts: u64,
    /// Calls a fallback answered.
    pub fallbacks: u64,
    /// Breaker transitions by the state entered, indexed like [`CircuitState::ALL`].
    pub transitions: [u64; STATES],
    /// Calls refused as idempotency duplicates.
    pub idempotency_duplicates: u64,
    /// Retries the zone's retry budget refused (each ended its call).
    pub retries_refused: u64,
}

impl ZoneSnapshot {
    /// Calls that ended with `outcome`.
    pub fn calls(&self, outcome: CallOutcome) -> u64 {
        self.calls[outcome as usize]
    }

    /// Transitions into `state`.
    pub fn transitions_to(&self, state: CircuitState) -> u64 {
        self.transitions[state as usize]
    }
}

impl ZoneCounters {
    /// A call ended with `outcome`.
    #[inline]
    pub fn call(&self, outcome: CallOutcome) {
        self.calls[outcome as usize].bump();
    }

    /// An attempt started.
    #[inline]
    pub fn attempt(&self) {
        self.attempts.bump();
    }

    /// A fallback answered a call.
    pub fn fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// The zone's breaker entered `state`.
    pub fn transition(&self, state: CircuitState) {
        self.transitions[state as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A call was refused as a duplicate of one already claimed or completed.
    pub fn idempotency_duplicate(&self) {
        self.idempotency_duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// The retry budget refused a retry.
    pub fn retry_refused(&self) {
        self.retries_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter back to zero (a test's reset).
    pub fn clear(&self) {
        for tally in self.calls.iter().chain([&self.attempts]) {
            tally.clear();
        }
        for counter in self.transitions.iter().chain([
            &self.fallbacks,
            &self.idempotency_duplicates,
            &self.retries_refused,
        ]) {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> ZoneSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ZoneSnapshot {
            calls: std::array::from_fn(|i| self.calls[i].get()),
            attempts: self.attempts.get(),
            fallbacks: load(&self.fallbacks),
            transitions: std::array::from_fn(|i| load(&self.transitions[i])),
            idempotency_duplicates: load(&self.idempotency_duplicates),
            retries_refused: load(&self.retries_refused),
        }
    }
}
