//! Idempotency at the callsite: finding the key among the call's
//! arguments, claiming it before the breaker, and settling the claim when
//! the call ends (completed on success, released otherwise).

use crate::core::control::KILL_SWITCH;
use crate::core::error::positive_seconds;
use crate::core::idempotency::{Claim, ClaimKey, Refusal};
use crate::core::metrics::registry::METRICS;
pub(crate) use crate::core::process::idempotency::HeldClaim;
use crate::core::process::idempotency::{self, GATE};
use crate::py::errors;
use crate::py::errors::IntoPyConfig;
use crate::py::gil::without_gil;
use crate::py::runtime::BaldurRuntime;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::time::Duration;

/// Sets how long a completed operation blocks duplicates.
#[pyfunction]
pub(crate) fn set_idempotency_memory_ttl(py: Python<'_>, seconds: f64) -> PyResult<()> {
    let ttl =
        positive_seconds("idempotency_gate_memory_ttl_seconds", seconds).or_config_error(py)?;
    GATE.set_memory_ttl(ttl);
    Ok(())
}

/// Where a call's key comes from.
enum KeySource {
    /// An argument of the protected function, by name (and position).
    Argument {
        name: Py<PyString>,
        index: Option<usize>,
        default: Option<Py<PyAny>>,
    },
    /// `key(*args, **kwargs)`.
    Callable(Py<PyAny>),
    /// The key itself (the function forms, whose function takes no argument).
    Value(Py<PyAny>),
    /// Given with each call (the function forms' cached zones).
    Given,
}

/// `baldur._core.IdempotencySpec`: how one zone finds, namespaces and
/// fingerprints its key. Built by the facade, which knows the signature.
#[pyclass(frozen, module = "baldur._core", name = "IdempotencySpec")]
pub(crate) struct IdempotencySpec {
    namespace: String,
    key: KeySource,
    fingerprint: Option<Py<PyAny>>,
    execution_ttl: Duration,
    fail_open: bool,
}

#[pymethods]
impl IdempotencySpec {
    #[new]
    #[pyo3(signature = (
        namespace, *, key_name=None, key_index=None, key_default=None, key_callable=None,
        key_value=None, key_given=false, fingerprint=None, execution_ttl, fail_open
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        namespace: String,
        key_name: Option<Py<PyString>>,
        key_index: Option<usize>,
        key_default: Option<Py<PyAny>>,
        key_callable: Option<Py<PyAny>>,
        key_value: Option<Py<PyAny>>,
        key_given: bool,
        fingerprint: Option<Py<PyAny>>,
        execution_ttl: f64,
        fail_open: bool,
    ) -> PyResult<Self> {
        let key = match (key_name, key_callable, key_value, key_given) {
            (Some(name), None, None, false) => KeySource::Argument {
                name,
                index: key_index,
                default: key_default,
            },
            (None, Some(callable), None, false) => KeySource::Callable(callable),
            (None, None, Some(value), false) => KeySource::Value(value),
            (None, None, None, true) => KeySource::Given,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "exactly one of key_name, key_callable, key_value, key_given",
                ))
            }
        };
        let execution_ttl =
            positive_seconds("idempotency_execution_ttl", execution_ttl).or_config_error(py)?;
        Ok(Self {
            namespace,
            key,
            fingerprint,
            execution_ttl,
            fail_open,
        })
    }

    /// The namespace keys are prefixed with.
    #[getter]
    fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// A claim about to be made: the key as the caller gave it (for a refusal's
/// error) and its payload's fingerprint. The namespaced key travels apart,
/// moved into the claim rather than copied.
struct ClaimRequest {
    key_text: Py<PyString>,
    fingerprint: Option<u64>,
}

/// `baldur._core.PendingClaim`: a claim an async callsite awaited, handed
/// to its `AsyncCall`. Released if it is dropped unused.
#[pyclass(module = "baldur._core", name = "PendingClaim")]
pub(crate) struct PendingClaim {
    held: Option<HeldClaim>,
}

impl PendingClaim {
    /// The claim, once.
    pub(crate) fn take(&mut self) -> Option<HeldClaim> {
        self.held.take()
    }
}

/// Claims a call's key for an async callsite: a `PendingClaim` at once for
/// an in-process store, an awaitable resolving to one for a remote store
/// (the round trip runs on the background runtime, not the event loop).
#[pyfunction]
#[pyo3(signature = (spec, args, kwargs=None, given=None))]
pub(crate) fn claim_for_async<'py>(
    py: Python<'py>,
    spec: Py<IdempotencySpec>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    given: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let background = |held: Option<HeldClaim>| held.map(HeldClaim::releasing_in_background);
    if !KILL_SWITCH.is_enabled() {
        // Disabled: the call runs unclaimed, like every other protection.
        return Ok(Bound::new(py, PendingClaim { held: None })?.into_any());
    }
    if !GATE.is_remote() {
        let mut held = None;
        spec.get().claim(py, args, kwargs, given, &mut held)?;
        let held = background(held);
        return Ok(Bound::new(py, PendingClaim { held })?.into_any());
    }
    let (request, namespaced) = spec.get().prepare(py, args, kwargs, given)?;
    let pending = GATE.claim_async(namespaced, request.fingerprint, spec.get().execution_ttl);
    pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async move {
        let claimed = pending.await;
        Python::attach(|py| {
            let held = background(spec.get().settle(py, &request, claimed)?);
            Py::new(py, PendingClaim { held })
        })
    })
}

/// Settles a claim whose call ended without success: a remote store's
/// round trip runs with the GIL released.
pub(crate) fn release(py: Python<'_>, held: HeldClaim) {
    if held.release_blocks() {
        without_gil(py, || held.release());
    } else {
        held.release();
    }
}

impl IdempotencySpec {
    /// Finds the call's key and claims it into `held`, left `None` when
    /// the store is unreachable and the zone is fail-open (the call runs
    /// unclaimed). Written where the caller keeps it: a sync call's driver
    /// spares the move of the whole claim.
    pub(crate) fn claim(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        given: Option<&Bound<'_, PyAny>>,
        held: &mut Option<HeldClaim>,
    ) -> PyResult<()> {
        let (request, key) = self.prepare(py, args, kwargs, given)?;
        let (fingerprint, ttl) = (request.fingerprint, self.execution_ttl);
        let claimed = if GATE.is_remote() {
            without_gil(py, || GATE.claim(key, fingerprint, ttl))
        } else {
            GATE.claim(key, fingerprint, ttl)
        };
        *held = self.settle(py, &request, claimed)?;
        Ok(())
    }

    /// The call's key, namespaced, and its payload's fingerprint: what a
    /// claim needs, worked out while the call's arguments are at hand.
    fn prepare(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        given: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(ClaimRequest, ClaimKey)> {
        let key = self.key_of(py, args, kwargs, given)?;
        let fingerprint = match &self.fingerprint {
            Some(fingerprint) => Some(fingerprint.call1(py, (args, kwargs))?.extract::<u64>(py)?),
            None => None,
        };
        // A str key is its own text (most keys): no call to str().
        let key_text = match key.cast_exact::<PyString>() {
            Ok(text) => text.clone(),
            Err(_) => key.str()?,
        };
        let Ok(text) = key_text.to_str() else {
            // A lone surrogate (a bad decode upstream): no store can hold it.
            return Err(errors::idempotency_key(
                py,
                &format!(
                    "the idempotency key {} of {:?} is not valid Unicode (a lone surrogate): \
                     the call did not run",
                    key_text.repr()?,
                    self.namespace
                ),
            ));
        };
        let namespaced = self.namespaced(text);
        let request = ClaimRequest {
            key_text: key_text.unbind(),
            fingerprint,
        };
        Ok((request, namespaced))
    }

    /// `namespace:key`, kept in the claim itself when short.
    fn namespaced(&self, key: &str) -> ClaimKey {
        ClaimKey::joined(&self.namespace, key)
    }

    /// What the store said, as the caller sees it: a held claim, a
    /// duplicate error, or (fail-open) nothing to hold.
    fn settle(
        &self,
        py: Python<'_>,
        request: &ClaimRequest,
        claimed: Result<Claim, Refusal>,
    ) -> PyResult<Option<HeldClaim>> {
        let key_text = request.key_text.bind(py);
        if matches!(
            claimed,
            Err(Refusal::Duplicate(_) | Refusal::PayloadMismatch(_))
        ) {
            METRICS.zone(&self.namespace).idempotency_duplicate();
        }
        match claimed {
            Ok(claim) => Ok(Some(HeldClaim::hold(claim))),
            Err(Refusal::Duplicate(state)) => Err(errors::idempotency_duplicate(
                py,
                "IdempotencyDuplicateError",
                key_text,
                &self.namespace,
                state.as_str(),
            )),
            Err(Refusal::PayloadMismatch(state)) => Err(errors::idempotency_duplicate(
                py,
                "IdempotencyPayloadMismatchError",
                key_text,
                &self.namespace,
                state.as_str(),
            )),
            Err(Refusal::Unavailable(error)) if self.fail_open => {
                let message = format!("{error}; running unclaimed (fail_open=True)");
                let key = self.namespaced(&key_text.to_string_lossy());
                idempotency::emit("idempotency.claim_failed", key.as_str(), &message);
                Ok(None)
            }
            Err(Refusal::Unavailable(error)) => {
                Err(errors::idempotency_unavailable(py, &error.to_string()))
            }
        }
    }

    fn key_of<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        given: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = match &self.key {
            KeySource::Given => given.cloned(),
            KeySource::Value(value) => Some(value.bind(py).clone()),
            KeySource::Callable(callable) => Some(callable.bind(py).call(args, kwargs)?),
            KeySource::Argument {
                name,
                index,
                default,
            } => {
                let by_name = match kwargs {
                    Some(kwargs) => kwargs.get_item(name)?,
                    None => None,
                };
                let by_position = index.and_then(|i| args.get_item(i).ok());
                by_name
                    .or(by_position)
                    .or_else(|| default.as_ref().map(|d| d.bind(py).clone()))
            }
        };
        match key {
            Some(key) if !key.is_none() => Ok(key),
            Some(_) => Err(self.key_error(py, "None")),
            None => Err(self.key_error(py, "missing")),
        }
    }

    /// The call has no usable key: it is `what` ("None", "missing").
    #[cold]
    fn key_error(&self, py: Python<'_>, what: &str) -> PyErr {
        let described = match &self.key {
            KeySource::Given | KeySource::Value(_) => "the idempotency_key value".to_owned(),
            KeySource::Callable(_) => "the idempotency_key callable's answer".to_owned(),
            KeySource::Argument { name, .. } => format!("argument {}", name.bind(py)),
        };
        errors::idempotency_key(
            py,
            &format!(
                "{described} of {:?} is {what}: the call did not run",
                self.namespace
            ),
        )
    }
}
