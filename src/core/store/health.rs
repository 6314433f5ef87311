//! Whether a remote store is answering: HEALTHY, or DEGRADED after a
//! failure until a probe succeeds. While degraded, operations fail fast
//! instead of each waiting out a timeout, and one probe is let through per
//! interval to find out whether the store is back.

use crate::core::clock::{to_nanos, Nanos, SharedClock};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a degraded store lets one operation through as a probe.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// A change of a store's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// The store stopped answering: calls fall back on local state.
    DegradedEntered {
        /// The store (`"redis"`, with its role).
        store: String,
        /// What failed.
        error: String,
    },
    /// The store answers again.
    DegradedExited {
        /// The store.
        store: String,
        /// How long it was degraded.
        after: Duration,
    },
    /// The store came back without the data written to it (a restart
    /// without persistence, a failover to an empty replica).
    DataLost {
        /// The store.
        store: String,
        /// What was lost, as far as it is known.
        detail: String,
    },
}

/// Receives health changes, after the state changed, on the thread that
/// noticed.
pub type HealthListener = Arc<dyn Fn(&HealthEvent) + Send + Sync>;

/// One store's health.
pub struct StoreHealth {
    name: String,
    degraded: AtomicBool,
    entries: AtomicU64,
    losses: AtomicU64,
    since: AtomicU64,
    next_probe: AtomicU64,
    probe_interval: Duration,
    clock: SharedClock,
    listener: Mutex<Option<HealthListener>>,
}

impl std::fmt::Debug for StoreHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHealth")
            .field("name", &self.name)
            .field("degraded", &self.is_degraded())
            .finish()
    }
}

/// May an operation go to the store now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Healthy: go ahead.
    Go,
    /// Degraded, and this operation is the interval's probe.
    Probe,
    /// Degraded: fail fast.
    FailFast,
}

impl StoreHealth {
    /// A healthy store called `name`.
    pub fn new(name: impl Into<String>, clock: SharedClock, probe_interval: Duration) -> Self {
        Self {
            name: name.into(),
            degraded: AtomicBool::new(false),
            entries: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            since: AtomicU64::new(0),
            next_probe: AtomicU64::new(0),
            probe_interval,
            clock,
            listener: Mutex::new(None),
        }
    }

    /// Installs the listener for health changes.
    pub fn set_listener(&self, listener: Option<HealthListener>) {
        *self.listener.lock() = listener;
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times the store entered DEGRADED.
    pub fn degraded_entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// How often a degraded store is probed.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// Whether the store is degraded now.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    /// Asks to send one operation to the store.
    pub fn admit(&self) -> Admission {
        if !self.is_degraded() {
            return Admission::Go;
        }
        let now = self.clock.now();
        let due = self.next_probe.load(Ordering::Acquire);
        let next = now.saturating_add(to_nanos(self.probe_interval));
        if now >= due
            && self
                .next_probe
                .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            Admission::Probe
        } else {
            Admission::FailFast
        }
    }

    /// An operation succeeded: leaves DEGRADED if it was.
    pub fn succeeded(&self) {
        if self.degraded.swap(false, Ordering::AcqRel) {
            let since: Nanos = self.since.load(Ordering::Acquire);
            let after = Duration::from_nanos(self.clock.now().saturating_sub(since));
            self.emit(HealthEvent::DegradedExited {
                store: self.name.clone(),
                after,
            });
        }
    }

    /// An operation failed (refused, reset, timed out): enters DEGRADED if
    /// it was healthy.
    pub fn failed(&self, error: &str) {
        let now = self.clock.now();
        self.next_probe.store(
            now.saturating_add(to_nanos(self.probe_interval)),
            Ordering::Release,
        );
        if !self.degraded.swap(true, Ordering::AcqRel) {
            self.since.store(now, Ordering::Release);
            self.entries.fetch_add(1, Ordering::Relaxed);
            self.emit(HealthEvent::DegradedEntered {
                store: self.name.clone(),
                error: error.to_owned(),
            });
        }
    }

    /// The store lost its data: counted and reported (never silent).
    pub fn data_lost(&self, detail: &str) {
        self.losses.fetch_add(1, Ordering::Relaxed);
        self.emit(HealthEvent::DataLost {
            store: self.name.clone(),
            detail: detail.to_owned(),
        });
    }

    /// Times the store was found without its data.
    pub fn data_losses(&self) -> u64 {
        self.losses.load(Ordering::Relaxed)
    }

    fn emit(&self, event: HealthEvent) {
        let listener = self.listener.lock().clone();
        if let Some(listener) = listener {
            listener(&event);
        }
    }
}
