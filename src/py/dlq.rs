//! `baldur._core.dlq_*`: the dead-letter queue as the Python facade sees
//! it (`core::process::dead_letters` routes and records; this converts),
//! and its configuration from `init()`.

use crate::core::dlq::listing::{Cursor, ListQuery};
use crate::core::dlq::{Entry, NewEntry, Overflow};
use crate::core::process::dead_letters;
use crate::core::process::dlq_flush;
use crate::core::process::dlq_queues::{self, Queues};
use crate::py::errors;
use crate::py::gil::without_gil;
use crate::py::stores::health_dict;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// Where the queue lives and its caps (from `init()`); with `redis_url`,
/// Redis Streams hold it.
#[pyfunction]
#[pyo3(signature = (path, max_size, max_per_zone, overflow, redis_url=None, tls_ca_pem=None))]
pub(crate) fn configure_dlq(
    path: PathBuf,
    max_size: u64,
    max_per_zone: u64,
    overflow: &str,
    redis_url: Option<String>,
    tls_ca_pem: Option<Vec<u8>>,
) -> PyResult<()> {
    let overflow = Overflow::parse(overflow)
        .ok_or_else(|| PyValueError::new_err(format!("unknown overflow strategy {overflow:?}")))?;
    dlq_queues::configure(
        path,
        max_size,
        max_per_zone,
        overflow,
        redis_url,
        tls_ca_pem,
    )
    .map_err(PyValueError::new_err)
}

/// The Redis queue's health, as `store_health()` reports each store, once
/// the queue exists (nothing is connected for it); `None` before.
#[pyfunction]
pub(crate) fn dlq_store_health(py: Python<'_>) -> PyResult<Option<Bound<'_, PyDict>>> {
    dlq_queues::remote_health()
        .map(|health| health_dict(py, &health))
        .transpose()
}

/// Entries carried to Redis by this process so far.
#[pyfunction]
pub(crate) fn dlq_flushed() -> u64 {
    dlq_flush::flushed()
}

/// The queues, opened on first use (with the GIL held, so a fork never
/// finds their lock taken by a thread that will not exist in the child).
fn queues() -> PyResult<Queues> {
    dead_letters::queues().map_err(errors::dlq_queues)
}

/// Records a call durably; returns its id, what was evicted to make room,
/// and, when Redis could not take it and the local queue did, why.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dlq_record(
    py: Python<'_>,
    zone: String,
    function: String,
    arguments: String,
    replayable: bool,
    error_type: String,
    error_message: String,
    attempts: u32,
    reason: String,
    replay_budget: u32,
) -> PyResult<(String, u64, u64, Option<String>)> {
    let new = NewEntry {
        zone,
        function,
        arguments,
        replayable,
        error_type,
        error_message,
        attempts,
        reason,
    };
    let queues = queues()?;
    let recorded =
        without_gil(py, || queues.record(&new, replay_budget)).map_err(|e| errors::dlq(py, e))?;
    Ok((
        recorded.id,
        recorded.eviction.evicted,
        recorded.eviction.compressed,
        recorded.redis_error,
    ))
}

fn as_dict<'py>(py: Python<'py>, entry: &Entry) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("id", &entry.id)?;
    dict.set_item("zone", &entry.recorded.zone)?;
    dict.set_item("function", &entry.recorded.function)?;
    dict.set_item("arguments", &entry.recorded.arguments)?;
    dict.set_item("replayable", entry.recorded.replayable)?;
    dict.set_item("error_type", &entry.recorded.error_type)?;
    dict.set_item("error_message", &entry.recorded.error_message)?;
    dict.set_item("attempts", entry.recorded.attempts)?;
    dict.set_item("reason", &entry.recorded.reason)?;
    dict.set_item("state", &entry.state)?;
    dict.set_item("replays_left", entry.replays_left)?;
    dict.set_item("last_replay_error", &entry.last_replay_error)?;
    dict.set_item("created_at", entry.created_ms as f64 / 1000.0)?;
    dict.set_item("updated_at", entry.updated_ms as f64 / 1000.0)?;
    Ok(dict)
}

/// One entry as a dict, or `None`. An entry in an unreachable Redis raises
/// `DeadLetterQueueUnavailableError`.
#[pyfunction]
pub(crate) fn dlq_get<'py>(py: Python<'py>, id: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let queues = queues()?;
    let found = without_gil(py, || queues.get(id)).map_err(|e| errors::dlq(py, e))?;
    found.map(|entry| as_dict(py, &entry)).transpose()
}

/// One page of entries, oldest first, after `cursor` (from the oldest when
/// `None`); why the answer is partial (`None`: complete); and the cursor of
/// the next page (`None`: no more). With Redis unreachable, the local
/// queue's entries are all there is.
#[pyfunction]
#[pyo3(signature = (zone=None, state=None, error_type=None, limit=100, cursor=None))]
#[allow(clippy::type_complexity)]
pub(crate) fn dlq_list<'py>(
    py: Python<'py>,
    zone: Option<&str>,
    state: Option<&str>,
    error_type: Option<&str>,
    limit: u64,
    cursor: Option<&str>,
) -> PyResult<(Bound<'py, PyList>, Option<String>, Option<String>)> {
    let queues = queues()?;
    let cursor = match cursor {
        Some(text) => Cursor::decode(text).map_err(PyValueError::new_err)?,
        None => Cursor::default(),
    };
    let query = ListQuery {
        zone,
        state,
        error_type,
    };
    let listed =
        without_gil(py, || queues.list(&query, &cursor, limit)).map_err(|e| errors::dlq(py, e))?;
    let dicts = listed
        .entries
        .iter()
        .map(|entry| as_dict(py, entry))
        .collect::<PyResult<Vec<_>>>()?;
    Ok((
        PyList::new(py, dicts)?,
        listed.partial,
        listed.next.map(|c| c.encode()),
    ))
}

/// Takes an entry for replay (one replayer at a time, fleet-wide in Redis).
#[pyfunction]
pub(crate) fn dlq_claim<'py>(py: Python<'py>, id: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let queues = queues()?;
    let claimed = without_gil(py, || queues.claim(id)).map_err(|e| errors::dlq(py, e))?;
    claimed.map(|entry| as_dict(py, &entry)).transpose()
}

/// The replay of `id` succeeded.
#[pyfunction]
pub(crate) fn dlq_succeeded(py: Python<'_>, id: &str) -> PyResult<()> {
    let queues = queues()?;
    without_gil(py, || queues.succeeded(id)).map_err(|e| errors::dlq(py, e))
}

/// The replay of `id` failed; returns its new state. `review`: the replay
/// could not run at all (refused, or its function is gone), so the entry
/// goes straight to `needs_review`.
#[pyfunction]
#[pyo3(signature = (id, error, review=false))]
pub(crate) fn dlq_failed(py: Python<'_>, id: &str, error: &str, review: bool) -> PyResult<String> {
    let queues = queues()?;
    without_gil(py, || queues.failed(id, error, review)).map_err(|e| errors::dlq(py, e))
}

/// A fresh replay budget for a needs-review entry.
#[pyfunction]
pub(crate) fn dlq_redrive(py: Python<'_>, id: &str, budget: u32) -> PyResult<bool> {
    let queues = queues()?;
    without_gil(py, || queues.redrive(id, budget)).map_err(|e| errors::dlq(py, e))
}

/// Deletes the matching entries, in Redis and locally. Refused whole while
/// Redis is unreachable (a purge must not half happen).
#[pyfunction]
#[pyo3(signature = (zone=None, state=None))]
pub(crate) fn dlq_purge(py: Python<'_>, zone: Option<&str>, state: Option<&str>) -> PyResult<u64> {
    let queues = queues()?;
    without_gil(py, || queues.purge(zone, state)).map_err(|e| errors::dlq(py, e))
}

/// Counts, by state and zone, plus every eviction the stores made (by any
/// process: the fleet's, with Redis); `store` (`sqlite` or
/// `redis`), `local` (entries in the local queue), `unavailable` (why
/// Redis's counts are missing, or `None`) and `degraded` (the queue's Redis
/// connection is DEGRADED).
#[pyfunction]
pub(crate) fn dlq_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let queues = queues()?;
    let stats = without_gil(py, || queues.stats()).map_err(|e| errors::dlq(py, e))?;
    let dict = PyDict::new(py);
    dict.set_item("total", stats.total)?;
    dict.set_item("by_state", stats.by_state)?;
    dict.set_item("by_zone", stats.by_zone)?;
    let summaries = PyList::empty(py);
    for (zone, error_type, count) in stats.compressed_summaries {
        summaries.append((zone, error_type, count))?;
    }
    dict.set_item("compressed_summaries", summaries)?;
    dict.set_item("evicted", stats.evictions.evicted)?;
    dict.set_item("compressed", stats.evictions.compressed)?;
    dict.set_item("store", stats.store)?;
    dict.set_item("local", stats.local)?;
    dict.set_item("unavailable", stats.unavailable)?;
    dict.set_item("degraded", stats.degraded)?;
    Ok(dict)
}
