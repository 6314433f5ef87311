//! `baldur._core`'s view of leader election (`core::process::leader`):
//! configured by `init()`, asked by `baldur.leader`. Converts only.

use crate::core::leader::{DEFAULT_LEASE, MIN_LEASE};
use crate::core::process::leader;
use crate::py::gil::without_gil;
use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::prelude::*;
use std::time::Duration;

/// Elects over Redis at `url` (`None`: this process leads itself) with a
/// lease of `lease_seconds`. No I/O.
#[pyfunction]
#[pyo3(signature = (url, lease_seconds, tls_ca_pem=None))]
pub(crate) fn configure_leader(
    url: Option<String>,
    lease_seconds: f64,
    tls_ca_pem: Option<Vec<u8>>,
) -> PyResult<()> {
    let lease = Duration::try_from_secs_f64(lease_seconds)
        .map_err(|_| PyValueError::new_err("leader_lease_seconds must be >= 1"))?;
    leader::configure(url, lease, tls_ca_pem).map_err(PyValueError::new_err)
}

/// Starts the lease loop if one is configured (`init()`).
#[pyfunction]
pub(crate) fn leader_start() {
    leader::start();
}

/// Whether this process leads now.
#[pyfunction]
pub(crate) fn leader_is_leader() -> bool {
    leader::is_leader()
}

/// `(leader_id, token, lease_left, is_leader)`.
#[pyfunction]
pub(crate) fn leader_status() -> (Option<String>, u64, Option<f64>, bool) {
    let status = leader::status();
    (
        status.leader_id,
        status.token,
        status.lease_left.map(|left| left.as_secs_f64()),
        status.is_leader,
    )
}

/// A fenced write: whether it was applied (refused: a newer token exists).
#[pyfunction]
#[pyo3(signature = (name, value, token=None))]
pub(crate) fn leader_fenced(
    py: Python<'_>,
    name: &str,
    value: &str,
    token: Option<u64>,
) -> PyResult<bool> {
    without_gil(py, || leader::fenced(name, value, token)).map_err(PyConnectionError::new_err)
}

/// What the last fenced write of `name` left.
#[pyfunction]
pub(crate) fn leader_read_fenced(py: Python<'_>, name: &str) -> PyResult<Option<String>> {
    without_gil(py, || leader::read_fenced(name)).map_err(PyConnectionError::new_err)
}

/// The exit hook: gives the lease up (bounded by the store's timeout).
#[pyfunction]
pub(crate) fn leader_release(py: Python<'_>) {
    without_gil(py, leader::release);
}

/// The lease's default and shortest length, in seconds.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LEADER_DEFAULT_LEASE_SECONDS", DEFAULT_LEASE.as_secs_f64())?;
    m.add("LEADER_MIN_LEASE_SECONDS", MIN_LEASE.as_secs_f64())?;
    m.add_function(wrap_pyfunction!(configure_leader, m)?)?;
    m.add_function(wrap_pyfunction!(leader_start, m)?)?;
    m.add_function(wrap_pyfunction!(leader_is_leader, m)?)?;
    m.add_function(wrap_pyfunction!(leader_status, m)?)?;
    m.add_function(wrap_pyfunction!(leader_fenced, m)?)?;
    m.add_function(wrap_pyfunction!(leader_read_fenced, m)?)?;
    m.add_function(wrap_pyfunction!(leader_release, m)?)?;
    Ok(())
}
