//! `baldur._core.dlq_*`: the dead-letter queue as the Python facade sees it.
//! The local SQLite queue always exists; with a Redis URL the Redis
//! Streams queue is the queue, and the local one takes the records Redis
//! could not (DEGRADED), which `dlq_flush` carries over on recovery. Ids
//! route each operation: `local:N` (or a bare number) to the local queue,
//! `zone:ms-seq` to Redis.

use crate::core::dlq::listing::{merge_pages, Cursor, ListQuery, Page};
use crate::core::dlq::{DlqError, DlqStore, Entry, NewEntry};
use crate::core::metrics::registry::METRICS;
use crate::py::dlq_flush;
use crate::py::dlq_queues::{queues, Queues};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use std::collections::BTreeMap;

/// Local entries' ids carry this prefix when Redis is the queue.
const LOCAL_PREFIX: &str = "local:";

static FULL: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
static UNAVAILABLE: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();

fn raise(
    py: Python<'_>,
    lock: &PyOnceLock<Py<pyo3::types::PyType>>,
    name: &str,
    msg: String,
) -> PyErr {
    match lock.import(py, "baldur.exceptions", name) {
        Ok(ty) => match ty.call1((msg,)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

/// Every core error as its Python exception.
fn to_py(py: Python<'_>, error: DlqError) -> PyErr {
    let message = error.to_string();
    match error {
        DlqError::Full { .. } => raise(py, &FULL, "DeadLetterQueueFullError", message),
        DlqError::Unavailable(_) => {
            raise(py, &UNAVAILABLE, "DeadLetterQueueUnavailableError", message)
        }
        DlqError::Store(_) => PyOSError::new_err(message),
    }
}

/// Which queue an id names.
enum Route<'a> {
    Local(&'a str),
    Remote(&'a str),
    Nowhere,
}

fn route<'a>(queues: &Queues, id: &'a str) -> Route<'a> {
    let row = id.strip_prefix(LOCAL_PREFIX).unwrap_or(id);
    if !row.is_empty() && row.bytes().all(|b| b.is_ascii_digit()) {
        Route::Local(row)
    } else if queues.remote.is_some() {
        Route::Remote(id)
    } else {
        Route::Nowhere
    }
}

/// Runs `op` on the queue `id` names, without the GIL.
fn on_entry<T: Send>(
    py: Python<'_>,
    id: &str,
    missing: T,
    op: impl FnOnce(&dyn DlqStore, &str) -> Result<T, DlqError> + Send,
) -> PyResult<T> {
    let queues = queues()?;
    py.detach(|| match route(&queues, id) {
        Route::Local(row) => op(queues.local.as_ref(), row),
        Route::Remote(id) => op(queues.remote.as_deref().expect("routed"), id),
        Route::Nowhere => Ok(missing),
    })
    .map_err(|e| to_py(py, e))
}

/// A local entry's public id: prefixed while Redis is the queue.
fn local_id(queues: &Queues, mut entry: Entry) -> Entry {
    if queues.remote.is_some() {
        entry.id = format!("{LOCAL_PREFIX}{}", entry.id);
    }
    entry
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
    // The store's write (disk or network) runs without the GIL.
    // The record's token: if Redis wrote it but its answer was lost (a
    // timeout), the copy kept locally is recognised when flushed there.
    let token = format!("{:032x}", fastrand::u128(..));
    let recorded = py.detach(|| {
        let remote_error = match &queues.remote {
            None => None,
            Some(remote) => match remote.record_once(&new, replay_budget, &token) {
                Ok((id, eviction)) => return Ok((id, eviction, None)),
                Err(full @ DlqError::Full { .. }) => return Err(full),
                Err(error) => Some(error.to_string()),
            },
        };
        let token = remote_error.as_ref().map(|_| token.as_str());
        let (id, eviction) = queues.local.record_with_token(&new, replay_budget, token)?;
        match remote_error {
            None => Ok((id.to_string(), eviction, None)),
            Some(error) => {
                dlq_flush::schedule(&queues);
                Ok((format!("{LOCAL_PREFIX}{id}"), eviction, Some(error)))
            }
        }
    });
    let (id, eviction, fallback) = recorded.map_err(|e| to_py(py, e))?;
    Ok((id, eviction.evicted, eviction.compressed, fallback))
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

fn with_local_id(queues: &Queues, entry: Entry, local: bool) -> Entry {
    if local {
        local_id(queues, entry)
    } else {
        entry
    }
}

/// One entry as a dict, or `None`. An entry in an unreachable Redis raises
/// `DeadLetterQueueUnavailableError`.
#[pyfunction]
pub(crate) fn dlq_get<'py>(py: Python<'py>, id: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let queues = queues()?;
    let local = matches!(route(&queues, id), Route::Local(_));
    let found = on_entry(py, id, None, |store, id| store.get(id))?;
    found
        .map(|e| as_dict(py, &with_local_id(&queues, e, local)))
        .transpose()
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
    let listed = py.detach(|| -> Result<_, DlqError> {
        let mut partial = None;
        let remote = match &queues.remote {
            Some(remote) if !cursor.remote_done => {
                match remote.list(&query, cursor.remote_after.as_deref(), limit) {
                    Ok(page) => Some(page),
                    Err(error) => {
                        partial = Some(error.to_string());
                        None
                    }
                }
            }
            _ => None,
        };
        let local = if cursor.local_done {
            Page::default()
        } else {
            queues
                .local
                .list(&query, cursor.local_after.as_deref(), limit)?
        };
        let (entries, next) = merge_pages(&cursor, remote, local, limit as usize);
        Ok((entries, partial, next))
    });
    let (entries, partial, next) = listed.map_err(|e| to_py(py, e))?;
    let dicts = entries
        .into_iter()
        .map(|(e, remote)| as_dict(py, &with_local_id(&queues, e, !remote)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok((PyList::new(py, dicts)?, partial, next.map(|c| c.encode())))
}

/// Takes an entry for replay (one replayer at a time, fleet-wide in Redis).
#[pyfunction]
pub(crate) fn dlq_claim<'py>(py: Python<'py>, id: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let queues = queues()?;
    let local = matches!(route(&queues, id), Route::Local(_));
    let claimed = on_entry(py, id, None, |store, id| store.claim(id))?;
    claimed
        .map(|e| as_dict(py, &with_local_id(&queues, e, local)))
        .transpose()
}

/// The replay of `id` succeeded.
#[pyfunction]
pub(crate) fn dlq_succeeded(py: Python<'_>, id: &str) -> PyResult<()> {
    METRICS.global.dlq_replay(true);
    on_entry(py, id, (), |store, id| store.succeeded(id))
}

/// The replay of `id` failed; returns its new state. `review`: the replay
/// could not run at all (refused, or its function is gone), so the entry
/// goes straight to `needs_review`.
#[pyfunction]
#[pyo3(signature = (id, error, review=false))]
pub(crate) fn dlq_failed(py: Python<'_>, id: &str, error: &str, review: bool) -> PyResult<String> {
    METRICS.global.dlq_replay(false);
    let state = on_entry(py, id, "gone".to_owned(), |store, id| {
        if review {
            store.review(id, error)
        } else {
            store.failed(id, error)
        }
    })?;
    let queues = queues()?;
    if matches!(route(&queues, id), Route::Local(_)) {
        // A local entry a replay held is free again: on to Redis with it
        // (when Redis is the queue).
        dlq_flush::schedule(&queues);
    }
    Ok(state)
}

/// A fresh replay budget for a needs-review entry.
#[pyfunction]
pub(crate) fn dlq_redrive(py: Python<'_>, id: &str, budget: u32) -> PyResult<bool> {
    on_entry(py, id, false, |store, id| store.redrive(id, budget))
}

/// Deletes the matching entries, in Redis and locally. Refused whole while
/// Redis is unreachable (a purge must not half happen).
#[pyfunction]
#[pyo3(signature = (zone=None, state=None))]
pub(crate) fn dlq_purge(py: Python<'_>, zone: Option<&str>, state: Option<&str>) -> PyResult<u64> {
    let queues = queues()?;
    py.detach(|| -> Result<u64, DlqError> {
        let remote = match &queues.remote {
            Some(remote) => remote.purge(zone, state)?,
            None => 0,
        };
        Ok(remote + queues.local.purge(zone, state)?)
    })
    .map_err(|e| to_py(py, e))
}

fn merge(into: &mut BTreeMap<String, u64>, pairs: Vec<(String, u64)>) {
    for (key, count) in pairs {
        *into.entry(key).or_default() += count;
    }
}

/// Counts, by state and zone, plus every eviction the stores made (by any
/// process: the fleet's, with Redis); `store` (`sqlite` or
/// `redis`), `local` (entries in the local queue), `unavailable` (why
/// Redis's counts are missing, or `None`) and `degraded` (the queue's Redis
/// connection is DEGRADED).
#[pyfunction]
pub(crate) fn dlq_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let queues = queues()?;
    let counted = py.detach(|| -> Result<_, DlqError> {
        let remote = queues.remote.as_ref().map(|remote| remote.stats());
        Ok((remote, queues.local.stats()?))
    });
    let (remote, local) = counted.map_err(|e| to_py(py, e))?;
    let (mut by_state, mut by_zone) = (BTreeMap::new(), BTreeMap::new());
    let mut compressed = local.compressed.clone();
    let mut total = local.total;
    let mut evictions = local.evictions;
    let mut unavailable = None;
    match remote {
        Some(Ok(stats)) => {
            total += stats.total;
            evictions.evicted += stats.evictions.evicted;
            evictions.compressed += stats.evictions.compressed;
            merge(&mut by_state, stats.by_state);
            merge(&mut by_zone, stats.by_zone);
            compressed.extend(stats.compressed);
        }
        Some(Err(error)) => unavailable = Some(error.to_string()),
        None => {}
    }
    merge(&mut by_state, local.by_state);
    merge(&mut by_zone, local.by_zone);
    let dict = PyDict::new(py);
    dict.set_item("total", total)?;
    dict.set_item("by_state", by_state)?;
    dict.set_item("by_zone", by_zone)?;
    let summaries = PyList::empty(py);
    for (zone, error_type, count) in compressed {
        summaries.append((zone, error_type, count))?;
    }
    dict.set_item("compressed_summaries", summaries)?;
    dict.set_item("evicted", evictions.evicted)?;
    dict.set_item("compressed", evictions.compressed)?;
    let store = if queues.remote.is_some() {
        "redis"
    } else {
        "sqlite"
    };
    dict.set_item("store", store)?;
    dict.set_item("local", local.total)?;
    dict.set_item("unavailable", unavailable)?;
    let degraded = queues
        .remote
        .as_ref()
        .is_some_and(|r| r.redis().health().is_degraded());
    dict.set_item("degraded", degraded)?;
    Ok(dict)
}
