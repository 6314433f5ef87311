//! `baldur._core.dlq_*`: the dead-letter queue as the Python facade sees it.
//! The queue is opened on first use (no I/O at `init()`).

use crate::core::dlq::{Caps, DlqError, Entry, NewEntry, Overflow, SqliteDlq};
use crate::core::metrics::registry::METRICS;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Configured {
    path: PathBuf,
    caps: Caps,
    opened: Option<Arc<SqliteDlq>>,
}

static QUEUE: Mutex<Option<Configured>> = Mutex::new(None);
static EVICTED: AtomicU64 = AtomicU64::new(0);
static COMPRESSED: AtomicU64 = AtomicU64::new(0);
static FULL: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();

/// Where the queue lives and its caps (from `init()`).
#[pyfunction]
pub(crate) fn configure_dlq(
    path: PathBuf,
    max_size: u64,
    max_per_zone: u64,
    overflow: &str,
) -> PyResult<()> {
    let overflow = Overflow::parse(overflow)
        .ok_or_else(|| PyValueError::new_err(format!("unknown overflow strategy {overflow:?}")))?;
    let caps = Caps {
        max_size,
        max_per_zone,
        overflow,
    };
    let mut queue = QUEUE.lock();
    match queue.as_mut() {
        Some(configured) if configured.path == path => {
            configured.caps = caps;
            if let Some(opened) = &configured.opened {
                opened.set_caps(caps);
            }
        }
        _ => {
            *queue = Some(Configured {
                path,
                caps,
                opened: None,
            })
        }
    }
    Ok(())
}

fn queue() -> PyResult<Arc<SqliteDlq>> {
    let mut guard = QUEUE.lock();
    let configured = guard
        .as_mut()
        .ok_or_else(|| PyValueError::new_err("the dead-letter queue is not configured"))?;
    if configured.opened.is_none() {
        let opened = SqliteDlq::open(&configured.path, configured.caps).map_err(to_py_plain)?;
        configured.opened = Some(Arc::new(opened));
    }
    Ok(configured.opened.clone().expect("opened above"))
}

fn to_py_plain(error: DlqError) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(error.to_string())
}

fn to_py(py: Python<'_>, error: DlqError) -> PyErr {
    match error {
        DlqError::Full { .. } => {
            match FULL.import(py, "baldur.exceptions", "DeadLetterQueueFullError") {
                Ok(ty) => match ty.call1((error.to_string(),)) {
                    Ok(instance) => PyErr::from_value(instance),
                    Err(err) => err,
                },
                Err(err) => err,
            }
        }
        DlqError::Store(_) => to_py_plain(error),
    }
}

/// Records a call durably; returns its id and what was evicted to make room.
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
) -> PyResult<(i64, u64, u64)> {
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
    let queue = queue()?;
    // SQLite's synchronous write: the GIL is not held across the disk.
    let (id, eviction) = py
        .detach(|| queue.record(&new, replay_budget))
        .map_err(|e| to_py(py, e))?;
    EVICTED.fetch_add(eviction.evicted, Ordering::Relaxed);
    COMPRESSED.fetch_add(eviction.compressed, Ordering::Relaxed);
    Ok((id, eviction.evicted, eviction.compressed))
}

fn as_dict<'py>(py: Python<'py>, entry: &Entry) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("id", entry.id.to_string())?;
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

/// One entry as a dict, or `None`.
#[pyfunction]
pub(crate) fn dlq_get(py: Python<'_>, id: i64) -> PyResult<Option<Bound<'_, PyDict>>> {
    let found = queue()?.get(id).map_err(to_py_plain)?;
    found.map(|e| as_dict(py, &e)).transpose()
}

/// Entries, oldest first.
#[pyfunction]
#[pyo3(signature = (zone=None, state=None, error_type=None, limit=100))]
pub(crate) fn dlq_list<'py>(
    py: Python<'py>,
    zone: Option<&str>,
    state: Option<&str>,
    error_type: Option<&str>,
    limit: u64,
) -> PyResult<Bound<'py, PyList>> {
    let entries = queue()?
        .list(zone, state, error_type, limit)
        .map_err(to_py_plain)?;
    let dicts = entries
        .iter()
        .map(|e| as_dict(py, e))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}

/// Takes an entry for replay (one replayer at a time).
#[pyfunction]
pub(crate) fn dlq_claim(py: Python<'_>, id: i64) -> PyResult<Option<Bound<'_, PyDict>>> {
    let claimed = queue()?.claim(id).map_err(to_py_plain)?;
    claimed.map(|e| as_dict(py, &e)).transpose()
}

/// The replay of `id` succeeded.
#[pyfunction]
pub(crate) fn dlq_succeeded(id: i64) -> PyResult<()> {
    METRICS.global.dlq_replay(true);
    queue()?.succeeded(id).map_err(to_py_plain)
}

/// The replay of `id` failed; returns its new state.
#[pyfunction]
pub(crate) fn dlq_failed(id: i64, error: &str) -> PyResult<String> {
    METRICS.global.dlq_replay(false);
    queue()?.failed(id, error).map_err(to_py_plain)
}

/// A fresh replay budget for a needs-review entry.
#[pyfunction]
pub(crate) fn dlq_redrive(id: i64, budget: u32) -> PyResult<bool> {
    queue()?.redrive(id, budget).map_err(to_py_plain)
}

/// Deletes the matching entries.
#[pyfunction]
#[pyo3(signature = (zone=None, state=None))]
pub(crate) fn dlq_purge(zone: Option<&str>, state: Option<&str>) -> PyResult<u64> {
    queue()?.purge(zone, state).map_err(to_py_plain)
}

/// Counts, by state and zone, plus evictions so far.
#[pyfunction]
pub(crate) fn dlq_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let stats = queue()?.stats().map_err(to_py_plain)?;
    let dict = PyDict::new(py);
    dict.set_item("total", stats.total)?;
    dict.set_item(
        "by_state",
        stats
            .by_state
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )?;
    dict.set_item(
        "by_zone",
        stats
            .by_zone
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )?;
    let compressed = PyList::empty(py);
    for (zone, error_type, count) in stats.compressed {
        compressed.append((zone, error_type, count))?;
    }
    dict.set_item("compressed_summaries", compressed)?;
    dict.set_item("evicted", EVICTED.load(Ordering::Relaxed))?;
    dict.set_item("compressed", COMPRESSED.load(Ordering::Relaxed))?;
    Ok(dict)
}
