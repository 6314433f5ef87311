//! Helpers shared by the integration tests: a breaker on a manual clock, and
//! an observer that keeps every transition it is told about.
#![allow(dead_code)] // each test crate uses a different subset

use baldur::core::breaker::observer::ObserverSlot;
use baldur::core::breaker::{BreakerConfig, BreakerObserver, CircuitBreaker, Transition};
use baldur::core::clock::ManualClock;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// Keeps every transition, in the order the observer received them.
#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<Transition>>,
}

impl Recorder {
    pub fn transitions(&self) -> Vec<Transition> {
        self.seen.lock().clone()
    }
}

impl BreakerObserver for Recorder {
    fn on_transition(&self, transition: &Transition) {
        self.seen.lock().push(transition.clone());
    }
}

/// A breaker under test, the clock that drives it, and its recorder.
pub struct Rig {
    pub clock: Arc<ManualClock>,
    pub breaker: Arc<CircuitBreaker>,
    pub recorder: Arc<Recorder>,
}

impl Rig {
    pub fn new(config: BreakerConfig) -> Self {
        let (clock, shared) = ManualClock::shared();
        let recorder = Arc::new(Recorder::default());
        let slot = Arc::new(ObserverSlot::default());
        slot.set(Some(recorder.clone()));
        let breaker = Arc::new(CircuitBreaker::new("dep", config, shared, slot));
        Self {
            clock,
            breaker,
            recorder,
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Fails `n` calls in a row, each under a fresh permit.
    pub fn fail(&self, n: u32) {
        for _ in 0..n {
            let permit = self.breaker.try_acquire().expect("admitted");
            self.breaker.on_failure(permit);
        }
    }

    /// Succeeds `n` calls in a row, each under a fresh permit.
    pub fn succeed(&self, n: u32) {
        for _ in 0..n {
            let permit = self.breaker.try_acquire().expect("admitted");
            self.breaker.on_success(permit);
        }
    }
}

/// threshold 3 failures, floor 5 calls, 10 s recovery, 2 probes, 60 s window.
pub fn config() -> BreakerConfig {
    BreakerConfig::new(3, 5, 10.0, 2, 60.0).unwrap()
}

/// A rig whose breaker is open (tripped at t = 0 by five failures).
pub fn tripped(config: BreakerConfig) -> Rig {
    let rig = Rig::new(config);
    rig.fail(config.minimum_calls.max(config.failure_threshold));
    assert_eq!(
        rig.breaker.state(),
        baldur::core::breaker::CircuitState::Open
    );
    rig
}

/// The fleet's answer to a sync: `state` at `version` of record 1, no
/// counts, no slots.
pub fn inbox(
    state: baldur::core::breaker::CircuitState,
    version: u64,
) -> baldur::core::breaker::shared::Inbox {
    baldur::core::breaker::shared::Inbox {
        state,
        version,
        open_remaining_ms: 0,
        fleet: baldur::core::window::Totals::default(),
        held_probes: 0,
        incarnation: 1,
        budget: None,
    }
}
