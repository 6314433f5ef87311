//! Breaker state shared by every worker. Each worker's breakers keep
//! deciding locally on the call path; every few hundred milliseconds a task
//! on the background runtime carries each breaker's outbox (counts, trips,
//! probe outcomes, operator actions) to Redis in one script, which decides
//! the fleet's state on the server's clock, fences it by a version, leases
//! half-open probe slots, and answers with the state every worker adopts.
//! When Redis is unreachable the breakers decide alone (DEGRADED); the
//! first sync afterwards merges their state most-restrictive-wins.

use crate::core::breaker::shared::{Inbox, LocalDecision, OperatorAction, Outbox};
use crate::core::breaker::state::OPERATOR_ACTIONS;
use crate::core::breaker::{Cause, CircuitBreaker, CircuitState, Registry};
use crate::core::error::StoreError;
use crate::core::store::wal::{breaker_slot, LazyWal, LoggedDecision, Pending};
use crate::core::store::RedisStore;
use crate::core::window::BUCKETS;
use parking_lot::Mutex;
use redis::Script;
use std::collections::HashMap;
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
/// How long a running probe's slot stays reserved past its worker's last
/// sync (each sync renews it): a dead worker's slot lapses this soon.
pub const PROBE_LEASE: Duration = Duration::from_secs(5);
/// How long a newly granted slot waits for its worker's next call: long
/// enough for a worker with one call every few seconds to use it (a slot
/// granted only after a refusal would otherwise always lapse first).
pub const UNUSED_PROBE_LEASE: Duration = Duration::from_secs(15);

static SYNC: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("fleet.lua")));

/// The loop that syncs every breaker of `registry` through `redis`.
#[derive(Clone)]
pub struct BreakerSync {
    registry: &'static Registry,
    redis: Arc<RedisStore>,
    worker: String,
    interval: Duration,
    wal: Option<Arc<LazyWal>>,
    /// Breakers with a row of this process in the log, and what it holds.
    logged: Arc<Mutex<HashMap<String, Logged>>>,
    on_wal_failure: Option<WalFailure>,
}

impl std::fmt::Debug for BreakerSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerSync")
            .field("worker", &self.worker)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// What a logged row holds, to skip rewriting it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Logged {
    trip: bool,
    probes: (u32, u32),
    operator: Option<(Cause, u64)>,
    merge: Option<(CircuitState, u64)>,
}

impl Logged {
    fn of(outbox: &Outbox) -> Self {
        Self {
            trip: outbox.trip,
            probes: (outbox.probe_successes, outbox.probe_failures),
            operator: outbox.operator.map(|a| (a.cause, a.epoch)),
            merge: outbox.merge.map(|m| (m.state, m.decided_at_ms)),
        }
    }
}

/// Told when a decision could not be logged either (it then lives only in
/// memory, and dies with the process): never silent.
pub type WalFailure = Arc<dyn Fn(&str) + Send + Sync>;

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
            logged: Arc::default(),
            on_wal_failure: None,
        }
    }

    /// Logs decisions that could not reach Redis to `wal`, durably, so they
    /// outlive this process.
    pub fn with_wal(mut self, wal: Arc<LazyWal>) -> Self {
        self.wal = Some(wal);
        self
    }

    /// Reports a decision the log could not take to `report`.
    pub fn on_wal_failure(mut self, report: WalFailure) -> Self {
        self.on_wal_failure = Some(report);
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
            Ok(inbox) => {
                let decided = outbox.trip || outbox.operator.is_some() || outbox.merge.is_some();
                breaker.apply_fleet_answer(&inbox, Some(outbox.generation), decided);
                self.forget_logged(breaker.name()).await;
            }
            Err(_) => {
                breaker.link().sync_failed(outbox);
                self.log_decisions(breaker, &outbox).await;
            }
        }
    }

    /// A trip, probe outcomes, an operator's action or a state decided
    /// alone that could not reach Redis go to the write-ahead log too:
    /// kept in memory they would die with the process. The outbox that
    /// failed holds everything still undelivered, so it replaces this
    /// process's row for the breaker (one row, however long the outage).
    /// Counts are not logged: after an outage the fleet's window restarts
    /// from what workers send, set semantics, not a sum.
    async fn log_decisions(&self, breaker: &CircuitBreaker, outbox: &Outbox) {
        let decided = outbox.trip
            || outbox.probe_successes > 0
            || outbox.probe_failures > 0
            || outbox.operator.is_some()
            || outbox.merge.is_some();
        let Some(wal) = self.wal.clone().filter(|_| decided) else {
            return;
        };
        // The same undelivered decisions as the last failed round: the row
        // already holds them (no disk write every round of an outage).
        let fingerprint = Logged::of(outbox);
        if self.logged.lock().get(&**breaker.name()) == Some(&fingerprint) {
            return;
        }
        let now = self.registry.clock().wall_millis();
        let entry = Pending::Breaker {
            name: breaker.name().to_string(),
            pid: std::process::id(),
            started: start_time(std::process::id()),
            trip: outbox.trip,
            probe_successes: outbox.probe_successes,
            probe_failures: outbox.probe_failures,
            operator: outbox
                .operator
                .map(|a| (operator_name(a.cause).to_owned(), a.epoch)),
            merge: outbox.merge.map(|m| LoggedDecision {
                state: m.state.as_str().to_owned(),
                open_until_ms: now.saturating_add(m.open_remaining_ms),
                decided_at_ms: m.decided_at_ms,
            }),
        };
        self.logged
            .lock()
            .insert(breaker.name().to_string(), fingerprint);
        let appended = tokio::task::spawn_blocking(move || wal.get()?.append(&entry)).await;
        let failure = match appended {
            Ok(Ok(_)) => return,
            Ok(Err(error)) => error,
            Err(error) => error.to_string(),
        };
        if let Some(report) = &self.on_wal_failure {
            report(&failure);
        }
    }

    /// This process delivered its decisions for `name` itself: its logged
    /// row must not be replayed on top of what the fleet did since.
    async fn forget_logged(&self, name: &str) {
        if self.logged.lock().remove(name).is_none() {
            return; // the common case: nothing was logged, no disk touched
        }
        let Some(wal) = self.wal.clone() else {
            return;
        };
        let pid = std::process::id();
        let slot = breaker_slot(pid, start_time(pid), name);
        let cleared = tokio::task::spawn_blocking(move || wal.get()?.clear_slot(&slot)).await;
        if !matches!(cleared, Ok(Ok(()))) {
            // Try again after the next successful round.
            self.logged
                .lock()
                .insert(name.to_owned(), Logged::default());
        }
    }

    /// Replays one logged breaker decision of a process that has died: the
    /// same script, merging its state most-restrictive-wins, its operator
    /// action marked late. Returns `Ok(false)` for a row that belongs to a
    /// live process (it delivers its own).
    pub async fn replay(&self, entry: &Pending) -> Result<bool, StoreError> {
        let Pending::Breaker {
            name,
            pid,
            started,
            trip,
            probe_successes,
            probe_failures,
            operator,
            merge,
        } = entry
        else {
            return Ok(true);
        };
        if process_alive(*pid) && (*started == 0 || start_time(*pid) == *started) {
            return Ok(false);
        }
        let breaker = self.registry.get_or_detached(name);
        let operator = operator.as_ref().and_then(|(op, epoch)| {
            let cause = operator_cause(op)?;
            Some(OperatorAction {
                cause,
                epoch: *epoch,
                late: true,
            })
        });
        let now = self.registry.clock().wall_millis();
        let merge = merge.as_ref().and_then(|logged| {
            let state = CircuitState::ALL
                .into_iter()
                .find(|s| s.as_str() == logged.state)?;
            Some(LocalDecision {
                state,
                open_remaining_ms: logged.open_until_ms.saturating_sub(now),
                decided_at_ms: logged.decided_at_ms,
            })
        });
        let outbox = Outbox {
            trip: *trip,
            probe_successes: *probe_successes,
            probe_failures: *probe_failures,
            operator,
            merge,
            ..Outbox::default()
        };
        // Under an id that holds no leases: the dead worker's probe
        // outcomes count, but free none of this worker's slots. The answer
        // is not applied here: the sync loop adopts the fleet's state
        // (the script announces the change), in order.
        let replayer = format!("{}:replay", self.worker);
        self.exchange_as(&breaker, &outbox, &replayer).await?;
        Ok(true)
    }

    async fn exchange(
        &self,
        breaker: &CircuitBreaker,
        outbox: &Outbox,
    ) -> Result<Inbox, StoreError> {
        self.exchange_as(breaker, outbox, &self.worker).await
    }

    async fn exchange_as(
        &self,
        breaker: &CircuitBreaker,
        outbox: &Outbox,
        worker: &str,
    ) -> Result<Inbox, StoreError> {
        let name = breaker.name();
        let config = breaker.config();
        let bucket_ms = (config.window.as_millis() / BUCKETS as u128).max(1) as u64;
        let (merge_state, merge_ms, decided_at) = match outbox.merge {
            Some(m) => (m.state.as_str(), m.open_remaining_ms, m.decided_at_ms),
            None => ("", 0, 0),
        };
        let (operator, late) = match outbox.operator {
            Some(action) => (
                (operator_name(action.cause), action.epoch),
                u8::from(action.late),
            ),
            None => (("", 0), 0),
        };
        let keys = keys(name);
        let worker = worker.to_owned();
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
                    .arg(decided_at)
                    .arg(outbox.probes_in_flight)
                    .arg(late)
                    .arg(UNUSED_PROBE_LEASE.as_millis() as u64)
                    .arg(config.failure_rate_threshold)
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

/// The verb an operator's action is logged under in the fleet's record
/// (`OPERATOR_ACTIONS`, the one table of them); any other cause is a reset.
fn operator_name(cause: Cause) -> &'static str {
    OPERATOR_ACTIONS
        .iter()
        .find(|(action, _)| *action == cause)
        .map_or("reset", |(_, verb)| verb)
}

/// The action a logged verb names, if it names one.
fn operator_cause(verb: &str) -> Option<Cause> {
    OPERATOR_ACTIONS
        .iter()
        .find(|(_, name)| *name == verb)
        .map(|(cause, _)| *cause)
}

/// Whether process `pid` still runs (its logged rows are its own to
/// deliver): kill(pid, 0) sends nothing; EPERM means it exists.
fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(error) => error == rustix::io::Errno::PERM,
    }
}

/// When process `pid` started, in clock ticks since boot (Linux's
/// `/proc/<pid>/stat`, field 22): with the pid, it names one process even
/// when pids are reused (a container restarting its workers). 0 where it
/// cannot be read.
fn start_time(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces and parens: fields are
            // counted after its closing one (field 3 comes first).
            let rest = stat.get(stat.rfind(')')? + 2..)?;
            rest.split(' ').nth(19)?.parse().ok()
        })
        .unwrap_or(0)
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
            fleet: crate::core::window::Totals {
                calls: number(reply.get(3))?,
                failures: number(reply.get(4))?,
            },
            held_probes: u32::try_from(number(reply.get(5))?).ok()?,
            incarnation: number(reply.get(6))?,
        })
    })();
    parsed.ok_or_else(|| StoreError(format!("unexpected answer to a breaker sync: {reply:?}")))
}
