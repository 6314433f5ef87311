//! Time as the core sees it: a monotonic count of nanoseconds behind a trait,
//! so every state machine can be driven by a [`ManualClock`] in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Monotonic nanoseconds since an arbitrary, per-clock origin.
pub type Nanos = u64;

/// A source of monotonic time.
///
/// ```
/// use baldur::core::clock::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), 2_000_000_000);
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time in nanoseconds since this clock's origin.
    fn now(&self) -> Nanos;
}

/// Shared handle to a clock, as held by breakers and zones.
pub type SharedClock = Arc<dyn Clock>;

/// The process's real monotonic clock, read coarsely: a few milliseconds of
/// resolution (the kernel tick) for a read that costs a few nanoseconds.
/// Breaker windows, recovery timeouts and call deadlines need no finer.
#[derive(Debug)]
pub struct SystemClock {
    origin: coarsetime::Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: coarsetime::Instant::now(),
        }
    }

    /// A shared system clock, the default for every breaker and zone.
    pub fn shared() -> SharedClock {
        Arc::new(Self::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Nanos {
        coarsetime::Instant::now()
            .duration_since(self.origin)
            .as_nanos()
    }
}

/// A clock that only moves when told to. Tests never sleep.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A manual clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A shared manual clock, plus the handle tests keep to move it.
    pub fn shared() -> (Arc<ManualClock>, SharedClock) {
        let clock = Arc::new(Self::new());
        (clock.clone(), clock)
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(to_nanos(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
}

/// A duration in nanoseconds, saturating rather than wrapping.
pub fn to_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds back to a duration.
pub fn from_nanos(n: Nanos) -> Duration {
    Duration::from_nanos(n)
}
