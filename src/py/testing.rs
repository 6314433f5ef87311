//! `baldur.testing`'s compiled half: the reset, the waits switch, the
//! manual process clock, and the drills (a store that fails on purpose, a
//! predecessor's leftovers in the write-ahead log, a short replay lease).
//! None is public API except through `baldur.testing`. Each converts its
//! arguments and calls the core.

use crate::core::clock;
use crate::core::process::{dlq_queues, idempotency, stores, testing, wal};
use crate::core::retry::waits;
use crate::py::call;
use crate::py::gil::without_gil;
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
        wrap_pyfunction!(inject_idempotency_store_fault, m)?,
        wrap_pyfunction!(replay_wal_now, m)?,
        wrap_pyfunction!(wal_append_json, m)?,
        wrap_pyfunction!(dlq_set_replay_lease, m)?,
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

/// With a reason, the idempotency store behaves as if its backing service
/// were down (every claim fails: fail-closed calls raise
/// `IdempotencyUnavailableError`, fail-open ones run unclaimed); with
/// `None`, a fresh memory store is back.
#[pyfunction]
#[pyo3(signature = (reason))]
fn inject_idempotency_store_fault(reason: Option<String>) {
    match reason {
        Some(reason) => idempotency::use_unreachable_store(reason),
        None => idempotency::use_memory_store(),
    }
}

/// Replays the write-ahead log now, in the background (it also runs on
/// its own after every recovery and when the sync starts).
#[pyfunction]
fn replay_wal_now() {
    stores::schedule_replay();
}

/// Appends one write, given as the log's own JSON, to the write-ahead log:
/// what another process would have left there.
#[pyfunction]
fn wal_append_json(py: Python<'_>, payload: &str) -> PyResult<()> {
    without_gil(py, || wal::append_json(payload)).map_err(PyValueError::new_err)
}

/// Redis claims made from now on take over one held longer than `seconds`
/// (the default is 60 s, and the SQLite queue's lease is fixed).
#[pyfunction]
fn dlq_set_replay_lease(seconds: f64) -> PyResult<()> {
    let lease = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO);
    dlq_queues::set_replay_lease(lease).map_err(PyValueError::new_err)
}
