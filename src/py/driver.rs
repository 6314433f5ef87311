//! The sync driver: steps the core's per-call state machine, running each
//! attempt, classifying errors, sleeping between attempts, and calling the
//! fallback when the call gives up.

use crate::core::control::{DRAIN, KILL_SWITCH};
use crate::core::protect::{GiveUp, Next};
use crate::py::attempt::{self, AttemptError};
use crate::py::dead_letter;
use crate::py::errors;
use crate::py::idempotency;
pub(crate) use crate::py::outcome::Outcome;
use crate::py::stores;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Runs `func(*args, **kwargs)` under the zone's protection. `key` is a
/// function-form call's idempotency key.
#[inline]
pub(crate) fn run(
    py: Python<'_>,
    zone: &PyZone,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    key: Option<&Bound<'_, PyAny>>,
) -> Outcome {
    // Counted from here to the end, DLQ record and fallback included: a
    // drain waits for them.
    let _in_flight = DRAIN.enter();
    stores::ensure_started(py);
    let outcome = if !KILL_SWITCH.is_enabled() {
        // Disabled: no claim, no breaker, no retry, no DLQ (see Zone::begin).
        run_claimed(py, zone, func, args, kwargs)
    } else {
        let outcome = run_idempotent(py, zone, func, args, kwargs, key);
        if zone.dlq {
            dead_letter::record(py, zone, func, args, kwargs, outcome)
        } else {
            outcome
        }
    };
    answer_with_fallback(py, zone, outcome)
}

/// The pipeline with its idempotency claim taken first, if the zone has one.
#[inline]
fn run_idempotent(
    py: Python<'_>,
    zone: &PyZone,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    key: Option<&Bound<'_, PyAny>>,
) -> Outcome {
    let Some(spec) = &zone.idempotency else {
        return run_claimed(py, zone, func, args, kwargs);
    };
    // The claim comes first: a duplicate never reaches the breaker, and the
    // claim is held through every attempt of this call.
    let claim = match spec.get().claim(py, args, kwargs, key) {
        Ok(claim) => claim,
        Err(error) => return Outcome::Propagated { error, attempts: 0 },
    };
    let outcome = run_claimed(py, zone, func, args, kwargs);
    match (claim, &outcome) {
        (Some(claim), Outcome::Returned { .. }) => claim.complete(),
        // Any other end releases it, before the caller sees the outcome:
        // a retry of the same key right after must be able to run.
        (Some(claim), _) => idempotency::release(py, claim),
        (None, _) => {}
    }
    outcome
}

/// The pipeline after the idempotency claim: breaker, attempts, fallback.
#[inline]
fn run_claimed(
    py: Python<'_>,
    zone: &PyZone,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> Outcome {
    let core = &zone.core;
    let mut call = match core.begin() {
        Ok(call) => call,
        Err(rejection) => {
            return Outcome::Rejected {
                rejection,
                dlq_id: None,
            }
        }
    };
    let mut last_error: Option<PyErr> = None;
    loop {
        let attempt = match core.start_attempt(&mut call) {
            Ok(None) => func
                .call(args, kwargs)
                .map(Bound::unbind)
                .map_err(AttemptError::Raised),
            Ok(Some(budget)) => attempt::run_bounded(py, func, args, kwargs, budget),
            Err(GiveUp::TimedOut) => {
                return give_up(
                    timeout_error(py, zone, last_error),
                    GiveUp::TimedOut,
                    call.attempts(),
                )
            }
            Err(reason) => {
                // Only a retry can be refused, so an earlier attempt failed.
                let error = last_error.unwrap_or_else(|| {
                    pyo3::exceptions::PyRuntimeError::new_err("call refused before any attempt")
                });
                return give_up(error, reason, call.attempts());
            }
        };
        let error = match attempt {
            Ok(value) => {
                if let Some(error) = errors::refuse_coroutine(py, value.bind(py)) {
                    core.abandon(&call);
                    return Outcome::Propagated {
                        error,
                        attempts: call.attempts(),
                    };
                }
                core.succeeded(&call);
                return Outcome::Returned {
                    value,
                    attempts: call.attempts(),
                };
            }
            Err(AttemptError::Raised(error)) if call.is_passthrough() => {
                return Outcome::Propagated {
                    error,
                    attempts: call.attempts(),
                }
            }
            Err(AttemptError::Raised(error)) => error,
            Err(AttemptError::TimedOut) => {
                let reason = core.timed_out(&call);
                return give_up(timeout_error(py, zone, last_error), reason, call.attempts());
            }
            Err(AttemptError::Interrupted(error)) => {
                core.abandon(&call);
                return Outcome::Propagated {
                    error,
                    attempts: call.attempts(),
                };
            }
        };
        let verdict = match zone.classify(py, &error) {
            Ok(verdict) => verdict,
            Err(classifier_error) => {
                // Loud: a broken predicate must not pass for the dependency's verdict.
                core.abandon(&call);
                classifier_error.set_cause(py, Some(error));
                return Outcome::Propagated {
                    error: classifier_error,
                    attempts: call.attempts(),
                };
            }
        };
        match core.failed(&mut call, verdict) {
            Next::Propagate => {
                return Outcome::Propagated {
                    error,
                    attempts: call.attempts(),
                }
            }
            Next::GiveUp(GiveUp::TimedOut) => {
                return give_up(
                    timeout_error(py, zone, Some(error)),
                    GiveUp::TimedOut,
                    call.attempts(),
                )
            }
            Next::GiveUp(reason) => return give_up(error, reason, call.attempts()),
            Next::Retry(delay) => {
                if !delay.is_zero() {
                    if let Err(interrupt) = attempt::sleep(py, delay) {
                        core.abandon(&call);
                        return Outcome::Propagated {
                            error: interrupt,
                            attempts: call.attempts(),
                        };
                    }
                }
                last_error = Some(error);
            }
        }
    }
}

fn timeout_error(py: Python<'_>, zone: &PyZone, cause: Option<PyErr>) -> PyErr {
    let seconds = zone.core.timeout().map_or(0.0, |t| t.as_secs_f64());
    errors::protect_timeout(py, &zone.name, seconds, cause)
}

/// The call is over without a success. Its fallback runs after the claim
/// is released and the dead letter recorded (as on the async path): a
/// queue that refuses the record fails the call before a fallback acts.
fn give_up(error: PyErr, reason: GiveUp, attempts: u32) -> Outcome {
    Outcome::GaveUp {
        error,
        reason,
        attempts,
        fallback: None,
        dlq_id: None,
    }
}

/// A call that gave up: the fallback answers if there is one.
fn answer_with_fallback(py: Python<'_>, zone: &PyZone, outcome: Outcome) -> Outcome {
    let (Outcome::GaveUp { error, .. }, Some(fallback)) = (&outcome, zone.fallback.as_ref()) else {
        return outcome;
    };
    zone.core.counters().fallback();
    let answer = if zone.fallback_takes_error {
        fallback.call1(py, (error.value(py),))
    } else {
        fallback.call0(py)
    };
    let answer = answer.inspect_err(|fallback_error| {
        // Python's own chaining, as if the fallback ran in an `except` block.
        let _ = fallback_error
            .value(py)
            .setattr("__context__", error.value(py));
    });
    match outcome {
        Outcome::GaveUp {
            error,
            reason,
            attempts,
            dlq_id,
            ..
        } => Outcome::GaveUp {
            error,
            reason,
            attempts,
            fallback: Some(answer),
            dlq_id,
        },
        other => other,
    }
}
