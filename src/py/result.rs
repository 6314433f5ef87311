//! `baldur.ProtectResult`: a protected call's outcome as a value, for
//! callers that would rather inspect than catch.

use crate::core::breaker::{CircuitState, Rejection};
use crate::py::driver::Outcome;
use crate::py::errors;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

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
    /// Built on first access for a rejection: the fail-fast path builds no exception.
    error: PyOnceLock<Option<Py<PyAny>>>,
    rejection: Option<(Py<PyString>, Rejection)>,
}

#[pymethods]
impl ProtectResult {
    /// The final exception, or `None` when the function succeeded.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error
            .get_or_init(py, || {
                self.rejection.as_ref().map(|(name, rejection)| {
                    errors::circuit_open(py, name, *rejection)
                        .into_value(py)
                        .into_any()
                })
            })
            .as_ref()
            .map(|e| e.clone_ref(py))
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

impl ProtectResult {
    /// Turns a finished call into a result; no error of the call is raised.
    pub(crate) fn from_outcome(
        py: Python<'_>,
        zone: &PyZone,
        outcome: Outcome,
        duration_s: f64,
    ) -> PyResult<Self> {
        let state = zone
            .core
            .breaker()
            .map_or(CircuitState::Closed, |b| b.state());
        let none = || py.None();
        let (value, error, ok, fallback_used, attempts, rejection) = match outcome {
            Outcome::Returned { value, attempts } => (value, None, true, false, attempts, None),
            Outcome::Rejected(rejection) => (
                none(),
                None,
                false,
                false,
                0,
                Some((zone.name.clone_ref(py), rejection)),
            ),
            Outcome::Propagated { error, attempts } => (
                none(),
                Some(error_value(py, error)?),
                false,
                false,
                attempts,
                None,
            ),
            Outcome::GaveUp {
                error,
                attempts,
                fallback,
                ..
            } => match fallback {
                None => (
                    none(),
                    Some(error_value(py, error)?),
                    false,
                    false,
                    attempts,
                    None,
                ),
                Some(Ok(answer)) => (
                    answer,
                    Some(error_value(py, error)?),
                    false,
                    true,
                    attempts,
                    None,
                ),
                Some(Err(fallback_error)) => (
                    none(),
                    Some(error_value(py, fallback_error)?),
                    false,
                    true,
                    attempts,
                    None,
                ),
            },
        };
        let cell = PyOnceLock::new();
        if rejection.is_none() {
            let _ = cell.set(py, error);
        }
        Ok(Self {
            value,
            ok,
            fallback_used,
            attempts,
            rejected: rejection.is_some(),
            duration_s,
            dlq_id: None,
            state,
            error: cell,
            rejection,
        })
    }
}

/// The exception object of an error, unless it is one no caller should
/// swallow (KeyboardInterrupt, SystemExit): those are raised even here.
fn error_value(py: Python<'_>, error: PyErr) -> PyResult<Py<PyAny>> {
    if error.is_instance_of::<pyo3::exceptions::PyException>(py) {
        Ok(error.into_value(py).into_any())
    } else {
        Err(error)
    }
}
