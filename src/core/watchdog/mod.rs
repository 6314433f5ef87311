//! The meta-watchdog: every background loop beats a heartbeat, and one
//! that stays silent for `missed_beats` of its intervals is stalled. The
//! decisions only (who is stalled, who recovered); the process service
//! (`core::process::watchdog`) checks on a thread of its own and reports.

use crate::core::clock::{from_nanos, to_nanos, Nanos, SharedClock};
use crate::core::fork_cell::ForkCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Missed intervals before a loop counts as stalled, by default.
pub const DEFAULT_MISSED_BEATS: u32 = 3;

/// What a check found changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The loop has been silent past its allowance.
    Stalled {
        /// The loop's name.
        name: String,
        /// How long since its last beat.
        silent_for: Duration,
        /// Its beat interval.
        interval: Duration,
    },
    /// A stalled loop beat again.
    Recovered {
        /// The loop's name.
        name: String,
    },
}

/// One watched loop, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopStatus {
    /// The loop's name.
    pub name: String,
    /// How often it should beat.
    pub interval: Duration,
    /// Since its last beat.
    pub silent_for: Duration,
    /// Whether it counts as stalled.
    pub stalled: bool,
    /// Beats so far.
    pub beats: u64,
}

#[derive(Debug)]
struct Watched {
    interval: Duration,
    last_beat: Nanos,
    stalled: bool,
    beats: u64,
}

/// The loops watched, and when each last beat.
///
/// ```
/// use baldur::core::clock::ManualClock;
/// use baldur::core::watchdog::{Change, Watchdog};
/// use std::time::Duration;
/// let (clock, shared) = ManualClock::shared();
/// let watchdog = Watchdog::new(shared, 3);
/// watchdog.watch("sync", Duration::from_secs(1));
/// clock.advance(Duration::from_secs(4));
/// assert!(matches!(&watchdog.check()[..], [Change::Stalled { .. }]));
/// watchdog.beat("sync");
/// assert_eq!(watchdog.check(), vec![Change::Recovered { name: "sync".into() }]);
/// ```
#[derive(Debug)]
pub struct Watchdog {
    clock: SharedClock,
    missed_beats: AtomicU32,
    /// Beaten from every background thread: a fork may catch one holding
    /// it, so the child replaces it rather than waiting for it.
    loops: ForkCell<BTreeMap<String, Watched>>,
}

impl Watchdog {
    /// A watchdog reading `clock` that allows `missed_beats` silent intervals.
    pub fn new(clock: SharedClock, missed_beats: u32) -> Self {
        Self {
            clock,
            missed_beats: AtomicU32::new(missed_beats.max(1)),
            loops: ForkCell::default(),
        }
    }

    /// Silent intervals allowed before a stall (at least 1).
    pub fn set_missed_beats(&self, missed_beats: u32) {
        self.missed_beats
            .store(missed_beats.max(1), Ordering::Relaxed);
    }

    /// Watches `name` (again), beating every `interval`; counts as a beat.
    pub fn watch(&self, name: &str, interval: Duration) {
        let now = self.clock.now();
        let mut loops = self.loops.lock();
        let watched = loops.entry(name.to_owned()).or_insert(Watched {
            interval,
            last_beat: now,
            stalled: false,
            beats: 0,
        });
        watched.interval = interval;
        watched.last_beat = now;
    }

    /// The loop is alive. A loop not watched is ignored.
    pub fn beat(&self, name: &str) {
        let now = self.clock.now();
        if let Some(watched) = self.loops.lock().get_mut(name) {
            watched.last_beat = now;
            watched.beats += 1;
        }
    }

    /// Stops watching `name` (its loop ended on purpose).
    pub fn forget(&self, name: &str) {
        self.loops.lock().remove(name);
    }

    /// Forgets every loop without taking the lock (a forked child: none
    /// of them runs there, and the thread that held the lock may not either).
    pub fn forget_all_after_fork(&self) {
        self.loops.replace_after_fork(BTreeMap::new());
    }

    /// Loops that stalled or recovered since the last check.
    pub fn check(&self) -> Vec<Change> {
        let now = self.clock.now();
        let allowed = self.missed_beats.load(Ordering::Relaxed);
        let mut changes = Vec::new();
        for (name, watched) in self.loops.lock().iter_mut() {
            let silent = now.saturating_sub(watched.last_beat);
            let late = silent > to_nanos(watched.interval).saturating_mul(u64::from(allowed));
            if late && !watched.stalled {
                changes.push(Change::Stalled {
                    name: name.clone(),
                    silent_for: from_nanos(silent),
                    interval: watched.interval,
                });
            } else if !late && watched.stalled {
                changes.push(Change::Recovered { name: name.clone() });
            }
            watched.stalled = late;
        }
        changes
    }

    /// Every watched loop, by name.
    pub fn status(&self) -> Vec<LoopStatus> {
        let now = self.clock.now();
        self.loops
            .lock()
            .iter()
            .map(|(name, watched)| LoopStatus {
                name: name.clone(),
                interval: watched.interval,
                silent_for: from_nanos(now.saturating_sub(watched.last_beat)),
                stalled: watched.stalled,
                beats: watched.beats,
            })
            .collect()
    }

    /// The shortest interval watched (how often a check is worth making).
    pub fn shortest_interval(&self) -> Option<Duration> {
        self.loops.lock().values().map(|w| w.interval).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::ManualClock;

    fn watchdog() -> (std::sync::Arc<ManualClock>, Watchdog) {
        let (clock, shared) = ManualClock::shared();
        (clock, Watchdog::new(shared, 3))
    }

    #[test]
    fn a_loop_that_beats_is_never_stalled() {
        let (clock, watchdog) = watchdog();
        watchdog.watch("sync", Duration::from_millis(200));
        for _ in 0..50 {
            clock.advance(Duration::from_millis(200));
            watchdog.beat("sync");
            assert_eq!(watchdog.check(), vec![]);
        }
        assert_eq!(watchdog.status()[0].beats, 50);
    }

    #[test]
    fn a_stall_is_reported_once_after_the_allowed_beats_and_recovery_once() {
        let (clock, watchdog) = watchdog();
        watchdog.watch("sync", Duration::from_secs(1));
        clock.advance(Duration::from_secs(3));
        assert_eq!(watchdog.check(), vec![], "three intervals are allowed");
        clock.advance(Duration::from_millis(1));
        let stalled = watchdog.check();
        assert!(matches!(&stalled[..], [Change::Stalled { name, .. }] if name == "sync"));
        clock.advance(Duration::from_secs(10));
        assert_eq!(watchdog.check(), vec![], "reported once");
        assert!(watchdog.status()[0].stalled);
        watchdog.beat("sync");
        assert_eq!(
            watchdog.check(),
            vec![Change::Recovered {
                name: "sync".into()
            }]
        );
        assert_eq!(watchdog.check(), vec![]);
    }

    #[test]
    fn the_allowance_follows_the_setting_and_forgotten_loops_are_not_watched() {
        let (clock, watchdog) = watchdog();
        watchdog.set_missed_beats(1);
        watchdog.watch("a", Duration::from_secs(1));
        watchdog.watch("b", Duration::from_secs(5));
        clock.advance(Duration::from_secs(2));
        let names: Vec<_> = watchdog
            .check()
            .into_iter()
            .map(|change| match change {
                Change::Stalled { name, .. } | Change::Recovered { name } => name,
            })
            .collect();
        assert_eq!(names, vec!["a".to_owned()]);
        watchdog.forget("a");
        watchdog.beat("a");
        assert_eq!(watchdog.status().len(), 1);
        assert_eq!(watchdog.shortest_interval(), Some(Duration::from_secs(5)));
    }
}
