//! `baldur._core`'s view of the shared stores (`core::process::stores`):
//! configuration from `init()`, health for the checks, the exit flush.

use crate::core::process::stores::{self, StoreUrls};
use crate::core::process::wal;
use crate::core::store::health::StoreHealth;
use crate::py::gil::without_gil;
use crate::py::runtime::BaldurRuntime;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

/// Checks a Redis URL: `None` when usable, else what is wrong with it.
#[pyfunction]
pub(crate) fn redis_url_problem(url: &str) -> Option<String> {
    stores::redis_url_problem(url)
}

/// Puts idempotency claims and breaker state in Redis at the URLs given, or
/// back in process memory with `None`. No I/O here: connections are made,
/// and the sync task started, on first use.
#[pyfunction]
#[pyo3(signature = (idempotency_url, breaker_url, wal_path=None, tls_ca_pem=None, sync_interval=None))]
pub(crate) fn configure_stores(
    idempotency_url: Option<String>,
    breaker_url: Option<String>,
    wal_path: Option<std::path::PathBuf>,
    tls_ca_pem: Option<Vec<u8>>,
    sync_interval: Option<f64>,
) -> PyResult<()> {
    let sync_interval = sync_interval
        .map(|seconds| {
            Duration::try_from_secs_f64(seconds)
                .map_err(|_| PyValueError::new_err("sync_interval must be > 0 seconds"))
        })
        .transpose()?;
    stores::configure(StoreUrls {
        idempotency: idempotency_url,
        breakers: breaker_url,
        wal_path,
        tls_ca_pem,
        sync_interval,
    })
    .map_err(PyValueError::new_err)
}

/// Starts the breaker sync (or the log's replay) before a worker's first
/// call, with the GIL released while the first round runs. One atomic load
/// when there is nothing to do.
#[inline]
pub(crate) fn ensure_started(py: Python<'_>) {
    if stores::start_pending() {
        without_gil(py, stores::ensure_started);
    }
}

/// The first call of a coroutine: an awaitable that completes once the
/// first sync round did (the event loop keeps running meanwhile), or
/// `None` when it has already happened.
#[pyfunction]
pub(crate) fn first_sync(py: Python<'_>) -> PyResult<Option<Bound<'_, PyAny>>> {
    if !stores::start_pending() {
        return Ok(None);
    }
    pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async {
        stores::ensure_started_async().await;
        Ok(())
    })
    .map(Some)
}

/// Writes waiting in the log (for health checks and tests).
#[pyfunction]
pub(crate) fn wal_pending(py: Python<'_>) -> PyResult<u64> {
    without_gil(py, wal::pending).map_err(PyValueError::new_err)
}

/// The exit hook, before the runtime stops: what must still reach the
/// stores goes (a few seconds at most, the GIL released).
#[pyfunction]
pub(crate) fn flush_stores(py: Python<'_>) {
    without_gil(py, stores::flush);
}

/// Each shared store's health: `{name: {"degraded": bool, "degraded_entries": int}}`.
#[pyfunction]
pub(crate) fn store_health(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let report = PyDict::new(py);
    for health in stores::healths() {
        report.set_item(health.name(), health_dict(py, &health)?)?;
    }
    Ok(report)
}

/// One store's health as `store_health()` reports it.
pub(crate) fn health_dict<'py>(
    py: Python<'py>,
    health: &StoreHealth,
) -> PyResult<Bound<'py, PyDict>> {
    let entry = PyDict::new(py);
    entry.set_item("degraded", health.is_degraded())?;
    entry.set_item("degraded_entries", health.degraded_entries())?;
    entry.set_item("data_lost", health.data_losses())?;
    Ok(entry)
}
