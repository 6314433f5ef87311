//! The process's background runtime, as pyo3-async-runtimes sees it, and
//! its life-cycle hooks (`baldur._runtime` installs them): shut down at
//! interpreter exit with the GIL released, forgotten in a forked child.

use crate::core::process::{fork, RUNTIME};
use crate::py::gil::without_gil;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime};
use pyo3_async_runtimes::TaskLocals;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Time the exit hook waits for blocking tasks before abandoning them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

tokio::task_local! {
    static TASK_LOCALS: OnceLock<TaskLocals>;
}

/// pyo3-async-runtimes' view of the process's runtime: Rust futures handed to Python
/// run there, never on a runtime the library would own (and fail to stop).
pub(crate) struct BaldurRuntime;

/// A task on the runtime, or none when the runtime could not take it
/// (closed at interpreter exit): the work is dropped, which at that point
/// is all that can be done with it, and nothing restarts a runtime whose
/// threads would outlive the interpreter.
pub(crate) struct Spawned(Option<JoinHandle<()>>);

impl Future for Spawned {
    type Output = Result<(), tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(task) => Pin::new(task).poll(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Runtime for BaldurRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = Spawned;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Spawned(RUNTIME.handle().ok().map(|runtime| runtime.spawn(fut)))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        Spawned(
            RUNTIME
                .handle()
                .ok()
                .map(|runtime| runtime.spawn_blocking(f)),
        )
    }
}

impl ContextExt for BaldurRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceLock::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|cell| cell.get().cloned())
            .unwrap_or_default()
    }
}

/// Stops the background runtime; the next use starts a new one. Releases
/// the GIL while its workers finish, since a worker may need it to hand a
/// result back.
#[pyfunction]
pub(crate) fn shutdown_runtime(py: Python<'_>) {
    without_gil(py, || RUNTIME.shutdown(SHUTDOWN_TIMEOUT));
}

/// The `atexit` hook: stops the runtime for good, the GIL released.
#[pyfunction]
pub(crate) fn close_runtime(py: Python<'_>) {
    without_gil(py, || RUNTIME.close(SHUTDOWN_TIMEOUT));
}

/// The `os.register_at_fork` before hook: waits (the GIL released, a
/// bounded while) for what must not be forked half done.
#[pyfunction]
pub(crate) fn runtime_before_fork(py: Python<'_>) {
    without_gil(py, fork::before_fork);
}

/// The `os.register_at_fork` parent hook, after the fork.
#[pyfunction]
pub(crate) fn runtime_after_fork_in_parent() {
    fork::after_fork_in_parent();
}

/// The `os.register_at_fork` child hook: the process's services forget
/// what the parent's threads own, in the core's one order. A store the
/// child could not set up again is reported, not raised (the hook runs
/// inside `os.fork()`).
#[pyfunction]
pub(crate) fn runtime_after_fork(py: Python<'_>) {
    if let Err(error) = fork::after_fork() {
        PyRuntimeError::new_err(error).write_unraisable(py, None);
    }
}

/// Whether the background runtime is started, and how many times it was.
#[pyfunction]
pub(crate) fn runtime_status() -> (bool, u64) {
    (RUNTIME.is_running(), RUNTIME.starts())
}

/// ping() -> Awaitable[bool]
/// --
///
/// A round trip through the background runtime, awaited on the caller's
/// event loop: true once a task ran there. Readiness checks use it to prove
/// the runtime serving Rust I/O is alive.
#[pyfunction]
pub(crate) fn runtime_ping(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    RUNTIME
        .handle()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the runtime: {e}")))?;
    pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async {
        tokio::task::yield_now().await;
        Ok(true)
    })
}
