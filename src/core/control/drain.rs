//! Graceful shutdown's bookkeeping: protected calls in flight, and the
//! drain that waits for them up to a deadline.
//!
//! Entering and leaving a call is a load and a store each (a
//! [`Level`]: exact under the GIL, no locked instruction on the call path),
//! read clamped at zero.

use crate::core::clock::{process_clock, to_nanos, Nanos, SharedClock};
use crate::core::tally::Level;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

/// The public name of [`DrainProgress::NotDraining`].
pub const SERVING: &str = "serving";
/// The public name of [`DrainProgress::Waiting`].
pub const DRAINING: &str = "draining";
/// The public name of [`DrainProgress::Drained`].
pub const DRAINED: &str = "drained";
/// The public name of [`DrainProgress::DeadlinePassed`].
pub const DEADLINE_PASSED: &str = "deadline_passed";

/// Where a drain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainProgress {
    /// No drain started.
    NotDraining,
    /// Calls are still in flight and time remains.
    Waiting {
        /// Calls in flight.
        in_flight: u64,
        /// Time left before the deadline.
        remaining: Duration,
    },
    /// Every call finished.
    Drained,
    /// The deadline passed with calls still in flight.
    DeadlinePassed {
        /// Calls still in flight.
        in_flight: u64,
    },
}

/// The in-flight count and the drain state.
#[derive(Debug)]
pub struct Drain {
    in_flight: Level,
    draining: AtomicBool,
    deadline: AtomicU64,
    /// Serialises starting and cancelling (rare), so a reader that sees
    /// `draining` also sees its deadline.
    switching: Mutex<()>,
    clock: SharedClock,
}

impl Drain {
    /// No calls in flight, not draining.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            in_flight: Level::new(),
            draining: AtomicBool::new(false),
            deadline: AtomicU64::new(0),
            switching: Mutex::new(()),
            clock,
        }
    }

    /// A protected call starts; it counts until the guard is dropped.
    #[inline]
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.add(1);
        InFlight { drain: self }
    }

    /// Calls in flight now (never negative).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.get()
    }

    /// Whether a drain has started (readiness answers 503 from then on).
    #[inline]
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Starts draining with `timeout` to finish. True for the call that
    /// started it; a second start keeps the first deadline.
    pub fn start(&self, timeout: Duration) -> bool {
        let _switching = self.switching.lock();
        if self.draining.load(Ordering::Acquire) {
            return false;
        }
        let deadline = self.clock.now().saturating_add(to_nanos(timeout));
        self.deadline.store(deadline, Ordering::Relaxed);
        self.draining.store(true, Ordering::Release); // publishes the deadline
        true
    }

    /// Where the drain stands now.
    pub fn progress(&self) -> DrainProgress {
        if !self.is_draining() {
            return DrainProgress::NotDraining;
        }
        let in_flight = self.in_flight();
        if in_flight == 0 {
            return DrainProgress::Drained;
        }
        let deadline: Nanos = self.deadline.load(Ordering::Relaxed);
        let now = self.clock.now();
        if now >= deadline {
            return DrainProgress::DeadlinePassed { in_flight };
        }
        DrainProgress::Waiting {
            in_flight,
            remaining: Duration::from_nanos(deadline - now),
        }
    }

    /// Seconds until the drain's deadline (0 once passed or not draining):
    /// what a refusal's `Retry-After` says.
    pub fn seconds_left(&self) -> u64 {
        if !self.is_draining() {
            return 0;
        }
        let deadline = self.deadline.load(Ordering::Relaxed);
        Duration::from_nanos(deadline.saturating_sub(self.clock.now()))
            .as_secs_f64()
            .ceil() as u64
    }

    /// Back to serving (tests; a server that cancels its shutdown).
    pub fn cancel(&self) {
        let _switching = self.switching.lock();
        self.draining.store(false, Ordering::Release);
    }
}

/// One call in flight; leaving it (drop) ends the call's count.
#[derive(Debug)]
pub struct InFlight<'a> {
    drain: &'a Drain,
}

impl Drop for InFlight<'_> {
    #[inline]
    fn drop(&mut self) {
        self.drain.in_flight.add(-1);
    }
}

/// The process's drain, which every protected call enters; its deadline is
/// on the process's clock.
pub static DRAIN: LazyLock<Drain> = LazyLock::new(|| Drain::new(process_clock()));
