//! What the zone's retry budget reads: its calls and retries of the last
//! few seconds, this worker's or, when breaker state is shared, the
//! fleet's (they ride the breaker's sync: no round trip of their own).

use super::{CircuitBreaker, Permit};
use crate::core::clock::to_nanos;
use crate::core::window::Totals;
use std::time::Duration;

/// The span the retry budget counts over: `retry::budget::SPAN`, which a
/// feature may not import (the composition's tests pin that they agree).
pub const RETRY_BUDGET_SPAN: Duration = Duration::from_secs(10);

/// How long the fleet's counts stay in force once heard: one bucket of the
/// span (a worker with calls hears them again every sync round).
const FLEET_VIEW_FRESH: Duration = Duration::from_secs(1);

impl CircuitBreaker {
    /// A call of a retrying zone began: it adds to the retry budget.
    #[inline]
    pub fn count_call(&self) {
        self.retries.record(self.clock.now(), false);
    }

    /// As [`CircuitBreaker::on_success`], for the first attempt of a call
    /// that counts towards the retry budget: one clock read for both.
    #[inline]
    pub fn on_success_counting_call(&self, permit: Permit) {
        if permit.probe {
            self.probe_succeeded(permit);
            self.count_call();
        } else {
            let now = self.clock.now();
            self.window.record(now, false);
            self.retries.record(now, false);
        }
    }

    /// A retry was allowed: it spends from the retry budget.
    pub fn count_retry(&self) {
        self.retries.record(self.clock.now(), true);
    }

    /// `(calls, retries)` of the last [`RETRY_BUDGET_SPAN`]: the fleet's as
    /// last heard plus what this worker has not sent yet, or this worker's
    /// own while it has no fleet view.
    pub fn retry_counts(&self) -> (u64, u64) {
        let now = self.clock.now();
        let fresh = to_nanos(FLEET_VIEW_FRESH);
        let totals = match self.link.fleet_budget(now, fresh) {
            Some(fleet) => {
                let unsent = self.retries.peek_unsent();
                Totals {
                    calls: fleet.calls + unsent.calls,
                    failures: fleet.failures + unsent.failures,
                }
            }
            None => self.retries.totals(now),
        };
        (
            totals.calls.saturating_sub(totals.failures),
            totals.failures,
        )
    }

    /// Calls and retries not yet sent to the fleet.
    pub(super) fn take_unsent_retries(&self) -> Totals {
        self.retries.take_unsent()
    }

    /// Whether calls or retries wait to be sent.
    pub(super) fn has_unsent_retries(&self) -> bool {
        self.retries.peek_unsent().calls != 0
    }
}
