//! The dead-letter queues of this process, as `init()` configured them:
//! the local SQLite queue always, and the Redis Streams queue with a Redis
//! URL. Both are opened on first use (no I/O at `init()`), and reopened in
//! a forked child.

use crate::core::clock::SystemClock;
use crate::core::dlq::sqlite::REPLAY_LEASE_MS;
use crate::core::dlq::{Caps, DlqStore, Overflow, RedisDlq, SqliteDlq};
use crate::core::fork_cell::ForkCell;
use crate::core::process::{health, RUNTIME};
use crate::core::store::health::{StoreHealth, DEFAULT_PROBE_INTERVAL};
use crate::core::store::redis::DEFAULT_OPERATION_TIMEOUT;
use crate::core::store::{RedisStore, RedisTarget};
use arc_swap::ArcSwapOption;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// How long a replay may hold an entry before another replayer may take it:
/// the same lease in both stores.
pub const DEFAULT_REPLAY_LEASE: Duration = Duration::from_millis(REPLAY_LEASE_MS as u64);

struct Configured {
    path: PathBuf,
    caps: Caps,
    redis_url: Option<String>,
    tls_ca: Option<Vec<u8>>,
    local: Option<Arc<SqliteDlq>>,
    remote: Option<Arc<RedisDlq>>,
}

/// Locked by threads without the GIL too (a store's I/O): a forked child
/// replaces it, rebuilt from [`SETTINGS`].
static QUEUE: LazyLock<ForkCell<Option<Configured>>> = LazyLock::new(|| ForkCell::new(None));
/// What the last [`configure`] was given, read without a lock by a child.
static SETTINGS: LazyLock<ArcSwapOption<Settings>> = LazyLock::new(ArcSwapOption::empty);

/// The queue's configuration, apart from what was opened from it.
#[derive(Debug, Clone)]
struct Settings {
    path: PathBuf,
    caps: Caps,
    redis_url: Option<String>,
    tls_ca: Option<Vec<u8>>,
}
/// Bumped whenever the queues are replaced: a flusher started for older
/// ones stops.
pub(crate) static GENERATION: AtomicU64 = AtomicU64::new(0);
static LEASE_MS: AtomicU64 = AtomicU64::new(DEFAULT_REPLAY_LEASE.as_millis() as u64);

/// The queues of this process: the local one, and Redis when configured.
#[derive(Clone, Debug)]
pub struct Queues {
    /// The local SQLite queue: always there.
    pub local: Arc<SqliteDlq>,
    /// The Redis Streams queue, with a Redis URL.
    pub remote: Option<Arc<RedisDlq>>,
}

/// Where the queue lives and its caps (from `init()`); with `redis_url`,
/// Redis Streams hold it. Nothing is opened here: [`open`] opens on
/// first use. An unusable Redis URL is refused, naming what is wrong.
pub fn configure(
    path: PathBuf,
    max_size: u64,
    max_per_zone: u64,
    overflow: Overflow,
    redis_url: Option<String>,
    tls_ca_pem: Option<Vec<u8>>,
) -> Result<(), String> {
    if let Some(url) = &redis_url {
        RedisTarget::parse(url)?;
    }
    let caps = Caps {
        max_size,
        max_per_zone,
        overflow,
    };
    let mut queue = QUEUE.lock();
    SETTINGS.store(Some(Arc::new(Settings {
        path: path.clone(),
        caps,
        redis_url: redis_url.clone(),
        tls_ca: tls_ca_pem.clone(),
    })));
    if let Some(configured) = queue.as_mut() {
        if configured.path == path {
            configured.caps = caps;
            if let Some(local) = &configured.local {
                local.set_caps(caps);
            }
        } else {
            configured.path = path;
            configured.caps = caps;
            configured.local = None;
            GENERATION.fetch_add(1, Ordering::Release);
        }
        if configured.redis_url != redis_url || configured.tls_ca != tls_ca_pem {
            configured.redis_url = redis_url;
            configured.tls_ca = tls_ca_pem;
            configured.remote = None;
            GENERATION.fetch_add(1, Ordering::Release);
        } else if let Some(remote) = &configured.remote {
            remote.set_caps(caps);
        }
        return Ok(());
    }
    *queue = Some(Configured {
        path,
        caps,
        redis_url,
        tls_ca: tls_ca_pem,
        local: None,
        remote: None,
    });
    Ok(())
}

/// The queues, opened on first use, and whether this call opened one
/// (the caller then looks for what a predecessor left). `None` before
/// `init()` configured them.
pub(crate) fn open() -> Result<Option<(Queues, bool)>, String> {
    let mut guard = QUEUE.lock();
    let Some(configured) = guard.as_mut() else {
        return Ok(None);
    };
    let mut opened = false;
    if configured.local.is_none() {
        let local =
            SqliteDlq::open(&configured.path, configured.caps).map_err(|e| e.to_string())?;
        configured.local = Some(Arc::new(local));
        opened = true;
    }
    if configured.remote.is_none() {
        if let Some(url) = &configured.redis_url {
            configured.remote = Some(Arc::new(connect(url, configured)?));
            opened = true;
        }
    }
    let queues = Queues {
        local: configured.local.clone().expect("opened above"),
        remote: configured.remote.clone(),
    };
    Ok(Some((queues, opened)))
}

fn connect(url: &str, configured: &Configured) -> Result<RedisDlq, String> {
    let target = RedisTarget::parse(url)?;
    let health = Arc::new(StoreHealth::new(
        "redis:dlq",
        SystemClock::shared(),
        DEFAULT_PROBE_INTERVAL,
    ));
    let redis = RedisStore::new(
        &target,
        configured.tls_ca.clone(),
        &RUNTIME,
        health,
        DEFAULT_OPERATION_TIMEOUT,
    )?;
    let redis = Arc::new(redis);
    health::listen(&redis, health::nothing_more);
    redis.watch_for_data_loss(
        Some(RedisDlq::census),
        "every dead-letter entry it held (not counted yet)",
    );
    let consumer = format!("{}-{:x}", std::process::id(), fastrand::u64(..));
    let lease = Duration::from_millis(LEASE_MS.load(Ordering::Relaxed));
    Ok(RedisDlq::new(redis, configured.caps, consumer, lease))
}

/// The Redis queue's health record, once the queue exists (nothing is
/// connected for it before); `None` before, or without Redis.
pub fn remote_health() -> Option<Arc<StoreHealth>> {
    let configured = QUEUE.lock();
    configured
        .as_ref()
        .and_then(|c| c.remote.as_ref())
        .map(|remote| remote.redis().health().clone())
}

/// Why the queues are not at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuesError {
    /// `init()` has not configured the dead-letter queue.
    NotConfigured,
    /// The queue's file or its Redis could not be opened.
    Open(String),
}

impl std::fmt::Display for QueuesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueuesError::NotConfigured => f.write_str("the dead-letter queue is not configured"),
            QueuesError::Open(error) => f.write_str(error),
        }
    }
}

/// In a forked child: the parent's SQLite connection and Redis connection
/// (on a runtime the child does not have) are left alone and reopened.
pub(crate) fn after_fork() {
    GENERATION.fetch_add(1, Ordering::Release);
    // The parent's connections (its SQLite handle, its Redis on a runtime
    // the child does not have) are left with the parent's state, unopened
    // again here until first use.
    let fresh = SETTINGS.load_full().map(|settings| Configured {
        path: settings.path.clone(),
        caps: settings.caps,
        redis_url: settings.redis_url.clone(),
        tls_ca: settings.tls_ca.clone(),
        local: None,
        remote: None,
    });
    QUEUE.replace_after_fork(fresh);
}

/// Redis claims made from now on take over one held longer than `lease`
/// (for tests: the default is 60 s, and the SQLite queue's lease is fixed).
pub fn set_replay_lease(lease: Duration) -> Result<(), String> {
    if lease.is_zero() {
        return Err("the replay lease must be > 0 seconds".to_owned());
    }
    LEASE_MS.store(lease.as_millis() as u64, Ordering::Relaxed);
    if let Some(remote) = QUEUE.lock().as_ref().and_then(|c| c.remote.clone()) {
        remote.set_lease(lease);
    }
    Ok(())
}
