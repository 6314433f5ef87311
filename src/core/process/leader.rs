//! Leader election as a process service: the lease loop on the background
//! runtime, once per process. With a Redis URL (`init()` gives the breaker
//! store's, or `BALDUR_LEADER_ELECTION_REDIS_URL`) one process of the
//! fleet leads; without, every process leads itself (token 1), so a
//! single-process deployment runs its leader tasks unconditionally.
//!
//! The loop starts at `init()` or on the first question asked of it, every
//! call to Redis bounded by the store's operation timeout (a blackholed
//! Redis costs an attempt, never the loop). Its changes are events
//! (`leader.acquired`, `leader.lost`, `leader.renew_failed`). A forked
//! child drops the parent's loop and lease (its id is new) and starts its
//! own lazily; a clean exit releases the lease so the fleet need not wait
//! for it to lapse.

use crate::core::clock::SystemClock;
use crate::core::events::{Event, EVENTS};
use crate::core::fork_cell::ForkCell;
use crate::core::leader::{wire, Change, Election, LeaseTiming};
use crate::core::process::{health, watchdog, RUNTIME};
use crate::core::store::health::{StoreHealth, DEFAULT_PROBE_INTERVAL};
use crate::core::store::redis::DEFAULT_OPERATION_TIMEOUT;
use crate::core::store::{RedisStore, RedisTarget};
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The lease loop's name to the watchdog.
pub const LEASE_LOOP: &str = "leader_lease";

/// What a Redis that comes back empty has lost of the election.
const LOST_ON_DATA_LOSS: &str =
    "the leader's lease and fencing token (tokens start again from 1: a fenced write with an older, larger token would pass)";

/// The token a process that leads itself (no Redis) holds.
pub const SELF_TOKEN: u64 = 1;

/// Who leads, as this process sees it (without Redis: this process,
/// token [`SELF_TOKEN`], no lease).
pub use crate::core::leader::Status as LeaderStatus;

struct Service {
    /// This process's id in the election (new in a forked child).
    id: String,
    timing: LeaseTiming,
    /// `None`: no Redis, this process leads itself.
    remote: Option<Remote>,
    /// Fenced writes without Redis: name to (token, value).
    local: HashMap<String, (u64, String)>,
}

struct Remote {
    url: String,
    redis: Arc<RedisStore>,
    election: Arc<Mutex<Election>>,
    task: Option<JoinHandle<()>>,
}

/// Locked by the lease loop and by every question (the scheduler's thread
/// asks before each leader-only run): a fork may catch it held, so a child
/// builds its own from [`CONFIG`] instead.
static SERVICE: LazyLock<ForkCell<Service>> = LazyLock::new(|| {
    ForkCell::new(Service {
        id: new_id(),
        timing: LeaseTiming::default(),
        remote: None,
        local: HashMap::new(),
    })
});

/// What [`configure`] was last given, read without a lock by a forked child.
#[derive(Default)]
struct Config {
    url: Option<String>,
    timing: LeaseTiming,
    tls_ca_pem: Option<Vec<u8>>,
}

static CONFIG: LazyLock<ArcSwap<Config>> = LazyLock::new(ArcSwap::default);

/// Set when a remote election is configured and its loop not yet started.
static PENDING: AtomicBool = AtomicBool::new(false);

fn new_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map_or_else(|| "host".to_owned(), |h| h.trim().to_owned());
    format!(
        "{host}:{}:{:06x}",
        std::process::id(),
        fastrand::u32(..1 << 24)
    )
}

/// Elects over Redis at `url` (`None`: every process leads itself) with a
/// lease of `lease`. No I/O: the loop starts at [`start`] or on first use.
/// A lease under a second or an unusable URL is refused, naming it.
pub fn configure(
    url: Option<String>,
    lease: Duration,
    tls_ca_pem: Option<Vec<u8>>,
) -> Result<(), String> {
    let timing = LeaseTiming::new(lease)?;
    let target = url.as_deref().map(RedisTarget::parse).transpose()?;
    let mut service = SERVICE.lock();
    let same_url = service.remote.as_ref().map(|r| r.url.as_str()) == url.as_deref();
    if same_url && service.timing == timing {
        return Ok(());
    }
    CONFIG.store(Arc::new(Config {
        url: url.clone(),
        timing,
        tls_ca_pem: tls_ca_pem.clone(),
    }));
    let previous = service.remote.take();
    service.timing = timing;
    service.remote = match (url, target) {
        (Some(url), Some(target)) => {
            let health = Arc::new(StoreHealth::new(
                "redis:leader",
                SystemClock::shared(),
                DEFAULT_PROBE_INTERVAL,
            ));
            let redis = Arc::new(RedisStore::new(
                &target,
                tls_ca_pem.clone(),
                &RUNTIME,
                health,
                DEFAULT_OPERATION_TIMEOUT,
            )?);
            // Its spells of DEGRADED are events like every store's; and a
            // Redis that comes back empty has reset the token counter,
            // which a fence cannot see: the loss is reported.
            health::listen(&redis, health::nothing_more);
            redis.watch_for_data_loss(None, LOST_ON_DATA_LOSS);
            let election = Election::new(service.id.clone(), timing, SystemClock::shared());
            PENDING.store(true, Ordering::Release);
            Some(Remote {
                url,
                redis,
                election: Arc::new(Mutex::new(election)),
                task: None,
            })
        }
        _ => {
            PENDING.store(false, Ordering::Release);
            None
        }
    };
    let id = service.id.clone();
    drop(service);
    if let Some(previous) = previous {
        stop(previous, &id);
    }
    Ok(())
}

/// Starts the lease loop if one is configured and not running (`init()`
/// calls it; so does every question below).
pub fn start() {
    if !PENDING.load(Ordering::Acquire) {
        return;
    }
    let mut service = SERVICE.lock();
    // An attempt waits at most the store's timeout, then the loop sleeps
    // at most a retry period.
    let interval = service.timing.retry_period() + DEFAULT_OPERATION_TIMEOUT;
    let Some(remote) = service.remote.as_mut() else {
        return;
    };
    if remote.task.is_some() {
        return;
    }
    let run = lease_loop(remote.election.clone(), remote.redis.clone());
    if let Ok(task) = RUNTIME.spawn(run) {
        watchdog::watch(LEASE_LOOP, interval);
        remote.task = Some(task);
        PENDING.store(false, Ordering::Release);
    }
}

/// Whether this process leads now. A leader that could not renew in time
/// answers `false` before its lease in Redis can end.
pub fn is_leader() -> bool {
    start();
    let election = match SERVICE.lock().remote.as_ref() {
        None => return true,
        Some(remote) => remote.election.clone(),
    };
    let leading = election.lock().is_leader();
    leading
}

/// Who leads, as this process sees it.
pub fn status() -> LeaderStatus {
    start();
    let service = SERVICE.lock();
    let Some(remote) = service.remote.as_ref() else {
        return LeaderStatus {
            leader_id: Some(service.id.clone()),
            token: SELF_TOKEN,
            lease_left: None,
            is_leader: true,
        };
    };
    let status = remote.election.lock().status();
    status
}

/// Writes `value` under `name` if `token` (this process's current token
/// when `None`) is the newest the election has handed out: a leader that
/// lost its lease and writes with its old token is refused (`Ok(false)`).
/// Blocks for at most the store's timeout; an error is Redis's.
pub fn fenced(name: &str, value: &str, token: Option<u64>) -> Result<bool, String> {
    start();
    let mut service = SERVICE.lock();
    let Some(remote) = service.remote.as_ref() else {
        let token = token.unwrap_or(SELF_TOKEN);
        if token < SELF_TOKEN {
            return Ok(false);
        }
        service
            .local
            .insert(name.to_owned(), (token, value.to_owned()));
        return Ok(true);
    };
    let redis = remote.redis.clone();
    let token = match token {
        Some(token) => token,
        None => {
            let status = remote.election.lock().status();
            if !status.is_leader {
                return Ok(false);
            }
            status.token
        }
    };
    drop(service);
    let (name, value) = (name.to_owned(), value.to_owned());
    redis
        .run(move |connection| async move { wire::fenced_set(connection, &name, &value, token).await })
        .map_err(|e| e.0)
}

/// What the last fenced write of `name` left.
pub fn read_fenced(name: &str) -> Result<Option<String>, String> {
    let service = SERVICE.lock();
    let Some(remote) = service.remote.as_ref() else {
        return Ok(service.local.get(name).map(|(_, value)| value.clone()));
    };
    let redis = remote.redis.clone();
    drop(service);
    let name = name.to_owned();
    redis
        .run(move |connection| async move { wire::fenced_get(connection, &name).await })
        .map_err(|e| e.0)
}

/// The exit hook: stops the loop and gives the lease up (bounded by the
/// store's timeout), so another process need not wait for it to lapse.
pub fn release() {
    let mut service = SERVICE.lock();
    let id = service.id.clone();
    let remote = service.remote.take();
    PENDING.store(false, Ordering::Release);
    CONFIG.store(Arc::new(Config {
        timing: service.timing,
        ..Config::default()
    }));
    drop(service);
    if let Some(remote) = remote {
        stop(remote, &id);
    }
}

fn stop(remote: Remote, id: &str) {
    if let Some(task) = remote.task {
        task.abort();
        watchdog::forget(LEASE_LOOP);
    }
    let held = remote.election.lock().step_down();
    if held.is_some() {
        let id = id.to_owned();
        let _ = remote
            .redis
            .run(move |connection| async move { wire::release(connection, &id).await });
        EVENTS.emit(Event::Leader {
            name: "leader.released",
            detail: format!("released the lease on exit (token {})", held.unwrap_or(0)),
        });
    }
}

/// In a forked child: the parent's loop and connection belong to a runtime
/// the child does not have, its lease is the parent's, and the lease loop
/// may have held the service's lock as the fork happened. The child gets a
/// service of its own (a new id; the parent's local fenced writes if its
/// lock was free) and elects afresh on first use. The parent's service is
/// never touched: its task and connection are forgotten with it.
pub(crate) fn after_fork() {
    let config = CONFIG.load_full();
    let local = SERVICE
        .try_lock()
        .map(|service| service.local.clone())
        .unwrap_or_default();
    SERVICE.replace_after_fork(Service {
        id: new_id(),
        timing: config.timing,
        remote: None,
        local,
    });
    PENDING.store(false, Ordering::Release);
    if let Some(url) = config.url.clone() {
        // A URL that parsed in the parent parses here.
        let _ = configure(Some(url), config.timing.lease(), config.tls_ca_pem.clone());
    }
}

async fn lease_loop(election: Arc<Mutex<Election>>, redis: Arc<RedisStore>) {
    loop {
        let (attempt, id, lease, expired) = {
            let mut election = election.lock();
            let expired = election.expire();
            (
                election.attempt(),
                election.id().to_owned(),
                election.timing().lease(),
                expired,
            )
        };
        report(expired.into_iter());
        let answer = redis
            .run_async(move |connection| async move { wire::acquire(connection, &id, lease).await })
            .await;
        let changes = {
            let mut election = election.lock();
            match answer {
                Ok(observed) => election.answered(attempt, observed),
                Err(error) => election.failed(&error.0),
            }
        };
        report(changes.into_iter());
        watchdog::beat(LEASE_LOOP);
        let wait = election.lock().next_attempt_in();
        tokio::time::sleep(wait).await;
    }
}

fn report(changes: impl Iterator<Item = Change>) {
    for change in changes {
        let (name, detail) = match change {
            Change::Acquired { token } => {
                ("leader.acquired", format!("leading with token {token}"))
            }
            Change::Lost { token, why } => (
                "leader.lost",
                format!("no longer leading (token {token}): {why}"),
            ),
            Change::RenewFailed { detail } => ("leader.renew_failed", detail),
        };
        EVENTS.emit(Event::Leader { name, detail });
    }
}
