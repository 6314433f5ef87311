//! How a protected call ended, as the sync driver and the dead-letter
//! recording see it.

use crate::core::breaker::Rejection;
use crate::core::protect::pipeline::Ending;
use crate::core::protect::GiveUp;
use crate::py::errors;
use crate::py::zone::PyZone;
use pyo3::prelude::*;

/// How a protected call ended.
pub(crate) enum Outcome {
    /// An attempt returned.
    Returned { value: Py<PyAny>, attempts: u32 },
    /// The breaker refused the call; nothing ran.
    Rejected {
        rejection: Rejection,
        dlq_id: Option<String>,
    },
    /// An error that is not the dependency's failure (ignored, HTTP 4xx,
    /// interrupt), or a failure inside Baldur's own classifier: raised as is.
    Propagated { error: PyErr, attempts: u32 },
    /// A full compartment turned the call away before any attempt; the
    /// fallback may answer (`fallback`), as for a give-up.
    Shed {
        error: PyErr,
        fallback: Option<PyResult<Py<PyAny>>>,
    },
    /// No attempt succeeded. `error` is the final exception; `fallback`
    /// holds the fallback's answer (or its own error) if one is set.
    GaveUp {
        error: PyErr,
        reason: GiveUp,
        attempts: u32,
        fallback: Option<PyResult<Py<PyAny>>>,
        dlq_id: Option<String>,
    },
}

impl Outcome {
    /// How the call's own part ended, as the pipeline knows it.
    #[inline]
    pub(crate) fn ending(&self) -> Ending {
        match self {
            Outcome::Returned { .. } => Ending::Returned,
            Outcome::Rejected { .. } => Ending::Rejected,
            Outcome::Shed { .. } => Ending::Shed,
            Outcome::Propagated { .. } => Ending::Propagated,
            Outcome::GaveUp { .. } => Ending::GaveUp,
        }
    }

    /// The dead-letter entry recorded for this call, if any.
    pub(crate) fn dlq_id(&self) -> Option<String> {
        match self {
            Outcome::Rejected { dlq_id, .. } | Outcome::GaveUp { dlq_id, .. } => dlq_id.clone(),
            _ => None,
        }
    }

    /// The value the caller gets, or the error it sees.
    pub(crate) fn into_result(self, py: Python<'_>, zone: &PyZone) -> PyResult<Py<PyAny>> {
        match self {
            Outcome::Returned { value, .. } => Ok(value),
            Outcome::Rejected { rejection, .. } => {
                Err(errors::circuit_open(py, &zone.name, rejection))
            }
            Outcome::Propagated { error, .. } => Err(error),
            Outcome::GaveUp {
                fallback: Some(answer),
                ..
            } => answer,
            Outcome::GaveUp { error, .. } => Err(error),
            Outcome::Shed {
                fallback: Some(answer),
                ..
            } => answer,
            Outcome::Shed { error, .. } => Err(error),
        }
    }
}
