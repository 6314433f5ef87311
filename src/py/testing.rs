//! `baldur.testing`'s compiled half: the reset, the waits switch and the
//! manual process clock. Each converts its arguments and calls the core.

use crate::core::clock;
use crate::core::process::testing;
use crate::core::retry::waits;
use crate::py::call;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::time::Duration;

/// Adds the testing functions to `_core`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for function in [
        wrap_pyfunction!(testing_reset, m)?,
        wrap_pyfunction!(testing_set_waits, m)?,
        wrap_pyfunction!(testing_skipped_waits, m)?,
        wrap_pyfunction!(testing_use_manual_clock, m)?,
        wrap_pyfunction!(testing_use_system_clock, m)?,
        wrap_pyfunction!(testing_advance, m)?,
    ] {
        m.add_function(function)?;
    }
    Ok(())
}

/// The process's services back to a fresh process's (see
/// `core::process::testing::reset`), the function forms' cached zones
/// first: each holds a breaker the core would otherwise keep.
#[pyfunction]
fn testing_reset(py: Python<'_>) {
    call::forget_zones(py);
    testing::reset();
}

/// Backoff waits slept (`True`, the default) or skipped and recorded.
#[pyfunction]
fn testing_set_waits(on: bool) {
    waits::set_waits(on);
}

/// The skipped waits in seconds, oldest first.
#[pyfunction]
fn testing_skipped_waits() -> Vec<f64> {
    waits::skipped().iter().map(Duration::as_secs_f64).collect()
}

/// Stops the process clock where it reads now.
#[pyfunction]
fn testing_use_manual_clock() {
    clock::use_manual_process_clock();
}

/// The process clock runs again, from the manual reading on.
#[pyfunction]
fn testing_use_system_clock() {
    clock::use_system_process_clock();
}

/// Moves the manual process clock forward by `seconds`.
#[pyfunction]
fn testing_advance(seconds: f64) -> PyResult<()> {
    let by = Duration::try_from_secs_f64(seconds)
        .map_err(|_| PyValueError::new_err(format!("cannot advance by {seconds} seconds")))?;
    clock::advance_process_clock(by);
    Ok(())
}
