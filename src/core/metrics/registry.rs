//! Every zone's counters by name, with the domain label capped: the first
//! [`MAX_DOMAINS`] names get their own series, later ones share
//! [`OVERFLOW_DOMAIN`]. A zone looks its counters up once, when it is built,
//! and keeps the `Arc`: the call path never touches this map.

use crate::core::metrics::zone::{ZoneCounters, ZoneSnapshot};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

/// Distinct domain (zone) labels before overflow (seed 003: 50 by default).
pub const MAX_DOMAINS: usize = 50;

/// The label every domain beyond the cap is counted under.
pub const OVERFLOW_DOMAIN: &str = "__overflow__";

/// Counters that belong to the process rather than to one zone.
#[derive(Debug, Default)]
pub struct GlobalCounters {
    dlq_replays_succeeded: AtomicU64,
    dlq_replays_failed: AtomicU64,
}

impl GlobalCounters {
    /// A dead-letter entry was replayed; `ok`: the function succeeded.
    pub fn dlq_replay(&self, ok: bool) {
        let counter = match ok {
            true => &self.dlq_replays_succeeded,
            false => &self.dlq_replays_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Both counts back to zero (a test's reset).
    pub fn clear(&self) {
        self.dlq_replays_succeeded.store(0, Ordering::Relaxed);
        self.dlq_replays_failed.store(0, Ordering::Relaxed);
    }

    /// `(succeeded, failed)` replays so far.
    pub fn dlq_replays(&self) -> (u64, u64) {
        (
            self.dlq_replays_succeeded.load(Ordering::Relaxed),
            self.dlq_replays_failed.load(Ordering::Relaxed),
        )
    }
}

/// The zones' counters, the overflow series, and the process counters.
#[derive(Debug)]
pub struct MetricsRegistry {
    zones: Mutex<HashMap<Arc<str>, Arc<ZoneCounters>>>,
    overflow: Arc<ZoneCounters>,
    overflowed: AtomicU64,
    max_domains: AtomicUsize,
    /// Process-wide counters.
    pub global: GlobalCounters,
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        Self::with_max_domains(MAX_DOMAINS)
    }
}

impl MetricsRegistry {
    /// A registry giving at most `max_domains` names their own series.
    pub fn with_max_domains(max_domains: usize) -> Self {
        Self {
            zones: Mutex::new(HashMap::new()),
            overflow: Arc::default(),
            overflowed: AtomicU64::new(0),
            max_domains: AtomicUsize::new(max_domains),
            global: GlobalCounters::default(),
        }
    }

    /// The counters `name` counts into: its own, or the overflow series once
    /// the cap is reached.
    pub fn zone(&self, name: &str) -> Arc<ZoneCounters> {
        let mut zones = self.zones.lock();
        if let Some(counters) = zones.get(name) {
            return counters.clone();
        }
        if zones.len() >= self.max_domains.load(Ordering::Relaxed) {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return self.overflow.clone();
        }
        let counters = Arc::<ZoneCounters>::default();
        zones.insert(Arc::from(name), counters.clone());
        counters
    }

    /// Changes the cap for names not seen yet (names already given a series
    /// keep it).
    pub fn set_max_domains(&self, max_domains: usize) {
        self.max_domains.store(max_domains, Ordering::Relaxed);
    }

    /// Whether `name` has its own series (rather than the overflow's).
    pub fn has_own_series(&self, name: &str) -> bool {
        self.zones.lock().contains_key(name)
    }

    /// How many lookups fell into the overflow series.
    pub fn overflowed_lookups(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Every count back to zero (a test's reset). A series no zone holds any
    /// more is forgotten, so its name no longer takes one of the capped
    /// labels; one a live zone still counts into (it looked its counters up
    /// once, when built) is kept, zeroed.
    pub fn clear(&self) {
        let mut zones = self.zones.lock();
        zones.retain(|_, counters| Arc::strong_count(counters) > 1);
        for counters in zones.values() {
            counters.clear();
        }
        drop(zones);
        self.overflow.clear();
        self.overflowed.store(0, Ordering::Relaxed);
        self.global.clear();
    }

    /// Every series by label, sorted; the overflow series last, present once
    /// any name fell into it.
    pub fn snapshot(&self) -> Vec<(Arc<str>, ZoneSnapshot)> {
        let zones: Vec<(Arc<str>, Arc<ZoneCounters>)> = self
            .zones
            .lock()
            .iter()
            .map(|(name, counters)| (name.clone(), counters.clone()))
            .collect();
        let mut series: Vec<(Arc<str>, ZoneSnapshot)> = zones
            .into_iter()
            .map(|(name, counters)| (name, counters.snapshot()))
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        if self.overflowed_lookups() > 0 {
            series.push((Arc::from(OVERFLOW_DOMAIN), self.overflow.snapshot()));
        }
        series
    }
}

/// The process's registry: every zone the Python facade builds counts here.
pub static METRICS: LazyLock<MetricsRegistry> = LazyLock::new(MetricsRegistry::default);
