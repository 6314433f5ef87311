//! The process's breaker registry, and the manual controls over it.

use crate::core::breaker::{BreakerConfig, CircuitBreaker};
use crate::core::process::breakers::REGISTRY;
use crate::core::process::stores;
use crate::py::errors::IntoPyConfig;
use crate::py::gil::without_gil;
use crate::py::stores::ensure_started;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

/// Looks a breaker up by name; unknown names are a `KeyError` naming the known ones,
/// so a typo in an operator's command is loud.
fn existing(name: &str) -> PyResult<Arc<CircuitBreaker>> {
    REGISTRY.get(name).ok_or_else(|| {
        let known: Vec<String> = REGISTRY
            .all()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        PyKeyError::new_err(format!(
            "no circuit breaker named {name:?}; known: {known:?}"
        ))
    })
}

/// Sets the thresholds every breaker uses (from `BALDUR_CB_*` and `init()`).
#[pyfunction]
pub(crate) fn configure_breakers(
    py: Python<'_>,
    failure_threshold: u32,
    minimum_calls: u32,
    recovery_timeout: f64,
    half_open_max_calls: u32,
    window_seconds: f64,
    failure_rate_threshold: f64,
) -> PyResult<()> {
    let config = BreakerConfig::new(
        failure_threshold,
        minimum_calls,
        recovery_timeout,
        half_open_max_calls,
        window_seconds,
    )
    .and_then(|config| config.with_failure_rate_threshold(failure_rate_threshold))
    .or_config_error(py)?;
    REGISTRY.set_defaults(config);
    Ok(())
}

/// Creates (or finds) the breaker for a zone name.
#[pyfunction]
pub(crate) fn register_breaker(name: &str) {
    REGISTRY.get_or_create(name);
}

// The three operator actions create the breaker when no call has used its
// name yet: an operator takes a dependency out before traffic arrives, and a
// separate process (a CLI, a shell) forces the fleet's breaker in Redis mode:
// its sync starts first (as a call's would), so the action carries over the
// fleet's state and the exit hook delivers it. Each is delivered to the
// fleet before it returns (one sync round), so what an operator reads next
// is what every worker follows.

/// Forces a breaker open.
#[pyfunction]
pub(crate) fn force_open(py: Python<'_>, name: &str) -> PyResult<()> {
    ensure_started(py);
    REGISTRY.get_or_create(name).force_open();
    without_gil(py, stores::sync_now);
    Ok(())
}

/// Forces a breaker closed.
#[pyfunction]
pub(crate) fn force_close(py: Python<'_>, name: &str) -> PyResult<()> {
    ensure_started(py);
    REGISTRY.get_or_create(name).force_close();
    without_gil(py, stores::sync_now);
    Ok(())
}

/// Returns a breaker to automatic control, window cleared.
#[pyfunction]
pub(crate) fn reset(py: Python<'_>, name: &str) -> PyResult<()> {
    ensure_started(py);
    REGISTRY.get_or_create(name).reset();
    without_gil(py, stores::sync_now);
    Ok(())
}

/// The state of one breaker, as a string.
#[pyfunction]
pub(crate) fn circuit_state(name: &str) -> PyResult<&'static str> {
    Ok(existing(name)?.observed_state().as_str())
}

/// A snapshot of every breaker: name to a dict of its state and counts.
#[pyfunction]
pub(crate) fn snapshots(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let all = PyDict::new(py);
    for breaker in REGISTRY.all() {
        let snap = breaker.snapshot();
        let entry = PyDict::new(py);
        entry.set_item("state", snap.state.as_str())?;
        entry.set_item("calls", snap.totals.calls)?;
        entry.set_item("failures", snap.totals.failures)?;
        entry.set_item("opened_ago", snap.opened_ago.map(|d| d.as_secs_f64()))?;
        entry.set_item("retry_after", snap.retry_after.map(|d| d.as_secs_f64()))?;
        entry.set_item("transitions", snap.generation)?;
        all.set_item(breaker.name().as_ref(), entry)?;
    }
    Ok(all)
}
