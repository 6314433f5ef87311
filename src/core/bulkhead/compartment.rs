//! One compartment: a count of permits out, and the calls waiting in line.
//!
//! Everything sits under one short lock: a permit on the success path is a
//! lock, a compare and an increment (and the same to give it back), and a
//! returned permit goes straight to the first waiter (a handoff) so that a
//! newcomer can never overtake the line.

use super::settings::Settings;
use crate::core::clock::{Nanos, SharedClock};
use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// How full a compartment was when it turned a call away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupancy {
    /// The compartment's name.
    pub compartment: Arc<str>,
    /// Permits out.
    pub active: u32,
    /// Permits in all.
    pub capacity: u32,
    /// Calls in line.
    pub waiting: u32,
    /// Places in line.
    pub max_waiting: u32,
}

impl std::fmt::Display for Occupancy {
    /// The wording `BulkheadFullError` carries (CONTRACT: Bulkhead).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}/{} active, {}/{} waiting",
            self.compartment, self.active, self.capacity, self.waiting, self.max_waiting
        )
    }
}

/// A compartment as an operator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Its limits.
    pub settings: Settings,
    /// Permits out.
    pub active: u32,
    /// Calls in line.
    pub waiting: u32,
    /// Calls turned away since the process started (full, or waited too long).
    pub rejected: u64,
}

/// One call in line. `granted` is written under the compartment's lock;
/// the two wakers serve a waiting thread and a waiting task alike.
#[derive(Debug, Default)]
pub(super) struct Waiter {
    pub(super) granted: AtomicBool,
    pub(super) thread: Condvar,
    pub(super) task: tokio::sync::Notify,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) settings: Settings,
    pub(super) active: u32,
    pub(super) line: VecDeque<Arc<Waiter>>,
}

/// A semaphore with a bounded, first-in-first-out line.
#[derive(Debug)]
pub struct Compartment {
    name: Arc<str>,
    clock: SharedClock,
    /// The state, swapped whole in a forked child ([`Compartment::after_fork`]):
    /// the parent's permits out and its line are its threads', which the
    /// child does not have, and one of them may hold the lock.
    state: ArcSwap<Mutex<State>>,
    /// The limits, readable without the lock (the child's fresh state has them).
    limits: ArcSwap<Settings>,
    rejected: AtomicU64,
}

impl Compartment {
    /// A compartment with nothing running.
    pub fn new(name: &str, settings: Settings, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            clock,
            state: ArcSwap::from_pointee(Mutex::new(State {
                settings,
                active: 0,
                line: VecDeque::new(),
            })),
            limits: ArcSwap::from_pointee(settings),
            rejected: AtomicU64::new(0),
        })
    }

    /// The compartment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state's cell, to lock for one operation.
    #[inline]
    pub(super) fn state(&self) -> arc_swap::Guard<Arc<Mutex<State>>> {
        self.state.load()
    }

    /// In a forked child: nothing out, nobody in line, the same limits. A
    /// permit the forking thread itself held comes back to the fresh state
    /// (freed, never below zero). The parent's state is left, not dropped.
    pub fn after_fork(&self) {
        let fresh = State {
            settings: **self.limits.load(),
            active: 0,
            line: VecDeque::new(),
        };
        std::mem::forget(self.state.swap(Arc::new(Mutex::new(fresh))));
    }

    /// The time waits are measured on.
    pub(super) fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// Counts a refusal and describes the occupancy that caused it.
    pub(super) fn refuse(&self, state: &State) -> Occupancy {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Occupancy {
            compartment: self.name.clone(),
            active: state.active,
            capacity: state.settings.capacity,
            waiting: state.line.len() as u32,
            max_waiting: state.settings.max_waiting,
        }
    }

    /// A permit comes back: handed to the first in line, else freed. A
    /// compartment shrunk below its permits out frees instead of handing on.
    #[inline]
    pub(super) fn release(&self) {
        Self::give_back(&mut self.state().lock());
    }

    /// [`Compartment::release`] under a lock already held.
    pub(super) fn give_back(state: &mut MutexGuard<'_, State>) {
        if state.line.is_empty() || state.active > state.settings.capacity {
            state.active = state.active.saturating_sub(1);
            return;
        }
        Self::hand_to_first(state);
    }

    /// The first in line now holds the permit its predecessor held.
    fn hand_to_first(state: &mut MutexGuard<'_, State>) {
        if let Some(first) = state.line.pop_front() {
            first.granted.store(true, Ordering::Release);
            first.thread.notify_one();
            first.task.notify_one();
        }
    }

    /// New limits for the same compartment: the callsites already holding
    /// it see them at once, and a larger capacity lets the line in.
    pub fn reconfigure(&self, settings: Settings) {
        let cell = self.state();
        let mut state = cell.lock();
        state.settings = settings;
        self.limits.store(Arc::new(settings));
        while state.active < settings.capacity && !state.line.is_empty() {
            state.active += 1;
            Self::hand_to_first(&mut state);
        }
        // A line now longer than allowed keeps its members: they were
        // promised a place and will be served or time out.
    }

    /// Active, waiting, the limits and the refusals so far.
    pub fn snapshot(&self) -> Snapshot {
        let cell = self.state();
        let state = cell.lock();
        Snapshot {
            settings: state.settings,
            active: state.active,
            waiting: state.line.len() as u32,
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}
