//! The function forms: `baldur.protect()` and `baldur.protect_with_meta()`.

use crate::py::driver;
use crate::py::result::ProtectResult;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::time::Instant;

/// Calls `func()` now, under `zone`'s protection.
#[pyfunction]
pub(crate) fn protect(py: Python<'_>, zone: &Bound<'_, PyZone>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let zone = zone.get();
    driver::run(py, zone, func, &PyTuple::empty(py), None).into_result(py, zone)
}

/// Calls `func()` now and reports the outcome as a `ProtectResult`.
#[pyfunction]
pub(crate) fn protect_with_meta(
    py: Python<'_>,
    zone: &Bound<'_, PyZone>,
    func: &Bound<'_, PyAny>,
) -> PyResult<ProtectResult> {
    let zone = zone.get();
    let started = Instant::now();
    let outcome = driver::run(py, zone, func, &PyTuple::empty(py), None);
    ProtectResult::from_outcome(py, zone, outcome, started.elapsed().as_secs_f64())
}
