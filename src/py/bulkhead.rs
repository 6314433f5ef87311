//! The bulkhead's bindings: `register_compartment`, `compartments()`, and
//! taking a zone's permit for the sync driver (waiting without the GIL) and
//! the async one (awaited on the background runtime, never blocking the
//! event loop).

use crate::core::bulkhead::{Acquire, Compartment, Occupancy, Permit, Settings};
use crate::core::error::non_negative_seconds;
use crate::core::process::compartments::COMPARTMENTS;
use crate::py::errors::{self, IntoPyConfig};
use crate::py::gil::without_gil;
use crate::py::runtime::BaldurRuntime;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::Duration;

/// How long a sync waiter blocks before it looks for a signal (Ctrl-C
/// reaches a thread waiting for a permit within this).
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// One compartment as `baldur.compartments()` reports it.
#[pyclass(frozen, get_all, module = "baldur._core", name = "CompartmentSnapshot")]
pub(crate) struct CompartmentSnapshot {
    /// Calls holding a permit.
    active: u32,
    /// Calls waiting for one.
    waiting: u32,
    /// Permits in all (`max_concurrent`).
    capacity: u32,
    /// Places in line.
    max_waiting: u32,
    /// Seconds a call waits at most.
    wait_timeout: f64,
    /// Calls turned away since the process started.
    rejected: u64,
}

#[pymethods]
impl CompartmentSnapshot {
    fn __repr__(&self) -> String {
        format!(
            "CompartmentSnapshot(active={}, waiting={}, capacity={}, max_waiting={}, \
             wait_timeout={:?}, rejected={})",
            self.active,
            self.waiting,
            self.capacity,
            self.max_waiting,
            self.wait_timeout,
            self.rejected
        )
    }
}

/// Registers a compartment, or changes a registered one's limits in place.
#[pyfunction]
#[pyo3(signature = (name, *, max_concurrent, max_waiting, wait_timeout))]
pub(crate) fn register_compartment(
    py: Python<'_>,
    name: &str,
    max_concurrent: i64,
    max_waiting: i64,
    wait_timeout: f64,
) -> PyResult<()> {
    let wait = non_negative_seconds("wait_timeout", wait_timeout).or_config_error(py)?;
    let settings = Settings::new(max_concurrent, max_waiting, wait).or_config_error(py)?;
    COMPARTMENTS.register(name, settings);
    Ok(())
}

/// Every compartment's snapshot, by name.
#[pyfunction]
pub(crate) fn compartments(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let all = PyDict::new(py);
    for (name, snapshot) in COMPARTMENTS.snapshots() {
        let snapshot = CompartmentSnapshot {
            active: snapshot.active,
            waiting: snapshot.waiting,
            capacity: snapshot.settings.capacity,
            max_waiting: snapshot.settings.max_waiting,
            wait_timeout: snapshot.settings.wait_timeout.as_secs_f64(),
            rejected: snapshot.rejected,
        };
        all.set_item(name, snapshot)?;
    }
    Ok(all)
}

/// The compartment `bulkhead=` names; an unknown name is a `ConfigError`.
pub(crate) fn compartment_named(py: Python<'_>, name: &str) -> PyResult<Arc<Compartment>> {
    COMPARTMENTS
        .get(name)
        .map_err(|missing| errors::compartment_not_found(py, missing))
}

/// A permit for a sync call, waiting for one (GIL released) if the
/// compartment has a line. An interrupt while waiting (a signal handler
/// raised) leaves the line.
pub(crate) fn take(py: Python<'_>, compartment: &Arc<Compartment>) -> Result<Permit, Refused> {
    let mut ticket = match compartment.acquire() {
        Acquire::Permit(permit) => return Ok(permit),
        Acquire::Full(full) => return Err(Refused::Full(full)),
        Acquire::Wait(ticket) => ticket,
    };
    loop {
        match without_gil(py, || ticket.wait(SIGNAL_SLICE)) {
            Some(Ok(permit)) => return Ok(permit),
            Some(Err(full)) => return Err(Refused::Full(full)),
            None => py.check_signals().map_err(Refused::Interrupted)?,
        }
    }
}

/// Why a call got no permit.
pub(crate) enum Refused {
    /// The compartment was full (or the wait ran out).
    Full(Occupancy),
    /// A signal handler raised while the call waited.
    Interrupted(PyErr),
}

impl Refused {
    /// The error the caller sees.
    pub(crate) fn into_error(self, py: Python<'_>) -> PyErr {
        match self {
            Refused::Full(full) => errors::bulkhead_full(py, &full),
            Refused::Interrupted(error) => error,
        }
    }
}

/// What an async call's wait for a permit came to: handed to
/// `AsyncCall.permitted()`. Dropped unread (the task was cancelled after
/// the permit came), it returns the permit.
#[pyclass(module = "baldur._core", name = "PermitTicket")]
pub(crate) struct PermitTicket {
    pub(crate) settled: Option<Result<Permit, Occupancy>>,
}

/// Asks for a permit for an async call: a permit or a refusal at once, or
/// an awaitable of the wait. Cancelling the awaitable drops the wait, which
/// leaves the line.
pub(crate) fn take_async<'py>(
    py: Python<'py>,
    compartment: &Arc<Compartment>,
) -> PyResult<Result<Result<Permit, Occupancy>, Bound<'py, PyAny>>> {
    let ticket = match compartment.acquire() {
        Acquire::Permit(permit) => return Ok(Ok(Ok(permit))),
        Acquire::Full(full) => return Ok(Ok(Err(full))),
        Acquire::Wait(ticket) => ticket,
    };
    let waiting =
        pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async move {
            let settled = ticket.wait_async().await;
            Ok(PermitTicket {
                settled: Some(settled),
            })
        })?;
    Ok(Err(waiting))
}
