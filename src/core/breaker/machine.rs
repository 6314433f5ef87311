//! One circuit breaker: a lock-free read path over a state word, and every
//! transition decided under one short lock.
//!
//! Three primitives carry every wrapper: [`CircuitBreaker::try_acquire`]
//! once per call, then [`CircuitBreaker::on_success`] or
//! [`CircuitBreaker::on_failure`] per attempt (or [`CircuitBreaker::release`]
//! when a call ends without a verdict, such as a cancellation).

use crate::core::breaker::config::BreakerConfig;
use crate::core::breaker::observer::{ObserverSlot, Transition};
use crate::core::breaker::shared::{Answer, Inbox, OperatorAction, Outbox, SharedLink};
use crate::core::breaker::state::{next_state, Cause, CircuitState};
use crate::core::clock::{from_nanos, to_nanos, Nanos, SharedClock};
use crate::core::window::{SlidingWindow, Totals};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The right to make one call: which generation of the breaker admitted it,
/// and whether it holds one of the half-open probe slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    generation: u64,
    probe: bool,
}

impl Permit {
    /// Whether this permit holds a half-open probe slot.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The state that refused it.
    pub state: CircuitState,
    /// Time until probing resumes; `None` when only an operator can reopen
    /// the way (forced open).
    pub retry_after: Option<Duration>,
}

/// What a breaker looks like at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// The current state.
    pub state: CircuitState,
    /// Calls and failures in the window.
    pub totals: Totals,
    /// How long ago it last opened (automatically or by force), if open now.
    pub opened_ago: Option<Duration>,
    /// Time until probing resumes, when open.
    pub retry_after: Option<Duration>,
    /// Transitions so far.
    pub generation: u64,
    /// The thresholds in force.
    pub config: BreakerConfig,
}

#[derive(Debug)]
struct Inner {
    config: BreakerConfig,
    probes_issued: u32,
    probes_succeeded: u32,
    opened_at: Option<Nanos>,
}

/// A circuit breaker. Shared by every callsite of its name.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: Arc<str>,
    /// `generation << 8 | state`: one atomic load answers the hot path.
    word: AtomicU64,
    /// When an open breaker starts probing; written before `word`.
    open_until: AtomicU64,
    window: SlidingWindow,
    clock: SharedClock,
    observer: Arc<ObserverSlot>,
    inner: Mutex<Inner>,
    /// The fleet: consulted only when a shared store is configured.
    link: SharedLink,
}

fn pack(generation: u64, state: CircuitState) -> u64 {
    generation << 8 | state as u64
}

fn unpack(word: u64) -> (u64, CircuitState) {
    (word >> 8, CircuitState::from_u8((word & 0xff) as u8))
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: BreakerConfig,
        clock: SharedClock,
        observer: Arc<ObserverSlot>,
    ) -> Self {
        Self {
            name: name.into(),
            word: AtomicU64::new(pack(0, CircuitState::Closed)),
            open_until: AtomicU64::new(0),
            window: SlidingWindow::new(config.window),
            clock,
            observer,
            inner: Mutex::new(Inner {
                config,
                probes_issued: 0,
                probes_succeeded: 0,
                opened_at: None,
            }),
            link: SharedLink::new(),
        }
    }

    /// The breaker's link to the fleet.
    pub fn link(&self) -> &SharedLink {
        &self.link
    }

    /// The breaker's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The current state.
    #[inline]
    pub fn state(&self) -> CircuitState {
        unpack(self.word.load(Ordering::Acquire)).1
    }

    /// The state as an observer should read it: an open breaker whose
    /// recovery timeout has passed reads half-open even before a call
    /// arrives to move it there (health would otherwise stay degraded for a
    /// breaker nobody calls). The stored state moves on the next call.
    pub fn observed_state(&self) -> CircuitState {
        match self.state() {
            // The clock is read only where time can change the answer.
            CircuitState::Open => self.observe(CircuitState::Open, self.clock.now()),
            state => state,
        }
    }

    fn observe(&self, state: CircuitState, now: Nanos) -> CircuitState {
        if state == CircuitState::Open && now >= self.open_until.load(Ordering::Acquire) {
            CircuitState::HalfOpen
        } else {
            state
        }
    }

    /// Asks to make a call. Closed costs one atomic load.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, Rejection> {
        let (generation, state) = unpack(self.word.load(Ordering::Acquire));
        match state {
            CircuitState::Closed | CircuitState::ForcedClosed => Ok(Permit {
                generation,
                probe: false,
            }),
            CircuitState::ForcedOpen => Err(Rejection {
                state,
                retry_after: None,
            }),
            CircuitState::Open => {
                let now = self.clock.now();
                let until = self.open_until.load(Ordering::Acquire);
                if now < until {
                    Err(Rejection {
                        state,
                        retry_after: Some(from_nanos(until - now)),
                    })
                } else {
                    self.acquire_slow()
                }
            }
            CircuitState::HalfOpen => self.acquire_slow(),
        }
    }

    #[cold]
    fn acquire_slow(&self) -> Result<Permit, Rejection> {
        let now = self.clock.now();
        let mut transition = None;
        let result = {
            let mut inner = self.inner.lock();
            let (_, state) = unpack(self.word.load(Ordering::Acquire));
            // With the fleet connected, the store decides when probing
            // starts and leases the slots; alone, the breaker does.
            let fleet = self.link.is_connected();
            if state == CircuitState::Open
                && now >= self.open_until.load(Ordering::Acquire)
                && !fleet
            {
                transition = self.transition_locked(&mut inner, Cause::RecoveryElapsed, now);
            }
            let (generation, state) = unpack(self.word.load(Ordering::Acquire));
            match state {
                CircuitState::Closed | CircuitState::ForcedClosed => Ok(Permit {
                    generation,
                    probe: false,
                }),
                CircuitState::HalfOpen if fleet && self.link.take_probe() => {
                    inner.probes_issued += 1;
                    Ok(Permit {
                        generation,
                        probe: true,
                    })
                }
                CircuitState::HalfOpen
                    if !fleet && inner.probes_issued < inner.config.half_open_max_calls =>
                {
                    inner.probes_issued += 1;
                    Ok(Permit {
                        generation,
                        probe: true,
                    })
                }
                // Every probe slot is taken: probing is underway right now.
                CircuitState::HalfOpen => Err(Rejection {
                    state,
                    retry_after: Some(Duration::ZERO),
                }),
                CircuitState::Open => {
                    let until = self.open_until.load(Ordering::Acquire);
                    Err(Rejection {
                        state,
                        retry_after: Some(from_nanos(until.saturating_sub(now))),
                    })
                }
                CircuitState::ForcedOpen => Err(Rejection {
                    state,
                    retry_after: None,
                }),
            }
        };
        self.observer.emit(transition);
        result
    }

    /// An attempt under `permit` succeeded (or ended in an error that is not
    /// the dependency's fault).
    #[inline]
    pub fn on_success(&self, permit: Permit) {
        if permit.probe {
            self.probe_succeeded(permit);
        } else {
            self.window.record(self.clock.now(), false);
        }
    }

    #[cold]
    fn probe_succeeded(&self, permit: Permit) {
        let now = self.clock.now();
        let transition = {
            let mut inner = self.inner.lock();
            let (generation, state) = unpack(self.word.load(Ordering::Acquire));
            if generation != permit.generation || state != CircuitState::HalfOpen {
                return;
            }
            if self.link.is_connected() {
                // The fleet closes it once enough probes, anywhere, succeeded.
                self.link.report_probe(true);
                return;
            }
            inner.probes_succeeded += 1;
            if inner.probes_succeeded >= inner.config.half_open_max_calls {
                self.transition_locked(&mut inner, Cause::ProbesSucceeded, now)
            } else {
                None
            }
        };
        self.observer.emit(transition);
    }

    /// An attempt under `permit` failed.
    ///
    /// While calls flow (closed), every failure observed counts, whichever
    /// generation admitted its call: an operator's reset during a retry
    /// loop does not make the dependency's later failures invisible. While
    /// half-open, only the probes this half-open state admitted speak.
    pub fn on_failure(&self, permit: Permit) {
        let now = self.clock.now();
        let (generation, state) = unpack(self.word.load(Ordering::Acquire));
        let transition = match state {
            CircuitState::HalfOpen if permit.probe && generation == permit.generation => {
                if self.link.is_enabled() {
                    self.link.report_probe(false);
                }
                let mut inner = self.inner.lock();
                self.transition_if_current(&mut inner, generation, Cause::ProbeFailed, now)
            }
            CircuitState::Closed => {
                self.window.record(now, true);
                // With the fleet connected, the floor and threshold are met
                // by everyone's traffic, not this worker's alone.
                let totals = if self.link.is_connected() {
                    self.link.totals(self.window.peek_unsent())
                } else {
                    self.window.totals(now)
                };
                let mut inner = self.inner.lock();
                if inner.config.trips(totals.calls, totals.failures) {
                    let tripped =
                        self.transition_if_current(&mut inner, generation, Cause::Trip, now);
                    if tripped.is_some() && self.link.is_enabled() {
                        self.link.request_trip();
                    }
                    tripped
                } else {
                    None
                }
            }
            CircuitState::ForcedClosed => {
                self.window.record(now, true);
                None
            }
            CircuitState::HalfOpen | CircuitState::Open | CircuitState::ForcedOpen => None,
        };
        self.observer.emit(transition);
    }

    /// A call ends without a verdict on the dependency (cancelled, or
    /// interrupted): a probe slot it held is handed back.
    pub fn release(&self, permit: Permit) {
        if !permit.probe {
            return;
        }
        let mut inner = self.inner.lock();
        let (generation, state) = unpack(self.word.load(Ordering::Acquire));
        if generation == permit.generation && state == CircuitState::HalfOpen {
            inner.probes_issued = inner.probes_issued.saturating_sub(1);
            if self.link.is_connected() {
                // The fleet leased it to this worker: keep it for the next call.
                self.link.return_probe();
            }
        }
    }

    /// Whether a call holding `permit` may make another attempt: calls flow
    /// (closed or forced closed, whatever happened meanwhile: an operator's
    /// reset or force-close must not end a retry loop), or it holds a probe
    /// slot of the current half-open state.
    #[inline]
    pub fn still_admits(&self, permit: Permit) -> bool {
        let (generation, state) = unpack(self.word.load(Ordering::Acquire));
        match state {
            CircuitState::Closed | CircuitState::ForcedClosed => true,
            CircuitState::HalfOpen => permit.probe && generation == permit.generation,
            CircuitState::Open | CircuitState::ForcedOpen => false,
        }
    }

    /// Takes the dependency out of rotation until an operator says otherwise.
    pub fn force_open(&self) {
        self.operator(Cause::ForceOpen);
    }

    /// Pins the breaker closed: calls flow and it never trips.
    pub fn force_close(&self) {
        self.operator(Cause::ForceClose);
    }

    /// Back to automatic control: closed, window cleared.
    pub fn reset(&self) {
        self.operator(Cause::Reset);
    }

    fn operator(&self, cause: Cause) {
        if self.link.is_enabled() {
            self.link.request_operator(OperatorAction {
                cause,
                // Wall time: it orders actions across workers, whose
                // monotonic clocks share no origin.
                epoch: self.clock.wall_millis(),
                late: false,
            });
        }
        let now = self.clock.now();
        let transition = {
            let mut inner = self.inner.lock();
            let (_, state) = unpack(self.word.load(Ordering::Acquire));
            if cause == Cause::Reset && state == CircuitState::Closed {
                // Already automatic; reset still means "forget the history".
                self.window.clear();
                None
            } else if next_state(state, cause) == Some(state) {
                None
            } else {
                self.transition_locked(&mut inner, cause, now)
            }
        };
        self.observer.emit(transition);
    }

    /// Applies new thresholds; the window restarts if its span changed.
    pub fn reconfigure(&self, config: BreakerConfig) {
        let mut inner = self.inner.lock();
        if inner.config.window != config.window {
            self.window.resize(config.window);
        }
        inner.config = config;
    }

    /// Adopts the fleet's state, if `inbox` is newer than what this breaker
    /// applied. The store fenced it by version, so the table is not asked.
    pub fn apply_fleet(&self, inbox: &Inbox) {
        self.apply_fleet_answer(inbox, None, false);
    }

    /// As [`CircuitBreaker::apply_fleet`], for the answer to a sync that
    /// carried this worker's own decision (an operator's action, a merge):
    /// the store may have refused it (an older epoch, a forced state), so
    /// its state stands even at an unchanged version. `drained` is the
    /// breaker's generation when the outbox left: a breaker that moved on
    /// its own since keeps its state (the answer predates that decision,
    /// which the next sync carries).
    pub fn apply_fleet_answer(&self, inbox: &Inbox, drained: Option<u64>, carried_decision: bool) {
        let moved = drained.is_some_and(|g| unpack(self.word.load(Ordering::Acquire)).0 != g);
        match self.link.sync_succeeded(inbox) {
            Answer::Newer | Answer::Same if moved => return,
            Answer::Newer => {}
            Answer::Same if carried_decision => {}
            Answer::Same => return,
            Answer::StoreReset => {
                // Everything this worker stands in is now unknown to the
                // fleet: the next sync merges it.
                self.link.mark_diverged(self.clock.wall_millis());
                return;
            }
        }
        let now = self.clock.now();
        let transition = {
            let mut inner = self.inner.lock();
            let (generation, from) = unpack(self.word.load(Ordering::Acquire));
            let until = now.saturating_add(inbox.open_remaining_ms.saturating_mul(1_000_000));
            if inbox.state == CircuitState::Open {
                self.open_until.store(until, Ordering::Release);
            }
            if inbox.state == from {
                None
            } else {
                let totals = self.window.totals(now);
                match inbox.state {
                    CircuitState::Open | CircuitState::ForcedOpen => inner.opened_at = Some(now),
                    CircuitState::HalfOpen => {
                        inner.probes_issued = 0;
                        inner.probes_succeeded = 0;
                    }
                    CircuitState::Closed | CircuitState::ForcedClosed => {
                        inner.opened_at = None;
                        self.window.clear();
                    }
                }
                if inbox.state != CircuitState::HalfOpen {
                    self.link.reset_half_open();
                }
                let generation = generation + 1;
                self.word
                    .store(pack(generation, inbox.state), Ordering::Release);
                Some(Transition {
                    name: self.name.clone(),
                    from,
                    to: inbox.state,
                    cause: Cause::Synced,
                    generation,
                    totals,
                })
            }
        };
        self.observer.emit(transition);
    }

    /// In a forked child: what the parent owed the fleet stays the
    /// parent's (its counts too); the child syncs afresh.
    pub fn forget_link_after_fork(&self) {
        self.link.forget_after_fork();
        let _ = self.window.take_unsent();
    }

    /// Empties the breaker's outbox for one sync with the shared store.
    pub fn drain_outbox(&self) -> Outbox {
        let (generation, _) = unpack(self.word.load(Ordering::Acquire));
        Outbox {
            generation,
            ..self.link.drain(
                self.window.take_unsent(),
                (self.state(), self.open_remaining_ms()),
            )
        }
    }

    /// Milliseconds until an open breaker starts probing (0 otherwise).
    pub fn open_remaining_ms(&self) -> u64 {
        if self.state() != CircuitState::Open {
            return 0;
        }
        let until = self.open_until.load(Ordering::Acquire);
        until.saturating_sub(self.clock.now()) / 1_000_000
    }

    /// The thresholds in force.
    pub fn config(&self) -> BreakerConfig {
        self.inner.lock().config
    }

    /// The breaker's state and counts now.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        let inner = self.inner.lock();
        let (generation, state) = unpack(self.word.load(Ordering::Acquire));
        let state = self.observe(state, now);
        let open = matches!(state, CircuitState::Open | CircuitState::ForcedOpen);
        let retry_after = (state == CircuitState::Open)
            .then(|| from_nanos(self.open_until.load(Ordering::Acquire).saturating_sub(now)));
        Snapshot {
            state,
            totals: self.window.totals(now),
            opened_ago: inner
                .opened_at
                .filter(|_| open)
                .map(|at| from_nanos(now.saturating_sub(at))),
            retry_after,
            generation,
            config: inner.config,
        }
    }

    /// Transitions only if no other change happened since `seen` was read.
    fn transition_if_current(
        &self,
        inner: &mut Inner,
        seen: u64,
        cause: Cause,
        now: Nanos,
    ) -> Option<Transition> {
        let (generation, _) = unpack(self.word.load(Ordering::Acquire));
        if generation == seen {
            self.transition_locked(inner, cause, now)
        } else {
            None
        }
    }

    /// The one place state changes. Called with the lock held; an illegal
    /// move is refused and changes nothing.
    fn transition_locked(&self, inner: &mut Inner, cause: Cause, now: Nanos) -> Option<Transition> {
        let (generation, from) = unpack(self.word.load(Ordering::Acquire));
        let to = next_state(from, cause)?;
        let totals = self.window.totals(now);
        match to {
            CircuitState::Open => {
                let until = now.saturating_add(to_nanos(inner.config.recovery_timeout));
                self.open_until.store(until, Ordering::Release);
                inner.opened_at = Some(now);
            }
            CircuitState::ForcedOpen => inner.opened_at = Some(now),
            CircuitState::HalfOpen => {
                inner.probes_issued = 0;
                inner.probes_succeeded = 0;
            }
            CircuitState::Closed | CircuitState::ForcedClosed => {
                inner.opened_at = None;
                self.window.clear();
            }
        }
        let generation = generation + 1;
        self.word.store(pack(generation, to), Ordering::Release);
        self.link.note_local_transition(self.clock.wall_millis());
        Some(Transition {
            name: self.name.clone(),
            from,
            to,
            cause,
            generation,
            totals,
        })
    }
}
