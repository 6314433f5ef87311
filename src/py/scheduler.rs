//! `baldur._core`'s view of the scheduler (`core::process::scheduler`):
//! each task is one Python callable, run on the scheduler's thread with
//! the GIL taken only while it runs.

use crate::core::process::scheduler::{RunFailed, ScheduledRun, SCHEDULER};
use crate::core::schedule::Cadence;
use crate::py::errors::IntoPyConfig;
use crate::py::gil::without_gil;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::sync::Arc;
use std::time::Duration;

static LOCALTIME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A task as the face wraps it: a callable that answers `None` when the
/// task returned, or `(type, redacted message)` when it raised.
struct PythonTask(Py<PyAny>);

impl ScheduledRun for PythonTask {
    fn run(&self) -> Result<(), RunFailed> {
        // Never at interpreter shutdown: the task is not run then.
        Python::try_attach(|py| match self.0.call0(py) {
            Ok(answer) => match answer.extract::<Option<(String, String)>>(py) {
                Ok(None) => Ok(()),
                Ok(Some((kind, message))) => Err(RunFailed { kind, message }),
                Err(_) => Err(failed(
                    "TypeError",
                    "the task's wrapper answered a stranger",
                )),
            },
            // Raised past the face's wrapper (a BaseException): its type,
            // never its text, which nothing redacted.
            Err(error) => {
                let kind = error
                    .get_type(py)
                    .name()
                    .map_or_else(|_| "BaseException".into(), |n| n.to_string());
                Err(RunFailed {
                    kind,
                    message: "raised past the scheduler (not an Exception)".into(),
                })
            }
        })
        .unwrap_or_else(|| Err(failed("RuntimeError", "the interpreter is exiting")))
    }

    fn utc_offset_seconds(&self, epoch_seconds: i64) -> i32 {
        Python::try_attach(|py| {
            LOCALTIME
                .import(py, "time", "localtime")
                .and_then(|localtime| localtime.call1((epoch_seconds,)))
                .and_then(|local| local.getattr("tm_gmtoff"))
                .and_then(|offset| offset.extract::<i32>())
                .unwrap_or(0)
        })
        .unwrap_or(0)
    }
}

fn failed(kind: &str, message: &str) -> RunFailed {
    RunFailed {
        kind: kind.into(),
        message: message.into(),
    }
}

/// Adds a task: exactly one of `every` (seconds) and `at` (`"HH:MM"`,
/// local time). A bad cadence or a name taken is a `ConfigError`.
#[pyfunction]
#[pyo3(signature = (name, every, at, leader_only, run))]
pub(crate) fn scheduler_add(
    py: Python<'_>,
    name: &str,
    every: Option<f64>,
    at: Option<&str>,
    leader_only: bool,
    run: Py<PyAny>,
) -> PyResult<()> {
    let cadence = Cadence::choose(every, at).or_config_error(py)?;
    let task = Arc::new(PythonTask(run));
    SCHEDULER
        .add(name, cadence, leader_only, task)
        .or_config_error(py)
}

/// Removes a task: false if none had the name.
#[pyfunction]
pub(crate) fn scheduler_remove(py: Python<'_>, name: &str) -> bool {
    without_gil(py, || SCHEDULER.remove(name))
}

/// Starts the scheduler's thread (`init()`).
#[pyfunction]
pub(crate) fn scheduler_start() {
    SCHEDULER.start();
}

/// Stops the scheduler for good (at exit), waiting up to `bound` seconds
/// for a run under way, the GIL released so it can finish.
#[pyfunction]
pub(crate) fn scheduler_close(py: Python<'_>, bound: f64) {
    let bound = Duration::try_from_secs_f64(bound).unwrap_or_default();
    without_gil(py, || SCHEDULER.close(bound));
}

/// One task's status: `(name, every, at, leader_only, runs, failures,
/// skipped, not_leader, last_error, running, next_run)`, `next_run` in
/// seconds since the epoch.
type TaskRow = (
    String,
    Option<f64>,
    Option<String>,
    bool,
    u64,
    u64,
    u64,
    u64,
    Option<String>,
    bool,
    f64,
);

/// Every task, in the order added, and whether the thread runs.
#[pyfunction]
pub(crate) fn scheduler_status() -> (Vec<TaskRow>, bool) {
    let rows = SCHEDULER
        .status()
        .into_iter()
        .map(|(task, next_wall_millis)| {
            let (every, at) = match task.cadence {
                Cadence::Every(interval) => (Some(interval.as_secs_f64()), None),
                Cadence::At { minute_of_day } => (
                    None,
                    Some(format!(
                        "{:02}:{:02}",
                        minute_of_day / 60,
                        minute_of_day % 60
                    )),
                ),
            };
            (
                task.name,
                every,
                at,
                task.leader_only,
                task.runs,
                task.failures,
                task.skipped,
                task.not_leader,
                task.last_error,
                task.running,
                next_wall_millis as f64 / 1000.0,
            )
        })
        .collect();
    (rows, SCHEDULER.is_running())
}
