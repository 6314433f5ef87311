//! Core errors and outcomes as the exceptions of `baldur.exceptions`.

use crate::core::breaker::Rejection;
use crate::core::error::ConfigError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};

static CIRCUIT_OPEN: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROTECT_TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONFIG_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const MODULE: &str = "baldur.exceptions";

/// `CircuitOpenError(name, retry_after)` for a refused call.
pub(crate) fn circuit_open(py: Python<'_>, name: &Py<PyString>, rejection: Rejection) -> PyErr {
    let retry_after = rejection.retry_after.map(|d| d.as_secs_f64());
    match CIRCUIT_OPEN.import(py, MODULE, "CircuitOpenError") {
        Ok(ty) => match ty.call1((name.clone_ref(py), retry_after)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

/// `ProtectTimeoutError(name, timeout)`, caused by the last attempt's error.
pub(crate) fn protect_timeout(
    py: Python<'_>,
    name: &Py<PyString>,
    timeout_seconds: f64,
    cause: Option<PyErr>,
) -> PyErr {
    let err = match PROTECT_TIMEOUT.import(py, MODULE, "ProtectTimeoutError") {
        Ok(ty) => match ty.call1((name.clone_ref(py), timeout_seconds)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        },
        Err(err) => err,
    };
    err.set_cause(py, cause);
    err
}

/// `baldur.ConfigError(key, value, allowed)` from the core's error.
pub(crate) fn config(py: Python<'_>, error: ConfigError) -> PyErr {
    match CONFIG_ERROR.import(py, MODULE, "ConfigError") {
        Ok(ty) => match ty.call1((error.key, error.value, error.allowed)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        },
        Err(err) => err,
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
