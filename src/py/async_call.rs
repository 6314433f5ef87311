//! `baldur._core.AsyncCall`: one async call stepping the core's pipeline
//! (`core::protect::pipeline`) and per-call state machine. The Python async
//! driver (`baldur._async`) does what must be awaited: the claim, the
//! attempts, backoff sleeps on the event loop, timeouts and async
//! fallbacks; the rest of the order (admission, settling the claim, the
//! dead letter) runs here, as on the sync path.

use crate::core::bulkhead::{Occupancy, Permit};
use crate::core::control::{InFlight, DRAIN, KILL_SWITCH};
use crate::core::process::stores;
use crate::core::protect::pipeline::{Ending, Pipeline, Step};
use crate::core::protect::{CallState, GiveUp, Next};
use crate::py::bulkhead::{self, PermitTicket};
use crate::py::dead_letter;
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

/// What a dead letter records of the call (`dlq=True` zones only).
struct Letter {
    func: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
}

/// One async call in progress. Created by `AsyncCall(zone, func, args)`,
/// which takes the claim the driver awaited, asks the breaker and starts
/// the first attempt; a rejection is recorded (`dlq=True`) and raised as
/// `CircuitOpenError` (or, `report=True`, kept for the result).
#[pyclass(module = "baldur._core", name = "AsyncCall")]
pub(crate) struct AsyncCall {
    /// Where the call stands in the one order every driver follows.
    pipeline: Pipeline,
    /// The function and arguments, for the dead letter.
    letter: Option<Letter>,
    /// The dead-letter entry recorded for this call.
    dlq_id: Option<String>,
    /// The breaker let the call in.
    admitted: bool,
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
    /// The bulkhead's permit, held from `take_permit()` until the call's
    /// own part ends (or this object goes).
    permit: Option<Permit>,
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
        visit.call(&self.final_error)?;
        if let Some(letter) = &self.letter {
            visit.call(&letter.func)?;
            visit.call(&letter.args)?;
            visit.call(&letter.kwargs)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.last_error = None;
        self.final_error = None;
        self.letter = None;
    }

    #[new]
    #[pyo3(signature = (zone, func, args, kwargs=None, key=None, claim=None, *, report=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        zone: Py<PyZone>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        key: Option<&Bound<'_, PyAny>>,
        claim: Option<&Bound<'_, PendingClaim>>,
        report: bool,
    ) -> PyResult<Self> {
        let in_flight = DRAIN.enter();
        crate::py::stores::ensure_started(py);
        let this = zone.get();
        let mut pipeline = Pipeline::new(this.protections(KILL_SWITCH.is_enabled()));
        let mut held = None;
        if pipeline.step() == Step::Claim {
            // The driver awaited it (`claim`) as the pipeline's first step;
            // without one, it is taken here. A refusal ends the call.
            match (claim, &this.idempotency) {
                (Some(pending), _) => held = pending.borrow_mut().take(),
                (None, Some(spec)) => spec.get().claim(py, args, kwargs, key, &mut held)?,
                (None, None) => {}
            }
            pipeline.claimed(held.is_some());
        }
        let letter = this.dlq.then(|| Letter {
            func: func.clone().unbind(),
            args: args.clone().unbind(),
            kwargs: kwargs.map(|k| k.clone().unbind()),
        });
        let admitted = this.core.begin();
        let state = *admitted.as_ref().unwrap_or(&CallState::refused());
        let mut call = Self {
            letter,
            admitted: admitted.is_ok(),
            claim: held,
            ..Self::fresh(pipeline, zone, state, in_flight)
        };
        match admitted {
            Ok(_) => {
                call.pipeline.admitted();
                if call.pipeline.step() == Step::Permit {
                    return Ok(call); // the driver awaits `take_permit()` next
                }
            }
            Err(rejection) => {
                let error = errors::circuit_open(py, &call.zone.get().name, rejection);
                call.final_error = Some(error.into_value(py).into_any());
                call.reason = Some(GiveUp::CircuitOpened);
                call.end(py, Ending::Rejected);
                return match (report, &call.final_error) {
                    (false, Some(error)) => Err(PyErr::from_value(error.bind(py).clone())),
                    _ => Ok(call),
                };
            }
        }
        call.start_first_attempt();
        Ok(call)
    }

    /// The bulkhead's step: `True` when the call holds a permit (or needs
    /// none) and its first attempt has started, `False` when a full
    /// compartment shed it (`final_error` is the `BulkheadFullError`;
    /// `falls_back` says whether the fallback answers), else an awaitable
    /// of the wait for a permit, whose answer goes to `permitted()`.
    fn take_permit(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.pipeline.step() != Step::Permit {
            return Ok(true.into_pyobject(py)?.to_owned().into_any().unbind());
        }
        let compartment = self.zone.get().core.compartment().cloned();
        let compartment = compartment.expect("a zone with a compartment");
        let taken = match bulkhead::take_async(py, &compartment)? {
            Ok(settled) => self.settle_permit(py, settled),
            Err(waiting) => return Ok(waiting.unbind()),
        };
        Ok(taken.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    /// The wait for a permit is over: as `take_permit()`'s `True` or `False`.
    fn permitted(&mut self, py: Python<'_>, ticket: &Bound<'_, PermitTicket>) -> bool {
        match ticket.borrow_mut().settled.take() {
            Some(settled) => self.settle_permit(py, settled),
            None => false, // a ticket read twice: nothing to hold
        }
    }

    /// Whether the breaker let the call in (false only with `report=True`:
    /// `final_error` says why, and `rejected` whether it was the breaker's).
    #[getter]
    fn admitted(&self) -> bool {
        self.admitted
    }

    /// The breaker refused the call (and no refused dead letter replaced
    /// its `CircuitOpenError`).
    #[getter]
    fn rejected(&self) -> bool {
        self.pipeline.ending() == Some(Ending::Rejected)
    }

    /// Whether the fallback answers now: the call gave up, was recorded if
    /// the zone asks for it, and has a fallback.
    #[getter]
    fn falls_back(&self) -> bool {
        self.pipeline.step() == Step::Fallback
    }

    /// The dead-letter entry recorded for this call, if any.
    #[getter]
    fn dlq_id(&self) -> Option<String> {
        self.dlq_id.clone()
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
                self.end(py, Ending::GaveUp);
                false
            }
        }
    }

    /// The attempt in flight returned.
    fn succeeded(&mut self, py: Python<'_>) {
        self.zone.get().core.succeeded(&self.state);
        self.end(py, Ending::Returned);
        self.in_flight = None;
        if self.last_error.is_some() {
            self.forget_errors();
        }
    }

    /// The attempt in flight raised `error`: RETRY (0), PROPAGATE (1) or GIVE_UP (2).
    fn failed(&mut self, py: Python<'_>, error: Bound<'_, PyAny>) -> PyResult<u8> {
        let zone = self.zone.get();
        if self.state.is_passthrough() {
            self.end_with_error(py);
            return Ok(PROPAGATE); // disabled: the error is the caller's, as is
        }
        let err = PyErr::from_value(error.clone());
        let verdict = match zone.classify(py, &err) {
            Ok(verdict) => verdict,
            Err(classifier_error) => {
                zone.core.abandon(&self.state);
                self.end_with_error(py);
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
                self.end_with_error(py);
                PROPAGATE
            }
            Next::GiveUp(GiveUp::TimedOut) => {
                self.give_up_with_timeout(py, GiveUp::TimedOut, Some(error.unbind()));
                GIVE_UP
            }
            Next::GiveUp(reason) => {
                self.reason = Some(reason);
                self.final_error = Some(error.unbind());
                self.end(py, Ending::GaveUp);
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
    fn abandon(&mut self, py: Python<'_>) {
        self.zone.get().core.abandon(&self.state);
        self.end_with_error(py);
    }

    /// The call gave up and whatever follows (its dead letter, its
    /// fallback) is done: no longer in flight. A drain waits for a fallback
    /// as it does on the sync path.
    fn finished(&mut self, py: Python<'_>) {
        if self.pipeline.step() == Step::Fallback {
            self.pipeline.done();
        }
        self.end_with_error(py);
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
    /// The first attempt starts once the call is admitted (and holds its
    /// permit); its budget cannot have run out.
    fn start_first_attempt(&mut self) {
        let mut state = self.state;
        if let Ok(budget) = self.zone.get().core.start_attempt(&mut state) {
            self.budget = budget.map(|b| b.as_secs_f64());
        }
        self.state = state;
    }

    /// Holds the permit and starts the first attempt, or sheds the call.
    fn settle_permit(&mut self, py: Python<'_>, settled: Result<Permit, Occupancy>) -> bool {
        match settled {
            Ok(permit) => {
                self.permit = Some(permit);
                self.pipeline.permitted();
                self.start_first_attempt();
                true
            }
            Err(full) => {
                // Not the dependency's failure: the breaker hears nothing.
                self.zone.get().core.shed(&self.state);
                let error = errors::bulkhead_full(py, &full);
                self.final_error = Some(error.into_value(py).into_any());
                self.end(py, Ending::Shed);
                false
            }
        }
    }

    /// A call on the fast path, admitted with its first attempt started:
    /// what `AsyncStart.begin()` answers. `Ok(None)`, with nothing done,
    /// when the call takes the general path instead (`AsyncCall(...)`
    /// after the worker's first sync round): a claim or a dead letter to
    /// take care of, a bound on the attempts, the first sync still to
    /// wait for, or Baldur disabled. A rejection raises `CircuitOpenError`,
    /// as the general path does for these zones (no claim, no record).
    pub(crate) fn begin(py: Python<'_>, zone: &Bound<'_, PyZone>) -> PyResult<Option<Self>> {
        let this = zone.get();
        if this.idempotency.is_some()
            || this.dlq
            || stores::start_pending()
            || !KILL_SWITCH.is_enabled()
            || this.core.timeout().is_some()
        {
            return Ok(None);
        }
        // A free permit is taken before the breaker is asked (and returned
        // if it refuses); with none free, the general path asks the breaker
        // first and then waits in line. Either way an open breaker's refusal
        // is the answer, as the order says.
        let permit = match this.bulkheaded {
            false => None,
            true => match this.core.compartment().and_then(|c| c.try_acquire()) {
                Some(permit) => Some(permit),
                None => return Ok(None),
            },
        };
        let in_flight = DRAIN.enter();
        let mut pipeline = Pipeline::new(this.protections(true));
        let mut state = match this.core.begin() {
            Ok(state) => state,
            Err(rejection) => {
                pipeline.ended(Ending::Rejected);
                debug_assert_eq!(pipeline.step(), Step::Finish);
                return Err(errors::circuit_open(py, &this.name, rejection));
            }
        };
        pipeline.admitted();
        if permit.is_some() {
            pipeline.permitted();
        }
        // No deadline: the first attempt starts unbounded.
        let _ = this.core.start_attempt(&mut state);
        Ok(Some(Self {
            permit,
            ..Self::fresh(pipeline, zone.clone().unbind(), state, in_flight)
        }))
    }

    /// An admitted call with nothing attempted, failed or recorded yet.
    fn fresh(
        pipeline: Pipeline,
        zone: Py<PyZone>,
        state: CallState,
        in_flight: InFlight<'static>,
    ) -> Self {
        Self {
            pipeline,
            letter: None,
            dlq_id: None,
            admitted: true,
            claim: None,
            zone,
            state,
            budget: None,
            delay: 0.0,
            last_error: None,
            final_error: None,
            reason: None,
            in_flight: Some(in_flight),
            permit: None,
        }
    }

    /// The call's own part ended: what follows in the pipeline runs here
    /// (the claim settled now, rather than when this object is collected,
    /// since a traceback may keep it alive; the dead letter recorded) up to
    /// the fallback, which the driver awaits, or the finish. The call stays
    /// in flight until `finished()`.
    #[inline]
    fn end(&mut self, py: Python<'_>, ending: Ending) {
        // The permit goes back as the call's own part ends, on every path:
        // returned, failed, timed out, cancelled or shed.
        self.permit = None;
        self.pipeline.ended(ending);
        // Most calls: nothing left for this side to do.
        if !matches!(self.pipeline.step(), Step::Finish | Step::Fallback) {
            self.settle(py);
        }
    }

    /// Runs the steps after the call's own part that need no awaiting.
    #[inline(never)]
    fn settle(&mut self, py: Python<'_>) {
        loop {
            match self.pipeline.step() {
                Step::CompleteClaim => {
                    if let Some(claim) = self.claim.take() {
                        claim.complete();
                    }
                    self.pipeline.done();
                }
                Step::ReleaseClaim => {
                    if let Some(claim) = self.claim.take() {
                        idempotency::release(py, claim);
                    }
                    self.pipeline.done();
                }
                Step::RecordDeadLetter => {
                    let accepted = self.record(py);
                    self.pipeline.recorded(accepted);
                }
                _ => return,
            }
        }
    }

    /// Records the call in the dead-letter queue: false when the queue
    /// refused it, which then is the call's error (caused by its own).
    fn record(&mut self, py: Python<'_>) -> bool {
        let (Some(letter), Some(error)) = (&self.letter, &self.final_error) else {
            return true; // nothing asked for it (no dlq=True)
        };
        let reason = self.reason.unwrap_or(GiveUp::Exhausted).as_str();
        let recorded = dead_letter::record_call(
            py,
            self.zone.get(),
            letter.func.bind(py),
            letter.args.bind(py),
            letter.kwargs.as_ref().map(|kwargs| kwargs.bind(py)),
            error.bind(py),
            self.state.attempts(),
            reason,
        );
        match recorded {
            Ok(id) => {
                self.dlq_id = id;
                true
            }
            Err(refusal) => {
                self.final_error = Some(refusal.into_value(py).into_any());
                false
            }
        }
    }

    /// The call is over with an error that propagates (no fallback runs):
    /// its claim released and its in-flight count ended.
    fn end_with_error(&mut self, py: Python<'_>) {
        if self.pipeline.ending().is_none() {
            self.end(py, Ending::Propagated);
        }
        self.in_flight = None;
        self.forget_errors();
    }

    /// The call is over and nothing reads its errors again: they go now,
    /// not with this object (which `AsyncStart` may keep for its next call).
    fn forget_errors(&mut self) {
        self.last_error = None;
        self.final_error = None;
    }

    fn give_up_with_timeout(&mut self, py: Python<'_>, reason: GiveUp, cause: Option<Py<PyAny>>) {
        let zone = self.zone.get();
        let seconds = zone.core.timeout().map_or(0.0, |t| t.as_secs_f64());
        let cause = cause.map(|c| PyErr::from_value(c.into_bound(py)));
        let error = errors::protect_timeout(py, &zone.name, seconds, cause);
        self.reason = Some(reason);
        self.final_error = Some(error.into_value(py).into_any());
        self.end(py, Ending::GaveUp);
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
