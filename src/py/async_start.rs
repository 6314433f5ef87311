//! `baldur._core.AsyncStart`: a protected coroutine's calls start here.
//! One per decorated function: most calls are admitted in one method call
//! without arguments, on an `AsyncCall` object reused once its last call
//! is over; the others take the general path (`AsyncCall(...)`).

use crate::py::async_call::AsyncCall;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

/// `baldur._core.AsyncStart(zone)`: starts a protected coroutine's calls.
/// Built once per decorated function, so that a call's first step is a
/// method call without arguments to convert.
#[pyclass(module = "baldur._core", name = "AsyncStart")]
pub(crate) struct AsyncStart {
    zone: Py<PyZone>,
    /// The last call's object. Once nothing else holds it (its call is
    /// over) the next call reuses it rather than allocating a tracked
    /// object and freeing one per call, as CPython's `zip` and `enumerate`
    /// reuse their result tuples. Over, a call holds no error.
    spare: Option<Py<AsyncCall>>,
}

#[pymethods]
impl AsyncStart {
    // Held by the decorated function, which the zone's fallback may reach.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.zone)?;
        visit.call(&self.spare)
    }

    fn __clear__(&mut self) {
        self.spare = None;
    }

    #[new]
    fn new(zone: Py<PyZone>) -> Self {
        Self { zone, spare: None }
    }

    /// A call on its fast path: an admitted `AsyncCall` with its first
    /// attempt started, or `None` (nothing done) when the call must take
    /// the general path, `AsyncCall(...)`.
    fn begin(&mut self, py: Python<'_>) -> PyResult<Option<Py<AsyncCall>>> {
        let Some(call) = AsyncCall::begin(py, self.zone.bind(py))? else {
            return Ok(None);
        };
        // The count is exact under the GIL, which every build of this
        // extension (abi3) runs with; pyo3 deprecates it for free-threaded
        // builds only.
        #[allow(deprecated)]
        let reusable = |spare: &&Py<AsyncCall>| spare.get_refcnt(py) == 1;
        if let Some(spare) = self.spare.as_ref().filter(reusable) {
            if let Ok(mut slot) = spare.bind(py).try_borrow_mut() {
                // The old state is dropped once the borrow is let go.
                let _over = std::mem::replace(&mut *slot, call);
                drop(slot);
                return Ok(Some(spare.clone_ref(py)));
            }
        }
        let fresh = Py::new(py, call)?;
        self.spare = Some(fresh.clone_ref(py));
        Ok(Some(fresh))
    }
}
