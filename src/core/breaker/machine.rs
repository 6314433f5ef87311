//! One circuit breaker: a lock-free read path over a state word, and every
//! transition decided under one short lock.
//!
//! Three primitives carry every wrapper: [`CircuitBreaker::try_acquire`]
//! once per call, then [`CircuitBreaker::on_success`] or
//! [`CircuitBreaker::on_failure`] per attempt (or [`CircuitBreaker::release`]
//! when a call ends without a verdict, such as a cancellation).
//!
//! The rules they decide by (when a failure trips, how many probes pass)
//! come from a [`TripPolicy`] and a [`ProbeBudget`]: the breaker's own, or
//! the fleet's while its view is in force. A state is entered in one place,
//! `CircuitBreaker::enter`, whoever decided it.

use crate::core::breaker::config::BreakerConfig;
use crate::core::breaker::observer::{ObserverSlot, Transition};
use crate::core::breaker::policy::{LocalPolicy, ProbeBudget, Probes, TripPolicy};
use crate::core::breaker::shared::{OperatorAction, SharedLink};
use crate::core::breaker::state::{next_state, Cause, CircuitState};
use crate::core::clock::{from_nanos, to_nanos, Nanos, SharedClock};
use crate::core::window::{SlidingWindow, Totals};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod retries;
mod sync;

pub use retries::RETRY_BUDGET_SPAN;

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
    probes: Probes,
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
    /// Calls and retries (as failures) of the last [`RETRY_BUDGET_SPAN`],
    /// for the zone's retry budget: counted here because the fleet's share
    /// rides this breaker's sync.
    retries: SlidingWindow,
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
            retries: SlidingWindow::new(RETRY_BUDGET_SPAN),
            clock,
            observer,
            inner: Mutex::new(Inner {
                config,
                probes: Probes::default(),
                opened_at: None,
            }),
            link: SharedLink::new(),
        }
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
        self.decide(|inner| {
            let budget = self.probe_budget();
            let (_, state) = unpack(self.word.load(Ordering::Acquire));
            let transition = if state == CircuitState::Open
                && now >= self.open_until.load(Ordering::Acquire)
                && budget.starts_probing()
            {
                self.transition_locked(inner, Cause::RecoveryElapsed, now)
            } else {
                None
            };
            let (generation, state) = unpack(self.word.load(Ordering::Acquire));
            let max = inner.config.half_open_max_calls;
            let result = match state {
                CircuitState::Closed | CircuitState::ForcedClosed => Ok(Permit {
                    generation,
                    probe: false,
                }),
                CircuitState::HalfOpen if budget.take(&mut inner.probes, max) => Ok(Permit {
                    generation,
                    probe: true,
                }),
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
            };
            (result, transition)
        })
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
    pub(super) fn probe_succeeded(&self, permit: Permit) {
        let now = self.clock.now();
        self.decide(|inner| {
            let (generation, state) = unpack(self.word.load(Ordering::Acquire));
            if generation != permit.generation || state != CircuitState::HalfOpen {
                return ((), None);
            }
            let max = inner.config.half_open_max_calls;
            let transition = if self.probe_budget().succeeded(&mut inner.probes, max) {
                self.transition_locked(inner, Cause::ProbesSucceeded, now)
            } else {
                None
            };
            ((), transition)
        });
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
        match state {
            CircuitState::HalfOpen if permit.probe && generation == permit.generation => {
                self.link.report_probe(false);
                self.decide(|inner| {
                    let reopened =
                        self.transition_if_current(inner, generation, Cause::ProbeFailed, now);
                    ((), reopened)
                });
            }
            CircuitState::Closed => {
                self.window.record(now, true);
                self.decide(|inner| {
                    let tripped = if self.trip_policy().trips(&inner.config, &self.window, now) {
                        self.transition_if_current(inner, generation, Cause::Trip, now)
                    } else {
                        None
                    };
                    if tripped.is_some() {
                        self.link.request_trip(self.clock.wall_millis());
                    }
                    ((), tripped)
                });
            }
            CircuitState::ForcedClosed => self.window.record(now, true),
            CircuitState::HalfOpen | CircuitState::Open | CircuitState::ForcedOpen => {}
        }
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
            self.probe_budget().release(&mut inner.probes);
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

    /// A test's reset: as if just made (closed, window empty, no transition
    /// counted), with no transition reported, since none happened to the
    /// dependency. A zone that holds the breaker keeps using it. Calls in
    /// flight should have ended: their permits predate the restart.
    pub fn restart(&self) {
        let mut inner = self.inner.lock();
        inner.probes = Probes::default();
        inner.opened_at = None;
        self.window.clear();
        self.retries.clear();
        self.open_until.store(0, Ordering::Release);
        self.word
            .store(pack(0, CircuitState::Closed), Ordering::Release);
        self.link.restart();
    }

    fn operator(&self, cause: Cause) {
        self.link.request_operator(OperatorAction {
            cause,
            // Wall time: it orders actions across workers, whose monotonic
            // clocks share no origin.
            epoch: self.clock.wall_millis(),
            late: false,
        });
        let now = self.clock.now();
        self.decide(|inner| {
            let (_, state) = unpack(self.word.load(Ordering::Acquire));
            let transition = if cause == Cause::Reset && state == CircuitState::Closed {
                // Already automatic; reset still means "forget the history".
                self.window.clear();
                None
            } else if next_state(state, cause) == Some(state) {
                None
            } else {
                self.transition_locked(inner, cause, now)
            };
            ((), transition)
        });
    }

    /// Applies new thresholds; the window restarts if its span changed.
    pub fn reconfigure(&self, config: BreakerConfig) {
        let mut inner = self.inner.lock();
        if inner.config.window != config.window {
            self.window.resize(config.window);
        }
        inner.config = config;
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

    /// A move the table allows from the current state for `cause`, decided
    /// here; an illegal one is refused and changes nothing. Called with the
    /// lock held.
    fn transition_locked(&self, inner: &mut Inner, cause: Cause, now: Nanos) -> Option<Transition> {
        let (_, from) = unpack(self.word.load(Ordering::Acquire));
        let to = next_state(from, cause)?;
        if to == CircuitState::Open {
            let until = now.saturating_add(to_nanos(inner.config.recovery_timeout));
            self.open_until.store(until, Ordering::Release);
        }
        Some(self.enter(inner, to, cause, now))
    }

    /// Enters `to` (resilience4j's `stateTransition`): the one place a state
    /// is entered, whoever decided it, this breaker (a `cause` from the
    /// table) or the fleet ([`Cause::Synced`]). Called with the lock held,
    /// an open state's `open_until` already set by the decider; returns the
    /// transition, to be reported once the lock is released.
    fn enter(&self, inner: &mut Inner, to: CircuitState, cause: Cause, now: Nanos) -> Transition {
        let (generation, from) = unpack(self.word.load(Ordering::Acquire));
        let totals = self.window.totals(now);
        match to {
            CircuitState::Open | CircuitState::ForcedOpen => inner.opened_at = Some(now),
            CircuitState::HalfOpen => inner.probes = Probes::default(),
            CircuitState::Closed | CircuitState::ForcedClosed => {
                inner.opened_at = None;
                self.window.clear();
            }
        }
        let by_fleet = cause == Cause::Synced;
        if by_fleet && to != CircuitState::HalfOpen {
            // Slots leased for a half-open state the fleet has left.
            self.link.reset_half_open();
        }
        let generation = generation + 1;
        self.word.store(pack(generation, to), Ordering::Release);
        if !by_fleet {
            // A decision of this worker's own: one the fleet cannot hear
            // now is merged by the first sync that answers.
            self.link.note_local_transition(self.clock.wall_millis());
        }
        Transition {
            name: self.name.clone(),
            from,
            to,
            cause,
            generation,
            totals,
        }
    }

    /// Runs `decide` under the lock, then reports the transition it made,
    /// if any, with the lock released (a listener may call this breaker).
    fn decide<R>(&self, decide: impl FnOnce(&mut Inner) -> (R, Option<Transition>)) -> R {
        let (result, transition) = {
            let mut inner = self.inner.lock();
            decide(&mut inner)
        };
        self.observer.emit(transition);
        result
    }

    /// When a failure trips: the fleet's rule while its view is in force
    /// (the store answered lately), else this breaker's own.
    fn trip_policy(&self) -> &dyn TripPolicy {
        if self.link.is_connected() {
            &self.link
        } else {
            &LocalPolicy
        }
    }

    /// How probes pass: the fleet's leases while its view is in force,
    /// else this breaker's own budget.
    fn probe_budget(&self) -> &dyn ProbeBudget {
        if self.link.is_connected() {
            &self.link
        } else {
            &LocalPolicy
        }
    }
}
