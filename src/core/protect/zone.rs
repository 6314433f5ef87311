//! A protection zone: the policies of one protected callsite, and the
//! per-call state machine a driver (sync or async) steps through.
//!
//! The driver owns the I/O: it runs each attempt, classifies errors, and
//! sleeps. The zone owns every decision: admission, attempt accounting, the
//! breaker's bookkeeping, backoff and the wall-clock bound.

use crate::core::breaker::{CircuitBreaker, Permit, Rejection};
use crate::core::bulkhead::Compartment;
use crate::core::clock::{from_nanos, to_nanos, Nanos, SharedClock};
use crate::core::control::{KillSwitch, KILL_SWITCH};
use crate::core::events::{Event, EVENTS};
use crate::core::metrics::{CallOutcome, ZoneCounters};
use crate::core::protect::defaults::ZoneDefaults;
use crate::core::protect::verdict::{GiveUp, Next, Verdict};
use crate::core::retry::budget::BudgetSetting;
use crate::core::retry::{waits, RetryPolicy, RETRY_BUDGET};
use std::sync::Arc;
use std::time::Duration;

/// A uniform random number in `[0, 1)`, for jitter.
pub type RandomSource = fn() -> f64;

/// The policies of one protected callsite.
#[derive(Debug, Clone)]
pub struct Zone {
    breaker: Option<Arc<CircuitBreaker>>,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    defaults: Option<Arc<ZoneDefaults>>,
    clock: SharedClock,
    random: RandomSource,
    counters: Arc<ZoneCounters>,
    kill_switch: &'static KillSwitch,
    retry_budget: &'static BudgetSetting,
    /// The bulkhead compartment its calls take a permit of (`bulkhead=`).
    compartment: Option<Arc<Compartment>>,
}

/// One call in progress: plain data, so a driver can keep it on its stack or
/// inside whatever object an async driver awaits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallState {
    permit: Option<Permit>,
    attempts: u32,
    deadline: Option<Nanos>,
    /// Baldur was disabled when the call began: it runs unprotected.
    passthrough: bool,
}

impl CallState {
    /// A call the breaker refused: it holds no permit and made no attempt,
    /// so there is nothing to hand back or record against the breaker.
    pub fn refused() -> Self {
        Self {
            permit: None,
            attempts: 0,
            deadline: None,
            passthrough: false,
        }
    }

    /// Attempts started so far (the one in flight included).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the call holds a half-open probe slot.
    pub fn is_probe(&self) -> bool {
        self.permit.is_some_and(|p| p.is_probe())
    }

    /// Whether the call runs unprotected because the kill switch was off
    /// when it began: one attempt, no bound, every error propagates.
    pub fn is_passthrough(&self) -> bool {
        self.passthrough
    }
}

impl Zone {
    /// A zone guarded by `breaker` (if any), retried per `retry`, and bounded
    /// by `timeout` (if any).
    pub fn new(
        breaker: Option<Arc<CircuitBreaker>>,
        retry: RetryPolicy,
        timeout: Option<Duration>,
        clock: SharedClock,
    ) -> Self {
        Self {
            breaker,
            retry,
            timeout,
            defaults: None,
            clock,
            random: fastrand::f64,
            counters: Arc::default(),
            kill_switch: &KILL_SWITCH,
            retry_budget: &RETRY_BUDGET,
            compartment: None,
        }
    }

    /// Takes a permit of `compartment` for each call, after the breaker.
    pub fn with_compartment(mut self, compartment: Arc<Compartment>) -> Self {
        self.compartment = Some(compartment);
        self
    }

    /// The compartment this zone's calls take a permit of, if any.
    #[inline]
    pub fn compartment(&self) -> Option<&Arc<Compartment>> {
        self.compartment.as_ref()
    }

    /// Spends retries from `budget` instead of the process's (tests).
    pub fn with_retry_budget(mut self, budget: &'static BudgetSetting) -> Self {
        self.retry_budget = budget;
        self
    }

    /// Counts this zone's calls into `counters` (by default, a set of its
    /// own that no report reads).
    pub fn with_counters(mut self, counters: Arc<ZoneCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// Obeys `kill_switch` instead of the process's (tests).
    pub fn with_kill_switch(mut self, kill_switch: &'static KillSwitch) -> Self {
        self.kill_switch = kill_switch;
        self
    }

    /// The counters this zone's calls count into.
    pub fn counters(&self) -> &Arc<ZoneCounters> {
        &self.counters
    }

    /// Falls back on `defaults` for what the callsite did not set.
    pub fn with_defaults(mut self, defaults: Arc<ZoneDefaults>) -> Self {
        self.defaults = Some(defaults);
        self
    }

    /// Replaces the jitter source (tests make it deterministic).
    pub fn with_random(mut self, random: RandomSource) -> Self {
        self.random = random;
        self
    }

    /// The breaker guarding this zone, if any.
    pub fn breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        self.breaker.as_ref()
    }

    /// The wall-clock bound on a whole call, if any: the callsite's own, else
    /// the process default.
    #[inline]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
            .or_else(|| self.defaults.as_ref().and_then(|d| d.timeout()))
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Starts a call, or refuses it (open breaker). No attempt has started
    /// yet. While Baldur is disabled the call is admitted unprotected.
    #[inline]
    pub fn begin(&self) -> Result<CallState, Rejection> {
        if !self.kill_switch.is_enabled() {
            self.counters.call(CallOutcome::PassedThrough);
            return Ok(CallState {
                permit: None,
                attempts: 0,
                deadline: None,
                passthrough: true,
            });
        }
        let permit = match &self.breaker {
            Some(breaker) => match breaker.try_acquire() {
                Ok(permit) => Some(permit),
                Err(rejection) => {
                    self.counters.call(CallOutcome::Rejected);
                    return Err(rejection);
                }
            },
            None => None,
        };
        let deadline = self
            .timeout()
            .map(|t| self.clock.now().saturating_add(to_nanos(t)));
        Ok(CallState {
            permit,
            attempts: 0,
            deadline,
            passthrough: false,
        })
    }

    /// Starts the next attempt and says how long it may take: `Ok(None)` when
    /// unbounded. The attempt does not start and the call is over when the
    /// bound already ran out (`Err(TimedOut)`, the permit is handed back) or
    /// when the breaker changed state since it admitted the call
    /// (`Err(CircuitOpened)`: during a backoff wait, other calls or an
    /// operator may have opened it).
    #[inline]
    pub fn start_attempt(&self, call: &mut CallState) -> Result<Option<Duration>, GiveUp> {
        if call.passthrough {
            call.attempts += 1;
            return Ok(None);
        }
        if call.attempts > 0 && !self.still_admitted(call) {
            self.counters.call(CallOutcome::Failure);
            return Err(GiveUp::CircuitOpened);
        }
        let Some(deadline) = call.deadline else {
            call.attempts += 1;
            self.counters.attempt();
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= deadline {
            self.release(call);
            self.counters.call(CallOutcome::Timeout);
            return Err(GiveUp::TimedOut);
        }
        call.attempts += 1;
        self.counters.attempt();
        Ok(Some(from_nanos(deadline - now)))
    }

    /// Whether the breaker still admits the call's next attempt: it has not
    /// changed state since it admitted the call. A driver asks after a
    /// failed attempt, before the next one (and after any wait between them),
    /// because other calls or an operator may have opened it meanwhile; if
    /// not, the call gives up with [`GiveUp::CircuitOpened`] and no further
    /// attempt reaches the dependency.
    #[inline]
    pub fn still_admitted(&self, call: &CallState) -> bool {
        match (&self.breaker, call.permit) {
            (Some(breaker), Some(permit)) => breaker.still_admits(permit),
            _ => true,
        }
    }

    /// The attempt in flight succeeded.
    #[inline]
    pub fn succeeded(&self, call: &CallState) {
        if call.passthrough {
            return; // counted as passed through when it began
        }
        self.breaker_success(call);
        self.counters.call(CallOutcome::Success);
    }

    #[inline]
    fn breaker_success(&self, call: &CallState) {
        if let (Some(breaker), Some(permit)) = (&self.breaker, call.permit) {
            if self.counts_for_budget(call) {
                breaker.on_success_counting_call(permit);
            } else {
                breaker.on_success(permit);
            }
        }
    }

    /// Whether the attempt ending now is the first of a call of a retrying
    /// zone: the call adds to the retry budget then, once, whether it
    /// succeeds or goes on to retry.
    #[inline]
    fn counts_for_budget(&self, call: &CallState) -> bool {
        call.attempts <= 1 && self.retry.attempts() > 1
    }

    /// The attempt in flight failed with an error judged `verdict`. On
    /// `Next::Retry` the driver waits, then calls [`Zone::start_attempt`].
    pub fn failed(&self, call: &mut CallState, verdict: Verdict) -> Next {
        if call.passthrough {
            return Next::Propagate;
        }
        let server_delay = match verdict {
            Verdict::NotAFailure => {
                self.breaker_success(call);
                self.counters.call(CallOutcome::NotAFailure);
                return Next::Propagate;
            }
            Verdict::Abort => {
                self.abandon(call);
                return Next::Propagate;
            }
            Verdict::Fatal => None,
            Verdict::Retryable { server_delay } => server_delay,
        };
        if let (Some(breaker), Some(permit)) = (&self.breaker, call.permit) {
            breaker.on_failure(permit);
            if self.counts_for_budget(call) {
                breaker.count_call();
            }
            if !breaker.still_admits(permit) {
                self.counters.call(CallOutcome::Failure);
                return Next::GiveUp(GiveUp::CircuitOpened);
            }
        }
        if verdict == Verdict::Fatal || call.attempts >= self.retry.attempts() {
            self.counters.call(CallOutcome::Failure);
            return Next::GiveUp(GiveUp::Exhausted);
        }
        let delay = self.retry.backoff().delay(
            call.attempts.saturating_sub(1),
            (self.random)(),
            server_delay,
        );
        if let Some(deadline) = call.deadline {
            // The next attempt could not start inside the bound: stop now
            // rather than sleep only to time out.
            if self.clock.now().saturating_add(to_nanos(delay)) >= deadline {
                self.counters.call(CallOutcome::Timeout);
                return Next::GiveUp(GiveUp::TimedOut);
            }
        }
        if !self.spend_retry() {
            self.counters.call(CallOutcome::Failure);
            return Next::GiveUp(GiveUp::Exhausted);
        }
        // Decided as usual; a test that turned waits off sleeps none of it.
        Next::Retry(waits::to_sleep(delay))
    }

    /// Whether the zone's retry budget has a retry left; if so it is spent.
    /// A refusal is counted and reported (DEBUG): the call then ends as
    /// exhausted, its remaining attempts unspent.
    fn spend_retry(&self) -> bool {
        let (Some(budget), Some(breaker)) = (self.retry_budget.get(), &self.breaker) else {
            return true;
        };
        let (calls, retries) = breaker.retry_counts();
        if budget.allows(calls, retries) {
            breaker.count_retry();
            return true;
        }
        self.counters.retry_refused();
        EVENTS.emit(Event::Retry {
            name: "retry.budget_spent",
            zone: breaker.name().to_string(),
            detail: format!(
                "{retries} retries for {calls} calls in the last {}s: the budget \
                 (ratio {}, {} a second) allows no more",
                crate::core::retry::budget::SPAN.as_secs(),
                budget.ratio(),
                budget.min_per_second(),
            ),
        });
        false
    }

    /// The attempt in flight outlived the call's wall-clock bound: a failure.
    pub fn timed_out(&self, call: &CallState) -> GiveUp {
        if let (Some(breaker), Some(permit)) = (&self.breaker, call.permit) {
            breaker.on_failure(permit);
            if self.counts_for_budget(call) {
                breaker.count_call();
            }
        }
        if !call.passthrough {
            self.counters.call(CallOutcome::Timeout);
        }
        GiveUp::TimedOut
    }

    /// The call ends with no verdict on the dependency (cancelled): a probe
    /// slot it held goes back.
    pub fn abandon(&self, call: &CallState) {
        self.release(call);
        if !call.passthrough {
            self.counters.call(CallOutcome::Aborted);
        }
    }

    /// The call was shed after admission (a full compartment): no verdict
    /// on the dependency, so the breaker counts nothing and a probe slot
    /// goes back.
    pub fn shed(&self, call: &CallState) {
        self.release(call);
    }

    fn release(&self, call: &CallState) {
        if let (Some(breaker), Some(permit)) = (&self.breaker, call.permit) {
            breaker.release(permit);
        }
    }
}
