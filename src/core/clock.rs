//! Time as the core sees it, behind a trait so every state machine can be
//! driven by a [`ManualClock`] in tests: a monotonic count of nanoseconds
//! for durations (windows, timeouts, deadlines) and wall-clock milliseconds
//! for what must be ordered across processes or written down (operator
//! epochs, log and queue timestamps).

use parking_lot::Mutex;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Monotonic nanoseconds since an arbitrary, per-clock origin.
pub type Nanos = u64;

/// A source of monotonic and wall-clock time.
///
/// ```
/// use baldur::core::clock::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// let wall = clock.wall_millis();
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), 2_000_000_000);
/// assert_eq!(clock.wall_millis(), wall + 2_000);
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time in nanoseconds since this clock's origin.
    fn now(&self) -> Nanos;

    /// Milliseconds since the Unix epoch. Unlike [`Clock::now`] it may step
    /// back (the system's clock is set): use it to order or record events,
    /// never to measure a duration.
    fn wall_millis(&self) -> u64;
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

    /// A shared system clock, with an origin of its own.
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

    fn wall_millis(&self) -> u64 {
        system_wall_nanos() / 1_000_000
    }
}

/// Where a new [`ManualClock`]'s wall time starts: a fixed instant
/// (2023-11-14T22:13:20Z), so tests are repeatable and a wall time of 0
/// ("none yet" in several places) never occurs.
pub const MANUAL_WALL_START_MILLIS: u64 = 1_700_000_000_000;

/// A clock that only moves when told to. Tests never sleep.
///
/// Its monotonic time starts at zero and its wall time at
/// [`MANUAL_WALL_START_MILLIS`]; [`ManualClock::advance`] moves both.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
    /// Nanoseconds since the Unix epoch: kept finer than the millisecond
    /// it is read in, so many sub-millisecond advances add up.
    wall: AtomicU64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            now: AtomicU64::new(0),
            wall: AtomicU64::new(MANUAL_WALL_START_MILLIS * 1_000_000),
        }
    }
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

    /// Moves time forward, monotonic and wall alike.
    pub fn advance(&self, by: Duration) {
        let by = to_nanos(by);
        self.now.fetch_add(by, Ordering::SeqCst);
        self.wall.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the wall time (milliseconds since the Unix epoch), as a
    /// system clock being set would; monotonic time does not move.
    pub fn set_wall_millis(&self, millis: u64) {
        self.wall
            .store(millis.saturating_mul(1_000_000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }

    fn wall_millis(&self) -> u64 {
        self.wall.load(Ordering::SeqCst) / 1_000_000
    }
}

/// `ProcessClock::offset` while the process clock is manual.
const MANUAL: u64 = u64::MAX;

/// The one clock a process's registries run on: the system's, unless a
/// test switched it to manual. See [`process_clock`].
#[derive(Debug)]
pub struct ProcessClock {
    system: SystemClock,
    /// [`MANUAL`], or what is added (wrapping: it may stand for a negative
    /// number) to the system reading so that monotonic time continues from
    /// where the manual clock left it. One word, so the system path reads
    /// one relaxed atomic besides the system clock.
    offset: AtomicU64,
    /// The time while manual.
    manual: ManualClock,
    /// Mode switches one at a time (never taken on a read).
    switching: Mutex<()>,
}

impl ProcessClock {
    fn new() -> Self {
        Self {
            system: SystemClock::new(),
            offset: AtomicU64::new(0),
            manual: ManualClock::new(),
            switching: Mutex::new(()),
        }
    }

    fn is_manual(&self) -> bool {
        self.offset.load(Ordering::Relaxed) == MANUAL
    }

    fn use_manual(&self) {
        let _switching = self.switching.lock();
        if self.is_manual() {
            return;
        }
        self.manual.now.store(self.now(), Ordering::SeqCst);
        self.manual
            .wall
            .store(system_wall_nanos(), Ordering::SeqCst);
        // Release: a reader that sees MANUAL sees the time stored above.
        self.offset.store(MANUAL, Ordering::Release);
    }

    fn use_system(&self) {
        let _switching = self.switching.lock();
        if !self.is_manual() {
            return;
        }
        let offset = self.manual.now().wrapping_sub(self.system.now());
        // An offset of -1 ns would read as MANUAL; 0 instead is still
        // ahead of the manual reading (the system reads one more).
        let offset = if offset == MANUAL { 0 } else { offset };
        self.offset.store(offset, Ordering::Release);
    }
}

impl Clock for ProcessClock {
    fn now(&self) -> Nanos {
        let offset = self.offset.load(Ordering::Relaxed);
        if offset == MANUAL {
            // Pairs with the switch's release store, so the manual time
            // read is the one the switch set, never an older one.
            fence(Ordering::Acquire);
            self.manual.now()
        } else {
            self.system.now().wrapping_add(offset)
        }
    }

    fn wall_millis(&self) -> u64 {
        if self.offset.load(Ordering::Relaxed) == MANUAL {
            fence(Ordering::Acquire);
            self.manual.wall_millis()
        } else {
            self.system.wall_millis()
        }
    }
}

static PROCESS_CLOCK: LazyLock<Arc<ProcessClock>> = LazyLock::new(|| Arc::new(ProcessClock::new()));

/// The process's clock: one for every registry of the process, so a test
/// moves all their time at once. It reads the system clock until
/// [`use_manual_process_clock`].
///
/// ```
/// use baldur::core::clock::{process_clock, use_manual_process_clock, advance_process_clock,
///     use_system_process_clock};
/// use std::time::Duration;
/// let clock = process_clock();
/// use_manual_process_clock();
/// let (start, wall) = (clock.now(), clock.wall_millis());
/// advance_process_clock(Duration::from_secs(60));
/// assert_eq!(clock.now() - start, 60_000_000_000);
/// assert_eq!(clock.wall_millis() - wall, 60_000);
/// use_system_process_clock();
/// assert!(clock.now() >= start + 60_000_000_000, "never backwards");
/// ```
pub fn process_clock() -> SharedClock {
    PROCESS_CLOCK.clone()
}

/// Stops the process clock where it reads now (monotonic and wall time):
/// from here on only [`advance_process_clock`] moves it.
pub fn use_manual_process_clock() {
    PROCESS_CLOCK.use_manual();
}

/// Moves the manual process clock forward, monotonic and wall time alike.
/// A process clock reading the system moves by itself: this does nothing.
pub fn advance_process_clock(by: Duration) {
    let clock = &*PROCESS_CLOCK;
    let _switching = clock.switching.lock();
    if clock.is_manual() {
        clock.manual.advance(by);
    }
}

/// Back to the system clock. Monotonic time continues from the manual
/// reading (it never goes back); wall time is the system's again, since
/// other processes order this one's events by it.
pub fn use_system_process_clock() {
    PROCESS_CLOCK.use_system();
}

/// The system's wall clock in nanoseconds since the Unix epoch (0 before
/// it, which no working system reports).
fn system_wall_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, to_nanos)
}

/// A duration in nanoseconds, saturating rather than wrapping.
pub fn to_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds back to a duration.
pub fn from_nanos(n: Nanos) -> Duration {
    Duration::from_nanos(n)
}
