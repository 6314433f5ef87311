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
use std::sync::Arc;

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
}
