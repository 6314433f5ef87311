//! The rules a breaker decides by, apart from the machine that applies them
//! (Polly's controller / behaviour split): when a failure opens it
//! ([`TripPolicy`]) and how many half-open probes it lets through
//! ([`ProbeBudget`]). Each has two implementations: [`LocalPolicy`], the
//! breaker's own view, and the fleet's, which is the breaker's
//! [`SharedLink`] itself (it holds the fleet's counts and the probe slots
//! the store leased to this worker). The machine asks whichever is in force
//! and never branches on the fleet itself.

use crate::core::breaker::config::BreakerConfig;
use crate::core::breaker::shared::SharedLink;
use crate::core::clock::{to_nanos, Nanos};
use crate::core::window::{SlidingWindow, BUCKETS};
use std::time::Duration;

/// When a failure opens the breaker.
pub trait TripPolicy: Send + Sync {
    /// Whether the breaker trips now, a failure having just been recorded in
    /// `window` at `now`: `config`'s rule (the minimum calls, the failure
    /// count and the failure rate, all met) over the counts this policy
    /// judges by.
    fn trips(&self, config: &BreakerConfig, window: &SlidingWindow, now: Nanos) -> bool;
}

/// The probes of one half-open state: the permits given out, and how many
/// of them have succeeded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Probes {
    /// Probe permits held by calls now or spent, in this half-open state.
    pub issued: u32,
    /// Probes that succeeded, in this half-open state.
    pub succeeded: u32,
}

/// How many calls a half-open breaker lets through, and when it has heard
/// enough to close. `max` is the config's `half_open_max_calls`.
pub trait ProbeBudget: Send + Sync {
    /// Whether an open breaker moves itself to half-open once its recovery
    /// timeout has passed (else someone else says when probing starts).
    fn starts_probing(&self) -> bool;

    /// Takes a probe slot for one call, if one is free.
    fn take(&self, probes: &mut Probes, max: u32) -> bool;

    /// A probe succeeded: whether the breaker closes now.
    fn succeeded(&self, probes: &mut Probes, max: u32) -> bool;

    /// A probe's call ended without a verdict (cancelled): its slot is free.
    fn release(&self, probes: &mut Probes);
}

/// The breaker's own rules, on its own window: it trips on its own counts,
/// starts probing when its recovery timeout passes, lets `max` probes
/// through and closes once all of them succeeded.
///
/// ```
/// use baldur::core::breaker::policy::{LocalPolicy, ProbeBudget, Probes};
/// let mut probes = Probes::default();
/// assert!(LocalPolicy.take(&mut probes, 1));
/// assert!(!LocalPolicy.take(&mut probes, 1), "one slot, taken");
/// assert!(LocalPolicy.succeeded(&mut probes, 1), "every probe succeeded");
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LocalPolicy;

impl TripPolicy for LocalPolicy {
    fn trips(&self, config: &BreakerConfig, window: &SlidingWindow, now: Nanos) -> bool {
        let totals = window.totals(now);
        config.trips(totals.calls, totals.failures)
    }
}

impl ProbeBudget for LocalPolicy {
    fn starts_probing(&self) -> bool {
        true
    }

    fn take(&self, probes: &mut Probes, max: u32) -> bool {
        let free = probes.issued < max;
        if free {
            probes.issued += 1;
        }
        free
    }

    fn succeeded(&self, probes: &mut Probes, max: u32) -> bool {
        probes.succeeded += 1;
        probes.succeeded >= max
    }

    fn release(&self, probes: &mut Probes) {
        probes.issued = probes.issued.saturating_sub(1);
    }
}

/// The fleet's trip rule: the floor and thresholds are met by everyone's
/// traffic (the fleet's counts as last heard, plus what this worker has not
/// sent yet), not this worker's alone.
impl TripPolicy for SharedLink {
    fn trips(&self, config: &BreakerConfig, window: &SlidingWindow, now: Nanos) -> bool {
        // Heard within one bucket of the window: the fleet's counts then
        // still describe its window (a sync round refreshes them while
        // this worker has calls).
        let fresh = to_nanos(config.window) / BUCKETS as u64;
        let totals = self.totals_fresh(
            window.peek_unsent(),
            now,
            fresh.max(to_nanos(Duration::from_secs(1))),
        );
        config.trips(totals.calls, totals.failures)
    }
}

/// The fleet's probe budget: the store decides when probing starts, leases
/// the slots (a call takes one this worker holds) and closes the breaker
/// once enough probes anywhere succeeded, so a success is only reported.
impl ProbeBudget for SharedLink {
    fn starts_probing(&self) -> bool {
        false
    }

    fn take(&self, probes: &mut Probes, _max: u32) -> bool {
        let taken = self.take_probe();
        if taken {
            probes.issued += 1;
        }
        taken
    }

    fn succeeded(&self, _probes: &mut Probes, _max: u32) -> bool {
        self.report_probe(true);
        false
    }

    fn release(&self, probes: &mut Probes) {
        probes.issued = probes.issued.saturating_sub(1);
        // The fleet leased it to this worker: kept for the next call here.
        self.return_probe();
    }
}
