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
    /// It reaches the store after a failed sync or from the write-ahead
    /// log: a reset then yields to transitions the fleet made after it.
    pub late: bool,
}

/// What this worker decided alone while the store was unreachable, to be
/// merged most-restrictive-wins by the first sync that answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDecision {
    /// The breaker's state now.
    pub state: CircuitState,
    /// Milliseconds until it probes, when open.
    pub open_remaining_ms: u64,
    /// Wall-clock milliseconds of the last transition it made alone: an
    /// operator's action taken later wins over it.
    pub decided_at_ms: u64,
}

/// What one sync sends for one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outbox {
    /// Calls and failures since the last sync.
    pub counts: Totals,
    /// This worker tripped the breaker on its own view.
    pub trip: bool,
    /// Wall-clock milliseconds of that trip (0: unknown): orders it against
    /// an operator's action in the same outbox.
    pub tripped_at_ms: u64,
    /// Probe outcomes since the last sync.
    pub probe_successes: u32,
    /// Probe failures since the last sync.
    pub probe_failures: u32,
    /// A call wanted a probe slot and had none.
    pub wants_probe: bool,
    /// Probes running now on leased slots: their leases are renewed, so a
    /// slow probe keeps its slot as long as its worker lives.
    pub probes_in_flight: u32,
    /// An operator's action not yet shared.
    pub operator: Option<OperatorAction>,
    /// Transitions made alone while the store was unreachable.
    pub merge: Option<LocalDecision>,
    /// The breaker's generation when this outbox was drained: an answer
    /// is adopted over a refused decision only if nothing moved since.
    pub generation: u64,
    /// Calls and retries (as `failures`) for the fleet's retry budget.
    pub budget: Totals,
}

impl Outbox {
    /// Whether the trip came before the operator's action it travels with
    /// (the operator reset the breaker it opened): the store then applies
    /// them in that order, so the action is the last word.
    pub fn trip_before_operator(&self) -> bool {
        self.trip
            && self
                .operator
                .is_some_and(|action| action.epoch >= self.tripped_at_ms)
    }
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
    /// Probe slots this worker holds leases on (used or not).
    pub held_probes: u32,
    /// When the store created this breaker's record (server milliseconds):
    /// a new value means the store lost its data and versions restarted.
    pub incarnation: u64,
    /// The fleet's calls and retries (as `failures`) for the retry budget,
    /// when the store read them (it does for a worker that sent some).
    pub budget: Option<Totals>,
}

/// How a sync's answer relates to what the breaker applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A newer fleet state: adopt it.
    Newer,
    /// Nothing new to adopt.
    Same,
    /// The store's record was recreated (Redis lost its data): its
    /// versions restarted, so this worker's state is merged into it
    /// most-restrictive-wins by the next sync instead of being replaced.
    StoreReset,
}

/// The link. See the module docs.
#[derive(Debug, Default)]
pub struct SharedLink {
    /// Whether a shared store is configured at all.
    enabled: AtomicBool,
    fleet: AtomicU64,
    /// Leased probe slots not yet used by a call.
    allowance: AtomicU32,
    /// Leased probe slots whose calls are running.
    in_flight: AtomicU32,
    wants_probe: AtomicBool,
    /// Wall-clock milliseconds of an unsent trip (0: none).
    trip: AtomicU64,
    probe_successes: AtomicU32,
    probe_failures: AtomicU32,
    operator: Mutex<Option<OperatorAction>>,
    /// The last operator action taken here, sent again if the store loses it.
    last_operator: Mutex<Option<OperatorAction>>,
    /// Whether the last sync reached the store; while not, the breaker
    /// decides alone, on its own traffic.
    connected: AtomicBool,
    /// Wall-clock milliseconds of the last transition made alone while
    /// disconnected (0: none to merge).
    diverged_at: AtomicU64,
    /// Wall-clock milliseconds of the breaker's last transition of its own.
    last_decision_ms: AtomicU64,
    remote_version: AtomicU64,
    incarnation: AtomicU64,
    /// The fleet changed this breaker elsewhere (announced, logged, or a
    /// version check disagreed): the next round refreshes it.
    refresh: AtomicBool,
    /// When `fleet` was heard (monotonic nanoseconds + 1; 0: never).
    fleet_heard_at: AtomicU64,
    /// Counts drained for a sync round whose answer has not come yet,
    /// packed as `fleet` is: a trip decided meanwhile counts them too.
    in_transit: AtomicU64,
    /// The fleet's calls and retries for the retry budget, packed as
    /// `fleet` is, and when they were heard (monotonic nanoseconds + 1; 0:
    /// never, or forgotten).
    fleet_budget: AtomicU64,
    budget_heard_at: AtomicU64,
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

    /// The fleet's counts as last heard, plus this worker's counts on their
    /// way to the store (sent, not yet answered) and its `unsent` ones.
    pub fn totals(&self, unsent: Totals) -> Totals {
        let fleet = unpack(self.fleet.load(Ordering::Relaxed));
        let sending = unpack(self.in_transit.load(Ordering::Acquire));
        Totals {
            calls: fleet.calls + sending.calls + unsent.calls,
            failures: fleet.failures + sending.failures + unsent.failures,
        }
    }

    /// A sync round's answer (or failure) for counts drained earlier:
    /// they are no longer on their way (the fleet's counts hold them now,
    /// or they were dropped).
    pub fn counts_landed(&self, counts: Totals) {
        let _ = self
            .in_transit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
                let now = unpack(packed);
                Some(pack(Totals {
                    calls: now.calls.saturating_sub(counts.calls),
                    failures: now.failures.saturating_sub(counts.failures),
                }))
            });
    }

    /// This worker tripped the breaker at `wall_ms`: the fleet should open
    /// too. Like every report to the fleet, nothing when no shared store is
    /// configured.
    pub fn request_trip(&self, wall_ms: u64) {
        if self.is_enabled() {
            self.trip.fetch_max(wall_ms.max(1), Ordering::AcqRel);
        }
    }

    /// The breaker changed state on its own view at `wall_ms`. While the
    /// store is unreachable that is a decision the fleet has not seen: the
    /// first sync that answers merges it.
    pub fn note_local_transition(&self, wall_ms: u64) {
        self.last_decision_ms.fetch_max(wall_ms, Ordering::AcqRel);
        if self.is_enabled() && !self.connected.load(Ordering::Acquire) {
            self.mark_diverged(wall_ms);
        }
    }

    /// The fleet does not know this worker's state (decided alone at
    /// `wall_ms`, or the store lost its record): the next sync merges it.
    pub fn mark_diverged(&self, wall_ms: u64) {
        self.diverged_at.fetch_max(wall_ms.max(1), Ordering::AcqRel);
    }

    /// Whether the next round must carry this breaker: it owes the store
    /// something (a trip, probe outcomes or leases, an operator's action, a
    /// state decided alone), has not reached it yet, or was told the fleet
    /// changed it. Counts are the breaker's to add.
    pub fn has_business(&self) -> bool {
        !self.is_connected()
            || self.refresh.load(Ordering::Acquire)
            || self.trip.load(Ordering::Acquire) != 0
            || self.wants_probe.load(Ordering::Acquire)
            || self.probe_successes.load(Ordering::Acquire) != 0
            || self.probe_failures.load(Ordering::Acquire) != 0
            || self.in_flight.load(Ordering::Acquire) != 0
            || self.allowance.load(Ordering::Acquire) != 0
            || self.diverged_at.load(Ordering::Acquire) != 0
            || self.operator.lock().is_some()
    }

    /// The fleet changed this breaker elsewhere: the next round refreshes it.
    pub fn request_refresh(&self) {
        self.refresh.store(true, Ordering::Release);
    }

    /// When the fleet's counts were last heard (monotonic nanoseconds):
    /// they count towards a trip here only while fresh (see
    /// [`SharedLink::totals_fresh`]); a round that leaves a quiet breaker
    /// out lets them age.
    pub fn heard_fleet_at(&self, now: u64) {
        self.fleet_heard_at
            .store(now.saturating_add(1), Ordering::Release);
    }

    /// The fleet's counts as last heard, if heard within `fresh` of `now`,
    /// plus this worker's `unsent` ones. Older, they would trip this worker
    /// on traffic the fleet's window may have dropped since; its own counts
    /// still trip it, and the store trips the fleet on the fleet's.
    pub fn totals_fresh(&self, unsent: Totals, now: u64, fresh: u64) -> Totals {
        let heard = self.fleet_heard_at.load(Ordering::Acquire);
        if heard == 0 || now.saturating_sub(heard - 1) > fresh {
            return unsent;
        }
        self.totals(unsent)
    }

    /// The fleet's calls and retries (as `failures`) for the retry budget,
    /// heard at `now` (monotonic nanoseconds).
    pub fn hear_budget(&self, budget: Totals, now: u64) {
        self.fleet_budget.store(pack(budget), Ordering::Relaxed);
        self.budget_heard_at
            .store(now.saturating_add(1), Ordering::Release);
    }

    /// The fleet's calls and retries (as `failures`) for the retry budget,
    /// if heard within `fresh` of `now` while the store answers: older, it
    /// misses what the fleet did since (each round with calls refreshes it).
    pub fn fleet_budget(&self, now: u64, fresh: u64) -> Option<Totals> {
        let heard = self.budget_heard_at.load(Ordering::Acquire);
        (self.is_connected() && heard != 0 && now.saturating_sub(heard - 1) <= fresh)
            .then(|| unpack(self.fleet_budget.load(Ordering::Relaxed)))
    }

    /// Whether the store's `(version, incarnation)` for this breaker is
    /// not what this worker last adopted.
    pub fn differs_from(&self, (version, incarnation): (u64, u64)) -> bool {
        version != self.remote_version.load(Ordering::Acquire)
            || incarnation != self.incarnation.load(Ordering::Acquire)
    }

    /// Takes one leased probe slot, if any; else records that one was wanted.
    pub fn take_probe(&self) -> bool {
        // Counted as running before the slot is taken: a sync reconciling
        // the allowance meanwhile then errs towards fewer probes, not more.
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let taken = self
            .allowance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !taken {
            self.probe_ended();
            self.wants_probe.store(true, Ordering::Release);
        }
        taken
    }

    /// A leased probe slot whose call ended without a verdict (cancelled):
    /// the next call here may use it.
    pub fn return_probe(&self) {
        self.allowance.fetch_add(1, Ordering::AcqRel);
        self.probe_ended();
    }

    /// A probe's outcome, for the fleet's half-open bookkeeping (nothing
    /// when no shared store is configured).
    pub fn report_probe(&self, succeeded: bool) {
        if !self.is_enabled() {
            return;
        }
        let counter = if succeeded {
            &self.probe_successes
        } else {
            &self.probe_failures
        };
        counter.fetch_add(1, Ordering::AcqRel);
        self.probe_ended();
    }

    fn probe_ended(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// An operator acted on this worker: every worker must follow (nothing
    /// to send when no shared store is configured).
    pub fn request_operator(&self, action: OperatorAction) {
        if !self.is_enabled() {
            return;
        }
        let mut last = self.last_operator.lock();
        // Each action here is later than the one before, even within one
        // millisecond: the store applies only an epoch newer than its own
        // (a force-open and the reset right after it must both land).
        let action = OperatorAction {
            epoch: match *last {
                Some(before) => action.epoch.max(before.epoch + 1),
                None => action.epoch,
            },
            ..action
        };
        *last = Some(action);
        drop(last);
        *self.operator.lock() = Some(action);
    }

    /// Empties the outbox for one sync: `fresh` counts from the window, and
    /// `local`, the breaker's own state and remaining open time, sent for
    /// merging when it made transitions alone.
    pub fn drain(&self, fresh: Totals, local: (CircuitState, u64)) -> Outbox {
        let diverged_at = self.diverged_at.swap(0, Ordering::AcqRel);
        let tripped_at = self.trip.swap(0, Ordering::AcqRel);
        let operator = self.operator.lock().take();
        // A merge carries the breaker's state now, which says whether a
        // trip still stands: one the worker has since recovered from must
        // not reopen the fleet.
        let trip = tripped_at != 0 && diverged_at == 0;
        let _ = self
            .in_transit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
                let now = unpack(packed);
                Some(pack(Totals {
                    calls: now.calls + fresh.calls,
                    failures: now.failures + fresh.failures,
                }))
            });
        Outbox {
            counts: fresh,
            trip,
            tripped_at_ms: if trip { tripped_at } else { 0 },
            probe_successes: self.probe_successes.swap(0, Ordering::AcqRel),
            probe_failures: self.probe_failures.swap(0, Ordering::AcqRel),
            wants_probe: self.wants_probe.swap(false, Ordering::AcqRel),
            probes_in_flight: self.in_flight.load(Ordering::Acquire),
            operator,
            merge: (diverged_at != 0).then(|| LocalDecision {
                state: local.0,
                open_remaining_ms: local.1,
                // When the breaker last decided on its own: an operator's
                // action taken after that wins over the merged state.
                decided_at_ms: match self.last_decision_ms.load(Ordering::Acquire) {
                    0 => diverged_at,
                    decided => decided,
                },
            }),
            generation: 0,             // the breaker's, filled in by it
            budget: Totals::default(), // the breaker's, filled in by it
        }
    }

    /// A sync failed: its decisions go back to be sent again, and the
    /// breaker decides alone until the store answers. Its counts are
    /// dropped: the fleet's window is a set of recent observations, not a
    /// ledger, and counts summed in late would trip the fleet on traffic
    /// that is no longer recent (the breaker keeps them in its own window).
    pub fn sync_failed(&self, outbox: Outbox) {
        self.counts_landed(outbox.counts);
        if outbox.trip {
            self.trip
                .fetch_max(outbox.tripped_at_ms.max(1), Ordering::AcqRel);
        }
        self.probe_successes
            .fetch_add(outbox.probe_successes, Ordering::AcqRel);
        self.probe_failures
            .fetch_add(outbox.probe_failures, Ordering::AcqRel);
        if let Some(action) = outbox.operator {
            let mut slot = self.operator.lock();
            if slot.is_none_or(|queued| queued.epoch < action.epoch) {
                *slot = Some(OperatorAction {
                    late: true,
                    ..action
                });
            }
        }
        if let Some(decision) = outbox.merge {
            self.diverged_at
                .fetch_max(decision.decided_at_ms, Ordering::AcqRel);
        }
        // Probes keep running: their leases are renewed once the store
        // answers again (one that lapsed meanwhile is simply not held).
        self.connected.store(false, Ordering::Release);
    }

    /// A sync answered: how its state relates to what the breaker applied.
    pub fn sync_succeeded(&self, inbox: &Inbox) -> Answer {
        self.connected.store(true, Ordering::Release);
        self.refresh.store(false, Ordering::Release);
        self.fleet.store(pack(inbox.fleet), Ordering::Relaxed);
        let known = self.incarnation.swap(inbox.incarnation, Ordering::AcqRel);
        let seen = self.remote_version.load(Ordering::Acquire);
        // A new record (Redis lost its data), or the same record with an
        // older version (restored from a snapshot, a failover to a lagging
        // replica): what this worker stands in is unknown to the store.
        if known != 0 && (known != inbox.incarnation || inbox.version < seen) {
            self.remote_version.store(inbox.version, Ordering::Release);
            self.allowance.store(0, Ordering::Release);
            self.in_flight.store(0, Ordering::Release);
            // An operator's forced state must survive too: sent again.
            if let Some(action) = *self.last_operator.lock() {
                let mut queued = self.operator.lock();
                if queued.is_none_or(|q| q.epoch < action.epoch) {
                    *queued = Some(action);
                }
            }
            return Answer::StoreReset;
        }
        let newer = self
            .remote_version
            .fetch_max(inbox.version, Ordering::AcqRel)
            < inbox.version;
        if newer {
            // Probes of the state the fleet left no longer hold slots.
            self.in_flight.store(0, Ordering::Release);
        }
        // The store is the truth on how many slots this worker holds; the
        // unused ones are those neither running nor awaiting their report.
        let busy = self.in_flight.load(Ordering::Acquire)
            + self.probe_successes.load(Ordering::Acquire)
            + self.probe_failures.load(Ordering::Acquire);
        self.allowance
            .store(inbox.held_probes.saturating_sub(busy), Ordering::Release);
        if newer {
            Answer::Newer
        } else {
            Answer::Same
        }
    }

    /// In a forked child: the parent's undelivered decisions are the
    /// parent's to deliver; the child starts disconnected, owing nothing.
    pub fn forget_after_fork(&self) {
        self.connected.store(false, Ordering::Release);
        self.trip.store(0, Ordering::Release);
        self.wants_probe.store(false, Ordering::Release);
        self.probe_successes.store(0, Ordering::Release);
        self.probe_failures.store(0, Ordering::Release);
        self.allowance.store(0, Ordering::Release);
        self.in_flight.store(0, Ordering::Release);
        self.diverged_at.store(0, Ordering::Release);
        self.refresh.store(false, Ordering::Release);
        self.budget_heard_at.store(0, Ordering::Release);
        self.fleet_heard_at.store(0, Ordering::Release);
        self.in_transit.store(0, Ordering::Release);
        if let Some(mut queued) = self.operator.try_lock() {
            *queued = None;
        }
    }

    /// A test's reset: as new, owing the store nothing and knowing nothing
    /// of it (the next test may share through another store, or none).
    /// Whether sharing is on stays: the configuration says.
    pub fn restart(&self) {
        self.forget_after_fork();
        *self.operator.lock() = None;
        *self.last_operator.lock() = None;
        for word in [
            &self.fleet,
            &self.last_decision_ms,
            &self.remote_version,
            &self.incarnation,
        ] {
            word.store(0, Ordering::Release);
        }
    }

    /// Forgets leased slots of a state the fleet has left.
    pub fn reset_half_open(&self) {
        self.allowance.store(0, Ordering::Release);
        self.in_flight.store(0, Ordering::Release);
    }
}
