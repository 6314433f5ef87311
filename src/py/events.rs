//! The one place the core calls back into Python to report: its events
//! (storage, idempotency, retry budget, DLQ flush) and the breakers' transitions, logged
//! by `baldur._events` and `baldur._dlq` under the `baldur` logger.

use crate::core::breaker::{BreakerObserver, Transition};
use crate::core::events::{Event, EventSink, EVENTS};
use crate::core::metrics::registry::METRICS;
use crate::core::process::breakers::REGISTRY;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::sync::Arc;

static STORAGE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static IDEMPOTENCY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DLQ_FLUSH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RETRY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ADMIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LEADER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static SCHEDULER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static WATCHDOG: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Hands the core's events to the Python loggers.
struct PythonLogger;

impl EventSink for PythonLogger {
    fn emit(&self, event: Event) {
        // Never at interpreter shutdown: what is reported then (a flush, a
        // late completion) is safe in its store or log anyway.
        Python::try_attach(|py| {
            let logged = match event {
                Event::Storage {
                    name,
                    store,
                    detail,
                } => STORAGE
                    .import(py, "baldur._events", "storage_event")
                    .and_then(|log| log.call1((name, store, detail))),
                Event::Idempotency { name, key, detail } => IDEMPOTENCY
                    .import(py, "baldur._events", "idempotency_event")
                    .and_then(|log| log.call1((name, key, detail))),
                Event::Retry { name, zone, detail } => RETRY
                    .import(py, "baldur._events", "retry_event")
                    .and_then(|log| log.call1((name, zone, detail))),
                Event::Admin { name, detail } => ADMIN
                    .import(py, "baldur._events", "admin_event")
                    .and_then(|log| log.call1((name, detail))),
                Event::Leader { name, detail } => LEADER
                    .import(py, "baldur._events", "leader_event")
                    .and_then(|log| log.call1((name, detail))),
                Event::Watchdog {
                    name,
                    watched,
                    detail,
                } => WATCHDOG
                    .import(py, "baldur._events", "watchdog_event")
                    .and_then(|log| log.call1((name, watched, detail))),
                Event::Scheduler {
                    name,
                    task,
                    error_type,
                    detail,
                } => SCHEDULER
                    .import(py, "baldur._events", "scheduler_event")
                    .and_then(|log| log.call1((name, task, error_type, detail))),
                Event::DlqFlush {
                    name,
                    count,
                    detail,
                } => DLQ_FLUSH
                    .import(py, "baldur._dlq", "flush_event")
                    .and_then(|log| log.call1((name, count, detail))),
            };
            if let Err(err) = logged {
                // A broken logger must not break the work that reported;
                // Python's unraisable hook makes it visible.
                err.write_unraisable(py, None);
            }
        });
    }
}

/// Installs the Python logger as the core's event sink (at import).
pub(crate) fn install() {
    EVENTS.set_sink(Some(Arc::new(PythonLogger)));
}

/// Forwards transitions to a Python callable (the `baldur` event logger).
struct PyTransitionListener {
    callback: Py<PyAny>,
}

impl BreakerObserver for PyTransitionListener {
    fn on_transition(&self, t: &Transition) {
        Python::attach(|py| {
            METRICS.zone(&t.name).transition(t.to);
            let args = (
                t.name.as_ref(),
                t.from.as_str(),
                t.to.as_str(),
                t.cause.as_str(),
                t.generation,
                t.totals.calls,
                t.totals.failures,
            );
            if let Err(err) = self.callback.call1(py, args) {
                // A broken listener must not break the call that tripped the
                // breaker; Python's unraisable hook makes it visible.
                err.write_unraisable(py, None);
            }
        });
    }
}

/// Installs the callable that receives every breaker transition.
#[pyfunction]
pub(crate) fn set_transition_listener(callback: Option<Py<PyAny>>) {
    let observer = callback
        .map(|callback| Arc::new(PyTransitionListener { callback }) as Arc<dyn BreakerObserver>);
    REGISTRY.set_observer(observer);
}
