//! A permit (held while the call runs, returned when dropped) and a ticket
//! (a place in line, left when dropped): both are guards, so every path out
//! of a call (a return, an error, a timeout, a cancelled task, a panic)
//! gives back what it held.

use super::compartment::{Compartment, Occupancy, State, Waiter};
use crate::core::clock::{from_nanos, Nanos};
use parking_lot::MutexGuard;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often an async waiter reads its compartment's clock while no permit
/// comes: a manual clock moved by a test is seen within this.
const ASYNC_SLICE: Duration = Duration::from_millis(20);

/// One of a compartment's permits, returned when dropped.
#[derive(Debug)]
#[must_use = "a permit is returned as soon as it is dropped"]
pub struct Permit {
    compartment: Arc<Compartment>,
}

impl Permit {
    pub(super) fn new(compartment: Arc<Compartment>) -> Self {
        Self { compartment }
    }

    /// The compartment this permit belongs to.
    pub fn compartment(&self) -> &Arc<Compartment> {
        &self.compartment
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        self.compartment.release();
    }
}

/// A place in a compartment's line, until its permit comes or its wait
/// times out. Dropped unsettled (a cancelled task, an interrupted thread),
/// it leaves the line, or hands on a permit granted in the meantime.
#[derive(Debug)]
pub struct Ticket {
    compartment: Arc<Compartment>,
    waiter: Arc<Waiter>,
    deadline: Nanos,
    settled: bool,
}

impl Ticket {
    pub(super) fn new(compartment: Arc<Compartment>, waiter: Arc<Waiter>, deadline: Nanos) -> Self {
        Self {
            compartment,
            waiter,
            deadline,
            settled: false,
        }
    }

    /// The permit if it came, the refusal if the wait is over, else `None`.
    pub fn poll(&mut self) -> Option<Result<Permit, Occupancy>> {
        let compartment = self.compartment.clone();
        let cell = compartment.state();
        let mut state = cell.lock();
        self.settle(&mut state)
    }

    /// Blocks the thread (the caller has let go of anything else it holds,
    /// the GIL included) for at most `slice`, then polls. Waiting in slices
    /// lets the caller look for signals between them.
    pub fn wait(&mut self, slice: Duration) -> Option<Result<Permit, Occupancy>> {
        let compartment = self.compartment.clone();
        let cell = compartment.state();
        let mut state = cell.lock();
        if let Some(settled) = self.settle(&mut state) {
            return Some(settled);
        }
        let left = from_nanos(self.deadline.saturating_sub(compartment.now()));
        self.waiter.thread.wait_for(&mut state, left.min(slice));
        self.settle(&mut state)
    }

    /// Awaits the permit (or the refusal) without blocking the thread.
    /// Dropping the future (a cancelled task) drops the ticket: it leaves
    /// the line.
    pub async fn wait_async(mut self) -> Result<Permit, Occupancy> {
        loop {
            if let Some(settled) = self.poll() {
                return settled;
            }
            let left = from_nanos(self.deadline.saturating_sub(self.compartment.now()));
            tokio::select! {
                () = self.waiter.task.notified() => {}
                () = tokio::time::sleep(left.min(ASYNC_SLICE)) => {}
            }
        }
    }

    fn settle(&mut self, state: &mut MutexGuard<'_, State>) -> Option<Result<Permit, Occupancy>> {
        if self.settled {
            return None;
        }
        if self.waiter.granted.load(Ordering::Acquire) {
            self.settled = true;
            return Some(Ok(Permit::new(self.compartment.clone())));
        }
        if self.compartment.now() >= self.deadline {
            self.settled = true;
            // Described before leaving: the caller saw the line with itself in it.
            let full = self.compartment.refuse(state);
            self.leave(state);
            return Some(Err(full));
        }
        None
    }

    fn leave(&self, state: &mut State) {
        state
            .line
            .retain(|waiter| !Arc::ptr_eq(waiter, &self.waiter));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let cell = self.compartment.state();
        let mut state = cell.lock();
        if self.waiter.granted.load(Ordering::Acquire) {
            Compartment::give_back(&mut state);
        } else {
            self.leave(&mut state);
        }
    }
}
