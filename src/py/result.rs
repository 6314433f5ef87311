//! `baldur.ProtectResult`: a protected call's outcome as a value, for
//! callers that would rather inspect than catch.

use crate::core::breaker::{CircuitState, Rejection};
use crate::py::driver::Outcome;
use crate::py::errors;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use pyo3::{PyTraverseError, PyVisit};

/// What happened to one protected call.
#[pyclass(frozen, module = "baldur._core", name = "ProtectResult")]
pub(crate) struct ProtectResult {
    /// The function's answer, or the fallback's; `None` when neither answered.
    #[pyo3(get)]
    value: Py<PyAny>,
    /// Whether the function itself succeeded.
    #[pyo3(get)]
    ok: bool,
    /// Whether the fallback supplied `value`.
    #[pyo3(get)]
    fallback_used: bool,
    /// Attempts made (0 when the breaker refused the call).
    #[pyo3(get)]
    attempts: u32,
    /// Whether an open breaker refused the call.
    #[pyo3(get)]
    rejected: bool,
    /// Wall-clock seconds the call took, fallback included.
    #[pyo3(get)]
    duration_s: f64,
    /// The dead-letter entry recorded for this call, if any.
    #[pyo3(get)]
    dlq_id: Option<String>,
    state: CircuitState,
    /// The exception the call ended with, when it raised one.
    raised: Option<Py<PyAny>>,
    /// A rejection's `CircuitOpenError`, built on first access: the
    /// fail-fast path builds no exception.
    refusal: PyOnceLock<Py<PyAny>>,
    rejection: Option<(Py<PyString>, Rejection)>,
}

#[pymethods]
impl ProtectResult {
    // A result is often in a cycle: its error's traceback holds the frame
    // that holds the result. Without this, Python's collector cannot see the
    // cycle, which would keep the frames (and the zones and breakers they
    // hold) for the life of the process. A refusal built on access has no
    // traceback of its own to close such a cycle.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.value)?;
        visit.call(&self.raised)
    }

    /// The final exception, or `None` when the function succeeded.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        if let Some(error) = &self.raised {
            return Some(error.clone_ref(py));
        }
        let (name, rejection) = self.rejection.as_ref()?;
        let refusal = self.refusal.get_or_init(py, || {
            errors::circuit_open(py, name, *rejection)
                .into_value(py)
                .into_any()
        });
        Some(refusal.clone_ref(py))
    }

    /// The breaker's state when the call ended (`"closed"` without a breaker).
    #[getter]
    fn circuit_state(&self) -> &'static str {
        self.state.as_str()
    }

    fn __bool__(&self) -> bool {
        self.ok
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ProtectResult(ok={}, value={}, error={}, fallback_used={}, attempts={}, rejected={}, circuit_state={:?}, duration_s={:.6})",
            py_bool(self.ok),
            self.value.bind(py).repr().map(|r| r.to_string()).unwrap_or_default(),
            self.error(py).map(|e| e.bind(py).repr().map(|r| r.to_string()).unwrap_or_default()).unwrap_or("None".into()),
            py_bool(self.fallback_used),
            self.attempts,
            py_bool(self.rejected),
            self.state.as_str(),
            self.duration_s,
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// What a call that did not succeed reports: its error, and the
/// fallback's answer (or the fallback's own error) if one ran.
type Parts = (Py<PyAny>, Option<Py<PyAny>>, bool, bool, u32);

fn answered(
    py: Python<'_>,
    error: PyErr,
    fallback: Option<PyResult<Py<PyAny>>>,
    attempts: u32,
) -> PyResult<Parts> {
    Ok(match fallback {
        None => (
            py.None(),
            Some(error_value(py, error)?),
            false,
            false,
            attempts,
        ),
        Some(Ok(answer)) => (answer, Some(error_value(py, error)?), false, true, attempts),
        Some(Err(fallback_error)) => (
            py.None(),
            Some(error_value(py, fallback_error)?),
            false,
            true,
            attempts,
        ),
    })
}

impl ProtectResult {
    /// Turns a finished sync call into a result; no error of the call is raised.
    pub(crate) fn from_outcome(
        py: Python<'_>,
        zone: &PyZone,
        outcome: Outcome,
        duration_s: f64,
    ) -> PyResult<Self> {
        let none = || py.None();
        let dlq_id = outcome.dlq_id();
        let (value, error, ok, fallback_used, attempts) = match outcome {
            Outcome::Returned { value, attempts } => (value, None, true, false, attempts),
            Outcome::Rejected { rejection, .. } => {
                let lazy = Some((zone.name.clone_ref(py), rejection));
                let mut result = Self::build(zone, none(), None, lazy, false, 0, duration_s);
                result.dlq_id = dlq_id;
                return Ok(result);
            }
            Outcome::Propagated { error, attempts } => (
                none(),
                Some(error_value(py, error)?),
                false,
                false,
                attempts,
            ),
            Outcome::GaveUp {
                error,
                attempts,
                fallback,
                ..
            } => answered(py, error, fallback, attempts)?,
            Outcome::Shed { error, fallback } => answered(py, error, fallback, 0)?,
        };
        let mut result = Self::from_parts(
            py,
            zone,
            value,
            error,
            ok,
            fallback_used,
            attempts,
            duration_s,
        );
        result.dlq_id = dlq_id;
        Ok(result)
    }

    /// A result from its parts (the async driver assembles them in Python).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        _py: Python<'_>,
        zone: &PyZone,
        value: Py<PyAny>,
        error: Option<Py<PyAny>>,
        ok: bool,
        fallback_used: bool,
        attempts: u32,
        duration_s: f64,
    ) -> Self {
        let mut result = Self::build(zone, value, error, None, ok, attempts, duration_s);
        result.fallback_used = fallback_used;
        result
    }

    /// The same result, naming the dead-letter entry recorded for the call
    /// (the async driver records in Python, after the result's parts).
    pub(crate) fn with_dlq_id(mut self, dlq_id: Option<String>) -> Self {
        self.dlq_id = dlq_id;
        self
    }

    /// The result of a call that never ran: refused by the breaker
    /// (`rejected`, with its `CircuitOpenError`) or by idempotency.
    pub(crate) fn refused(
        py: Python<'_>,
        zone: &PyZone,
        error: Py<PyAny>,
        duration_s: f64,
        rejected: bool,
    ) -> Self {
        let mut result = Self::build(zone, py.None(), Some(error), None, false, 0, duration_s);
        result.rejected = rejected;
        result
    }

    fn build(
        zone: &PyZone,
        value: Py<PyAny>,
        raised: Option<Py<PyAny>>,
        rejection: Option<(Py<PyString>, Rejection)>,
        ok: bool,
        attempts: u32,
        duration_s: f64,
    ) -> Self {
        Self {
            value,
            ok,
            fallback_used: false,
            attempts,
            rejected: rejection.is_some(),
            duration_s,
            dlq_id: None,
            state: zone
                .core
                .breaker()
                .map_or(CircuitState::Closed, |b| b.observed_state()),
            raised,
            refusal: PyOnceLock::new(),
            rejection,
        }
    }
}

/// The exception object of an error, unless it is one no caller should
/// swallow (KeyboardInterrupt, SystemExit) or the caller's misuse of a form
/// (a coroutine through a sync form): those are raised even here.
fn error_value(py: Python<'_>, error: PyErr) -> PyResult<Py<PyAny>> {
    if error.is_instance_of::<pyo3::exceptions::PyException>(py)
        && !errors::is_wrong_colour(py, &error)
    {
        Ok(error.into_value(py).into_any())
    } else {
        Err(error)
    }
}
