//! The Redis idempotency store: the same three operations as the memory
//! store, each one Lua script, so it is atomic across every worker. Time is
//! the Redis server's (`TIME`), never a worker's clock.

use crate::core::idempotency::store::{
    ClaimFuture, ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError,
};
use crate::core::store::{CallerConnections, CallerError, RedisStore};
use redis::{Script, ScriptInvocation};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Keys live under this prefix: `baldur:idem:<namespace>:<key>`.
pub const KEY_PREFIX: &str = "baldur:idem:";

/// Claims a key unless a live record holds it. A record is kept past its
/// window (twice as long) so a take-over can be told from a fresh claim.
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/claim.lua")));

/// Completes the owner's running claim (re-creating it if Redis lost it);
/// refuses anyone else's.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/complete.lua")));

/// Drops the owner's running claim; refuses anyone else.
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release.lua")));

/// Told about a claim that may have landed in Redis after its caller gave
/// up on it (a timeout) and that could not be released either: the key
/// and owner, to release later (the write-ahead log).
pub type OrphanedClaim = Arc<dyn Fn(&str, Owner) + Send + Sync>;

/// Idempotency records in Redis, shared by every worker.
#[derive(Clone)]
pub struct RedisIdempotencyStore {
    redis: Arc<RedisStore>,
    /// The blocking forms' connections, on the caller's thread (a single
    /// node); `None`: they go through the runtime's connection.
    callers: Option<Arc<CallerConnections>>,
    on_orphan: Option<OrphanedClaim>,
}

impl std::fmt::Debug for RedisIdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIdempotencyStore")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

impl RedisIdempotencyStore {
    /// Records kept through `redis`.
    pub fn new(redis: Arc<RedisStore>) -> Self {
        Self {
            callers: redis.caller_connections().map(Arc::new),
            redis,
            on_orphan: None,
        }
    }

    /// Reports claims that may hold a key nobody will finish to `report`.
    pub fn on_orphaned_claim(mut self, report: OrphanedClaim) -> Self {
        self.on_orphan = Some(report);
        self
    }

    /// The connections of a thread outside the runtime, which waits for
    /// the answer. The runtime's own threads (a completion handed to the
    /// background) share its connection instead: a connection for each of
    /// its blocking threads would only multiply Redis clients.
    fn caller(&self) -> Option<&CallerConnections> {
        let on_runtime = tokio::runtime::Handle::try_current().is_ok();
        self.callers.as_deref().filter(|_| !on_runtime)
    }

    /// Runs a completion or release script, blocking: on this thread's own
    /// connection when it has one, else through the runtime's. True when
    /// the script answered 1 (the claim was this owner's).
    fn settle(&self, invocation: ScriptInvocation<'static>) -> Result<bool, StoreError> {
        let done: i64 = match self.caller() {
            Some(caller) => caller
                .run(|connection| invocation.invoke(connection))
                .map_err(|e| StoreError(e.to_string()))?,
            None => self.redis.run(|mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })?,
        };
        Ok(done == 1)
    }

    /// A claim sent to Redis whose answer never came (a timeout, a reset
    /// connection) may have landed: left alone it would hold the key as
    /// "running" for the whole execution window, refusing every retry of
    /// an operation that never ran. Released by its owner token in the
    /// background; a release that lands first leaves a tombstone the late
    /// claim yields to (`lua/release.lua`). Reported if that fails too.
    fn release_uncertain(&self, key: String, owner: Owner) {
        let redis = self.redis.clone();
        let on_orphan = self.on_orphan.clone();
        let record = record_key(&key);
        let orphan = key.clone();
        let released = self.redis.runtime().spawn(async move {
            let done = redis
                .run_async(|mut connection| async move {
                    RELEASE
                        .key(record)
                        .arg(owner.to_string())
                        .invoke_async::<i64>(&mut connection)
                        .await
                })
                .await;
            if done.is_err() {
                if let Some(report) = on_orphan {
                    report(&key, owner);
                }
            }
        });
        if released.is_err() {
            if let Some(report) = &self.on_orphan {
                report(&orphan, owner);
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn record_key(key: &str) -> String {
    format!("{KEY_PREFIX}{key}")
}

impl IdempotencyStore for RedisIdempotencyStore {
    fn claim(
        &self,
        key: &str,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        if let Some(caller) = self.caller() {
            // The runtime's connection may go unused: the watcher for a
            // Redis that loses its data starts from here too.
            self.redis.ensure_watching();
            let record = record_key(key);
            let fingerprint = fingerprint.map(|f| f.to_string()).unwrap_or_default();
            let answer = caller.run(|connection| {
                CLAIM
                    .key(&record)
                    .arg(owner.to_string())
                    .arg(&fingerprint)
                    .arg(millis(execution_ttl))
                    .invoke::<Vec<redis::Value>>(connection)
            });
            return match answer {
                Ok(answer) => parse_claim(&answer),
                Err(error) => {
                    if matches!(error, CallerError::MaybeSent(_)) {
                        self.release_uncertain(key.to_owned(), owner);
                    }
                    Err(StoreError(error.to_string()))
                }
            };
        }
        // One claim script call, awaited here from outside the runtime.
        let pending = self.claim_async(key.to_owned(), owner, fingerprint, execution_ttl);
        self.redis
            .runtime()
            .block_on(pending)
            .map_err(|e| StoreError(format!("background runtime unavailable: {e}")))?
    }

    fn complete(&self, key: &str, owner: Owner, memory_ttl: Duration) -> Result<bool, StoreError> {
        let mut invocation = COMPLETE.prepare_invoke();
        invocation
            .key(record_key(key))
            .arg(owner.to_string())
            .arg(millis(memory_ttl));
        self.settle(invocation)
    }

    fn release(&self, key: &str, owner: Owner) -> Result<bool, StoreError> {
        let mut invocation = RELEASE.prepare_invoke();
        invocation.key(record_key(key)).arg(owner.to_string());
        self.settle(invocation)
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn claim_async(
        &self,
        key: String,
        owner: Owner,
        fingerprint: Option<u64>,
        execution_ttl: Duration,
    ) -> ClaimFuture<'_> {
        Box::pin(async move {
            let record = record_key(&key);
            let fingerprint = fingerprint.map(|f| f.to_string()).unwrap_or_default();
            // Set once the script is handed to a connection (a store that
            // fails fast while degraded sends nothing).
            let sent = AtomicBool::new(false);
            let answer = self
                .redis
                .run_async(|mut connection| {
                    sent.store(true, Ordering::Relaxed);
                    async move {
                        CLAIM
                            .key(record)
                            .arg(owner.to_string())
                            .arg(fingerprint)
                            .arg(millis(execution_ttl))
                            .invoke_async::<Vec<redis::Value>>(&mut connection)
                            .await
                    }
                })
                .await;
            match answer {
                Ok(answer) => parse_claim(&answer),
                Err(error) => {
                    if sent.load(Ordering::Relaxed) {
                        self.release_uncertain(key, owner);
                    }
                    Err(error)
                }
            }
        })
    }
}

fn text(value: Option<&redis::Value>) -> Option<String> {
    match value? {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn parse_claim(answer: &[redis::Value]) -> Result<ClaimOutcome, StoreError> {
    let unexpected = || StoreError(format!("unexpected answer to a claim: {answer:?}"));
    match text(answer.first()).as_deref() {
        Some("claimed") => Ok(ClaimOutcome::Claimed),
        Some("took_over") => Ok(ClaimOutcome::TookOver),
        // Only a claim that landed after its own release gets this: its
        // caller gave up on it long ago.
        Some("released") => Err(StoreError("the claim was released before it landed".into())),
        Some("duplicate") => {
            let state = match text(answer.get(1)).as_deref() {
                Some("running") => RecordState::InProgress,
                Some("completed") => RecordState::Completed,
                _ => return Err(unexpected()),
            };
            let same_payload = text(answer.get(2)).as_deref() == Some("1");
            Ok(ClaimOutcome::Duplicate {
                state,
                same_payload,
            })
        }
        _ => Err(unexpected()),
    }
}
