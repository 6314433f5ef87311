//! `baldur._core.Protected`: the object `@baldur.protected` returns for a
//! sync function. Calling it runs the whole pipeline in Rust.

use crate::py::driver;
use crate::py::zone::PyZone;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A protected sync function. Carries a `__dict__` so the facade can copy the
/// wrapped function's `__name__`, `__doc__` and `__wrapped__` onto it.
#[pyclass(frozen, dict, weakref, module = "baldur._core", name = "Protected")]
pub(crate) struct Protected {
    zone: Py<PyZone>,
    func: Py<PyAny>,
}

#[pymethods]
impl Protected {
    // A decorated function often sits in a cycle (an error it raised keeps
    // the traceback, whose frame holds the decorated function): without
    // this, Python's collector cannot see the cycle, and the function, its
    // zone and its breaker would live as long as the process.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.zone)?;
        visit.call(&self.func)
    }

    #[new]
    fn new(zone: Py<PyZone>, func: Py<PyAny>) -> Self {
        Self { zone, func }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let zone = self.zone.get();
        driver::run(py, zone, self.func.bind(py), args, kwargs, None).into_result(py, zone)
    }

    /// Binds like a function does, so a protected method receives `self`.
    fn __get__(
        slf: Bound<'_, Self>,
        instance: Option<Bound<'_, PyAny>>,
        _owner: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match instance {
            None => Ok(slf.into_any().unbind()),
            Some(instance) if instance.is_none() => Ok(slf.into_any().unbind()),
            Some(instance) => {
                let method_type = METHOD_TYPE.get_or_try_init(py, || {
                    PyResult::Ok(py.import("types")?.getattr("MethodType")?.unbind())
                })?;
                method_type.call1(py, (slf, instance))
            }
        }
    }

    /// The zone this function is protected by.
    #[getter]
    fn zone(&self, py: Python<'_>) -> Py<PyZone> {
        self.zone.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = self
            .func
            .bind(py)
            .getattr("__qualname__")
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        Ok(format!(
            "<baldur.protected {:?} {}>",
            self.zone.get().name.bind(py).to_string(),
            name
        ))
    }
}
