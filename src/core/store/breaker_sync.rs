//! Breaker state shared by every worker. Each worker's breakers keep
//! deciding locally on the call path; every few hundred milliseconds a task
//! on the background runtime carries each breaker's outbox (counts, trips,
//! probe outcomes, operator actions) to Redis in one script, which decides
//! the fleet's state on the server's clock, fences it by a version, leases
//! half-open probe slots, and answers with the state every worker adopts.
//! When Redis is unreachable the breakers decide alone (DEGRADED); the
//! first sync afterwards merges their state most-restrictive-wins.

use crate::core::breaker::shared::{Inbox, Outbox};
use crate::core::breaker::{Cause, CircuitBreaker, CircuitState, Registry};
use crate::core::idempotency::StoreError;
use crate::core::store::wal::{LazyWal, Pending};
use crate::core::store::RedisStore;
use crate::core::window::{Totals, BUCKETS};
use redis::Script;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The channel the sync script announces changes on.
pub const CHANGES: &str = "baldur:cb:changed";

/// Aborts a task when the loop that started it ends (it is aborted too).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often each worker syncs its breakers.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// How long a leased probe slot stays reserved if its worker never uses it.
pub const PROBE_LEASE: Duration = Duration::from_secs(5);

static SYNC: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("breaker_sync.lua")));

/// The loop that syncs every breaker of `registry` through `redis`.
#[derive(Debug, Clone)]
pub struct BreakerSync {
    registry: &'static Registry,
    redis: Arc<RedisStore>,
    worker: String,
    interval: Duration,
    wal: Option<Arc<LazyWal>>,
}

impl BreakerSync {
    /// A sync loop for this worker (`worker` names it in probe leases).
    pub fn new(
        registry: &'static Registry,
        redis: Arc<RedisStore>,
        worker: String,
        interval: Duration,
    ) -> Self {
        Self {
            registry,
            redis,
            worker,
            interval,
            wal: None,
        }
    }

    /// Logs decisions that could not reach Redis to `wal`, durably, so they
    /// outlive this process.
    pub fn with_wal(mut self, wal: Arc<LazyWal>) -> Self {
        self.wal = Some(wal);
        self
    }

    /// Runs until the task is aborted: a round every interval, and one at
    /// once when another worker announces a change (pub/sub).
    pub async fn run(self) {
        let changed = Arc::new(tokio::sync::Notify::new());
        let listener = {
            let redis = self.redis.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                redis.subscribe(CHANGES, move || changed.notify_one()).await;
            })
        };
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let _stop_listening = AbortOnDrop(listener);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = changed.notified() => {}
            }
            self.sync_all().await;
        }
    }

    /// One round: every breaker, once.
    pub async fn sync_all(&self) {
        for breaker in self.registry.all() {
            self.sync_one(&breaker).await;
        }
    }

    async fn sync_one(&self, breaker: &CircuitBreaker) {
        let outbox = breaker.drain_outbox();
        match self.exchange(breaker, &outbox).await {
            Ok(inbox) => breaker.apply_fleet(&inbox),
            Err(_) => {
                self.log_decisions(breaker, &outbox);
                breaker.link().sync_failed(outbox);
            }
        }
    }

    /// A trip, probe outcomes or an operator's action that could not reach
    /// Redis go to the write-ahead log too: kept in memory they would die
    /// with the process. (Counts do not: after an outage the fleet's window
    /// restarts from what workers send, set semantics, not a sum.)
    fn log_decisions(&self, breaker: &CircuitBreaker, outbox: &Outbox) {
        let decided = outbox.trip
            || outbox.probe_successes > 0
            || outbox.probe_failures > 0
            || outbox.operator.is_some();
        let Some(wal) = self.wal.as_ref().filter(|_| decided) else {
            return;
        };
        let entry = Pending::Breaker {
            name: breaker.name().to_string(),
            trip: outbox.trip,
            probe_successes: outbox.probe_successes,
            probe_failures: outbox.probe_failures,
            operator: outbox
                .operator
                .map(|a| (operator_name(a.cause).to_owned(), a.epoch)),
            state: Some((
                breaker.state().as_str().to_owned(),
                breaker.open_remaining_ms(),
            )),
        };
        if let Ok(log) = wal.get() {
            let _ = log.append(&entry);
        }
    }

    /// Replays one logged breaker decision: the same script, merging the
    /// logged state most-restrictive-wins.
    pub async fn replay(&self, entry: &Pending) -> Result<(), StoreError> {
        let Pending::Breaker {
            name,
            trip,
            probe_successes,
            probe_failures,
            operator,
            state,
        } = entry
        else {
            return Ok(());
        };
        let breaker = self.registry.get_or_create(name);
        let operator = operator.as_ref().and_then(|(op, epoch)| {
            let cause = match op.as_str() {
                "force_open" => Cause::ForceOpen,
                "force_close" => Cause::ForceClose,
                "reset" => Cause::Reset,
                _ => return None,
            };
            Some(crate::core::breaker::shared::OperatorAction {
                cause,
                epoch: *epoch,
            })
        });
        let merge = state.as_ref().and_then(|(name, remaining)| {
            let state = CircuitState::ALL.into_iter().find(|s| s.as_str() == name)?;
            Some((state, *remaining))
        });
        let outbox = Outbox {
            counts: Totals::default(),
            trip: *trip,
            probe_successes: *probe_successes,
            probe_failures: *probe_failures,
            wants_probe: false,
            operator,
            merge,
        };
        let inbox = self.exchange(&breaker, &outbox).await?;
        breaker.apply_fleet(&inbox);
        Ok(())
    }

    async fn exchange(
        &self,
        breaker: &CircuitBreaker,
        outbox: &Outbox,
    ) -> Result<Inbox, StoreError> {
        let name = breaker.name();
        let config = breaker.config();
        let bucket_ms = (config.window.as_millis() / BUCKETS as u128).max(1) as u64;
        let (merge_state, merge_ms) = match outbox.merge {
            Some((state, remaining)) => (state.as_str(), remaining),
            None => ("", 0),
        };
        let operator = match outbox.operator {
            Some(action) => (operator_name(action.cause), action.epoch),
            None => ("", 0),
        };
        let keys = keys(name);
        let worker = self.worker.clone();
        let reply: Vec<redis::Value> = self
            .redis
            .run_async(|mut connection| async move {
                SYNC.key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .arg(outbox.counts.calls)
                    .arg(outbox.counts.failures)
                    .arg(u8::from(outbox.trip))
                    .arg(outbox.probe_successes)
                    .arg(outbox.probe_failures)
                    .arg(u8::from(outbox.wants_probe))
                    .arg(operator.0)
                    .arg(operator.1)
                    .arg(merge_state)
                    .arg(merge_ms)
                    .arg(bucket_ms)
                    .arg(BUCKETS)
                    .arg(config.minimum_calls)
                    .arg(config.failure_threshold)
                    .arg(config.recovery_timeout.as_millis() as u64)
                    .arg(config.half_open_max_calls)
                    .arg(worker)
                    .arg(PROBE_LEASE.as_millis() as u64)
                    .invoke_async(&mut connection)
                    .await
            })
            .await?;
        parse_inbox(&reply)
    }
}

/// The keys of one breaker. The hash tag keeps them in one cluster slot,
/// since the script touches all three.
pub fn keys(name: &str) -> [String; 3] {
    let tag = format!("{{baldur:cb:{name}}}");
    [
        format!("{tag}:state"),
        format!("{tag}:window"),
        format!("{tag}:leases"),
    ]
}

fn operator_name(cause: Cause) -> &'static str {
    match cause {
        Cause::ForceOpen => "force_open",
        Cause::ForceClose => "force_close",
        _ => "reset",
    }
}

fn number(value: Option<&redis::Value>) -> Option<u64> {
    match value? {
        redis::Value::Int(i) => u64::try_from(*i).ok(),
        redis::Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

fn state_named(value: Option<&redis::Value>) -> Option<CircuitState> {
    let redis::Value::BulkString(bytes) = value? else {
        return None;
    };
    let name = std::str::from_utf8(bytes).ok()?;
    CircuitState::ALL.into_iter().find(|s| s.as_str() == name)
}

fn parse_inbox(reply: &[redis::Value]) -> Result<Inbox, StoreError> {
    let parsed = (|| {
        Some(Inbox {
            state: state_named(reply.first())?,
            version: number(reply.get(1))?,
            open_remaining_ms: number(reply.get(2))?,
            fleet: Totals {
                calls: number(reply.get(3))?,
                failures: number(reply.get(4))?,
            },
            leased_probes: u32::try_from(number(reply.get(5))?).ok()?,
        })
    })();
    parsed.ok_or_else(|| StoreError(format!("unexpected answer to a breaker sync: {reply:?}")))
}
