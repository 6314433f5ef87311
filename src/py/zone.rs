//! `baldur._core.Zone`: one protected callsite's policies, built once by the
//! Python facade and shared by every call through it.

use crate::core::error::positive_seconds;
use crate::core::metrics::registry::METRICS;
use crate::core::process::breakers::REGISTRY;
use crate::core::process::zones::ZONE_DEFAULTS;
use crate::core::protect::pipeline::Protections;
use crate::core::protect::{Verdict, Zone};
use crate::core::retry::{Backoff, Jitter, RetryBudget, RetryPolicy, RETRY_BUDGET};
use crate::py::bulkhead;
use crate::py::errors::IntoPyConfig;
use crate::py::idempotency::IdempotencySpec;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use std::time::Duration;

/// Sets the wall-clock bound for calls whose callsite names none.
#[pyfunction]
#[pyo3(signature = (seconds))]
pub(crate) fn set_default_timeout(py: Python<'_>, seconds: Option<f64>) -> PyResult<()> {
    let timeout = seconds
        .map(|s| positive_seconds("protect_default_timeout_seconds", s))
        .transpose()
        .or_config_error(py)?;
    ZONE_DEFAULTS.set_timeout(timeout);
    Ok(())
}

/// Sets the retry budget every zone spends from (`ratio=None`: off).
#[pyfunction]
#[pyo3(signature = (ratio, min_per_second))]
pub(crate) fn set_retry_budget(
    py: Python<'_>,
    ratio: Option<f64>,
    min_per_second: f64,
) -> PyResult<()> {
    let budget = ratio
        .map(|ratio| RetryBudget::new(ratio, min_per_second))
        .transpose()
        .or_config_error(py)?;
    RETRY_BUDGET.set(budget);
    Ok(())
}

/// Verdict codes the Python classifier returns; exported to Python as
/// `_core.VERDICT_*`, so both sides read one definition.
pub(crate) const NOT_A_FAILURE: u8 = 0;
pub(crate) const RETRYABLE: u8 = 1;
pub(crate) const FATAL: u8 = 2;
pub(crate) const ABORT: u8 = 3;

/// A zone: the core's policies plus the Python callables around them.
#[pyclass(frozen, module = "baldur._core", name = "Zone")]
pub(crate) struct PyZone {
    pub(crate) name: Py<PyString>,
    pub(crate) core: Zone,
    /// `classifier(exc) -> (code, server_delay_seconds | None)`.
    classifier: Py<PyAny>,
    pub(crate) fallback: Option<Py<PyAny>>,
    pub(crate) fallback_takes_error: bool,
    /// Claimed before the breaker is asked, settled when the call ends.
    pub(crate) idempotency: Option<Py<IdempotencySpec>>,
    /// Record calls that end without the function succeeding.
    pub(crate) dlq: bool,
    /// Its calls take a bulkhead permit: read on every call, so kept here
    /// beside `dlq` rather than looked up in the core zone.
    pub(crate) bulkheaded: bool,
}

#[pymethods]
impl PyZone {
    #[new]
    #[pyo3(signature = (
        name, *, circuit_breaker, attempts, base_delay, max_delay, multiplier, jitter,
        timeout, classifier, fallback, fallback_takes_error, idempotency=None,
        default_timeout=true, dlq=false, bulkhead=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: Bound<'_, PyString>,
        circuit_breaker: bool,
        attempts: u32,
        base_delay: f64,
        max_delay: f64,
        multiplier: f64,
        jitter: &str,
        timeout: Option<f64>,
        classifier: Py<PyAny>,
        fallback: Option<Py<PyAny>>,
        fallback_takes_error: bool,
        idempotency: Option<Py<IdempotencySpec>>,
        default_timeout: bool,
        dlq: bool,
        bulkhead: Option<&str>,
    ) -> PyResult<Self> {
        // First: an unknown compartment is the callsite's mistake, named
        // before anything is built for it.
        let compartment = bulkhead
            .map(|name| bulkhead::compartment_named(py, name))
            .transpose()?;
        let bulkheaded = compartment.is_some();
        let backoff = Backoff::new(
            base_delay,
            max_delay,
            multiplier,
            Jitter::parse(jitter).or_config_error(py)?,
        )
        .or_config_error(py)?;
        let retry = RetryPolicy::new(attempts, backoff).or_config_error(py)?;
        let timeout = timeout
            .map(|t| positive_seconds("timeout", t))
            .transpose()
            .or_config_error(py)?;
        let counters = METRICS.zone(name.to_str()?);
        let breaker = match circuit_breaker {
            true => Some(REGISTRY.get_or_create(name.to_str()?)),
            false => None,
        };
        Ok(Self {
            name: name.unbind(),
            core: {
                let mut zone = Zone::new(breaker, retry, timeout, REGISTRY.clock().clone())
                    .with_counters(counters);
                if let Some(compartment) = compartment {
                    zone = zone.with_compartment(compartment);
                }
                // BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS, unless the zone opted out.
                if default_timeout {
                    zone.with_defaults(ZONE_DEFAULTS.clone())
                } else {
                    zone
                }
            },
            classifier,
            fallback,
            fallback_takes_error,
            idempotency,
            dlq,
            bulkheaded,
        })
    }

    /// The zone's name.
    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// The wall-clock bound on a whole call, in seconds, or `None`.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.core.timeout().map(|t| t.as_secs_f64())
    }

    /// Attempts per call, the first included.
    #[getter]
    fn attempts(&self) -> u32 {
        self.core.retry().attempts()
    }

    /// The fallback, or `None`.
    #[getter]
    fn fallback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.fallback.as_ref().map(|f| f.clone_ref(py))
    }

    /// The idempotency spec, or `None` (async callsites await its claim).
    #[getter]
    fn idempotency(&self, py: Python<'_>) -> Option<Py<IdempotencySpec>> {
        self.idempotency.as_ref().map(|s| s.clone_ref(py))
    }

    /// The compartment its calls take a permit of, or `None`.
    #[getter]
    fn bulkhead(&self) -> Option<&str> {
        self.core.compartment().map(|c| c.name())
    }

    /// Whether calls that end without success are recorded in the DLQ.
    #[getter]
    fn dlq(&self) -> bool {
        self.dlq
    }

    /// Whether the fallback takes the final exception.
    #[getter]
    fn fallback_takes_error(&self) -> bool {
        self.fallback_takes_error
    }

    /// A fallback answered a call (the async driver runs fallbacks in Python).
    fn count_fallback(&self) {
        self.core.counters().fallback();
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<baldur Zone {}>", self.name.bind(py))
    }
}

impl PyZone {
    /// What the pipeline steps through for this zone. With the kill switch
    /// off (`enabled` false), no claim and no dead letter (nor breaker or
    /// retry: see `Zone::begin`).
    #[inline]
    pub(crate) fn protections(&self, enabled: bool) -> Protections {
        Protections {
            idempotency: enabled && self.idempotency.is_some(),
            dlq: enabled && self.dlq,
            fallback: self.fallback.is_some(),
            bulkhead: enabled && self.bulkheaded,
        }
    }

    /// Judges an attempt's error with the Python classifier.
    pub(crate) fn classify(&self, py: Python<'_>, error: &PyErr) -> PyResult<Verdict> {
        let answer = self.classifier.call1(py, (error.value(py),))?;
        let answer = answer.bind(py).cast::<PyTuple>().map_err(PyErr::from)?;
        let code: u8 = answer.get_item(0)?.extract()?;
        let delay: Option<f64> = answer.get_item(1)?.extract()?;
        match code {
            NOT_A_FAILURE => Ok(Verdict::NotAFailure),
            RETRYABLE => Ok(Verdict::Retryable {
                // A delay too long for a Duration is still "wait as long as
                // allowed": the backoff caps it at max_delay.
                server_delay: delay
                    .filter(|d| *d >= 0.0)
                    .map(|d| Duration::try_from_secs_f64(d).unwrap_or(Duration::MAX)),
            }),
            FATAL => Ok(Verdict::Fatal),
            ABORT => Ok(Verdict::Abort),
            other => Err(PyTypeError::new_err(format!(
                "classifier returned unknown verdict {other}"
            ))),
        }
    }
}
