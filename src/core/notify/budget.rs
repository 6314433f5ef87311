//! The rate budgets: at most `per_minute` notifications accepted in any
//! minute and `per_hour` in any hour. A log of when each accepted one was
//! (or will be) sent, kept sorted; a `CRITICAL` over budget is not dropped
//! but given the first moment the budgets allow, which it reserves.

use crate::core::clock::Nanos;
use std::time::Duration;

const MINUTE: Nanos = 60_000_000_000;
const HOUR: Nanos = 3_600_000_000_000;

/// Both budgets over one log of send times.
#[derive(Debug, Clone)]
pub struct RateBudget {
    per_minute: u32,
    per_hour: u32,
    /// Send times, ascending; some may lie ahead (reserved by a `CRITICAL`).
    sent: Vec<Nanos>,
}

impl RateBudget {
    /// Budgets of `per_minute` and `per_hour` (each at least 1).
    pub fn new(per_minute: u32, per_hour: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            per_hour: per_hour.max(1),
            sent: Vec::new(),
        }
    }

    /// Same log, new limits (a reconfiguration keeps what was spent).
    pub fn set_limits(&mut self, per_minute: u32, per_hour: u32) {
        self.per_minute = per_minute.max(1);
        self.per_hour = per_hour.max(1);
    }

    fn forget_before(&mut self, now: Nanos) {
        let old = self
            .sent
            .partition_point(|&t| t.saturating_add(HOUR) <= now);
        self.sent.drain(..old);
    }

    /// Sends that still count at `now` in a window of `window`: those
    /// less than `window` ago, and those reserved ahead.
    fn spent_within(&self, now: Nanos, window: Nanos) -> usize {
        self.sent.len()
            - self
                .sent
                .partition_point(|&t| t.saturating_add(window) <= now)
    }

    /// Whether one more may be sent now. Times reserved ahead count: a
    /// send now must not push a later window over its budget.
    pub fn has_room(&mut self, now: Nanos) -> bool {
        self.forget_before(now);
        self.spent_within(now, MINUTE) < self.per_minute as usize
            && self.spent_within(now, HOUR) < self.per_hour as usize
    }

    /// Spends one now if there is room: whether it did.
    pub fn try_spend(&mut self, now: Nanos) -> bool {
        if !self.has_room(now) {
            return false;
        }
        self.insert(now);
        true
    }

    /// Spends one at the first moment from `now` both budgets allow, and
    /// answers how long from now that is (zero when there is room now).
    pub fn reserve(&mut self, now: Nanos) -> Duration {
        if self.try_spend(now) {
            return Duration::ZERO;
        }
        // The window ending at `at` must exclude the limit-th newest send.
        let mut at = now;
        for (limit, window) in [(self.per_minute, MINUTE), (self.per_hour, HOUR)] {
            let limit = limit as usize;
            if self.sent.len() >= limit {
                at = at.max(self.sent[self.sent.len() - limit] + window);
            }
        }
        self.insert(at);
        Duration::from_nanos(at - now)
    }

    fn insert(&mut self, at: Nanos) {
        let index = self.sent.partition_point(|&t| t <= at);
        self.sent.insert(index, at);
    }
}
