//! The counters as Python dicts, for `baldur.metrics` to render (Prometheus
//! text through `prometheus_client`, or JSON); and the adapters' request
//! recording.

use crate::core::breaker::CircuitState;
use crate::core::control::DRAIN;
use crate::core::metrics::registry::METRICS;
use crate::core::metrics::routes::ENDPOINTS;
use crate::core::metrics::{normalise_path as normalise, CallOutcome};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Every counter: `{"zones": {label: {...}}, "dlq_replays": {...},
/// "domains_overflowed": int, "in_flight": int, "endpoints": [...],
/// "endpoints_evicted": int}`.
#[pyfunction]
pub(crate) fn metrics_snapshot(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let report = PyDict::new(py);
    let zones = PyDict::new(py);
    for (label, snap) in METRICS.snapshot() {
        let zone = PyDict::new(py);
        let calls = PyDict::new(py);
        for outcome in CallOutcome::ALL {
            calls.set_item(outcome.as_str(), snap.calls(outcome))?;
        }
        zone.set_item("calls", calls)?;
        zone.set_item("attempts", snap.attempts)?;
        zone.set_item("fallbacks", snap.fallbacks)?;
        let transitions = PyDict::new(py);
        for state in CircuitState::ALL {
            transitions.set_item(state.as_str(), snap.transitions_to(state))?;
        }
        zone.set_item("transitions", transitions)?;
        zone.set_item("idempotency_duplicates", snap.idempotency_duplicates)?;
        zone.set_item("retries_refused", snap.retries_refused)?;
        zones.set_item(label.as_ref(), zone)?;
    }
    report.set_item("zones", zones)?;
    let (succeeded, failed) = METRICS.global.dlq_replays();
    let replays = PyDict::new(py);
    replays.set_item("succeeded", succeeded)?;
    replays.set_item("failed", failed)?;
    report.set_item("dlq_replays", replays)?;
    report.set_item("domains_overflowed", METRICS.overflowed_lookups())?;
    report.set_item("in_flight", DRAIN.in_flight())?;
    let endpoints = PyList::empty(py);
    for ((method, route), stats) in ENDPOINTS.snapshot() {
        let row = PyDict::new(py);
        row.set_item("method", method)?;
        row.set_item("route", route)?;
        row.set_item("by_class", stats.by_class.to_vec())?;
        row.set_item("duration_sum", stats.duration_sum)?;
        endpoints.append(row)?;
    }
    report.set_item("endpoints", endpoints)?;
    report.set_item("endpoints_evicted", ENDPOINTS.evicted())?;
    Ok(report)
}

/// Counts one HTTP request an adapter answered. `route` is the matched
/// route's pattern (or path), `None` when no route matched.
#[pyfunction]
#[pyo3(signature = (method, route, status, seconds))]
pub(crate) fn record_request(method: &str, route: Option<&str>, status: u16, seconds: f64) {
    ENDPOINTS.record(method, route, status, seconds);
}

/// The path with its per-id segments replaced by `{id}`.
#[pyfunction]
pub(crate) fn normalise_path(path: &str) -> String {
    normalise(path)
}

/// Caps the domain labels (new names beyond it share the overflow series)
/// and the endpoint table.
#[pyfunction]
pub(crate) fn configure_metrics(max_domains: usize, max_endpoints: usize) {
    METRICS.set_max_domains(max_domains);
    ENDPOINTS.set_capacity(max_endpoints);
}
