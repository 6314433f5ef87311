//! Transition events, and the one listener slot every breaker reports to.

use crate::core::breaker::state::{Cause, CircuitState};
use crate::core::window::Totals;
use parking_lot::RwLock;
use std::sync::Arc;

/// One state change of one breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The state left.
    pub from: CircuitState,
    /// The state entered.
    pub to: CircuitState,
    /// Why.
    pub cause: Cause,
    /// The breaker's generation after the change: consecutive transitions of
    /// one breaker carry consecutive generations, so listeners can order
    /// events that different threads deliver out of order.
    pub generation: u64,
    /// The window's counts when the change was decided.
    pub totals: Totals,
}

/// Receives transitions. Called after the breaker's lock is released, on the
/// thread that caused the change.
pub trait BreakerObserver: Send + Sync {
    /// One breaker changed state.
    fn on_transition(&self, transition: &Transition);
}

/// The listener shared by a registry and all its breakers; empty by default,
/// so no event is built when nobody listens.
#[derive(Default)]
pub struct ObserverSlot {
    observer: RwLock<Option<Arc<dyn BreakerObserver>>>,
}

impl ObserverSlot {
    /// Installs (or, with `None`, removes) the listener.
    pub fn set(&self, observer: Option<Arc<dyn BreakerObserver>>) {
        *self.observer.write() = observer;
    }

    /// Delivers a transition to the listener, if there is one.
    pub fn emit(&self, transition: Option<Transition>) {
        if let Some(transition) = transition {
            let observer = self.observer.read().clone();
            if let Some(observer) = observer {
                observer.on_transition(&transition);
            }
        }
    }
}

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserverSlot")
            .field("set", &self.observer.read().is_some())
            .finish()
    }
}
