//! Which stores this process uses: process memory by default, Redis when
//! `init()` names a URL (for idempotency claims, and for breaker state
//! shared by every worker); the breaker sync that shares it, and the
//! replay of the write-ahead log ([`wal`]) when Redis is back.
//! Nothing connects at configuration: the first call starts what is needed.

use crate::core::breaker::fleet::{BreakerSync, DEFAULT_SYNC_INTERVAL};
use crate::core::clock::SystemClock;
use crate::core::fork_cell::ForkCell;
use crate::core::idempotency::{Claim, RedisIdempotencyStore, StoreError};
use crate::core::process::breakers::REGISTRY;
use crate::core::process::idempotency::{self, GATE};
use crate::core::process::{health, wal, watchdog, RUNTIME};
use crate::core::store::health::{HealthEvent, StoreHealth, DEFAULT_PROBE_INTERVAL};
use crate::core::store::redis::DEFAULT_OPERATION_TIMEOUT;
use crate::core::store::wal::{LazyWal, Pending};
use crate::core::store::{RedisStore, RedisTarget};
use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long the exit hook waits for what must still reach the stores.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// The breaker sync loop's name for the watchdog.
pub const SYNC_LOOP: &str = "breaker_sync";
/// The sync loop's beat interval as watched, at least: a round against a
/// store that stopped answering waits out its operations' timeout, which
/// DEGRADED reports; the watchdog is for a loop that stopped altogether.
const SYNC_LOOP_MIN_INTERVAL: Duration = DEFAULT_OPERATION_TIMEOUT;

/// The URLs [`configure`] was given and what was built from them. Locked
/// by threads without the GIL (an operator's sync round, a replay): a
/// forked child replaces it, rebuilt from [`URLS`].
static CONFIGURED: LazyLock<ForkCell<Configured>> =
    LazyLock::new(|| ForkCell::new(Configured::memory()));

/// The idempotency and breaker URLs [`configure`] was last given, read
/// without a lock by a forked child.
static URLS: LazyLock<ArcSwap<(Option<String>, Option<String>)>> = LazyLock::new(ArcSwap::default);

/// How often breakers sync (`BALDUR_CB_SYNC_INTERVAL_SECONDS`), in ns.
static SYNC_INTERVAL_NANOS: AtomicU64 = AtomicU64::new(DEFAULT_SYNC_INTERVAL.as_nanos() as u64);

/// The CA bundle for rediss:// given to the last configuration.
static TLS_CA: LazyLock<ArcSwapOption<Vec<u8>>> = LazyLock::new(ArcSwapOption::empty);

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
static START_LOCK: LazyLock<ForkCell<Arc<Mutex<()>>>> = LazyLock::new(ForkCell::default);

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

/// Where the stores are: `None` for process memory. What is not given
/// keeps its current value.
#[derive(Debug, Default, Clone)]
pub struct StoreUrls {
    /// Redis for idempotency claims.
    pub idempotency: Option<String>,
    /// Redis for the fleet's breaker state (and the kill switch's record).
    pub breakers: Option<String>,
    /// The write-ahead log's file.
    pub wal_path: Option<PathBuf>,
    /// The CA bundle for rediss://.
    pub tls_ca_pem: Option<Vec<u8>>,
    /// How often breakers sync; `None` keeps the current interval.
    pub sync_interval: Option<Duration>,
}

/// Checks a Redis URL: `None` when usable, else what is wrong with it.
pub fn redis_url_problem(url: &str) -> Option<String> {
    RedisTarget::parse(url).err()
}

/// Puts idempotency claims and breaker state in Redis at the URLs given, or
/// back in process memory with `None`. No I/O here: connections are made,
/// and the sync task started, on first use. An unusable URL or a zero sync
/// interval is refused, naming what is wrong.
pub fn configure(urls: StoreUrls) -> Result<(), String> {
    let StoreUrls {
        idempotency: idempotency_url,
        breakers: breaker_url,
        wal_path,
        tls_ca_pem,
        sync_interval,
    } = urls;
    if let Some(interval) = sync_interval {
        if interval.is_zero() {
            return Err("sync_interval must be > 0 seconds".to_owned());
        }
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        SYNC_INTERVAL_NANOS.store(nanos, Ordering::Release);
    }
    TLS_CA.store(tls_ca_pem.clone().map(Arc::new));
    URLS.store(Arc::new((idempotency_url.clone(), breaker_url.clone())));
    wal::configure(wal_path, idempotency_url.is_some() || breaker_url.is_some());
    let mut configured = CONFIGURED.lock();
    let current = configured.idempotency.as_ref().map(|(url, _)| url.as_str());
    if current != idempotency_url.as_deref() {
        configured.idempotency = match idempotency_url {
            None => {
                idempotency::use_memory_store();
                None
            }
            Some(url) => {
                let (redis, health) = connect(&url, "redis:idempotency", tls_ca_pem.clone())?;
                let store = RedisIdempotencyStore::new(redis).on_orphaned_claim(Arc::new(
                    |key: &str, owner: u64| {
                        wal::log_pending(&Pending::IdempotencyRelease {
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
            watchdog::forget(SYNC_LOOP);
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
) -> Result<(Arc<RedisStore>, Arc<StoreHealth>), String> {
    let target = RedisTarget::parse(url)?;
    let health = Arc::new(StoreHealth::new(
        name,
        SystemClock::shared(),
        DEFAULT_PROBE_INTERVAL,
    ));
    let redis = Arc::new(RedisStore::new(
        &target,
        tls_ca_pem,
        &RUNTIME,
        health.clone(),
        DEFAULT_OPERATION_TIMEOUT,
    )?);
    health::listen(&redis, replay_on_recovery);
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

/// Redis is back: what waited in the log goes now.
fn replay_on_recovery(event: &HealthEvent) {
    if matches!(event, HealthEvent::DegradedExited { .. }) {
        schedule_replay();
    }
}

/// Whether the first call still has the breaker sync (or the log's replay)
/// to start: one atomic load, on every protected call.
#[inline]
pub fn start_pending() -> bool {
    SYNC_PENDING.load(Ordering::Relaxed)
}

/// Starts the breaker sync if it is configured and not yet running: the
/// worker's first protected call runs one sync round before it is
/// admitted (a new worker must not probe a dependency the fleet knows is
/// down), then the periodic task starts. Every thread that calls meanwhile
/// waits for that round too. Blocks (bounded by the store's operation
/// timeout; DEGRADED if it fails).
pub fn ensure_started() {
    if start_pending() {
        start_sync_now();
    }
}

/// As [`ensure_started`], for a coroutine's first call: completes once the
/// first round did, without blocking the runtime's async workers.
pub async fn ensure_started_async() {
    if start_pending() {
        let _ = tokio::task::spawn_blocking(start_sync_now).await;
    }
}

#[cold]
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
    let interval = Duration::from_nanos(SYNC_INTERVAL_NANOS.load(Ordering::Acquire));
    let mut sync = BreakerSync::new(&REGISTRY, redis, worker, interval)
        .on_wal_failure(Arc::new(|error: &str| wal::report_append_failure(error)))
        .on_round(Arc::new(|| watchdog::beat(SYNC_LOOP)));
    if let Some(log) = wal::current() {
        sync = sync.with_wal(log);
    }
    let first = sync.clone();
    let _ = RUNTIME.block_on(async move { first.sync_all().await });
    let keep = sync.clone();
    // Breakers keep deciding alone if this fails; the next call tries again.
    if let Ok(task) = RUNTIME.spawn(sync.run()) {
        // A round may wait on the store's timeout (a few seconds) too.
        watchdog::watch(SYNC_LOOP, interval.max(SYNC_LOOP_MIN_INTERVAL));
        let mut configured = CONFIGURED.lock();
        configured.sync_task = Some(task);
        configured.sync = Some(keep);
        drop(configured);
        SYNC_PENDING.store(false, Ordering::Release);
        // A predecessor may have left decisions in the log.
        schedule_replay();
    }
}

/// Replays the log in the background, oldest first, until it is empty or
/// the store fails again (what is left waits for the next recovery). It
/// also runs on its own after every recovery and when the sync starts.
pub fn schedule_replay() {
    let Some(file) = wal::current() else {
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
                replay(&file, sync.as_ref());
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

fn replay(file: &LazyWal, sync: Option<&BreakerSync>) {
    let log = match file.get() {
        Ok(log) => log,
        Err(error) => return wal::report("storage.wal_replay_failed", &error),
    };
    let mut after = 0;
    loop {
        let entries = match log.pending_after(after, 100) {
            Ok(entries) => entries,
            Err(error) => return wal::report("storage.wal_replay_failed", &error),
        };
        for unreadable in log.take_quarantined() {
            wal::report("storage.wal_entry_quarantined", &unreadable);
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
                    GATE.complete_with_ttl(&claim, Duration::from_millis(*memory_ttl_ms))
                        .map(|_| true)
                }
                Pending::IdempotencyRelease { key, owner } => GATE
                    .release(&Claim::restore(key.clone(), *owner))
                    .map(|_| true),
                breaker @ Pending::Breaker { .. } => match sync {
                    Some(sync) => RUNTIME
                        .block_on(sync.replay(breaker))
                        .map_err(|e| StoreError(e.to_string()))
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

/// The exit hook, before the runtime stops: a running replay stops at its
/// next entry, late idempotency completions land, and every breaker's
/// unsent outbox goes to the store (a probe's success or a trip decided
/// just before exit must not die with the process). Blocks for at most a
/// few seconds.
pub fn flush() {
    STOPPING.store(true, Ordering::Release);
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    // The runtime must not shut down under the replay's blocking thread.
    while REPLAYING.load(Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    idempotency::wait_for_completions(FLUSH_TIMEOUT);
    let sync = CONFIGURED.lock().sync.clone();
    if let Some(sync) = sync {
        let _ = RUNTIME.block_on(async move { sync.sync_all().await });
    }
}

/// Runs one sync round now, if breakers sync: an operator's action then
/// reaches the fleet before the function that took it returns (bounded by
/// the store's timeout; while Redis is away it waits in the outbox and the
/// log, as any decision does).
pub fn sync_now() {
    let sync = CONFIGURED.lock().sync.clone();
    if let Some(sync) = sync {
        let _ = RUNTIME.block_on(async move { sync.round().await });
    }
}

/// In a forked child: the parent's connections and sync task belong to a
/// runtime the child does not have, so both are rebuilt (lazily).
pub(crate) fn after_fork() -> Result<(), String> {
    // The parent's replay thread, exit flush and first sync do not exist
    // here; nor is what the parent owed the fleet the child's to send.
    REPLAYING.store(false, Ordering::Release);
    REPLAY_AGAIN.store(false, Ordering::Release);
    STOPPING.store(false, Ordering::Release);
    START_LOCK.replace_after_fork(Arc::default());
    for breaker in REGISTRY.all() {
        breaker.forget_link_after_fork();
    }
    // The parent's sync task and connections belong to a runtime the child
    // does not have: forgotten with the parent's state, never dropped.
    CONFIGURED.replace_after_fork(Configured::memory());
    let (idempotency, breakers) = (*URLS.load_full()).clone();
    let wal_path = wal::after_fork();
    let tls_ca_pem = TLS_CA.load_full().map(|ca| (*ca).clone());
    configure(StoreUrls {
        idempotency,
        breakers,
        wal_path,
        tls_ca_pem,
        sync_interval: None,
    })
}

/// The Redis store breaker state is shared through, if one is configured
/// (the kill switch keeps its record there too).
pub fn breaker_store() -> Option<Arc<RedisStore>> {
    let configured = CONFIGURED.lock();
    configured
        .breakers
        .as_ref()
        .map(|(_, _, redis)| redis.clone())
}

/// Each shared store's health record (idempotency's, then the breakers').
pub fn healths() -> Vec<Arc<StoreHealth>> {
    let configured = CONFIGURED.lock();
    configured
        .idempotency
        .iter()
        .map(|(_, health)| health.clone())
        .chain(
            configured
                .breakers
                .iter()
                .map(|(_, health, _)| health.clone()),
        )
        .collect()
}
