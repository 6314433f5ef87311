//! Which stores this process uses: process memory by default, Redis when
//! `init()` names a URL (for idempotency claims, and for breaker state
//! shared by every worker). Health changes are logged through
//! `baldur._events`.

use crate::core::breaker::fleet::{BreakerSync, DEFAULT_SYNC_INTERVAL};
use crate::core::clock::SystemClock;
use crate::core::idempotency::Claim;
use crate::core::idempotency::{MemoryStore, RedisIdempotencyStore};
use crate::core::store::health::{HealthEvent, StoreHealth, DEFAULT_PROBE_INTERVAL};
use crate::core::store::redis::DEFAULT_OPERATION_TIMEOUT;
use crate::core::store::wal::{LazyWal, Pending};
use crate::core::store::{RedisStore, RedisTarget};
use crate::py::breakers::REGISTRY;
use crate::py::idempotency::GATE;
use crate::py::runtime::{BaldurRuntime, RUNTIME};
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use tokio::task::JoinHandle;

static EVENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// How long the exit hook waits for what must still reach the stores.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The URLs `configure_stores` was given and what was built from them.
static CONFIGURED: Mutex<Configured> = Mutex::new(Configured::memory());

/// How often breakers sync (`BALDUR_CB_SYNC_INTERVAL_SECONDS`).
static SYNC_INTERVAL: Mutex<std::time::Duration> = Mutex::new(DEFAULT_SYNC_INTERVAL);

/// The CA bundle for rediss:// given to the last configuration.
static TLS_CA: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// The write-ahead log for what must reach Redis and could not.
static WAL: Mutex<Option<Arc<LazyWal>>> = Mutex::new(None);

/// Set while a replay of the log runs (one at a time).
static REPLAYING: AtomicBool = AtomicBool::new(false);

/// Set when a replay is asked for; the running one goes round again.
static REPLAY_AGAIN: AtomicBool = AtomicBool::new(false);

/// Set by the exit hook: a running replay stops at its next entry (what is
/// left stays logged for the next process).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Set when breaker sync is configured but its task not yet started: the
/// runtime starts on first use (a call), never at import or in `init()`.
static SYNC_PENDING: AtomicBool = AtomicBool::new(false);

/// Held while the first sync round runs: every first caller waits for it.
/// Behind a swappable handle: a child forked while a thread held it gets
/// a fresh one (that thread does not exist in the child to release it).
static START_LOCK: LazyLock<Mutex<Arc<Mutex<()>>>> = LazyLock::new(Mutex::default);

struct Configured {
    idempotency: Option<(String, Arc<StoreHealth>)>,
    breakers: Option<(String, Arc<StoreHealth>, Arc<RedisStore>)>,
    sync_task: Option<JoinHandle<()>>,
    sync: Option<BreakerSync>,
}

impl Configured {
    const fn memory() -> Self {
        Self {
            idempotency: None,
            breakers: None,
            sync_task: None,
            sync: None,
        }
    }
}

/// Checks a Redis URL: `None` when usable, else what is wrong with it.
#[pyfunction]
pub(crate) fn redis_url_problem(url: &str) -> Option<String> {
    RedisTarget::parse(url).err()
}

/// Puts idempotency claims and breaker state in Redis at the URLs given, or
/// back in process memory with `None`. No I/O here: connections are made,
/// and the sync task started, on first use.
#[pyfunction]
#[pyo3(signature = (idempotency_url, breaker_url, wal_path=None, tls_ca_pem=None, sync_interval=None))]
pub(crate) fn configure_stores(
    idempotency_url: Option<String>,
    breaker_url: Option<String>,
    wal_path: Option<std::path::PathBuf>,
    tls_ca_pem: Option<Vec<u8>>,
    sync_interval: Option<f64>,
) -> PyResult<()> {
    if let Some(seconds) = sync_interval {
        let interval = std::time::Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| PyValueError::new_err("sync_interval must be > 0 seconds"))?;
        *SYNC_INTERVAL.lock() = interval;
    }
    *TLS_CA.lock() = tls_ca_pem.clone();
    {
        let mut wal = WAL.lock();
        let remote = idempotency_url.is_some() || breaker_url.is_some();
        let same = wal.as_ref().map(|w| w.path().to_owned()) == wal_path;
        if !remote {
            *wal = None;
        } else if !same {
            *wal = wal_path.map(|path| Arc::new(LazyWal::new(path)));
        }
    }
    let mut configured = CONFIGURED.lock();
    let current = configured.idempotency.as_ref().map(|(url, _)| url.as_str());
    if current != idempotency_url.as_deref() {
        configured.idempotency = match idempotency_url {
            None => {
                GATE.set_store(Arc::new(MemoryStore::new(SystemClock::shared())));
                None
            }
            Some(url) => {
                let (redis, health) = connect(&url, "redis:idempotency", tls_ca_pem.clone())?;
                let store = RedisIdempotencyStore::new(redis).on_orphaned_claim(Arc::new(
                    |key: &str, owner: u64| {
                        log_pending_detached(&Pending::IdempotencyRelease {
                            key: key.to_owned(),
                            owner,
                        });
                    },
                ));
                GATE.set_store(Arc::new(store));
                // The first call replays what a predecessor left in the log.
                SYNC_PENDING.store(true, Ordering::Release);
                Some((url, health))
            }
        };
    }
    let current = configured.breakers.as_ref().map(|(url, ..)| url.as_str());
    if current != breaker_url.as_deref() {
        if let Some(task) = configured.sync_task.take() {
            task.abort();
        }
        configured.sync = None;
        configured.breakers = match breaker_url {
            None => {
                REGISTRY.set_shared(false);
                // Still pending for the log's replay when idempotency is remote.
                SYNC_PENDING.store(configured.idempotency.is_some(), Ordering::Release);
                None
            }
            Some(url) => {
                let (redis, health) = connect(&url, "redis:circuit_breaker", tls_ca_pem.clone())?;
                REGISTRY.set_shared(true);
                SYNC_PENDING.store(true, Ordering::Release);
                Some((url, health, redis))
            }
        };
    }
    Ok(())
}

fn connect(
    url: &str,
    name: &str,
    tls_ca_pem: Option<Vec<u8>>,
) -> PyResult<(Arc<RedisStore>, Arc<StoreHealth>)> {
    let target = RedisTarget::parse(url).map_err(PyValueError::new_err)?;
    let health = Arc::new(StoreHealth::new(
        name,
        SystemClock::shared(),
        DEFAULT_PROBE_INTERVAL,
    ));
    let redis = Arc::new(
        RedisStore::new(
            &target,
            tls_ca_pem,
            &RUNTIME,
            health.clone(),
            DEFAULT_OPERATION_TIMEOUT,
        )
        .map_err(PyValueError::new_err)?,
    );
    listen_to_health(&redis, log_health_event);
    redis.watch_for_data_loss(None, what_it_holds(name));
    Ok((redis, health))
}

/// What a store of this role keeps in Redis: what a Redis that comes back
/// empty has lost.
fn what_it_holds(name: &str) -> &'static str {
    if name.ends_with("idempotency") {
        "every idempotency claim and completed key (a completed call may run again)"
    } else {
        "the fleet's breaker states (each worker merges its own back)"
    }
}

/// Installs `log` as the store's health listener, and probes the store in
/// the background each time it enters DEGRADED, so it leaves DEGRADED when
/// Redis is back whether or not traffic needs it.
pub(crate) fn listen_to_health(redis: &Arc<RedisStore>, log: fn(&HealthEvent)) {
    // Weak: the store owns its health, which owns this listener.
    let store = Arc::downgrade(redis);
    redis
        .health()
        .set_listener(Some(Arc::new(move |event: &HealthEvent| {
            if matches!(event, HealthEvent::DegradedEntered { .. }) {
                // The runtime is up: the failure was an operation on it.
                let _ = RUNTIME.spawn(RedisStore::recover(store.clone()));
            }
            log(event);
        })));
}

/// Starts the breaker sync if it is configured and not yet running.
/// Called on every protected call: one atomic load when there is nothing
/// to do.
#[inline]
pub(crate) fn ensure_started(py: Python<'_>) {
    if SYNC_PENDING.load(Ordering::Relaxed) {
        start_sync(py);
    }
}

/// The worker's first protected call: one sync round before it is
/// admitted (a new worker must not probe a dependency the fleet knows is
/// down), then the periodic task. Every thread that calls meanwhile waits
/// for that round too, with the GIL released.
#[cold]
fn start_sync(py: Python<'_>) {
    py.detach(start_sync_now);
}

/// The first call of a coroutine: an awaitable that completes once the
/// first sync round did (the event loop keeps running meanwhile), or
/// `None` when it has already happened.
#[pyfunction]
pub(crate) fn first_sync(py: Python<'_>) -> PyResult<Option<Bound<'_, PyAny>>> {
    if !SYNC_PENDING.load(Ordering::Acquire) {
        return Ok(None);
    }
    pyo3_async_runtimes::generic::future_into_py::<BaldurRuntime, _, _>(py, async {
        // Blocking (a lock, then a bounded round trip): off the runtime's
        // async workers.
        let _ = tokio::task::spawn_blocking(start_sync_now).await;
        Ok(())
    })
    .map(Some)
}

/// Starts the sync: blocks until the first round is done (bounded by the
/// store's operation timeout; DEGRADED if it fails).
fn start_sync_now() {
    let lock = START_LOCK.lock().clone();
    let _starting = lock.lock();
    if !SYNC_PENDING.load(Ordering::Acquire) {
        return; // another thread started it while this one waited
    }
    let Some(redis) = CONFIGURED
        .lock()
        .breakers
        .as_ref()
        .map(|(_, _, r)| r.clone())
    else {
        // Idempotency alone in Redis: no sync, but a predecessor's
        // completions and releases may wait in the log.
        SYNC_PENDING.store(false, Ordering::Release);
        schedule_replay();
        return;
    };
    let worker = format!("{}-{:x}", std::process::id(), fastrand::u64(..));
    let interval = *SYNC_INTERVAL.lock();
    let mut sync = BreakerSync::new(&REGISTRY, redis, worker, interval)
        .on_wal_failure(Arc::new(|error: &str| report_wal_failure(error)));
    if let Some(wal) = WAL.lock().clone() {
        sync = sync.with_wal(wal);
    }
    let first = sync.clone();
    let _ = RUNTIME.block_on(async move { first.sync_all().await });
    let keep = sync.clone();
    // Breakers keep deciding alone if this fails; the next call tries again.
    if let Ok(task) = RUNTIME.spawn(sync.run()) {
        let mut configured = CONFIGURED.lock();
        configured.sync_task = Some(task);
        configured.sync = Some(keep);
        drop(configured);
        SYNC_PENDING.store(false, Ordering::Release);
        // A predecessor may have left decisions in the log.
        schedule_replay();
    }
}

/// Logs a write that could not reach Redis, durably (the GIL released
/// around the disk write); a failure to log is reported at ERROR (the
/// write would otherwise be lost silently).
pub(crate) fn log_pending(py: Python<'_>, pending: &Pending) {
    let wal = WAL.lock().clone();
    let logged = py.detach(|| match wal {
        Some(wal) => wal.get().and_then(|log| log.append(pending).map(|_| ())),
        None => Err("no write-ahead log is configured".to_owned()),
    });
    if let Err(error) = logged {
        emit_storage_event(py, "storage.wal_append_failed", "wal", error);
    }
}

/// As [`log_pending`], from a thread that does not hold the GIL (the
/// runtime's): takes it only to report a failure.
fn log_pending_detached(pending: &Pending) {
    let wal = WAL.lock().clone();
    let logged = match wal {
        Some(wal) => wal.get().and_then(|log| log.append(pending).map(|_| ())),
        None => Err("no write-ahead log is configured".to_owned()),
    };
    if let Err(error) = logged {
        report_wal_failure(&error);
    }
}

/// A breaker decision the log refused (called from the sync task).
fn report_wal_failure(error: &str) {
    report_wal_event("storage.wal_append_failed", error);
}

/// A log event from a thread without the GIL (the runtime's, a replay's).
fn report_wal_event(event: &str, detail: &str) {
    Python::attach(|py| emit_storage_event(py, event, "wal", detail.to_owned()));
}

fn emit_storage_event(py: Python<'_>, event: &str, store: &str, detail: String) {
    let logged = EVENT
        .import(py, "baldur._events", "storage_event")
        .and_then(|log| log.call1((event, store, detail)));
    if let Err(err) = logged {
        err.write_unraisable(py, None);
    }
}

/// Replays the log in the background, oldest first, until it is empty or
/// the store fails again (what is left waits for the next recovery).
pub(crate) fn schedule_replay() {
    let Some(wal) = WAL.lock().clone() else {
        return;
    };
    if STOPPING.load(Ordering::Acquire) {
        return;
    }
    // One replay at a time; one asked for meanwhile runs right after it (it
    // may be for rows the running one had already paged past).
    REPLAY_AGAIN.store(true, Ordering::Release);
    if REPLAYING.swap(true, Ordering::AcqRel) {
        return;
    }
    let sync = CONFIGURED.lock().sync.clone();
    let task = RUNTIME.handle().map(|runtime| {
        runtime.spawn_blocking(move || {
            while REPLAY_AGAIN.swap(false, Ordering::AcqRel) && !STOPPING.load(Ordering::Acquire) {
                replay(&wal, sync.as_ref());
            }
            REPLAYING.store(false, Ordering::Release);
            if REPLAY_AGAIN.load(Ordering::Acquire) {
                schedule_replay(); // asked for between the last check and now
            }
        })
    });
    if task.is_err() {
        REPLAYING.store(false, Ordering::Release);
    }
}

fn replay(wal: &LazyWal, sync: Option<&BreakerSync>) {
    let log = match wal.get() {
        Ok(log) => log,
        Err(error) => return report_wal_event("storage.wal_replay_failed", &error),
    };
    let mut after = 0;
    loop {
        let entries = match log.pending_after(after, 100) {
            Ok(entries) => entries,
            Err(error) => return report_wal_event("storage.wal_replay_failed", &error),
        };
        for unreadable in log.take_quarantined() {
            report_wal_event("storage.wal_entry_quarantined", &unreadable);
        }
        if entries.is_empty() {
            return;
        }
        for entry in entries {
            if STOPPING.load(Ordering::Acquire) {
                return;
            }
            after = entry.id;
            let delivered = match &entry.pending {
                Pending::IdempotencyComplete {
                    key,
                    owner,
                    memory_ttl_ms,
                } => {
                    let claim = Claim::restore(key.clone(), *owner);
                    GATE.complete_with_ttl(&claim, std::time::Duration::from_millis(*memory_ttl_ms))
                        .map(|_| true)
                }
                Pending::IdempotencyRelease { key, owner } => GATE
                    .release(&Claim::restore(key.clone(), *owner))
                    .map(|_| true),
                breaker @ Pending::Breaker { .. } => match sync {
                    Some(sync) => RUNTIME
                        .block_on(sync.replay(breaker))
                        .map_err(|e| crate::core::idempotency::StoreError(e.to_string()))
                        .and_then(|result| result),
                    // Breakers are not shared here: left for a process
                    // that shares them.
                    None => Ok(false),
                },
            };
            match delivered {
                // Delivered: forgotten. (An ack that fails leaves the row
                // for a later replay; every write here is idempotent.)
                Ok(true) => {
                    if log.ack(entry.id).is_err() {
                        return;
                    }
                }
                // A live process's own row: it delivers it itself.
                Ok(false) => {}
                // The store failed again: what is left waits for the next
                // recovery.
                Err(_) => return,
            }
        }
    }
}

/// Replays the write-ahead log now, in the background (it also runs on
/// its own after every recovery and when the sync starts).
#[pyfunction]
pub(crate) fn replay_wal_now() {
    schedule_replay();
}

/// Appends one write, given as the log's own JSON, to the write-ahead log
/// (tests and tooling: what another process would have left there).
#[pyfunction]
pub(crate) fn wal_append_json(py: Python<'_>, payload: &str) -> PyResult<()> {
    let pending: Pending = serde_json::from_str(payload)
        .map_err(|e| PyValueError::new_err(format!("not a write-ahead log entry: {e}")))?;
    let wal = WAL
        .lock()
        .clone()
        .ok_or_else(|| PyValueError::new_err("no write-ahead log is configured"))?;
    py.detach(|| wal.get().and_then(|log| log.append(&pending)))
        .map(|_| ())
        .map_err(PyValueError::new_err)
}

/// Writes waiting in the log (for health checks and tests).
#[pyfunction]
pub(crate) fn wal_pending(py: Python<'_>) -> PyResult<u64> {
    let wal = WAL.lock().clone();
    match wal {
        None => Ok(0),
        // SQLite may wait on another process's lock: not with the GIL held.
        Some(wal) => py
            .detach(|| wal.get().and_then(|log| log.len()))
            .map_err(PyValueError::new_err),
    }
}

/// Carries every breaker's unsent outbox to the store (the exit hook runs
/// it before the runtime stops): a probe's success or a trip decided just
/// before exit must not die with the process.
#[pyfunction]
pub(crate) fn flush_stores(py: Python<'_>) {
    // A replay in progress stops at its next entry; the runtime must not
    // shut down under its blocking thread.
    STOPPING.store(true, Ordering::Release);
    py.detach(|| {
        let deadline = std::time::Instant::now() + FLUSH_TIMEOUT;
        while REPLAYING.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
    crate::py::idempotency::wait_for_completions(py, FLUSH_TIMEOUT);
    let sync = CONFIGURED.lock().sync.clone();
    if let Some(sync) = sync {
        let _ = py.detach(|| RUNTIME.block_on(async move { sync.sync_all().await }));
    }
}

/// In a forked child: the parent's connections and sync task belong to a
/// runtime the child does not have, so both are rebuilt (lazily).
pub(crate) fn after_fork() {
    // The parent's replay thread, exit flush and first sync do not exist
    // here; nor is what the parent owed the fleet the child's to send.
    REPLAYING.store(false, Ordering::Release);
    REPLAY_AGAIN.store(false, Ordering::Release);
    STOPPING.store(false, Ordering::Release);
    if let Some(mut lock) = START_LOCK.try_lock() {
        *lock = Arc::default();
    }
    for breaker in REGISTRY.all() {
        breaker.forget_link_after_fork();
    }
    let mut configured = CONFIGURED.lock();
    if let Some(task) = configured.sync_task.take() {
        std::mem::forget(task); // its runtime is gone; aborting would touch it
    }
    configured.sync = None;
    let idempotency = configured.idempotency.take().map(|(url, _)| url);
    let breakers = configured.breakers.take().map(|(url, ..)| url);
    drop(configured);
    // The parent's SQLite connection must not be used here: reopen lazily.
    let wal_path = WAL.lock().take().map(|wal| {
        let path = wal.path().to_owned();
        std::mem::forget(wal);
        path
    });
    let ca = TLS_CA.lock().clone();
    if let Err(error) = configure_stores(idempotency, breakers, wal_path, ca, None) {
        Python::attach(|py| error.write_unraisable(py, None));
    }
}

/// The Redis store breaker state is shared through, if one is configured
/// (the kill switch keeps its record there too).
pub(crate) fn breaker_store() -> Option<Arc<RedisStore>> {
    let configured = CONFIGURED.lock();
    configured
        .breakers
        .as_ref()
        .map(|(_, _, redis)| redis.clone())
}

/// Each shared store's health: `{name: {"degraded": bool, "degraded_entries": int}}`.
#[pyfunction]
pub(crate) fn store_health(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let report = PyDict::new(py);
    let configured = CONFIGURED.lock();
    let healths = configured
        .idempotency
        .iter()
        .map(|(_, health)| health)
        .chain(configured.breakers.iter().map(|(_, health, _)| health));
    for health in healths {
        report.set_item(health.name(), health_dict(py, health)?)?;
    }
    Ok(report)
}

/// One store's health as `store_health()` reports it.
pub(crate) fn health_dict<'py>(
    py: Python<'py>,
    health: &StoreHealth,
) -> PyResult<Bound<'py, PyDict>> {
    let entry = PyDict::new(py);
    entry.set_item("degraded", health.is_degraded())?;
    entry.set_item("degraded_entries", health.degraded_entries())?;
    entry.set_item("data_lost", health.data_losses())?;
    Ok(entry)
}

fn log_health_event(event: &HealthEvent) {
    let (event, store, detail) = match event {
        HealthEvent::DegradedEntered { store, error } => {
            ("storage.degraded_entered", store.clone(), error.clone())
        }
        HealthEvent::DegradedExited { store, after } => {
            schedule_replay();
            (
                "storage.degraded_exited",
                store.clone(),
                format!("after {:.3}s", after.as_secs_f64()),
            )
        }
        HealthEvent::DataLost { store, detail } => {
            ("storage.data_lost", store.clone(), detail.clone())
        }
    };
    Python::attach(|py| emit_storage_event(py, event, &store, detail));
}
