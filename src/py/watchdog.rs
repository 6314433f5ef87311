//! `baldur._core`'s view of the watchdog (`core::process::watchdog`): its
//! setting, the loops it watches, and a loop of a test's own.

use crate::core::process::watchdog;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

/// Silent intervals allowed before a loop counts as stalled.
#[pyfunction]
pub(crate) fn set_watchdog_missed_beats(missed_beats: u32) {
    watchdog::set_missed_beats(missed_beats);
}

/// Every watched loop: `name`, `interval`, `silent_for` (seconds),
/// `stalled`, `beats`.
#[pyfunction]
pub(crate) fn watchdog_status(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    watchdog::status()
        .into_iter()
        .map(|status| {
            let loop_ = PyDict::new(py);
            loop_.set_item("name", status.name)?;
            loop_.set_item("interval", status.interval.as_secs_f64())?;
            loop_.set_item("silent_for", status.silent_for.as_secs_f64())?;
            loop_.set_item("stalled", status.stalled)?;
            loop_.set_item("beats", status.beats)?;
            Ok(loop_)
        })
        .collect()
}

/// Watches a loop of the caller's (`baldur.testing` drills one).
#[pyfunction]
pub(crate) fn watchdog_watch(name: &str, interval: f64) -> PyResult<()> {
    let interval = Duration::try_from_secs_f64(interval)
        .ok()
        .filter(|interval| !interval.is_zero())
        .ok_or_else(|| PyValueError::new_err("interval must be > 0 seconds"))?;
    watchdog::watch(name, interval);
    Ok(())
}

/// A beat of a loop the caller watches.
#[pyfunction]
pub(crate) fn watchdog_beat(name: &str) {
    watchdog::beat(name);
}

/// Stops watching a loop of the caller's.
#[pyfunction]
pub(crate) fn watchdog_forget(name: &str) {
    watchdog::forget(name);
}
