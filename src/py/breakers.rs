//! The process's breaker registry, and the manual controls over it.

use crate::core::breaker::{BreakerConfig, CircuitState};
use crate::core::process::breaker_reads;
use crate::core::process::breakers::REGISTRY;
use crate::core::process::stores;
use crate::core::window::Totals;
use crate::py::errors::IntoPyConfig;
use crate::py::gil::without_gil;
use crate::py::stores::ensure_started;
use pyo3::exceptions::PyConnectionError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

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

/// The state of one breaker, as a string: for a name this process has no
/// breaker for, the fleet's (Redis mode), else `"closed"`. Creates nothing.
#[pyfunction]
pub(crate) fn circuit_state(py: Python<'_>, name: &str) -> &'static str {
    without_gil(py, || breaker_reads::state_of(name)).as_str()
}

/// The fleet's record of a breaker this process may never have used, as a
/// dict shaped as [`snapshots`]' entries; `None` when the fleet keeps none
/// (or breaker state is not shared). Raises `ConnectionError` when Redis
/// does not answer in time. Creates nothing.
#[pyfunction]
pub(crate) fn fleet_snapshot<'py>(
    py: Python<'py>,
    name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(record) = without_gil(py, || breaker_reads::fleet_record(name))
        .map_err(|e| PyConnectionError::new_err(e.0))?
    else {
        return Ok(None);
    };
    let times = [record.opened_ago, record.retry_after];
    snapshot_dict(py, record.state, record.totals, times, record.version).map(Some)
}

/// A snapshot of every breaker: name to a dict of its state and counts.
#[pyfunction]
pub(crate) fn snapshots(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let all = PyDict::new(py);
    for breaker in REGISTRY.all() {
        let snap = breaker.snapshot();
        let times = [snap.opened_ago, snap.retry_after];
        let entry = snapshot_dict(py, snap.state, snap.totals, times, snap.generation)?;
        all.set_item(breaker.name().as_ref(), entry)?;
    }
    Ok(all)
}

/// One breaker's entry: state, window counts, `opened_ago` and
/// `retry_after` (seconds, or `None`), transitions.
fn snapshot_dict<'py>(
    py: Python<'py>,
    state: CircuitState,
    totals: Totals,
    [opened_ago, retry_after]: [Option<Duration>; 2],
    transitions: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let entry = PyDict::new(py);
    entry.set_item("state", state.as_str())?;
    entry.set_item("calls", totals.calls)?;
    entry.set_item("failures", totals.failures)?;
    entry.set_item("opened_ago", opened_ago.map(|d| d.as_secs_f64()))?;
    entry.set_item("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
    entry.set_item("transitions", transitions)?;
    Ok(entry)
}
