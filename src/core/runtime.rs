//! The background runtime: one tokio runtime per process, for the Rust I/O
//! that must not run on the caller's thread (the Redis store, the DLQ
//! writer). Owned here rather than left to a library, because its life
//! must follow the process's: started lazily on first use (never at
//! import), shut down explicitly before the interpreter finalises, and
//! rebuilt in a forked child, whose copy of the parent's runtime has no
//! threads behind it.

use crate::core::fork_cell::ForkCell;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// Worker threads of the background runtime: its work is I/O, not CPU.
pub const WORKER_THREADS: usize = 2;

/// A lazily started, restartable tokio runtime.
///
/// ```
/// use baldur::core::runtime::BackgroundRuntime;
/// let runtime = BackgroundRuntime::new();
/// assert!(!runtime.is_running());
/// let answer = runtime.block_on(async { 6 * 7 }).unwrap();
/// assert_eq!(answer, 42);
/// runtime.shutdown(std::time::Duration::from_secs(1));
/// assert!(!runtime.is_running());
/// ```
#[derive(Debug, Default)]
pub struct BackgroundRuntime {
    /// Locked by whichever thread starts or reaches the runtime (a
    /// background task spawning another, too): a forked child replaces it
    /// rather than wait for a lock one of those threads held.
    runtime: ForkCell<Option<Runtime>>,
    /// Lock-free: read on callers' paths, which a forked child runs while
    /// a lock its parent's threads held at the fork would stay held.
    starts: std::sync::atomic::AtomicU64,
    /// Set at interpreter exit: no runtime may start after the final
    /// shutdown (its threads would outlive the interpreter).
    closed: std::sync::atomic::AtomicBool,
    /// Threads blocked in [`BackgroundRuntime::block_on`] right now: the
    /// final shutdown waits for them, since a future polled after its
    /// runtime's drivers stopped panics.
    blocking: std::sync::atomic::AtomicUsize,
}

impl BackgroundRuntime {
    /// A runtime that starts on first use.
    pub fn new() -> Self {
        Self {
            runtime: ForkCell::new(None),
            starts: std::sync::atomic::AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            blocking: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A handle to the runtime, starting it if needed.
    pub fn handle(&self) -> io::Result<Handle> {
        let mut slot = self.runtime.lock();
        if let Some(runtime) = slot.as_ref() {
            return Ok(runtime.handle().clone());
        }
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(io::Error::other(
                "the background runtime was closed at exit",
            ));
        }
        let runtime = Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("baldur-runtime")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        *slot = Some(runtime);
        self.starts
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(handle)
    }

    /// Spawns a task on the runtime, starting it if needed.
    pub fn spawn<F>(&self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(self.handle()?.spawn(future))
    }

    /// Runs a future to completion from a thread outside the runtime.
    pub fn block_on<F: Future>(&self, future: F) -> io::Result<F::Output> {
        use std::sync::atomic::Ordering;
        // Counted before the closed check: close() either sees this thread
        // and waits for it, or this thread sees close() and backs off.
        self.blocking.fetch_add(1, Ordering::SeqCst);
        let output = self.handle().map(|handle| handle.block_on(future));
        self.blocking.fetch_sub(1, Ordering::SeqCst);
        output
    }

    /// Whether the runtime is started.
    pub fn is_running(&self) -> bool {
        self.runtime.lock().is_some()
    }

    /// How many times the runtime was started (a restart after shutdown or
    /// fork counts again).
    pub fn starts(&self) -> u64 {
        self.starts.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stops the runtime: its tasks are dropped and its threads joined,
    /// waiting at most `timeout` for blocking tasks. The next use starts a
    /// new one. The caller must not hold anything a worker needs to finish
    /// (for Python: the GIL).
    pub fn shutdown(&self, timeout: Duration) {
        let runtime = self.runtime.lock().take();
        if let Some(runtime) = runtime {
            runtime.shutdown_timeout(timeout);
        }
    }

    /// The final shutdown (interpreter exit): as [`BackgroundRuntime::shutdown`],
    /// and no runtime starts again.
    pub fn close(&self, timeout: Duration) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.shutdown(timeout);
    }

    /// In a forked child: forgets the parent's runtime without touching it
    /// (its threads exist only in the parent, so dropping it would wait on
    /// threads that are not there). The next use starts a fresh one.
    pub fn forget_after_fork(&self) {
        self.runtime.replace_after_fork(None);
    }
}
