//! `baldur._core`'s view of the audit trail (`core::process::audit`):
//! configured by `init()`, written by the operator functions and the
//! transition listener, read by `baldur.audit`. Converts only.

use crate::core::audit::{AuditRecord, NewRecord};
use crate::core::process::audit::{self, AuditConfig};
use crate::py::gil::without_gil;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

/// How long the exit hook waits for a write under way.
const FLUSH_BOUND: Duration = Duration::from_secs(5);

/// One record as Python reads it: `(seq, at, actor, action, target,
/// reason, details_json, prev_hash, hash)`.
type RecordTuple = (
    u64,
    f64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);

/// A walk's verdict as Python reads it: `(ok, checked, first_bad_seq, problem)`.
type VerdictTuple = (bool, u64, Option<u64>, Option<String>);

/// Turns the trail on at `path` (`None`: off).
#[pyfunction]
#[pyo3(signature = (path, signing_key=None))]
pub(crate) fn configure_audit(path: Option<PathBuf>, signing_key: Option<String>) {
    audit::configure(path.map(|path| AuditConfig {
        path,
        signing_key: signing_key.map(String::into_bytes),
    }));
}

/// Whether actions are being recorded.
#[pyfunction]
pub(crate) fn audit_enabled() -> bool {
    audit::enabled()
}

fn new_record(
    actor: String,
    action: String,
    target: String,
    reason: Option<String>,
    details_json: &str,
) -> PyResult<NewRecord> {
    let details = match serde_json::from_str(details_json) {
        Ok(serde_json::Value::Object(details)) => details,
        _ => return Err(PyValueError::new_err("details must be a JSON object")),
    };
    Ok(NewRecord {
        at: audit::now_seconds(),
        actor,
        action,
        target,
        reason,
        details,
    })
}

/// Records an operator's action now: its seq, or `None` while off.
#[pyfunction]
#[pyo3(signature = (actor, action, target, reason, details_json))]
pub(crate) fn audit_record(
    py: Python<'_>,
    actor: String,
    action: String,
    target: String,
    reason: Option<String>,
    details_json: &str,
) -> PyResult<Option<u64>> {
    let record = new_record(actor, action, target, reason, details_json)?;
    without_gil(py, || audit::record(record)).map_err(PyOSError::new_err)
}

/// Queues an automated action (written soon, off the caller's path).
#[pyfunction]
#[pyo3(signature = (actor, action, target, reason, details_json))]
pub(crate) fn audit_record_later(
    actor: String,
    action: String,
    target: String,
    reason: Option<String>,
    details_json: &str,
) -> PyResult<()> {
    audit::record_later(new_record(actor, action, target, reason, details_json)?);
    Ok(())
}

/// Up to `limit` records after seq `after`, ascending.
#[pyfunction]
pub(crate) fn audit_list(py: Python<'_>, limit: u64, after: u64) -> PyResult<Vec<RecordTuple>> {
    let records = without_gil(py, || audit::list(limit, after)).map_err(PyOSError::new_err)?;
    Ok(records.into_iter().map(as_tuple).collect())
}

/// `(ok, checked, first_bad_seq, problem)`, or `None` while off.
#[pyfunction]
pub(crate) fn audit_verify(py: Python<'_>) -> PyResult<Option<VerdictTuple>> {
    let verdict = without_gil(py, audit::verify).map_err(PyOSError::new_err)?;
    Ok(verdict.map(|v| (v.ok, v.checked, v.first_bad_seq, v.problem)))
}

/// The exit hook: queued records written, the head checkpointed.
#[pyfunction]
pub(crate) fn audit_flush(py: Python<'_>) {
    without_gil(py, || audit::flush(FLUSH_BOUND));
}

fn as_tuple(record: AuditRecord) -> RecordTuple {
    let details = serde_json::Value::Object(record.record.details).to_string();
    (
        record.seq,
        record.record.at,
        record.record.actor,
        record.record.action,
        record.record.target,
        record.record.reason,
        details,
        record.prev_hash,
        record.hash,
    )
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(configure_audit, m)?)?;
    m.add_function(wrap_pyfunction!(audit_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(audit_record, m)?)?;
    m.add_function(wrap_pyfunction!(audit_record_later, m)?)?;
    m.add_function(wrap_pyfunction!(audit_list, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify, m)?)?;
    m.add_function(wrap_pyfunction!(audit_flush, m)?)?;
    Ok(())
}
