//! Recording a call that ended without the function succeeding, for zones
//! with `dlq=True`: an exhausted call (even when a fallback answered), a
//! timeout, and an open breaker's rejection. The entry is built by
//! `baldur._dlq` (JSON arguments, the function's import path) and written by
//! the Rust queue.

use crate::py::errors;
use crate::py::outcome::Outcome;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

static RECORDER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Records `outcome` if it is a give-up or a rejection, and returns it with
/// its entry's id. A queue that refuses the entry (full, `reject`) makes
/// the call raise that refusal, caused by the call's own error: work is
/// never dropped silently.
#[cold]
pub(crate) fn record(
    py: Python<'_>,
    zone: &PyZone,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    outcome: Outcome,
) -> Outcome {
    let (error, attempts, reason) = match &outcome {
        Outcome::GaveUp {
            error,
            attempts,
            reason,
            ..
        } => (
            error.value(py).clone().into_any(),
            *attempts,
            reason.as_str(),
        ),
        Outcome::Rejected { rejection, .. } => {
            let refused = errors::circuit_open(py, &zone.name, *rejection);
            (refused.value(py).clone().into_any(), 0, "circuit_open")
        }
        _ => return outcome,
    };
    match record_call(py, zone, func, args, kwargs, &error, attempts, reason) {
        Ok(id) => with_id(outcome, id),
        Err(refusal) => Outcome::Propagated {
            error: refusal,
            attempts,
        },
    }
}

/// Records one call that ended without the function succeeding: the
/// entry's id (`None` during a replay), or the queue's refusal (full,
/// `reject`), caused by the call's own `error`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_call(
    py: Python<'_>,
    zone: &PyZone,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    error: &Bound<'_, PyAny>,
    attempts: u32,
    reason: &str,
) -> PyResult<Option<String>> {
    RECORDER
        .import(py, "baldur._dlq", "record_call")
        .and_then(|recorder| {
            recorder.call1((
                zone.name.clone_ref(py),
                func,
                args,
                kwargs,
                error,
                attempts,
                reason,
            ))
        })
        .and_then(|id| id.extract::<Option<String>>())
        .inspect_err(|refusal| refusal.set_cause(py, Some(PyErr::from_value(error.clone()))))
}

fn with_id(outcome: Outcome, id: Option<String>) -> Outcome {
    match outcome {
        Outcome::GaveUp {
            error,
            reason,
            attempts,
            fallback,
            ..
        } => Outcome::GaveUp {
            error,
            reason,
            attempts,
            fallback,
            dlq_id: id,
        },
        Outcome::Rejected { rejection, .. } => Outcome::Rejected {
            rejection,
            dlq_id: id,
        },
        other => other,
    }
}
