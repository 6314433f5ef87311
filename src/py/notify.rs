//! `baldur._core`'s view of notifications (`core::process::notify`): the
//! settings, one notification through the guards, and the outbox the
//! face's worker posts from. Converts only: priorities, channels and
//! reasons travel as the contract spells them, durations as seconds.

use crate::core::notify::outbox::{Delivery, FailReason, Failure, Settled};
use crate::core::notify::{self as feature, Channel, NotifyConfig, Priority, Reason, Routing};
use crate::core::process::notify::{self, Outcome};
use crate::py::gil::without_gil;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;
use std::time::Duration;

fn priority(text: &str) -> PyResult<Priority> {
    Priority::parse(text).ok_or_else(|| PyValueError::new_err(format!("unknown priority {text:?}")))
}

fn channel(text: &str) -> PyResult<Channel> {
    Channel::parse(text).ok_or_else(|| PyValueError::new_err(format!("unknown channel {text:?}")))
}

/// The guards' settings (validated by the face).
#[pyfunction]
#[pyo3(signature = (enabled, per_minute, per_hour, cooldown, burst_threshold, slack, webhook, info_channel))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn configure_notifications(
    enabled: bool,
    per_minute: u32,
    per_hour: u32,
    cooldown: f64,
    burst_threshold: u32,
    slack: bool,
    webhook: bool,
    info_channel: Option<&str>,
) -> PyResult<()> {
    let cooldown = Duration::try_from_secs_f64(cooldown)
        .map_err(|_| PyValueError::new_err("cooldown must be >= 0 seconds"))?;
    notify::configure(NotifyConfig {
        enabled,
        per_minute,
        per_hour,
        cooldown,
        burst_threshold,
        routing: Routing {
            slack,
            webhook,
            info_channel: info_channel.map(channel).transpose()?,
        },
    });
    Ok(())
}

/// One notification: `(sent, reason, channels, priority)`, the priority
/// after escalation when sent, else as asked. May ask Redis: the GIL is
/// released.
#[pyfunction]
pub(crate) fn notify_submit(
    py: Python<'_>,
    key: &str,
    asked: &str,
    body: &str,
) -> PyResult<(bool, Option<&'static str>, Vec<&'static str>, &'static str)> {
    let asked = priority(asked)?;
    Ok(match without_gil(py, || notify::notify(key, asked, body)) {
        Outcome::Sent { priority, channels } => (
            true,
            None,
            channels.iter().map(|c| c.as_str()).collect(),
            priority.as_str(),
        ),
        Outcome::Suppressed(reason) => (false, Some(reason.as_str()), vec![], asked.as_str()),
    })
}

/// A delivery as the worker holds it: `(id, channel, priority, body, attempt)`.
type DeliveryTuple = (u64, &'static str, &'static str, String, u32);

/// The deliveries due now.
#[pyfunction]
pub(crate) fn notify_take_due() -> Vec<DeliveryTuple> {
    notify::take_due()
        .into_iter()
        .map(|d| {
            (
                d.id,
                d.channel.as_str(),
                d.priority.as_str(),
                d.body.to_string(),
                d.attempt,
            )
        })
        .collect()
}

/// How one attempt ended: `status` is the HTTP status (`None`: no
/// answer), `retry_after` the seconds a 429 asked for. Answers
/// `"delivered"`, `"retry"` or `"gave_up"`.
#[pyfunction]
#[pyo3(signature = (delivery, status, retry_after=None))]
pub(crate) fn notify_settle(
    delivery: (u64, String, String, String, u32),
    status: Option<u16>,
    retry_after: Option<f64>,
) -> PyResult<&'static str> {
    let (id, channel_name, priority_name, body, attempt) = delivery;
    let delivery = Delivery {
        id,
        channel: channel(&channel_name)?,
        priority: priority(&priority_name)?,
        body: Arc::from(body),
        attempt,
    };
    let result = match status {
        Some(200..=299) => Ok(()),
        Some(429) => Err(Failure::Throttled(
            retry_after.and_then(|s| Duration::try_from_secs_f64(s).ok()),
        )),
        Some(status) => Err(Failure::Status(status)),
        None => Err(Failure::Unreachable),
    };
    Ok(match notify::settle(delivery, result) {
        Settled::Delivered => "delivered",
        Settled::Retry(_) => "retry",
        Settled::GaveUp => "gave_up",
    })
}

/// Seconds until the next delivery is due (`None`: nothing waits).
#[pyfunction]
pub(crate) fn notify_next_due() -> Option<f64> {
    notify::next_due().map(|d| d.as_secs_f64())
}

/// Nothing waits and nothing is being posted.
#[pyfunction]
pub(crate) fn notify_idle() -> bool {
    notify::is_idle()
}

/// `{"suppressed": {reason: n}, "delivered": {channel: n}, "failed": {reason: n}}`.
#[pyfunction]
pub(crate) fn notify_counts(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (suppressed, outbox) = notify::counts();
    let report = PyDict::new(py);
    let by_reason = PyDict::new(py);
    for reason in Reason::ALL {
        by_reason.set_item(reason.as_str(), suppressed.of(reason))?;
    }
    let delivered = PyDict::new(py);
    for (channel, n) in Channel::ALL.iter().zip(outbox.delivered) {
        delivered.set_item(channel.as_str(), n)?;
    }
    let failed = PyDict::new(py);
    for (reason, n) in FailReason::ALL.iter().zip(outbox.failed) {
        failed.set_item(reason.as_str(), n)?;
    }
    report.set_item("suppressed", by_reason)?;
    report.set_item("delivered", delivered)?;
    report.set_item("failed", failed)?;
    Ok(report)
}

/// Fresh guards and outbox in a forked child.
#[pyfunction]
pub(crate) fn notify_after_fork() {
    notify::after_fork();
}

/// Forgets spending, cooldowns, counts and what waits (tests).
#[pyfunction]
pub(crate) fn notify_clear() {
    notify::clear();
}

/// Adds the names, defaults and functions to `_core`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let priorities = Priority::ALL.map(Priority::as_str);
    m.add("NOTIFY_PRIORITIES", PyTuple::new(py, priorities)?)?;
    m.add(
        "NOTIFY_CHANNELS",
        PyTuple::new(py, Channel::ALL.map(Channel::as_str))?,
    )?;
    m.add(
        "NOTIFY_REASONS",
        PyTuple::new(py, Reason::ALL.map(Reason::as_str))?,
    )?;
    m.add(
        "NOTIFY_DEFAULT_RATE_PER_MINUTE",
        feature::DEFAULT_RATE_PER_MINUTE,
    )?;
    m.add(
        "NOTIFY_DEFAULT_RATE_PER_HOUR",
        feature::DEFAULT_RATE_PER_HOUR,
    )?;
    m.add(
        "NOTIFY_DEFAULT_COOLDOWN_SECONDS",
        feature::DEFAULT_COOLDOWN.as_secs_f64(),
    )?;
    m.add(
        "NOTIFY_DEFAULT_BURST_THRESHOLD",
        feature::DEFAULT_BURST_THRESHOLD,
    )?;
    m.add_function(wrap_pyfunction!(configure_notifications, m)?)?;
    m.add_function(wrap_pyfunction!(notify_submit, m)?)?;
    m.add_function(wrap_pyfunction!(notify_take_due, m)?)?;
    m.add_function(wrap_pyfunction!(notify_settle, m)?)?;
    m.add_function(wrap_pyfunction!(notify_next_due, m)?)?;
    m.add_function(wrap_pyfunction!(notify_idle, m)?)?;
    m.add_function(wrap_pyfunction!(notify_counts, m)?)?;
    m.add_function(wrap_pyfunction!(notify_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(notify_clear, m)?)?;
    Ok(())
}
