//! A breaker's link to the fleet: what this worker owes the shared store
//! (counts since the last sync, trips, probe outcomes, operator actions)
//! and what it last heard back (the fleet's counts, probe slots leased to
//! it). The machine reads and writes these atomics; a sync task carries
//! them to and from Redis every few hundred milliseconds, so no call ever
//! waits on the network.

use crate::core::breaker::state::{Cause, CircuitState};
use crate::core::window::Totals;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

const CALL_MASK: u64 = (1 << 32) - 1;

fn unpack(counts: u64) -> Totals {
    Totals {
        calls: counts & CALL_MASK,
        failures: counts >> 32,
    }
}

fn pack(totals: Totals) -> u64 {
    (totals.failures.min(CALL_MASK) << 32) | totals.calls.min(CALL_MASK)
}

/// An operator's action, to reach every worker. `epoch` (wall-clock
/// milliseconds) orders actions across workers: the later one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorAction {
    /// ForceOpen, ForceClose or Reset.
    pub cause: Cause,
    /// When it was taken.
    pub epoch: u64,
}

/// What one sync sends for one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outbox {
    /// Calls and failures since the last sync.
    pub counts: Totals,
    /// This worker tripped the breaker on its own view.
    pub trip: bool,
    /// Probe outcomes since the last sync.
    pub probe_successes: u32,
    /// Probe failures since the last sync.
    pub probe_failures: u32,
    /// A call wanted a probe slot and had none.
    pub wants_probe: bool,
    /// An operator's action not yet shared.
    pub operator: Option<OperatorAction>,
    /// First sync after the store was unreachable: the worker's own state
    /// is merged most-restrictive-wins instead of simply replaced.
    pub merge: Option<(CircuitState, u64)>,
}

/// What one sync brings back for one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbox {
    /// The fleet's state.
    pub state: CircuitState,
    /// Its version: each change of the fleet's state increments it.
    pub version: u64,
    /// Milliseconds until probing resumes, when open.
    pub open_remaining_ms: u64,
    /// The fleet's calls and failures in the window.
    pub fleet: Totals,
    /// Probe slots leased to this worker by this sync.
    pub leased_probes: u32,
}

/// The link. See the module docs.
#[derive(Debug, Default)]
pub struct SharedLink {
    /// Whether a shared store is configured at all.
    enabled: AtomicBool,
    /// Counts a failed sync could not deliver, carried to the next one
    /// (fresh counts come from the window's unsent part).
    pending: AtomicU64,
    fleet: AtomicU64,
    allowance: AtomicU32,
    wants_probe: AtomicBool,
    trip: AtomicBool,
    probe_successes: AtomicU32,
    probe_failures: AtomicU32,
    operator: Mutex<Option<OperatorAction>>,
    /// Whether the last sync reached the store; while not, the breaker
    /// decides alone, on its own traffic.
    connected: AtomicBool,
    needs_merge: AtomicBool,
    remote_version: AtomicU64,
}

impl SharedLink {
    /// A link that has not reached the store yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns sharing on (a shared store is configured) or off.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
        if !enabled {
            self.connected.store(false, Ordering::Release);
            self.pending.store(0, Ordering::Release);
        }
    }

    /// Whether a shared store is configured: counts are kept for it.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Whether the fleet's view is in force (the store answered lately).
    #[inline]
    pub fn is_connected(&self) -> bool {
        self.is_enabled() && self.connected.load(Ordering::Acquire)
    }

    /// The fleet's counts as last heard, plus this worker's `unsent` ones.
    pub fn totals(&self, unsent: Totals) -> Totals {
        let fleet = unpack(self.fleet.load(Ordering::Relaxed));
        let pending = unpack(self.pending.load(Ordering::Relaxed));
        Totals {
            calls: fleet.calls + pending.calls + unsent.calls,
            failures: fleet.failures + pending.failures + unsent.failures,
        }
    }

    /// This worker tripped the breaker: the fleet should open too.
    pub fn request_trip(&self) {
        self.trip.store(true, Ordering::Release);
    }

    /// Takes one leased probe slot, if any; else records that one was wanted.
    pub fn take_probe(&self) -> bool {
        let taken = self
            .allowance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !taken {
            self.wants_probe.store(true, Ordering::Release);
        }
        taken
    }

    /// A leased probe slot whose call ended without a verdict (cancelled):
    /// the next call here may use it.
    pub fn return_probe(&self) {
        self.allowance.fetch_add(1, Ordering::AcqRel);
    }

    /// A probe's outcome, for the fleet's half-open bookkeeping.
    pub fn report_probe(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.probe_successes
        } else {
            &self.probe_failures
        };
        counter.fetch_add(1, Ordering::AcqRel);
    }

    /// An operator acted on this worker: every worker must follow.
    pub fn request_operator(&self, action: OperatorAction) {
        *self.operator.lock() = Some(action);
    }

    /// Empties the outbox for one sync: `fresh` counts from the window, and
    /// `local`, the breaker's own state and remaining open time, merged on
    /// the first sync after an outage.
    pub fn drain(&self, fresh: Totals, local: (CircuitState, u64)) -> Outbox {
        let carried = unpack(self.pending.swap(0, Ordering::AcqRel));
        Outbox {
            counts: Totals {
                calls: carried.calls + fresh.calls,
                failures: carried.failures + fresh.failures,
            },
            trip: self.trip.swap(false, Ordering::AcqRel),
            probe_successes: self.probe_successes.swap(0, Ordering::AcqRel),
            probe_failures: self.probe_failures.swap(0, Ordering::AcqRel),
            wants_probe: self.wants_probe.swap(false, Ordering::AcqRel),
            operator: self.operator.lock().take(),
            merge: self
                .needs_merge
                .swap(false, Ordering::AcqRel)
                .then_some(local),
        }
    }

    /// A sync failed: the outbox goes back (nothing is lost), and the
    /// breaker decides alone until the store answers again.
    pub fn sync_failed(&self, outbox: Outbox) {
        self.pending
            .fetch_add(pack(outbox.counts), Ordering::AcqRel);
        if outbox.trip {
            self.trip.store(true, Ordering::Release);
        }
        self.probe_successes
            .fetch_add(outbox.probe_successes, Ordering::AcqRel);
        self.probe_failures
            .fetch_add(outbox.probe_failures, Ordering::AcqRel);
        if let Some(action) = outbox.operator {
            let mut slot = self.operator.lock();
            if slot.is_none_or(|queued| queued.epoch < action.epoch) {
                *slot = Some(action);
            }
        }
        if self.connected.swap(false, Ordering::AcqRel) || outbox.merge.is_some() {
            self.needs_merge.store(true, Ordering::Release);
        }
    }

    /// A sync answered. Returns whether `inbox` is newer than what the
    /// breaker has applied (the caller then adopts its state).
    pub fn sync_succeeded(&self, inbox: &Inbox) -> bool {
        self.connected.store(true, Ordering::Release);
        self.fleet.store(pack(inbox.fleet), Ordering::Relaxed);
        let newer = self
            .remote_version
            .fetch_max(inbox.version, Ordering::AcqRel)
            < inbox.version;
        if newer {
            // A new fleet state voids the slots leased for the old one (the
            // store drops its leases whenever the state moves), even when
            // this worker already stands in the new state on its own.
            self.allowance.store(inbox.leased_probes, Ordering::Release);
        } else if inbox.leased_probes > 0 {
            self.allowance
                .fetch_add(inbox.leased_probes, Ordering::AcqRel);
        }
        newer
    }

    /// Forgets leased slots and counts of a state the fleet has left.
    pub fn reset_half_open(&self) {
        self.allowance.store(0, Ordering::Release);
    }
}
