//! The kill switch and the shutdown drain, as `baldur._kill_switch` and
//! `baldur.shutdown` drive them.

use crate::core::control::remote::RemoteKillSwitch;
use crate::core::control::{drain, DrainProgress, DRAIN, KILL_SWITCH};
use crate::core::process::stores;
use crate::py::gil::without_gil;
use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::prelude::*;
use std::time::Duration;

/// Whether self-healing is on.
#[pyfunction]
pub(crate) fn kill_switch_enabled() -> bool {
    KILL_SWITCH.is_enabled()
}

/// Disables self-healing in this process.
#[pyfunction]
pub(crate) fn kill_switch_disable(reason: &str, actor: &str, at: f64) -> PyResult<()> {
    KILL_SWITCH
        .disable(reason, actor, at)
        .map_err(PyValueError::new_err)
}

/// Re-arms self-healing in this process.
#[pyfunction]
pub(crate) fn kill_switch_enable() {
    KILL_SWITCH.enable();
}

/// `(reason, actor, at)` while disabled, else `None`.
#[pyfunction]
pub(crate) fn kill_switch_record() -> Option<(String, String, f64)> {
    KILL_SWITCH
        .record()
        .map(|record| (record.reason, record.actor, record.at))
}

/// Whether a Redis store holds the record (breaker state is shared).
#[pyfunction]
pub(crate) fn kill_switch_remote_configured() -> bool {
    stores::breaker_store().is_some()
}

/// The record stored in Redis (`None`: enabled there). Raises
/// `ConnectionError` when Redis does not answer; `ValueError` when no
/// Redis is configured.
#[pyfunction]
pub(crate) fn kill_switch_remote_load(py: Python<'_>) -> PyResult<Option<String>> {
    let remote = remote()?;
    without_gil(py, || remote.load()).map_err(|e| PyConnectionError::new_err(e.0))
}

/// Stores the record in Redis (`None` deletes it).
#[pyfunction]
#[pyo3(signature = (record))]
pub(crate) fn kill_switch_remote_save(py: Python<'_>, record: Option<String>) -> PyResult<()> {
    let remote = remote()?;
    without_gil(py, || remote.save(record)).map_err(|e| PyConnectionError::new_err(e.0))
}

fn remote() -> PyResult<RemoteKillSwitch> {
    stores::breaker_store()
        .map(RemoteKillSwitch::new)
        .ok_or_else(|| PyValueError::new_err("no Redis store is configured"))
}

/// Starts the drain with `seconds` to finish; true for the first start.
#[pyfunction]
pub(crate) fn drain_start(seconds: f64) -> PyResult<bool> {
    let timeout = Duration::try_from_secs_f64(seconds)
        .map_err(|_| PyValueError::new_err("drain seconds must be >= 0"))?;
    Ok(DRAIN.start(timeout))
}

/// `(state, in_flight, seconds_remaining)`; state is one of
/// `"serving"`, `"draining"`, `"drained"`, `"deadline_passed"`.
#[pyfunction]
pub(crate) fn drain_progress() -> (&'static str, u64, f64) {
    match DRAIN.progress() {
        DrainProgress::NotDraining => (drain::SERVING, DRAIN.in_flight(), 0.0),
        DrainProgress::Waiting {
            in_flight,
            remaining,
        } => (drain::DRAINING, in_flight, remaining.as_secs_f64()),
        DrainProgress::Drained => (drain::DRAINED, 0, 0.0),
        DrainProgress::DeadlinePassed { in_flight } => (drain::DEADLINE_PASSED, in_flight, 0.0),
    }
}

/// Whether a drain started.
#[pyfunction]
pub(crate) fn is_draining() -> bool {
    DRAIN.is_draining()
}

/// Whole seconds left before the drain's deadline.
#[pyfunction]
pub(crate) fn drain_seconds_left() -> u64 {
    DRAIN.seconds_left()
}

/// Back to serving (tests, or a server that cancels its shutdown).
#[pyfunction]
pub(crate) fn drain_cancel() {
    DRAIN.cancel();
}
