//! The function forms: `baldur.protect()` and `baldur.protect_with_meta()`.
//!
//! Implemented here rather than in Python so a call without keywords costs
//! a dict lookup for its zone, not a zone build: the zone of a bare
//! `protect(name, fn)` is made once per name and kept.

use crate::py::driver;
use crate::py::result::ProtectResult;
use crate::py::zone::PyZone;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::time::Instant;

static PLAIN_ZONES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
static ZONE_BUILDER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Calls ``func()`` now, protected; the same keywords as ``protected``.
///
/// >>> import baldur
/// >>> baldur.protect("pricing", lambda: 42, retry=True)
/// 42
#[pyfunction]
#[pyo3(signature = (name, func, /, **keywords))]
pub(crate) fn protect(
    py: Python<'_>,
    name: &Bound<'_, PyString>,
    func: &Bound<'_, PyAny>,
    keywords: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let (zone, key) = zone_for(py, name, func, keywords)?;
    let zone = zone.get();
    let outcome = driver::run(py, zone, func, &PyTuple::empty(py), None, key.as_ref());
    outcome.into_result(py, zone)
}

/// Calls ``func()`` now, protected, and reports the outcome as a
/// ``ProtectResult`` instead of raising the call's error.
///
/// >>> import baldur
/// >>> result = baldur.protect_with_meta("pricing", lambda: 1 / 0, fallback=lambda: 0)
/// >>> (result.ok, result.value, result.fallback_used, type(result.error).__name__)
/// (False, 0, True, 'ZeroDivisionError')
#[pyfunction]
#[pyo3(signature = (name, func, /, **keywords))]
pub(crate) fn protect_with_meta(
    py: Python<'_>,
    name: &Bound<'_, PyString>,
    func: &Bound<'_, PyAny>,
    keywords: Option<&Bound<'_, PyDict>>,
) -> PyResult<ProtectResult> {
    let (zone, key) = zone_for(py, name, func, keywords)?;
    let zone = zone.get();
    let started = Instant::now();
    let outcome = driver::run(py, zone, func, &PyTuple::empty(py), None, key.as_ref());
    ProtectResult::from_outcome(py, zone, outcome, started.elapsed().as_secs_f64())
}

/// The zone for a function-form call, and the idempotency key given with
/// it: cached per name when no keyword is given, else built (and
/// validated) by the Python facade.
fn zone_for<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyString>,
    func: &Bound<'py, PyAny>,
    keywords: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Bound<'py, PyZone>, Option<Bound<'py, PyAny>>)> {
    if !func.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "baldur.protect({}, ...) needs a callable, not {}",
            name.repr()?,
            func.repr()?
        )));
    }
    let plain = keywords.is_none_or(|k| k.is_empty());
    let cache = PLAIN_ZONES
        .get_or_init(py, || PyDict::new(py).unbind())
        .bind(py);
    if plain {
        if let Some(zone) = cache.get_item(name)? {
            return Ok((zone.cast_into()?, None));
        }
    }
    let builder = ZONE_BUILDER.import(py, "baldur._calls", "zone_for_call")?;
    let (zone, key): (Bound<'py, PyAny>, Bound<'py, PyAny>) =
        builder.call((name,), keywords)?.extract()?;
    let zone = zone.cast_into::<PyZone>()?;
    if plain {
        cache.set_item(name, &zone)?;
    }
    Ok((zone, (!key.is_none()).then_some(key)))
}

/// Forgets the cached zones (a test's reset: each holds its name's breaker).
pub(crate) fn forget_zones(py: Python<'_>) {
    if let Some(cache) = PLAIN_ZONES.get(py) {
        cache.bind(py).clear();
    }
}

/// Runs `func(*args, **kwargs)` under `zone` and reports the outcome as a
/// `ProtectResult`: the DLQ's replay, which must know whether the function
/// itself succeeded even when a fallback answered.
#[pyfunction]
#[pyo3(signature = (zone, func, args, kwargs=None))]
pub(crate) fn call_with_meta(
    py: Python<'_>,
    zone: &Bound<'_, PyZone>,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<ProtectResult> {
    let zone = zone.get();
    let started = Instant::now();
    let outcome = driver::run(py, zone, func, args, kwargs, None);
    ProtectResult::from_outcome(py, zone, outcome, started.elapsed().as_secs_f64())
}
