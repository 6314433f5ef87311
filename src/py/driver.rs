//! The sync driver: steps the core's pipeline and, within it, the per-call
//! state machine, running each attempt, classifying errors, sleeping
//! between attempts, and calling the fallback when the call gives up.

use crate::core::control::{DRAIN, KILL_SWITCH};
use crate::core::protect::pipeline::{Ending, Pipeline, Step};
use crate::core::protect::{CallState, GiveUp, Next};
use crate::py::attempt::{self, AttemptError};
use crate::py::bulkhead::{self, Refused};
use crate::py::dead_letter;
use crate::py::errors;
use crate::py::idempotency;
pub(crate) use crate::py::outcome::Outcome;
use crate::py::stores;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Runs `func(*args, **kwargs)` under the zone's protection, stepping the
/// core's pipeline (`core::protect::pipeline`): the order is its, the
/// Python calls are this driver's. `key` is a function-form call's
/// idempotency key.
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
    let mut pipeline = Pipeline::new(zone.protections(KILL_SWITCH.is_enabled()));
    // The call's own part: the claim, admission, the attempts. Written out
    // in the pipeline's order (each step asked of it) rather than as one
    // loop: this is every call's path, and a loop costs it a fifth more.
    let mut claim = None;
    let mut refused = None;
    if pipeline.step() == Step::Claim {
        let spec = zone.idempotency.as_ref().expect("a zone with a key");
        // The claim comes first: a duplicate never reaches the breaker, and
        // the claim is held through every attempt.
        match spec.get().claim(py, args, kwargs, key, &mut claim) {
            Ok(()) => pipeline.claimed(claim.is_some()),
            Err(error) => {
                refused = Some(Outcome::Propagated { error, attempts: 0 });
                pipeline.claim_refused();
            }
        }
    }
    let mut outcome = match refused {
        Some(refused) => refused,
        None => match zone.core.begin() {
            Ok(mut call) => {
                pipeline.admitted();
                if pipeline.step() == Step::Permit {
                    permitted_attempts(py, zone, &mut pipeline, &mut call, func, args, kwargs)
                } else {
                    debug_assert_eq!(pipeline.step(), Step::Attempts);
                    let ended = attempts(py, zone, &mut call, func, args, kwargs);
                    pipeline.ended(ended.ending());
                    if pipeline.step() == Step::Finish {
                        return ended; // most calls: nothing follows
                    }
                    ended
                }
            }
            Err(rejection) => {
                pipeline.ended(Ending::Rejected);
                Outcome::Rejected {
                    rejection,
                    dlq_id: None,
                }
            }
        },
    };
    // What follows the call's own part, as the pipeline orders it; for
    // most calls nothing does.
    loop {
        match pipeline.step() {
            Step::CompleteClaim => {
                if let Some(held) = claim.as_mut() {
                    held.complete_in_place();
                }
                pipeline.done();
            }
            Step::ReleaseClaim => {
                // Before the caller sees the outcome: a retry of the same
                // key right after must be able to run.
                if let Some(held) = claim.take() {
                    idempotency::release(py, held);
                }
                pipeline.done();
            }
            Step::RecordDeadLetter => {
                outcome = dead_letter::record(py, zone, func, args, kwargs, outcome);
                pipeline.recorded(outcome.ending() != Ending::Propagated);
            }
            Step::Fallback => {
                outcome = answer_with_fallback(py, zone, outcome);
                pipeline.done();
            }
            Step::Finish => return outcome,
            Step::Claim | Step::Admit | Step::Permit | Step::Attempts => {
                unreachable!("the call's own part is over")
            }
        }
    }
}

/// The bulkhead's step (a permit of the zone's compartment, waited for
/// without the GIL), then the attempts with the permit held. Apart from
/// [`run`] so that a call without `bulkhead=` pays nothing for it.
#[inline(never)]
fn permitted_attempts(
    py: Python<'_>,
    zone: &PyZone,
    pipeline: &mut Pipeline,
    call: &mut CallState,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> Outcome {
    let compartment = zone.core.compartment().expect("a zone with a compartment");
    let permit = match bulkhead::take(py, compartment) {
        Ok(permit) => permit,
        Err(Refused::Full(full)) => {
            // Not the dependency's failure: the breaker hears nothing.
            zone.core.shed(call);
            pipeline.ended(Ending::Shed);
            let error = Refused::Full(full).into_error(py);
            return Outcome::Shed {
                error,
                fallback: None,
            };
        }
        Err(Refused::Interrupted(error)) => {
            zone.core.abandon(call);
            pipeline.ended(Ending::Propagated);
            return Outcome::Propagated { error, attempts: 0 };
        }
    };
    pipeline.permitted();
    let ended = attempts(py, zone, call, func, args, kwargs);
    // Back before the claim is settled, the letter recorded or the
    // fallback runs: none of them uses the dependency.
    drop(permit);
    pipeline.ended(ended.ending());
    ended
}

/// The attempts of an admitted call under the retry policy and the bound:
/// each attempt run, its error classified, the backoff slept. Always
/// inlined: with a second caller (the bulkhead's step), a hint alone let the
/// compiler call it out of line on every call's path.
#[inline(always)]
fn attempts(
    py: Python<'_>,
    zone: &PyZone,
    call: &mut CallState,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> Outcome {
    let core = &zone.core;
    let mut last_error: Option<PyErr> = None;
    loop {
        let attempt = match core.start_attempt(call) {
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
                    core.abandon(call);
                    return Outcome::Propagated {
                        error,
                        attempts: call.attempts(),
                    };
                }
                core.succeeded(call);
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
                let reason = core.timed_out(call);
                return give_up(timeout_error(py, zone, last_error), reason, call.attempts());
            }
            Err(AttemptError::Interrupted(error)) => {
                core.abandon(call);
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
                core.abandon(call);
                classifier_error.set_cause(py, Some(error));
                return Outcome::Propagated {
                    error: classifier_error,
                    attempts: call.attempts(),
                };
            }
        };
        match core.failed(call, verdict) {
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
                        core.abandon(call);
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

/// A call that gave up, or was shed: the fallback answers if there is one.
fn answer_with_fallback(py: Python<'_>, zone: &PyZone, outcome: Outcome) -> Outcome {
    let (Outcome::GaveUp { error, .. } | Outcome::Shed { error, .. }, Some(fallback)) =
        (&outcome, zone.fallback.as_ref())
    else {
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
        Outcome::Shed { error, .. } => Outcome::Shed {
            error,
            fallback: Some(answer),
        },
        other => other,
    }
}
