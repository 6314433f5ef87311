//! `baldur._core`'s view of the admin server (`core::process::admin`):
//! started by `init()` with the settings, answered by one Python
//! callable for every request the core's gate let in.

use crate::core::admin::address::{HostRule, Origin};
use crate::core::admin::{AdminHandler, AdminRequest, GateConfig, Response};
use crate::core::process::admin::{AdminConfig, Started, ADMIN};
use crate::py::gil::without_gil;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;

/// Checks one `BALDUR_ADMIN_ALLOWED_HOSTS` entry: `None` when usable.
#[pyfunction]
pub(crate) fn admin_host_problem(entry: &str) -> Option<String> {
    HostRule::parse(entry).err()
}

/// Checks one `BALDUR_ADMIN_ALLOWED_ORIGINS` entry: `None` when usable.
#[pyfunction]
pub(crate) fn admin_origin_problem(entry: &str) -> Option<String> {
    Origin::parse(entry).err()
}

/// The Python callable that answers: `(method, path, query, body, role,
/// actor) -> (status, [(name, value)], body)`.
struct PythonHandler(Py<PyAny>);

impl AdminHandler for PythonHandler {
    fn handle(&self, request: AdminRequest) -> Response {
        Python::attach(|py| {
            let answer = self.0.call1(
                py,
                (
                    request.method,
                    request.path,
                    request.query,
                    PyBytes::new(py, &request.body),
                    request.role.map(|role| role.as_str()),
                    request.actor,
                ),
            );
            let converted = answer
                .and_then(|answer| answer.extract::<(u16, Vec<(String, String)>, Vec<u8>)>(py));
            match converted {
                Ok((status, headers, body)) => Response {
                    status,
                    headers,
                    body,
                },
                // The callable catches its own errors; this is a defect in
                // it, answered without its message (it may hold a secret).
                Err(_) => Response {
                    status: 500,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: br#"{"error": "internal"}"#.to_vec(),
                },
            }
        })
    }
}

/// Starts the admin server: `("serving", host, port)`, or `("skipped",
/// why, 0)` when the address is taken (another process serves).
#[pyfunction]
#[pyo3(signature = (*, host, port, admin_key, viewer_key, allowed_hosts, allowed_origins, unlocked, handler, store))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn admin_start(
    py: Python<'_>,
    host: String,
    port: u16,
    admin_key: String,
    viewer_key: Option<String>,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    unlocked: bool,
    handler: Py<PyAny>,
    store: String,
) -> PyResult<(String, String, u16)> {
    let config = AdminConfig {
        host,
        port,
        gate: GateConfig {
            admin_key,
            viewer_key,
            extra_hosts: allowed_hosts,
            extra_origins: allowed_origins,
            unlocked,
        },
        handler: Arc::new(PythonHandler(handler)),
        served_by: serde_json::json!({"pid": std::process::id(), "store": store}),
    };
    match without_gil(py, || ADMIN.start(config)) {
        Ok(Started::Serving(address)) => {
            Ok(("serving".into(), address.ip().to_string(), address.port()))
        }
        Ok(Started::Skipped(why)) => Ok(("skipped".into(), why, 0)),
        Err(problem) => Err(PyValueError::new_err(problem)),
    }
}

/// Stops the admin server and forgets its configuration.
#[pyfunction]
pub(crate) fn admin_stop(py: Python<'_>) {
    without_gil(py, || ADMIN.turn_off());
}

/// `(host, port)` the admin server listens on, or `None`.
#[pyfunction]
pub(crate) fn admin_address() -> Option<(String, u16)> {
    ADMIN
        .address()
        .map(|address| (address.ip().to_string(), address.port()))
}
