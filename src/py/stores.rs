//! Which stores this process uses: the memory store by default, Redis when
//! `init()` names a URL. Health changes are logged through `baldur._events`.

use crate::core::clock::SystemClock;
use crate::core::idempotency::{MemoryStore, RedisIdempotencyStore};
use crate::core::store::health::{HealthEvent, StoreHealth, DEFAULT_PROBE_INTERVAL};
use crate::core::store::redis::DEFAULT_OPERATION_TIMEOUT;
use crate::core::store::{RedisStore, RedisTarget};
use crate::py::idempotency::GATE;
use crate::py::runtime::RUNTIME;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use std::sync::Arc;

static EVENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// What `configure_stores` was last given, so a forked child can rebuild
/// its own connections, and the health records to report.
static CONFIGURED: Mutex<Option<Configured>> = Mutex::new(None);

struct Configured {
    idempotency_url: String,
    health: Arc<StoreHealth>,
}

/// Checks a Redis URL: `None` when usable, else what is wrong with it.
#[pyfunction]
pub(crate) fn redis_url_problem(url: &str) -> Option<String> {
    RedisTarget::parse(url).err()
}

/// Puts idempotency claims in Redis at `idempotency_url`, or back in
/// process memory with `None`. Connects lazily: no I/O here.
#[pyfunction]
#[pyo3(signature = (idempotency_url))]
pub(crate) fn configure_stores(idempotency_url: Option<String>) -> PyResult<()> {
    let mut configured = CONFIGURED.lock();
    if configured
        .as_ref()
        .map(|c| Some(c.idempotency_url.as_str()))
        == Some(idempotency_url.as_deref())
    {
        return Ok(()); // init() again with the same URL: keep the connection
    }
    match idempotency_url {
        None => {
            GATE.set_store(Arc::new(MemoryStore::new(SystemClock::shared())));
            *configured = None;
        }
        Some(url) => {
            let health = connect_idempotency(&url)?;
            *configured = Some(Configured {
                idempotency_url: url,
                health,
            });
        }
    }
    Ok(())
}

fn connect_idempotency(url: &str) -> PyResult<Arc<StoreHealth>> {
    let target = RedisTarget::parse(url).map_err(PyValueError::new_err)?;
    let health = Arc::new(StoreHealth::new(
        "redis:idempotency",
        SystemClock::shared(),
        DEFAULT_PROBE_INTERVAL,
    ));
    health.set_listener(Some(Arc::new(log_health_event)));
    let redis = RedisStore::new(&target, &RUNTIME, health.clone(), DEFAULT_OPERATION_TIMEOUT)
        .map_err(PyValueError::new_err)?;
    GATE.set_store(Arc::new(RedisIdempotencyStore::new(Arc::new(redis))));
    Ok(health)
}

/// In a forked child: the parent's connections belong to a runtime the
/// child does not have, so the stores are rebuilt (connecting lazily).
pub(crate) fn after_fork() {
    let url = CONFIGURED
        .lock()
        .as_ref()
        .map(|c| c.idempotency_url.clone());
    if let Some(url) = url {
        if let Ok(health) = connect_idempotency(&url) {
            *CONFIGURED.lock() = Some(Configured {
                idempotency_url: url,
                health,
            });
        }
    }
}

/// Each shared store's health: `{name: {"degraded": bool, "degraded_entries": int}}`.
#[pyfunction]
pub(crate) fn store_health(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let report = PyDict::new(py);
    if let Some(configured) = CONFIGURED.lock().as_ref() {
        let entry = PyDict::new(py);
        entry.set_item("degraded", configured.health.is_degraded())?;
        entry.set_item("degraded_entries", configured.health.degraded_entries())?;
        report.set_item(configured.health.name(), entry)?;
    }
    Ok(report)
}

fn log_health_event(event: &HealthEvent) {
    Python::attach(|py| {
        let args = match event {
            HealthEvent::DegradedEntered { store, error } => {
                ("storage.degraded_entered", store.clone(), error.clone())
            }
            HealthEvent::DegradedExited { store, after } => (
                "storage.degraded_exited",
                store.clone(),
                format!("after {:.3}s", after.as_secs_f64()),
            ),
        };
        let logged = EVENT
            .import(py, "baldur._events", "storage_event")
            .and_then(|log| log.call1(args));
        if let Err(err) = logged {
            err.write_unraisable(py, None);
        }
    });
}
