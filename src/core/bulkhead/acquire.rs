//! Asking a compartment for a permit: one now, a place in line, or no.

use super::compartment::{Compartment, Occupancy, Waiter};
use super::permit::{Permit, Ticket};
use crate::core::clock::to_nanos;
use std::sync::Arc;

/// What asking for a permit gives.
#[derive(Debug)]
pub enum Acquire {
    /// A permit, held until dropped.
    Permit(Permit),
    /// No permit free: a place in line, to wait on (sync or async).
    Wait(Ticket),
    /// No permit and no place in line.
    Full(Occupancy),
}

impl Compartment {
    /// A permit if one is free and nobody waits, else `None`, with nothing
    /// counted or queued: for a caller with another way to wait (the async
    /// fast path falls back on the general one).
    #[inline]
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let cell = self.state();
        let mut state = cell.lock();
        if state.active < state.settings.capacity && state.line.is_empty() {
            state.active += 1;
            drop(state);
            return Some(Permit::new(self.clone()));
        }
        None
    }

    /// A permit now, a place in line, or a refusal. A free permit is not
    /// taken while anyone waits: the line goes first.
    #[inline]
    pub fn acquire(self: &Arc<Self>) -> Acquire {
        let cell = self.state();
        let mut state = cell.lock();
        if state.active < state.settings.capacity && state.line.is_empty() {
            state.active += 1;
            drop(state);
            return Acquire::Permit(Permit::new(self.clone()));
        }
        let settings = state.settings;
        if settings.waits() && (state.line.len() as u64) < u64::from(settings.max_waiting) {
            let waiter = Arc::new(Waiter::default());
            state.line.push_back(waiter.clone());
            drop(state);
            let deadline = self.now().saturating_add(to_nanos(settings.wait_timeout));
            return Acquire::Wait(Ticket::new(self.clone(), waiter, deadline));
        }
        Acquire::Full(self.refuse(&state))
    }
}
