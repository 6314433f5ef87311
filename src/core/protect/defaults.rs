//! Process-wide defaults a zone falls back on when its callsite names none
//! (`BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS`). Read atomically on each call,
//! so `init()` reaches zones that were decorated before it ran.

use crate::core::clock::{from_nanos, to_nanos};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Defaults shared by every zone of a process.
///
/// ```
/// use baldur::core::protect::ZoneDefaults;
/// use std::time::Duration;
/// let defaults = ZoneDefaults::default();
/// assert_eq!(defaults.timeout(), None);
/// defaults.set_timeout(Some(Duration::from_secs(30)));
/// assert_eq!(defaults.timeout(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Default)]
pub struct ZoneDefaults {
    /// Nanoseconds; zero means no default timeout.
    timeout_nanos: AtomicU64,
}

impl ZoneDefaults {
    /// Sets (or clears) the default wall-clock bound.
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        let nanos = timeout.map_or(0, |t| to_nanos(t).max(1));
        self.timeout_nanos.store(nanos, Ordering::Relaxed);
    }

    /// The default wall-clock bound, if any.
    #[inline]
    pub fn timeout(&self) -> Option<Duration> {
        match self.timeout_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(from_nanos(nanos)),
        }
    }
}
