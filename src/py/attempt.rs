//! Running one attempt under a time budget, and waiting between attempts,
//! with the GIL released and Ctrl-C still heard.

use crate::py::gil::without_gil;
use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Waits are cut into slices this long so a signal (Ctrl-C) is handled promptly.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

static COPY_CONTEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// How an attempt ended without a value.
pub(crate) enum AttemptError {
    /// The function raised.
    Raised(PyErr),
    /// The budget ran out first; the attempt is abandoned to its thread.
    TimedOut,
    /// A signal handler raised while we waited (KeyboardInterrupt).
    Interrupted(PyErr),
}

/// Runs `func(*args, **kwargs)` on a worker thread, in a copy of the
/// caller's context, and waits at most `budget` for it.
///
/// Python cannot stop a running thread, so an attempt that outlives its
/// budget keeps running in the background; its result is discarded. One
/// that has not begun when the caller gives up never begins: the dependency
/// is not called after its call has already ended.
pub(crate) fn run_bounded(
    py: Python<'_>,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    budget: Duration,
) -> Result<Py<PyAny>, AttemptError> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let job = Job::new(py, func, args, kwargs, abandoned.clone()).map_err(AttemptError::Raised)?;
    let (done, mut result) = mpsc::sync_channel::<PyResult<Py<PyAny>>>(1);
    thread::Builder::new()
        .name("baldur-attempt".into())
        .spawn(move || job.run(done))
        .map_err(|e| {
            AttemptError::Raised(PyRuntimeError::new_err(format!(
                "cannot start an attempt thread: {e}"
            )))
        })?;
    let deadline = Instant::now() + budget;
    // Stored with the GIL held, and the worker reads it with the GIL held
    // just before calling: either the attempt began, or it never will.
    let abandon = || abandoned.store(true, Ordering::Release);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            abandon();
            return Err(AttemptError::TimedOut);
        }
        // A Receiver is Send but not Sync: it travels into the detached
        // closure and back out.
        let (received, receiver) = without_gil(py, move || {
            (result.recv_timeout(left.min(SIGNAL_SLICE)), result)
        });
        result = receiver;
        match received {
            Ok(outcome) => return outcome.map_err(AttemptError::Raised),
            Err(mpsc::RecvTimeoutError::Timeout) => py.check_signals().map_err(|interrupt| {
                abandon();
                AttemptError::Interrupted(interrupt)
            })?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(AttemptError::Raised(PyRuntimeError::new_err(
                    "the attempt thread died without an answer",
                )))
            }
        }
    }
}

/// Sleeps `delay` with the GIL released, waking to let signal handlers run.
pub(crate) fn sleep(py: Python<'_>, delay: Duration) -> PyResult<()> {
    let end = Instant::now() + delay;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        without_gil(py, || thread::sleep(left.min(SIGNAL_SLICE)));
        py.check_signals()?;
    }
}

/// Everything a worker thread needs to make one call.
struct Job {
    context: Py<PyAny>,
    call_args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    /// Set by the caller once it stops waiting.
    abandoned: Arc<AtomicBool>,
}

impl Job {
    fn new(
        py: Python<'_>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        abandoned: Arc<AtomicBool>,
    ) -> PyResult<Self> {
        let copy_context = COPY_CONTEXT.get_or_try_init(py, || {
            PyResult::Ok(py.import("contextvars")?.getattr("copy_context")?.unbind())
        })?;
        let mut items = Vec::with_capacity(args.len() + 1);
        items.push(func.clone());
        items.extend(args.iter());
        Ok(Self {
            context: copy_context.call0(py)?,
            call_args: PyTuple::new(py, items)?.unbind(),
            kwargs: kwargs.map(|k| k.clone().unbind()),
            abandoned,
        })
    }

    fn run(self, done: mpsc::SyncSender<PyResult<Py<PyAny>>>) {
        // `move`: the job's references are dropped inside, with the GIL held.
        Python::attach(move |py| {
            if self.abandoned.load(Ordering::Acquire) {
                // The call timed out before this thread got going.
                return;
            }
            let kwargs = self.kwargs.as_ref().map(|k| k.bind(py));
            let outcome = self
                .context
                .bind(py)
                .call_method(intern!(py, "run"), self.call_args.bind(py), kwargs)
                .map(Bound::unbind);
            // Sent while attached: if the caller already gave up, the
            // unwanted result is dropped here, with the GIL held.
            let _ = done.send(outcome);
        });
    }
}
