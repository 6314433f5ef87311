//! Breaker state shared by every worker. Each worker's breakers keep
//! deciding locally on the call path; every few hundred milliseconds a task
//! on the background runtime carries the outboxes (counts, trips, probe
//! outcomes, operator actions) of the breakers that have something to say
//! to Redis, in one script per round, which decides the fleet's state on
//! the server's clock, fences it by a version, leases half-open probe
//! slots, and answers with the state every worker adopts. When Redis is
//! unreachable the breakers decide alone (DEGRADED); the first sync
//! afterwards merges their state most-restrictive-wins.
//!
//! A round costs what changed: a breaker with no calls, no decision and no
//! fleet change since its last sync is not sent. Its fleet state still
//! reaches this worker: a change is announced by name (pub/sub) and kept
//! in a change log the round reads, and every round checks the versions
//! of a few idle breakers, in turn, as the backstop for what neither says
//! (a store rolled back under the log).

mod logged;
pub mod record;
pub mod wire;

use crate::core::breaker::shared::{Inbox, Outbox};
use crate::core::breaker::{CircuitBreaker, Registry};
use crate::core::error::StoreError;
use crate::core::fork_cell::FORK_GATE;
use crate::core::store::wal::LazyWal;
use crate::core::store::RedisStore;
use logged::Logged;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wire::{Changed, RoundHeader, RoundReply, RoundRequest};

/// The channel the sync script announces changes on, by breaker name.
pub const CHANGES: &str = "baldur:cb:changed";

/// How often each worker syncs its breakers.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// How long a running probe's slot stays reserved past its worker's last
/// sync (each sync renews it): a dead worker's slot lapses this soon.
pub const PROBE_LEASE: Duration = Duration::from_secs(5);
/// How long a newly granted slot waits for its worker's next call: long
/// enough for a worker with one call every few seconds to use it (a slot
/// granted only after a refusal would otherwise always lapse first).
pub const UNUSED_PROBE_LEASE: Duration = Duration::from_secs(15);
/// Breakers per script: a round of many busy breakers goes as a few
/// scripts sent together (one round trip), none holding Redis for long.
const BREAKERS_PER_SCRIPT: usize = 100;
/// Idle breakers whose versions each round checks, in turn: a constant
/// cost per worker, whatever the number of breakers.
const CHECKS_PER_ROUND: usize = 8;

/// Aborts a task when the loop that started it ends (it is aborted too).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The loop that syncs the breakers of `registry` through `redis`.
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
    /// Breakers announced as changed since the last round.
    announced: Arc<Mutex<HashSet<String>>>,
    /// How far this worker has read the fleet's change log.
    log_position: Arc<AtomicU64>,
    /// Where the next version check starts among the idle breakers.
    check_cursor: Arc<AtomicUsize>,
    /// On a cluster: breakers whose records this worker changed, for the
    /// next round's log script to name (their own scripts cannot reach the
    /// log's slot).
    unlogged: Arc<Mutex<Vec<String>>>,
    /// Called after every round: the process's watchdog hears the loop live.
    on_round: Option<RoundDone>,
}

/// Told after each round of the sync loop.
pub type RoundDone = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for BreakerSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerSync")
            .field("worker", &self.worker)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Told when a decision could not be logged either (it then lives only in
/// memory, and dies with the process): never silent.
pub type WalFailure = Arc<dyn Fn(&str) + Send + Sync>;

/// Which breakers a round sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Those with something to send or to learn.
    Changed,
    /// Every one (the first round, the exit flush).
    All,
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
            logged: Arc::default(),
            on_wal_failure: None,
            announced: Arc::default(),
            log_position: Arc::default(),
            check_cursor: Arc::default(),
            unlogged: Arc::default(),
            on_round: None,
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

    /// Calls `done` after every round of [`BreakerSync::run`].
    pub fn on_round(mut self, done: RoundDone) -> Self {
        self.on_round = Some(done);
        self
    }

    /// Runs until the task is aborted: a round every interval, and one at
    /// once when another worker announces a change (pub/sub).
    pub async fn run(self) {
        let changed = Arc::new(tokio::sync::Notify::new());
        let listener = {
            let redis = self.redis.clone();
            let changed = changed.clone();
            let announced = self.announced.clone();
            tokio::spawn(async move {
                redis
                    .subscribe(CHANGES, move |name| {
                        announced
                            .lock()
                            .insert(String::from_utf8_lossy(name).into_owned());
                        changed.notify_one();
                    })
                    .await;
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
            self.round().await;
            if let Some(done) = &self.on_round {
                done();
            }
        }
    }

    /// One round over every breaker, whatever it has to say: the first
    /// round of a worker, and the last before it exits.
    pub async fn sync_all(&self) {
        self.round_of(Scope::All).await;
    }

    /// One round over the breakers with something to send or to learn; a
    /// second at once for those it found changed elsewhere.
    pub async fn round(&self) {
        if self.round_of(Scope::Changed).await {
            self.round_of(Scope::Changed).await;
        }
    }

    /// Returns whether it learnt of breakers changed elsewhere (to refresh).
    async fn round_of(&self, scope: Scope) -> bool {
        // Gathering takes every breaker's locks (window, outbox) in turn: a
        // section of the fork gate, so a child is never forked holding one.
        let gathering = FORK_GATE.enter();
        let breakers = self.registry.all();
        let announced = std::mem::take(&mut *self.announced.lock());
        for breaker in &breakers {
            if announced.contains(&**breaker.name()) {
                breaker.link().request_refresh();
            }
        }
        let (busy, idle): (Vec<_>, Vec<_>) = breakers
            .iter()
            .partition(|b| scope == Scope::All || b.needs_sync());
        let checked = self.next_checks(&idle);
        let outboxes: Vec<Outbox> = busy.iter().map(|b| b.drain_outbox()).collect();
        drop(gathering);
        let synced: Vec<(&CircuitBreaker, &Outbox)> =
            busy.iter().map(|b| &***b).zip(outboxes.iter()).collect();
        let replies = self.send(&synced, &checked, &self.worker).await;
        let mut refresh = false;
        for (request, reply) in replies {
            match reply {
                Ok(reply) => {
                    for ((breaker, outbox), (inbox, changed)) in
                        request.synced.iter().zip(&reply.inboxes)
                    {
                        self.adopt(breaker, outbox, inbox).await;
                        if *changed && !request.log {
                            self.unlogged.lock().push(breaker.name().to_string());
                        }
                    }
                    for (breaker, known) in request.checked.iter().zip(&reply.versions) {
                        if breaker.link().differs_from(*known) {
                            breaker.link().request_refresh();
                            refresh = true;
                        }
                    }
                    if request.log {
                        refresh |= self.read_log(&breakers, reply);
                    }
                }
                Err(_) => {
                    // Names the log did not take wait for the next round.
                    self.unlogged.lock().extend(request.also_changed);
                    for (breaker, outbox) in request.synced {
                        {
                            let _section = FORK_GATE.enter();
                            breaker.link().sync_failed(*outbox);
                        }
                        self.log_decisions(breaker, outbox).await;
                    }
                }
            }
        }
        refresh
    }

    async fn adopt(&self, breaker: &CircuitBreaker, outbox: &Outbox, inbox: &Inbox) {
        let decided = outbox.trip || outbox.operator.is_some() || outbox.merge.is_some();
        {
            // Applying takes the breaker's locks: a section of the fork gate.
            let _section = FORK_GATE.enter();
            // Landed first: for a moment the counts are in neither (a trip
            // then waits for the answer), never in both.
            breaker.link().counts_landed(outbox.counts);
            breaker.apply_fleet_answer(inbox, Some(outbox.generation), decided);
        }
        self.forget_logged(breaker.name()).await;
    }

    /// The next few idle breakers, in turn, whose versions this round checks.
    fn next_checks<'a>(&self, idle: &[&'a Arc<CircuitBreaker>]) -> Vec<&'a CircuitBreaker> {
        if idle.is_empty() {
            return Vec::new();
        }
        let take = CHECKS_PER_ROUND.min(idle.len());
        let start = self.check_cursor.fetch_add(take, Ordering::Relaxed) % idle.len();
        (0..take)
            .map(|i| &**idle[(start + i) % idle.len()])
            .collect()
    }

    /// Marks what the change log names for a refresh; returns whether it
    /// named any breaker of this worker.
    fn read_log(&self, breakers: &[Arc<CircuitBreaker>], reply: RoundReply) -> bool {
        let named: HashSet<String> = match reply.changed {
            Changed::Everything => {
                // The log restarted lower: its new position is the one to
                // read from.
                self.log_position
                    .store(reply.log_position, Ordering::Release);
                breakers.iter().for_each(|b| b.link().request_refresh());
                return !breakers.is_empty();
            }
            // Two rounds may overlap (an operator's action runs one at
            // once): the later position read stands.
            _ if self
                .log_position
                .fetch_max(reply.log_position, Ordering::AcqRel)
                > reply.log_position =>
            {
                return false;
            }
            Changed::Nothing => return false,
            Changed::Named(names) => names.into_iter().collect(),
        };
        let mut any = false;
        for breaker in breakers {
            if named.contains(&**breaker.name()) {
                breaker.link().request_refresh();
                any = true;
            }
        }
        any
    }

    /// Sends a round: a few scripts, sent together on one connection (one
    /// round trip). On a cluster, one script per breaker (each its own
    /// hash slot) and one for the change log, sent together likewise.
    async fn send<'a>(
        &self,
        synced: &[(&'a CircuitBreaker, &'a Outbox)],
        checked: &[&'a CircuitBreaker],
        worker: &str,
    ) -> Vec<(Part<'a>, Result<RoundReply, StoreError>)> {
        let cluster = self.redis.is_cluster();
        let header = RoundHeader {
            worker,
            log: false,
            log_position: self.log_position.load(Ordering::Acquire),
            probe_lease: PROBE_LEASE,
            unused_probe_lease: UNUSED_PROBE_LEASE,
            also_changed: &[],
        };
        let groups: Vec<Vec<(&'a CircuitBreaker, &'a Outbox)>> = if cluster {
            // A script reaches one hash slot: one a slot, in slot order.
            let mut by_slot: std::collections::BTreeMap<u16, Vec<_>> = Default::default();
            for pair in synced {
                by_slot
                    .entry(wire::slot(pair.0.name()))
                    .or_default()
                    .push(*pair);
            }
            by_slot
                .into_values()
                .flat_map(|group| {
                    group
                        .chunks(BREAKERS_PER_SCRIPT)
                        .map(<[_]>::to_vec)
                        .collect::<Vec<_>>()
                })
                .collect()
        } else {
            synced
                .chunks(BREAKERS_PER_SCRIPT)
                .map(<[_]>::to_vec)
                .collect()
        };
        let mut parts: Vec<Part<'a>> = groups
            .into_iter()
            .map(|synced| Part {
                synced,
                ..Part::default()
            })
            .collect();
        if cluster {
            // Each script reaches its own slot only: the checks go one a
            // script, and the log in one of its own, naming what the last
            // round changed.
            parts.extend(checked.iter().map(|breaker| Part {
                checked: vec![*breaker],
                ..Part::default()
            }));
            parts.push(Part {
                log: true,
                also_changed: std::mem::take(&mut *self.unlogged.lock()),
                ..Part::default()
            });
        } else {
            // The checks and the log ride the first script.
            if parts.is_empty() {
                parts.push(Part::default());
            }
            parts[0].checked = checked.to_vec();
            parts[0].log = true;
        }
        let requests: Vec<RoundRequest> = parts
            .iter()
            .map(|part| {
                let header = RoundHeader {
                    log: part.log,
                    also_changed: &part.also_changed,
                    ..header
                };
                RoundRequest::new(header, &part.synced, &part.checked)
            })
            .collect();
        let answers = self
            .redis
            .run_async(|connection| async move {
                let sends = requests.into_iter().map(|request| {
                    let mut connection = connection.clone();
                    async move { request.send(&mut connection).await }
                });
                // One script refused fails the round as a whole: the store's
                // health hears of it (DEGRADED is then the breakers' rule).
                futures_util::future::join_all(sends)
                    .await
                    .into_iter()
                    .collect::<redis::RedisResult<Vec<_>>>()
            })
            .await;
        match answers {
            Ok(answers) => parts
                .into_iter()
                .zip(answers)
                .map(|(part, value)| (part, wire::parse_round(&value)))
                .collect(),
            Err(error) => parts
                .into_iter()
                .map(|part| (part, Err(error.clone())))
                .collect(),
        }
    }

    /// Sends one breaker's outbox under `worker` and returns the fleet's
    /// answer, without applying it.
    async fn exchange_one(
        &self,
        breaker: &CircuitBreaker,
        outbox: &Outbox,
        worker: &str,
    ) -> Result<Inbox, StoreError> {
        let (_, reply) = self
            .send(&[(breaker, outbox)], &[], worker)
            .await
            .into_iter()
            .next()
            .ok_or_else(|| StoreError("a breaker sync sent nothing".into()))?;
        reply?
            .inboxes
            .into_iter()
            .next()
            .map(|(inbox, _)| inbox)
            .ok_or_else(|| StoreError("a breaker sync answered nothing".into()))
    }
}

/// One script's share of a round.
#[derive(Default)]
struct Part<'a> {
    synced: Vec<(&'a CircuitBreaker, &'a Outbox)>,
    checked: Vec<&'a CircuitBreaker>,
    /// It keeps and reads the change log (one script of a round does).
    log: bool,
    /// Breakers changed by earlier scripts, for its log to name.
    also_changed: Vec<String>,
}

pub use wire::keys;
