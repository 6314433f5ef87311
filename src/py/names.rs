//! Every default and name the Python face shows, as the core defines them:
//! `baldur.retry`, `baldur._settings` and the rest read these from `_core`
//! instead of restating them, so the two languages cannot disagree.
//! Converted only: a duration becomes seconds, a name list a tuple.

use crate::core::breaker::config as breaker;
use crate::core::breaker::fleet::DEFAULT_SYNC_INTERVAL;
use crate::core::breaker::state::{Cause, OPERATOR_ACTIONS};
use crate::core::control::drain;
use crate::core::dlq::entry::{self as dlq, Overflow};
use crate::core::idempotency::gate;
use crate::core::metrics::{registry, routes, zone::CallOutcome};
use crate::core::names::CircuitState;
use crate::core::protect::verdict::GiveUp;
use crate::core::retry::backoff::{self, Jitter};
use crate::core::retry::{budget, policy};
use crate::core::watchdog::DEFAULT_MISSED_BEATS;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// Adds the constants to `_core`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let names = |all: &[&str]| PyTuple::new(py, all);

    // RetryPolicy's defaults and bounds.
    m.add("RETRY_DEFAULT_ATTEMPTS", policy::DEFAULT_ATTEMPTS)?;
    m.add(
        "RETRY_DEFAULT_BASE_DELAY",
        backoff::DEFAULT_BASE_DELAY_SECONDS,
    )?;
    m.add(
        "RETRY_DEFAULT_MAX_DELAY",
        backoff::DEFAULT_MAX_DELAY_SECONDS,
    )?;
    m.add("RETRY_DEFAULT_MULTIPLIER", backoff::DEFAULT_MULTIPLIER)?;
    m.add("RETRY_MAX_MULTIPLIER", backoff::MAX_MULTIPLIER)?;
    m.add("RETRY_DEFAULT_JITTER", backoff::DEFAULT_JITTER.as_str())?;
    m.add("JITTERS", names(&Jitter::ALL.map(Jitter::as_str))?)?;

    // The breaker's settings (BALDUR_CB_*).
    m.add(
        "CB_DEFAULT_FAILURE_THRESHOLD",
        breaker::DEFAULT_FAILURE_THRESHOLD,
    )?;
    m.add("CB_DEFAULT_MINIMUM_CALLS", breaker::DEFAULT_MINIMUM_CALLS)?;
    m.add(
        "CB_DEFAULT_FAILURE_RATE_THRESHOLD",
        breaker::DEFAULT_FAILURE_RATE_THRESHOLD,
    )?;
    m.add(
        "CB_DEFAULT_RECOVERY_TIMEOUT",
        breaker::DEFAULT_RECOVERY_TIMEOUT_SECONDS,
    )?;
    m.add(
        "CB_DEFAULT_HALF_OPEN_MAX_CALLS",
        breaker::DEFAULT_HALF_OPEN_MAX_CALLS,
    )?;
    m.add("CB_DEFAULT_WINDOW_SECONDS", breaker::DEFAULT_WINDOW_SECONDS)?;
    m.add("WATCHDOG_DEFAULT_MISSED_BEATS", DEFAULT_MISSED_BEATS)?;
    m.add("RETRY_BUDGET_DEFAULT_RATIO", budget::DEFAULT_RATIO)?;
    m.add(
        "RETRY_BUDGET_DEFAULT_MIN_PER_SECOND",
        budget::DEFAULT_MIN_PER_SECOND,
    )?;
    m.add(
        "CB_DEFAULT_SYNC_INTERVAL_SECONDS",
        DEFAULT_SYNC_INTERVAL.as_secs_f64(),
    )?;

    // The breaker's states, why it changes state, and what an operator does.
    let states = CircuitState::ALL.map(CircuitState::as_str);
    m.add("CIRCUIT_STATES", names(&states)?)?;
    m.add("CIRCUIT_CLOSED", CircuitState::Closed.as_str())?;
    m.add("CIRCUIT_OPEN", CircuitState::Open.as_str())?;
    m.add("CIRCUIT_HALF_OPEN", CircuitState::HalfOpen.as_str())?;
    m.add("CIRCUIT_FORCED_OPEN", CircuitState::ForcedOpen.as_str())?;
    m.add("CIRCUIT_FORCED_CLOSED", CircuitState::ForcedClosed.as_str())?;
    m.add("BREAKER_CAUSES", names(&Cause::ALL.map(Cause::as_str))?)?;
    m.add(
        "OPERATOR_ACTIONS",
        names(&OPERATOR_ACTIONS.map(|(_, verb)| verb))?,
    )?;

    // Idempotency's two clocks.
    m.add(
        "IDEMPOTENCY_DEFAULT_MEMORY_TTL",
        gate::DEFAULT_MEMORY_TTL_SECONDS,
    )?;
    m.add(
        "IDEMPOTENCY_DEFAULT_EXECUTION_TTL",
        gate::DEFAULT_EXECUTION_TTL_SECONDS,
    )?;

    // The dead-letter queue: caps, overflow, entry states, why a call ended.
    m.add("DLQ_DEFAULT_MAX_SIZE", dlq::DEFAULT_MAX_SIZE)?;
    m.add("DLQ_DEFAULT_MAX_PER_DOMAIN", dlq::DEFAULT_MAX_PER_ZONE)?;
    m.add("DLQ_DEFAULT_OVERFLOW", dlq::DEFAULT_OVERFLOW.as_str())?;
    m.add(
        "DLQ_OVERFLOWS",
        names(&Overflow::ALL.map(Overflow::as_str))?,
    )?;
    m.add("DLQ_DEFAULT_REPLAY_BUDGET", dlq::DEFAULT_REPLAY_BUDGET)?;
    m.add("DLQ_STATES", names(&dlq::STATES)?)?;
    m.add("DLQ_PENDING", dlq::STATE_PENDING)?;
    m.add("DLQ_REPLAYING", dlq::STATE_REPLAYING)?;
    m.add("DLQ_NEEDS_REVIEW", dlq::STATE_NEEDS_REVIEW)?;
    m.add("DLQ_DONE", dlq::STATE_DONE)?;
    m.add("DLQ_GONE", dlq::STATE_GONE)?;
    m.add("GAVE_UP_EXHAUSTED", GiveUp::Exhausted.as_str())?;
    m.add("GAVE_UP_CIRCUIT_OPEN", GiveUp::CircuitOpened.as_str())?;
    m.add("GAVE_UP_TIMEOUT", GiveUp::TimedOut.as_str())?;

    // Metrics: the label caps and the outcomes calls are counted under.
    m.add("METRICS_DEFAULT_MAX_DOMAIN_LABELS", registry::MAX_DOMAINS)?;
    m.add("METRICS_DEFAULT_MAX_ENDPOINTS", routes::MAX_ENDPOINTS)?;
    m.add("METRICS_OVERFLOW_DOMAIN", registry::OVERFLOW_DOMAIN)?;
    m.add("METRICS_UNMATCHED_ROUTE", routes::UNMATCHED_ROUTE)?;
    m.add(
        "CALL_OUTCOMES",
        names(&CallOutcome::ALL.map(CallOutcome::as_str))?,
    )?;

    // Where a graceful shutdown's drain stands (`drain_progress()`).
    m.add("DRAIN_SERVING", drain::SERVING)?;
    m.add("DRAIN_DRAINING", drain::DRAINING)?;
    m.add("DRAIN_DRAINED", drain::DRAINED)?;
    m.add("DRAIN_DEADLINE_PASSED", drain::DEADLINE_PASSED)?;
    Ok(())
}
