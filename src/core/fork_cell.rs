//! A mutex a forked child can replace without taking it.
//!
//! `fork()` copies memory, not threads: a lock one of the parent's
//! background threads held at that instant stays held in the child, by a
//! thread that will never run there, and the child's first use of it hangs
//! for good. Taking every lock before forking is no cure here (the thread
//! that forks holds Python's GIL, which a holder of ours may be waiting
//! for). So a service keeps its state in a [`ForkCell`] and, in the child,
//! builds fresh state from what it knows without the lock (its
//! configuration, kept lock-free beside it) and swaps it in: the parent's
//! copy, and whatever lock on it a vanished thread held, is never touched
//! again.

use arc_swap::ArcSwap;
use parking_lot::{ArcMutexGuard, Mutex, RawMutex};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// State behind a mutex that [`replace_after_fork`](Self::replace_after_fork)
/// swaps out whole.
///
/// ```
/// use baldur::core::fork_cell::ForkCell;
/// let cell = ForkCell::new(vec![1]);
/// let held = cell.lock(); // a thread the fork leaves behind holds this
/// cell.replace_after_fork(vec![]);
/// assert!(cell.lock().is_empty()); // the child's own state, free
/// drop(held);
/// ```
pub struct ForkCell<T> {
    current: ArcSwap<Mutex<T>>,
}

/// The cell's lock, held.
pub type ForkGuard<T> = ArcMutexGuard<RawMutex, T>;

impl<T> ForkCell<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            current: ArcSwap::from_pointee(Mutex::new(value)),
        }
    }

    /// Locks the current state (a guard taken before a replacement locks
    /// the state it replaced: the caller's work on it is simply lost).
    pub fn lock(&self) -> ForkGuard<T> {
        self.current.load_full().lock_arc()
    }

    /// Locks the current state if no one holds it.
    pub fn try_lock(&self) -> Option<ForkGuard<T>> {
        self.current.load_full().try_lock_arc()
    }

    /// The child's side of a fork: `fresh` becomes the state, unlocked. The
    /// parent's copy is leaked, never dropped: dropping it would run its
    /// destructors (a runtime's handles, a socket's registration) on
    /// resources that belong to the parent, maybe under a lock a vanished
    /// thread holds.
    pub fn replace_after_fork(&self, fresh: T) {
        std::mem::forget(self.current.swap(Arc::new(Mutex::new(fresh))));
    }
}

impl<T: Default> Default for ForkCell<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> std::fmt::Debug for ForkCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForkCell")
    }
}

/// Sections a fork should not catch half done, and the fork that waits for
/// them: state a vanished thread left half changed (a lock held, a SQLite
/// transaction open) cannot always be rebuilt in the child, so the parent
/// lets none be under way as it forks. A thread enters a section around
/// short synchronous work only (never across an await or a wait on another
/// process); [`ForkGate::before_fork`] stops new sections and waits a
/// bounded while for the ones under way.
#[derive(Debug, Default)]
pub struct ForkGate {
    forking: AtomicBool,
    inside: AtomicUsize,
}

/// The longest a section waits for a fork to happen before it enters.
pub const ENTER_WAIT: Duration = Duration::from_secs(3);

/// One section under way; it ends when dropped.
#[derive(Debug)]
pub struct Section<'a>(&'a ForkGate);

impl ForkGate {
    /// A gate with nothing inside.
    pub const fn new() -> Self {
        Self {
            forking: AtomicBool::new(false),
            inside: AtomicUsize::new(0),
        }
    }

    /// Enters a section, first waiting out a fork about to happen, for at
    /// most [`ENTER_WAIT`]: a thread that holds what the forking thread
    /// needs next (Python's GIL, which the fork waits without) must not wait
    /// for a fork that waits for it. Past the bound it enters anyway (the
    /// fork then may catch it, as it could before the gate existed).
    pub fn enter(&self) -> Section<'_> {
        let deadline = Instant::now() + ENTER_WAIT;
        loop {
            while self.forking.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.inside.fetch_add(1, Ordering::AcqRel);
            if !self.forking.load(Ordering::Acquire) || Instant::now() >= deadline {
                return Section(self);
            }
            self.inside.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Before a fork: no new section starts, and the fork waits up to
    /// `bound` for the ones under way (one that outlasts it, waiting on
    /// something outside this process, is not waited for). Whether every
    /// section ended.
    pub fn before_fork(&self, bound: Duration) -> bool {
        self.forking.store(true, Ordering::Release);
        let deadline = Instant::now() + bound;
        while self.inside.load(Ordering::Acquire) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// After the fork, in the parent: sections go on.
    pub fn after_fork_in_parent(&self) {
        self.forking.store(false, Ordering::Release);
    }

    /// After the fork, in the child: the parent's sections are not the
    /// child's.
    pub fn after_fork_in_child(&self) {
        self.inside.store(0, Ordering::Release);
        self.forking.store(false, Ordering::Release);
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The process's gate: the breaker sync's lock-taking phases and the audit
/// trail's SQLite transactions enter it; `core::process::fork` closes it
/// around a fork.
pub static FORK_GATE: ForkGate = ForkGate::new();

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_lock_held_by_a_thread_that_never_lets_go_does_not_block_the_replacement() {
        let cell = Arc::new(ForkCell::new(7_u32));
        let (held, wait) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                // Stands for a parent's thread frozen by the fork.
                let guard = cell.lock();
                held.send(()).unwrap();
                released.recv().unwrap();
                drop(guard);
            })
        };
        wait.recv().unwrap();
        assert!(cell.try_lock().is_none());
        cell.replace_after_fork(0);
        *cell.lock() += 1;
        assert_eq!(*cell.lock(), 1);
        release.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(
            *cell.lock(),
            1,
            "the old guard's release touches the old state only"
        );
    }

    #[test]
    fn a_fork_waits_for_the_section_under_way_and_holds_new_ones_back() {
        let gate = ForkGate::new();
        let section = gate.enter();
        let (entered, saw) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                released.recv().unwrap();
                drop(section);
            });
            // The section ends while the fork waits: it waited for it.
            release.send(()).unwrap();
            assert!(gate.before_fork(Duration::from_secs(10)));
            let later = scope.spawn(|| {
                let _held = gate.enter();
                entered.send(()).unwrap();
            });
            assert!(saw.try_recv().is_err(), "no section starts while forking");
            gate.after_fork_in_parent();
            saw.recv().unwrap();
            later.join().unwrap();
        });
        // A section that never ends is waited for only as long as the bound.
        let stuck = gate.enter();
        assert!(!gate.before_fork(Duration::from_millis(5)));
        // In the child the thread that held it is gone (its guard never drops).
        std::mem::forget(stuck);
        gate.after_fork_in_child();
        drop(gate.enter());
        assert!(gate.before_fork(Duration::from_millis(5)));
    }
}
