//! Noticing a Redis that came back without its data (a restart without
//! persistence, a failover to an empty replica). Baldur's Redis is AP: what
//! was lost is lost, but never in silence. Redis holds one marker key, an
//! incarnation id written by the first worker that finds it missing; every
//! worker remembers the id it saw, and one that sees another id knows the
//! data it relied on is gone (dead letters, completed idempotency keys).

use parking_lot::Mutex;
use redis::Script;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

/// The marker key: one per Redis (its own slot in a cluster).
pub const KEY: &str = "baldur:incarnation";

/// How often a worker looks at the marker: a restart is reported within
/// about this long, for one small script a worker per interval.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Reads the marker, writing `ARGV[1]` when it is missing. Returns the id
/// and whether this call wrote it.
pub static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local id = redis.call('GET', KEYS[1])\n\
         if id then return {id, 0} end\n\
         redis.call('SET', KEYS[1], ARGV[1])\n\
         return {ARGV[1], 1}",
    )
});

/// What a worker makes of the marker it just read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The first look of this worker: nothing to compare with.
    First,
    /// The same Redis data as before.
    Same,
    /// Another incarnation: everything written under `before` is gone.
    Changed {
        /// The id this worker saw before.
        before: String,
    },
}

/// One worker's memory of a store's incarnation, and of what the store
/// held when last counted.
#[derive(Debug)]
pub struct Incarnation {
    seen: Mutex<Option<String>>,
    census: Mutex<Option<String>>,
    /// The store's operation count right after the last census (`u64::MAX`:
    /// none yet).
    counted_at: AtomicU64,
    /// The runtime start (see `BackgroundRuntime::starts`) the watcher runs
    /// on: 0 for none yet; a forked child's new runtime needs a new one.
    watching: AtomicU64,
}

impl Default for Incarnation {
    fn default() -> Self {
        Self {
            seen: Mutex::new(None),
            census: Mutex::new(None),
            counted_at: AtomicU64::new(u64::MAX),
            watching: AtomicU64::new(0),
        }
    }
}

impl Incarnation {
    /// Compares `id` with the id seen before, and remembers it.
    ///
    /// ```
    /// use baldur::core::store::incarnation::{Incarnation, Seen};
    /// let marker = Incarnation::default();
    /// assert_eq!(marker.observe("a"), Seen::First);
    /// assert_eq!(marker.observe("a"), Seen::Same);
    /// assert_eq!(marker.observe("b"), Seen::Changed { before: "a".into() });
    /// assert_eq!(marker.observe("b"), Seen::Same);
    /// ```
    pub fn observe(&self, id: &str) -> Seen {
        let mut seen = self.seen.lock();
        let answer = match seen.as_deref() {
            None => Seen::First,
            Some(before) if before == id => Seen::Same,
            Some(before) => Seen::Changed {
                before: before.to_owned(),
            },
        };
        if answer != Seen::Same {
            *seen = Some(id.to_owned());
        }
        answer
    }

    /// Whether this check should also count what the store holds: the
    /// store ran operations (`operations`, its running count of everyone's
    /// but the watcher's) since the last count.
    ///
    /// ```
    /// use baldur::core::store::incarnation::Incarnation;
    /// let marker = Incarnation::default();
    /// assert!(marker.census_due(5), "never counted");
    /// marker.census_taken(5);
    /// assert!(!marker.census_due(5), "nothing ran since");
    /// assert!(marker.census_due(6));
    /// ```
    pub fn census_due(&self, operations: u64) -> bool {
        self.counted_at.load(Ordering::Relaxed) != operations
    }

    /// The count was taken; the store's operation count is now `operations`.
    pub fn census_taken(&self, operations: u64) {
        self.counted_at.store(operations, Ordering::Relaxed);
    }

    /// Keeps the latest count of what the store holds.
    pub fn set_census(&self, census: String) {
        *self.census.lock() = Some(census);
    }

    /// What the store held when last counted (taken: it is gone now).
    pub fn take_census(&self) -> Option<String> {
        self.census.lock().take()
    }

    /// True once per runtime start: the caller spawns the watcher.
    pub fn claim_watcher(&self, runtime_start: u64) -> bool {
        let current = self.watching.load(Ordering::Acquire);
        current != runtime_start
            && self
                .watching
                .compare_exchange(current, runtime_start, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}
