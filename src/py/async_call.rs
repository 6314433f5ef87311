//! `baldur._core.AsyncCall`: the per-call state machine, stepped by the
//! Python async driver (`baldur._async`), which owns the awaiting: attempts,
//! backoff sleeps on the event loop, timeouts and async fallbacks.

use crate::core::control::{InFlight, DRAIN, KILL_SWITCH};
use crate::core::protect::{CallState, GiveUp, Next};
use crate::py::errors;
use crate::py::idempotency::{self, HeldClaim, PendingClaim};
use crate::py::result::ProtectResult;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

/// `failed()` answers: sleep `delay` and attempt again.
pub(crate) const RETRY: u8 = 0;
/// `failed()` answers: re-raise the error untouched.
pub(crate) const PROPAGATE: u8 = 1;
/// `failed()` answers: the call is over; `final_error` is what failed it.
pub(crate) const GIVE_UP: u8 = 2;

/// One async call in progress. Created by `AsyncCall(zone)`, which asks the
/// breaker and starts the first attempt (or raises `CircuitOpenError`).
#[pyclass(module = "baldur._core", name = "AsyncCall")]
pub(crate) struct AsyncCall {
    /// Completed by `succeeded()`; released when the call is dropped otherwise.
    claim: Option<HeldClaim>,
    zone: Py<PyZone>,
    state: CallState,
    budget: Option<f64>,
    delay: f64,
    last_error: Option<Py<PyAny>>,
    final_error: Option<Py<PyAny>>,
    reason: Option<GiveUp>,
    /// Counts the call as in flight until it ends (a drain waits for it).
    in_flight: Option<InFlight<'static>>,
}

#[pymethods]
impl AsyncCall {
    // The errors it keeps carry tracebacks whose frames hold this object
    // (the coroutine stepping it): without these, Python's collector cannot
    // see the cycle, and every failed async call would keep its error, its
    // frames and its zone's breaker for the life of the process.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.zone)?;
        visit.call(&self.last_error)?;
        visit.call(&self.final_error)
    }

    fn __clear__(&mut self) {
        self.last_error = None;
        self.final_error = None;
    }

    #[new]
    #[pyo3(signature = (zone, args, kwargs=None, key=None, claim=None))]
    fn new(
        py: Python<'_>,
        zone: Py<PyZone>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        key: Option<&Bound<'_, PyAny>>,
        claim: Option<&Bound<'_, PendingClaim>>,
    ) -> PyResult<Self> {
        let in_flight = DRAIN.enter();
        crate::py::stores::ensure_started(py);
        // As in the sync driver: the claim first (awaited by the caller, as
        // `claim`), then the breaker; a refusal drops the claim, which
        // releases it.
        let claim = match (claim, &zone.get().idempotency) {
            (Some(pending), _) => pending.borrow_mut().take(),
            (None, Some(spec)) if KILL_SWITCH.is_enabled() => {
                spec.get().claim(py, args, kwargs, key)?
            }
            (None, _) => None,
        };
        let core = &zone.get().core;
        let mut state = core
            .begin()
            .map_err(|rejection| errors::circuit_open(py, &zone.get().name, rejection))?;
        let mut call = Self {
            claim,
            zone,
            state,
            budget: None,
            delay: 0.0,
            last_error: None,
            final_error: None,
            reason: None,
            in_flight: Some(in_flight),
        };
        // The first attempt starts with the call; its budget cannot have run out.
        if let Ok(budget) = call.zone.get().core.start_attempt(&mut state) {
            call.budget = budget.map(|b| b.as_secs_f64());
        }
        call.state = state;
        Ok(call)
    }

    /// Seconds the current attempt may take, or `None` when unbounded.
    #[getter]
    fn budget(&self) -> Option<f64> {
        self.budget
    }

    /// Seconds to wait before the next attempt (after `failed()` said RETRY).
    #[getter]
    fn delay(&self) -> f64 {
        self.delay
    }

    /// Attempts started so far.
    #[getter]
    fn attempts(&self) -> u32 {
        self.state.attempts()
    }

    /// The exception that ended the call (after GIVE_UP, or a timeout).
    #[getter]
    fn final_error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.final_error.as_ref().map(|e| e.clone_ref(py))
    }

    /// Why the call gave up: "exhausted", "circuit_open" or "timeout".
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.reason.map(GiveUp::as_str)
    }

    /// Starts the next attempt. False when the call is over instead: its
    /// time ran out (`final_error` is a `ProtectTimeoutError`) or the breaker
    /// opened during the wait (`final_error` is the last attempt's error).
    fn start_attempt(&mut self, py: Python<'_>) -> bool {
        match self.zone.get().core.start_attempt(&mut self.state) {
            Ok(budget) => {
                self.budget = budget.map(|b| b.as_secs_f64());
                true
            }
            Err(GiveUp::TimedOut) => {
                let cause = self.last_error.take();
                self.give_up_with_timeout(py, GiveUp::TimedOut, cause);
                false
            }
            Err(reason) => {
                self.reason = Some(reason);
                self.final_error = self.last_error.take();
                self.release_claim();
                false
            }
        }
    }

    /// The attempt in flight returned.
    fn succeeded(&mut self) {
        self.zone.get().core.succeeded(&self.state);
        if let Some(claim) = self.claim.take() {
            claim.complete();
        }
        self.in_flight = None;
    }

    /// The attempt in flight raised `error`: RETRY (0), PROPAGATE (1) or GIVE_UP (2).
    fn failed(&mut self, py: Python<'_>, error: Bound<'_, PyAny>) -> PyResult<u8> {
        let zone = self.zone.get();
        if self.state.is_passthrough() {
            self.end_with_error();
            return Ok(PROPAGATE); // disabled: the error is the caller's, as is
        }
        let err = PyErr::from_value(error.clone());
        let verdict = match zone.classify(py, &err) {
            Ok(verdict) => verdict,
            Err(classifier_error) => {
                zone.core.abandon(&self.state);
                self.end_with_error();
                classifier_error.set_cause(py, Some(err));
                return Err(classifier_error);
            }
        };
        Ok(match zone.core.failed(&mut self.state, verdict) {
            Next::Retry(delay) => {
                self.delay = delay.as_secs_f64();
                self.last_error = Some(error.unbind());
                RETRY
            }
            Next::Propagate => {
                self.end_with_error();
                PROPAGATE
            }
            Next::GiveUp(GiveUp::TimedOut) => {
                self.give_up_with_timeout(py, GiveUp::TimedOut, Some(error.unbind()));
                GIVE_UP
            }
            Next::GiveUp(reason) => {
                self.reason = Some(reason);
                self.final_error = Some(error.unbind());
                self.release_claim();
                GIVE_UP
            }
        })
    }

    /// The attempt in flight outlived the call's bound: a failure, and the
    /// end of the call (`final_error` is a `ProtectTimeoutError`).
    fn timed_out(&mut self, py: Python<'_>) {
        let reason = self.zone.get().core.timed_out(&self.state);
        let cause = self.last_error.take();
        self.give_up_with_timeout(py, reason, cause);
    }

    /// The call was cancelled: no verdict, a probe slot goes back, and so
    /// does the idempotency claim.
    fn abandon(&mut self) {
        self.zone.get().core.abandon(&self.state);
        self.end_with_error();
    }

    /// The call gave up and whatever follows (its fallback, its dead
    /// letter) is done: no longer in flight. A drain waits for a fallback
    /// as it does on the sync path.
    fn finished(&mut self) {
        self.end_with_error();
    }

    /// The call's outcome as a `ProtectResult`; `dlq_id` names the
    /// dead-letter entry recorded for it, if any.
    #[pyo3(signature = (*, value, ok, fallback_used, error, duration_s, dlq_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn result(
        &self,
        py: Python<'_>,
        value: Py<PyAny>,
        ok: bool,
        fallback_used: bool,
        error: Option<Py<PyAny>>,
        duration_s: f64,
        dlq_id: Option<String>,
    ) -> ProtectResult {
        ProtectResult::from_parts(
            py,
            self.zone.get(),
            value,
            error,
            ok,
            fallback_used,
            self.state.attempts(),
            duration_s,
        )
        .with_dlq_id(dlq_id)
    }
}

impl AsyncCall {
    /// Settles the claim of a call that ended without success now, rather
    /// than when this object is collected: a traceback may keep it alive.
    /// The call stays in flight: a fallback may still run (`finished()`).
    fn release_claim(&mut self) {
        if let Some(claim) = self.claim.take() {
            Python::attach(|py| idempotency::release(py, claim));
        }
    }

    /// The call is over with an error that propagates (no fallback runs):
    /// its claim released and its in-flight count ended.
    fn end_with_error(&mut self) {
        self.release_claim();
        self.in_flight = None;
    }

    fn give_up_with_timeout(&mut self, py: Python<'_>, reason: GiveUp, cause: Option<Py<PyAny>>) {
        let zone = self.zone.get();
        let seconds = zone.core.timeout().map_or(0.0, |t| t.as_secs_f64());
        let cause = cause.map(|c| PyErr::from_value(c.into_bound(py)));
        let error = errors::protect_timeout(py, &zone.name, seconds, cause);
        self.reason = Some(reason);
        self.final_error = Some(error.into_value(py).into_any());
        self.release_claim();
    }
}

/// The `ProtectResult` of an async call that never started: the breaker
/// refused it (`rejected`), or idempotency did (a duplicate, no key).
/// `dlq_id` names the dead-letter entry recorded for a rejection, if any.
#[pyfunction]
#[pyo3(signature = (zone, error, duration_s, rejected, dlq_id=None))]
pub(crate) fn refused_result(
    py: Python<'_>,
    zone: &Bound<'_, PyZone>,
    error: Py<PyAny>,
    duration_s: f64,
    rejected: bool,
    dlq_id: Option<String>,
) -> ProtectResult {
    ProtectResult::refused(py, zone.get(), error, duration_s, rejected).with_dlq_id(dlq_id)
}
