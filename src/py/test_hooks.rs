//! Hooks for tests and failure drills, reached through `baldur.testing`
//! (never part of the public API): a store that fails on purpose, a
//! predecessor's leftovers in the write-ahead log, a short replay lease.

use crate::core::process::{dlq_queues, idempotency, stores, wal};
use crate::py::gil::without_gil;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::time::Duration;

/// With a reason, the idempotency store behaves as if its backing service
/// were down (every claim fails: fail-closed calls raise
/// `IdempotencyUnavailableError`, fail-open ones run unclaimed); with
/// `None`, a fresh memory store is back.
#[pyfunction]
#[pyo3(signature = (reason))]
pub(crate) fn inject_idempotency_store_fault(reason: Option<String>) {
    match reason {
        Some(reason) => idempotency::use_unreachable_store(reason),
        None => idempotency::use_memory_store(),
    }
}

/// Replays the write-ahead log now, in the background (it also runs on
/// its own after every recovery and when the sync starts).
#[pyfunction]
pub(crate) fn replay_wal_now() {
    stores::schedule_replay();
}

/// Appends one write, given as the log's own JSON, to the write-ahead log:
/// what another process would have left there.
#[pyfunction]
pub(crate) fn wal_append_json(py: Python<'_>, payload: &str) -> PyResult<()> {
    without_gil(py, || wal::append_json(payload)).map_err(PyValueError::new_err)
}

/// Redis claims made from now on take over one held longer than `seconds`
/// (the default is 60 s, and the SQLite queue's lease is fixed).
#[pyfunction]
pub(crate) fn dlq_set_replay_lease(seconds: f64) -> PyResult<()> {
    let lease = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO);
    dlq_queues::set_replay_lease(lease).map_err(PyValueError::new_err)
}
