//! Core errors and outcomes as the exceptions of `baldur.exceptions`.

//!
//! One exhaustive map: every error type the core hands the bindings is
//! matched here, so a new variant does not compile until it has its
//! Python exception.

use crate::core::breaker::Rejection;
use crate::core::bulkhead::{NotFound, Occupancy};
use crate::core::dlq::DlqError;
use crate::core::error::ConfigError;
use crate::core::process::dlq_queues::QueuesError;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};

const MODULE: &str = "baldur.exceptions";

static CIRCUIT_OPEN: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROTECT_TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONFIG_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DUPLICATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PAYLOAD_MISMATCH: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static KEY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNAVAILABLE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static WRONG_COLOUR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static COROUTINE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DLQ_FULL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DLQ_UNAVAILABLE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BULKHEAD_FULL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `baldur.exceptions.<name>(*args)`, as an error to raise. If the
/// exception cannot even be built, that failure is what surfaces.
fn build<'py>(
    py: Python<'py>,
    cache: &PyOnceLock<Py<PyType>>,
    name: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyErr {
    match cache.import(py, MODULE, name).and_then(|ty| ty.call1(args)) {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

/// `CircuitOpenError(name, retry_after)` for a refused call.
pub(crate) fn circuit_open(py: Python<'_>, name: &Py<PyString>, rejection: Rejection) -> PyErr {
    let retry_after = rejection.retry_after.map(|d| d.as_secs_f64());
    build(
        py,
        &CIRCUIT_OPEN,
        "CircuitOpenError",
        (name.clone_ref(py), retry_after),
    )
}

/// `ProtectTimeoutError(name, timeout)`, caused by the last attempt's error.
pub(crate) fn protect_timeout(
    py: Python<'_>,
    name: &Py<PyString>,
    timeout_seconds: f64,
    cause: Option<PyErr>,
) -> PyErr {
    let err = build(
        py,
        &PROTECT_TIMEOUT,
        "ProtectTimeoutError",
        (name.clone_ref(py), timeout_seconds),
    );
    err.set_cause(py, cause);
    err
}

/// `baldur.ConfigError(key, value, allowed)` from the core's error.
pub(crate) fn config(py: Python<'_>, error: ConfigError) -> PyErr {
    build(
        py,
        &CONFIG_ERROR,
        "ConfigError",
        (error.key, error.value, error.allowed),
    )
}

/// `IdempotencyDuplicateError` or its payload-mismatch subclass.
pub(crate) fn idempotency_duplicate(
    py: Python<'_>,
    class: &str,
    key: &Bound<'_, PyString>,
    operation: &str,
    state: &str,
) -> PyErr {
    let cache = if class == "IdempotencyPayloadMismatchError" {
        &PAYLOAD_MISMATCH
    } else {
        &DUPLICATE
    };
    build(py, cache, class, (key.clone(), state, operation))
}

/// `IdempotencyKeyError(message)`: no usable key, so the call did not run.
pub(crate) fn idempotency_key(py: Python<'_>, message: &str) -> PyErr {
    build(py, &KEY_ERROR, "IdempotencyKeyError", (message,))
}

/// `IdempotencyUnavailableError(message)`: fail-closed.
pub(crate) fn idempotency_unavailable(py: Python<'_>, message: &str) -> PyErr {
    build(py, &UNAVAILABLE, "IdempotencyUnavailableError", (message,))
}

/// A dead-letter queue's error: full (`reject`), Redis unreachable, or the
/// store itself failing (an `OSError`).
pub(crate) fn dlq(py: Python<'_>, error: DlqError) -> PyErr {
    let message = error.to_string();
    match error {
        DlqError::Full { .. } => build(py, &DLQ_FULL, "DeadLetterQueueFullError", (message,)),
        DlqError::Unavailable(_) => build(
            py,
            &DLQ_UNAVAILABLE,
            "DeadLetterQueueUnavailableError",
            (message,),
        ),
        DlqError::Store(_) => PyOSError::new_err(message),
    }
}

/// The dead-letter queues are not at hand: not configured (a `ValueError`:
/// `init()` was not called) or not openable (an `OSError`).
pub(crate) fn dlq_queues(error: QueuesError) -> PyErr {
    match error {
        QueuesError::NotConfigured => PyValueError::new_err(error.to_string()),
        QueuesError::Open(message) => PyOSError::new_err(message),
    }
}

/// `BulkheadFullError(compartment, active, capacity, waiting, max_waiting)`.
#[cold]
pub(crate) fn bulkhead_full(py: Python<'_>, full: &Occupancy) -> PyErr {
    let args = (
        &*full.compartment,
        full.active,
        full.capacity,
        full.waiting,
        full.max_waiting,
    );
    build(py, &BULKHEAD_FULL, "BulkheadFullError", args)
}

/// A `ConfigError` for `bulkhead=` naming a compartment nobody registered,
/// worded as CONTRACT.md pins it (the registered names in the message).
pub(crate) fn compartment_not_found(py: Python<'_>, missing: NotFound) -> PyErr {
    let message = missing.to_string();
    let allowed = format!(
        "a registered compartment: {}",
        missing.registered.join(", ")
    );
    let error = build(
        py,
        &CONFIG_ERROR,
        "ConfigError",
        ("bulkhead", missing.name, allowed),
    );
    let value = error.value(py);
    match value.setattr("args", (message,)) {
        Ok(()) => error,
        Err(failed) => failed,
    }
}

/// Extension trait: `result.or_config_error(py)?`.
pub(crate) trait IntoPyConfig<T> {
    fn or_config_error(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyConfig<T> for Result<T, ConfigError> {
    fn or_config_error(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| config(py, e))
    }
}

/// Caches what the hot path compares against, at module import.
pub(crate) fn init(py: Python<'_>) -> PyResult<()> {
    COROUTINE.import(py, "types", "CoroutineType")?;
    Ok(())
}

/// A sync protected call that returned a coroutine (an async function
/// behind a sync-looking callable): closed, and refused as the caller's
/// mistake, since nothing of it ran under protection. On the success path
/// of every call, so the common answer is one pointer comparison.
#[inline]
pub(crate) fn refuse_coroutine(py: Python<'_>, value: &Bound<'_, PyAny>) -> Option<PyErr> {
    let coroutine = COROUTINE.get(py)?;
    if value.is_exact_instance(coroutine.bind(py)) {
        Some(wrong_colour(py, value))
    } else {
        None
    }
}

#[cold]
fn wrong_colour(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyErr {
    if let Err(err) = value.call_method0("close") {
        return err;
    }
    let message = "a sync protected call returned a coroutine: protect the async function \
                   itself (@baldur.protected on the async def, or baldur.aprotect)";
    build(py, &WRONG_COLOUR, "WrongColourError", (message,))
}

/// Whether an error is the caller's misuse of a form (see
/// `baldur._classify.WrongColourError`): raised even by the `_with_meta`
/// forms, which report only the call's own outcome.
pub(crate) fn is_wrong_colour(py: Python<'_>, error: &PyErr) -> bool {
    WRONG_COLOUR
        .import(py, MODULE, "WrongColourError")
        .is_ok_and(|ty| error.value(py).is_instance(ty).unwrap_or(false))
}
