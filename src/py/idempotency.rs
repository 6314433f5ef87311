//! Idempotency at the callsite: finding the key among the call's
//! arguments, claiming it before the breaker, and settling the claim when
//! the call ends (completed on success, released otherwise).

use crate::core::clock::SystemClock;
use crate::core::control::KILL_SWITCH;
use crate::core::error::positive_seconds;
use crate::core::idempotency::{
    Claim, IdempotencyGate, MemoryStore, Refusal, StoreError, UnreachableStore,
};
use crate::core::metrics::registry::METRICS;
use crate::core::store::wal::Pending;
use crate::py::errors;
use crate::py::errors::IntoPyConfig;
use crate::py::runtime::{BaldurRuntime, RUNTIME};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The process's idempotency gate; the memory store until a shared one is
/// configured.
pub(crate) static GATE: LazyLock<IdempotencyGate> =
    LazyLock::new(|| IdempotencyGate::new(Arc::new(MemoryStore::new(SystemClock::shared()))));

static EVENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Completions still travelling to a remote store; the exit hook waits for
/// them before the runtime stops.
static IN_FLIGHT: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    parking_lot::Mutex::new(Vec::new());

/// Waits (at most `timeout`) for background completions to land.
pub(crate) fn wait_for_completions(py: Python<'_>, timeout: Duration) {
    let tasks = std::mem::take(&mut *IN_FLIGHT.lock());
    if tasks.is_empty() {
        return;
    }
    py.detach(|| {
        let _ = RUNTIME.block_on(async move {
            let all = async {
                for task in tasks {
                    let _ = task.await;
                }
            };
            let _ = tokio::time::timeout(timeout, all).await;
        });
    });
}

/// In a forked child: the parent's completions run on a runtime the child
/// does not have, so waiting for them at exit would only wait out the
/// timeout. They are the parent's to deliver; the child forgets them.
pub(crate) fn after_fork() {
    if let Some(mut tasks) = IN_FLIGHT.try_lock() {
        std::mem::forget(std::mem::take(&mut *tasks));
    }
}

/// Sets how long a completed operation blocks duplicates.
#[pyfunction]
pub(crate) fn set_idempotency_memory_ttl(py: Python<'_>, seconds: f64) -> PyResult<()> {
    let ttl =
        positive_seconds("idempotency_gate_memory_ttl_seconds", seconds).or_config_error(py)?;
    GATE.set_memory_ttl(ttl);
    Ok(())
}

/// Fault injection: with a reason, the idempotency store behaves as if its
/// backing service were down (every claim fails: fail-closed calls raise
/// `IdempotencyUnavailableError`, fail-open ones run unclaimed); with
/// `None`, a fresh memory store is back. For tests and failure drills.
#[pyfunction]
#[pyo3(signature = (reason))]
pub(crate) fn inject_idempotency_store_fault(reason: Option<String>) {
    match reason {
        Some(reason) => GATE.set_store(Arc::new(UnreachableStore::new(reason))),
        None => GATE.set_store(Arc::new(MemoryStore::new(SystemClock::shared()))),
    }
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

/// A claim held for the length of one call. Settled exactly once: completed
/// on success, released on any other end (including being dropped).
pub(crate) struct HeldClaim {
    claim: Option<Claim>,
    /// Release a remote claim in the background (an async callsite must
    /// not block its event loop on the round trip).
    background_release: bool,
}

/// A claim about to be made.
struct ClaimRequest {
    key_text: Py<PyString>,
    namespaced: String,
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
    let background = |held: Option<HeldClaim>| {
        held.map(|mut held| {
            held.background_release = true;
            held
        })
    };
    if !KILL_SWITCH.is_enabled() {
        // Disabled: the call runs unclaimed, like every other protection.
        return Ok(Bound::new(py, PendingClaim { held: None })?.into_any());
    }
    if !GATE.is_remote() {
        let held = background(spec.get().claim(py, args, kwargs, given)?);
        return Ok(Bound::new(py, PendingClaim { held })?.into_any());
    }
    let request = spec.get().prepare(py, args, kwargs, given)?;
    let pending = GATE.claim_async(
        request.namespaced.clone(),
        request.fingerprint,
        spec.get().execution_ttl,
    );
    pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async move {
        let claimed = pending.await;
        Python::attach(|py| {
            let held = background(spec.get().settle(py, &request, claimed)?);
            Py::new(py, PendingClaim { held })
        })
    })
}

impl HeldClaim {
    /// The call succeeded: duplicates are refused from now on.
    pub(crate) fn complete(mut self, py: Python<'_>) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        if !GATE.is_remote() {
            settle_completion(py, &claim, GATE.complete(&claim));
            return;
        }
        // A remote completion runs in the background: the caller has its
        // answer after one round trip (the claim). Until it lands, a
        // duplicate still sees the claim, "in_progress", and is refused.
        let background = RUNTIME.handle().map(|runtime| {
            runtime.spawn_blocking(move || {
                let completed = GATE.complete(&claim);
                Python::attach(|py| settle_completion(py, &claim, completed));
            })
        });
        match background {
            Ok(task) => {
                let mut in_flight = IN_FLIGHT.lock();
                in_flight.retain(|task| !task.is_finished());
                in_flight.push(task);
            }
            Err(error) => event_text(py, "idempotency.completion_failed", &error.to_string()),
        }
    }
}

impl HeldClaim {
    /// The call ended without success: a later attempt may run.
    pub(crate) fn release(mut self) {
        self.release_now();
    }

    fn release_now(&mut self) {
        if let Some(claim) = self.claim.take() {
            if self.background_release && GATE.is_remote() {
                release_in_background(claim);
                return;
            }
            let released = if GATE.is_remote() {
                // Drop may run with or without the GIL: hold it, then let
                // it go for the round trip.
                Python::attach(|py| py.detach(|| GATE.release(&claim)))
            } else {
                GATE.release(&claim)
            };
            if let Err(error) = released {
                if GATE.is_remote() {
                    Python::attach(|py| {
                        crate::py::stores::log_pending(
                            py,
                            &Pending::IdempotencyRelease {
                                key: claim.key().to_owned(),
                                owner: claim.owner(),
                            },
                        )
                    });
                }
                Python::attach(|py| {
                    event(py, "idempotency.release_failed", &claim, &error.to_string())
                });
            }
        }
    }
}

/// A remote release off the caller's thread; logged (and queued in the
/// write-ahead log) if it fails, like a blocking one.
fn release_in_background(claim: Claim) {
    let task = RUNTIME.handle().map(|runtime| {
        runtime.spawn_blocking(move || {
            HeldClaim {
                claim: Some(claim),
                background_release: false,
            }
            .release_now();
        })
    });
    if let Ok(task) = task {
        let mut in_flight = IN_FLIGHT.lock();
        in_flight.retain(|task| !task.is_finished());
        in_flight.push(task);
    }
}

/// A claim is never leaked: one not settled by its call is released.
impl Drop for HeldClaim {
    fn drop(&mut self) {
        self.release_now();
    }
}

impl IdempotencySpec {
    /// Finds the call's key and claims it. `Ok(None)`: the store is
    /// unreachable and the zone is fail-open, so the call runs unclaimed.
    pub(crate) fn claim(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        given: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<HeldClaim>> {
        let request = self.prepare(py, args, kwargs, given)?;
        let (key, fingerprint, ttl) = (
            request.namespaced.clone(),
            request.fingerprint,
            self.execution_ttl,
        );
        let claimed = if GATE.is_remote() {
            py.detach(|| GATE.claim(key, fingerprint, ttl))
        } else {
            GATE.claim(key, fingerprint, ttl)
        };
        self.settle(py, &request, claimed)
    }

    /// The call's key, namespaced, and its payload's fingerprint: what a
    /// claim needs, worked out while the call's arguments are at hand.
    fn prepare(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        given: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ClaimRequest> {
        let key = self.key_of(py, args, kwargs, given)?;
        let fingerprint = match &self.fingerprint {
            Some(fingerprint) => Some(fingerprint.call1(py, (args, kwargs))?.extract::<u64>(py)?),
            None => None,
        };
        let key_text = key.str()?;
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
        let namespaced = format!("{}:{}", self.namespace, text);
        Ok(ClaimRequest {
            key_text: key_text.unbind(),
            namespaced,
            fingerprint,
        })
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
            Ok(claim) => {
                if claim.took_over() {
                    event(
                        py,
                        "idempotency.claim_taken_over",
                        &claim,
                        "a claim older than its execution window was taken over",
                    );
                }
                Ok(Some(HeldClaim {
                    claim: Some(claim),
                    background_release: false,
                }))
            }
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
                emit(
                    py,
                    "idempotency.claim_failed",
                    &request.namespaced,
                    &message,
                );
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
        let (key, described) = match &self.key {
            KeySource::Given => (given.cloned(), "the idempotency_key value".to_owned()),
            KeySource::Value(value) => (
                Some(value.bind(py).clone()),
                "the idempotency_key value".to_owned(),
            ),
            KeySource::Callable(callable) => (
                Some(callable.bind(py).call(args, kwargs)?),
                "the idempotency_key callable's answer".to_owned(),
            ),
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
                let found = by_name
                    .or(by_position)
                    .or_else(|| default.as_ref().map(|d| d.bind(py).clone()));
                (found, format!("argument {}", name.bind(py)))
            }
        };
        match key {
            Some(key) if !key.is_none() => Ok(key),
            Some(_) => Err(errors::idempotency_key(
                py,
                &format!(
                    "{described} of {:?} is None: the call did not run",
                    self.namespace
                ),
            )),
            None => Err(errors::idempotency_key(
                py,
                &format!(
                    "{described} of {:?} is missing: the call did not run",
                    self.namespace
                ),
            )),
        }
    }
}

/// Logs what became of a completion that did not simply succeed.
fn settle_completion(py: Python<'_>, claim: &Claim, completed: Result<bool, StoreError>) {
    match completed {
        Ok(true) => {}
        Ok(false) => event(
            py,
            "idempotency.completion_blocked",
            claim,
            "the claim was taken over by a newer owner; its record is left alone",
        ),
        Err(error) => {
            event(
                py,
                "idempotency.completion_failed",
                claim,
                &error.to_string(),
            );
            // Durably queued: replayed when the store is back, so the
            // operation does not become runnable again when its window ends.
            crate::py::stores::log_pending(
                py,
                &Pending::IdempotencyComplete {
                    key: claim.key().to_owned(),
                    owner: claim.owner(),
                    memory_ttl_ms: u64::try_from(GATE.memory_ttl().as_millis()).unwrap_or(u64::MAX),
                },
            );
        }
    }
}

fn event_text(py: Python<'_>, name: &str, detail: &str) {
    emit(py, name, "", detail);
}

fn event(py: Python<'_>, name: &str, claim: &Claim, detail: &str) {
    emit(py, name, claim.key(), detail);
}

/// Logs an idempotency event through `baldur._events`; a broken logger
/// must not break the call.
fn emit(py: Python<'_>, name: &str, key: &str, detail: &str) {
    let logged = EVENT
        .import(py, "baldur._events", "idempotency_event")
        .and_then(|log| log.call1((name, key, detail)));
    if let Err(err) = logged {
        err.write_unraisable(py, None);
    }
}
