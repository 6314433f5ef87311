//! Waits off: a process-wide test switch under which a retry's backoff is
//! decided as usual but not slept. The delay is recorded instead, so a test
//! of a 10 s backoff runs at once and can still check the schedule
//! (stamina's `set_testing` does the same for its waits).
//!
//! The zone reads the switch where it hands a driver its delay, so the sync
//! and async drivers both sleep zero without knowing about it.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Skipped waits kept for [`skipped`]; older ones are dropped, so a test
/// that never reads them cannot grow the process without bound.
pub const MAX_RECORDED: usize = 10_000;

static OFF: AtomicBool = AtomicBool::new(false);
static SKIPPED: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

/// Turns waits off (`false`) or back on (`true`, the default).
///
/// ```
/// use baldur::core::retry::waits;
/// use std::time::Duration;
/// waits::set_waits(false);
/// assert_eq!(waits::to_sleep(Duration::from_secs(10)), Duration::ZERO);
/// assert_eq!(waits::skipped().last(), Some(&Duration::from_secs(10)));
/// waits::set_waits(true);
/// assert_eq!(waits::to_sleep(Duration::from_secs(10)), Duration::from_secs(10));
/// ```
pub fn set_waits(on: bool) {
    OFF.store(!on, Ordering::Relaxed);
}

/// Whether backoff waits are slept (the default).
pub fn waits_on() -> bool {
    !OFF.load(Ordering::Relaxed)
}

/// What a driver should sleep for a backoff of `delay`: `delay` itself, or
/// zero while waits are off (the delay is then recorded).
#[inline]
pub fn to_sleep(delay: Duration) -> Duration {
    if !OFF.load(Ordering::Relaxed) {
        return delay;
    }
    let mut skipped = SKIPPED.lock();
    if skipped.len() >= MAX_RECORDED {
        skipped.remove(0);
    }
    skipped.push(delay);
    Duration::ZERO
}

/// The waits skipped since the last [`clear_skipped`], oldest first.
pub fn skipped() -> Vec<Duration> {
    SKIPPED.lock().clone()
}

/// Forgets the recorded waits.
pub fn clear_skipped() {
    SKIPPED.lock().clear();
}
