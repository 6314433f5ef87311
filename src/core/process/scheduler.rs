//! The process's scheduler: one thread that runs each scheduled task when
//! it falls due (`core::schedule` decides when), started by `init()` or by
//! the first task added after it, whichever comes later. A task is run
//! through the [`ScheduledRun`] its embedder gave (the bindings wrap one
//! Python callable), with no lock of the scheduler held: a task may add or
//! remove tasks, and one that takes long holds up only the tasks behind it.
//! Each run is an event: `scheduler.run_completed`, or `scheduler.run_failed`
//! and retried on its next tick; nothing a task does ends the thread. A leader-only task
//! runs only while [`leader::is_leader`] says so. A forked child starts its
//! own thread; at exit the thread is stopped within a bound.
//!
//! Once started, the thread is the watched loop [`LOOP`] and each task a
//! watched loop under its own name, beating when a run starts and ends (or
//! its tick passes on a process that does not lead): a run longer than
//! `BALDUR_WATCHDOG_MISSED_BEATS` of its intervals is reported stalled, and
//! the scheduler's own loop with it, since the thread is held up too.

use crate::core::clock::{from_nanos, SharedClock, SystemClock};
use crate::core::error::ConfigError;
use crate::core::events::{Event, EVENTS};
use crate::core::fork_cell::ForkCell;
use crate::core::process::{leader, watchdog};
use crate::core::schedule::{Cadence, Due, Outcome, Table, TaskStatus};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The scheduler thread wakes at least this often, due or not (to beat
/// its heartbeat and to see a stop).
pub const WAKE_AT_LEAST: Duration = Duration::from_secs(1);
/// How long the thread sleeps before it looks whether it was woken.
const NAP_SLICE: Duration = Duration::from_millis(20);

/// The scheduler thread's name as a watched loop.
pub const LOOP: &str = "scheduler";

/// How a run failed: the exception's type, and a message fit to log (the
/// embedder redacts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailed {
    /// The error's type (`ValueError`, `mymodule.Timeout`).
    pub kind: String,
    /// Its message, redacted.
    pub message: String,
}

/// One task, as its embedder runs it.
pub trait ScheduledRun: Send + Sync {
    /// Runs the task once, on the scheduler's thread.
    fn run(&self) -> Result<(), RunFailed>;

    /// How far local time is ahead of UTC at `epoch_seconds` (for an
    /// `at="HH:MM"` task). The core reads no time zone database: the
    /// embedder's platform knows the local offset and its daylight saving.
    fn utc_offset_seconds(&self, epoch_seconds: i64) -> i32;
}

#[derive(Default)]
struct State {
    table: Table,
    runners: HashMap<u64, Arc<dyn ScheduledRun>>,
    thread: Option<JoinHandle<()>>,
    /// Bumped whenever a thread is told to end: a thread serving an older
    /// generation returns.
    generation: u64,
}

/// A task as it was added: what a forked child rebuilds its table from.
#[derive(Clone)]
struct Registration {
    name: String,
    cadence: Cadence,
    leader_only: bool,
    runner: Arc<dyn ScheduledRun>,
}

/// The scheduled tasks of a process and the thread that runs them.
pub struct Scheduler {
    clock: SharedClock,
    /// Locked by the scheduler's own thread on every wake: a fork may catch
    /// it held, so a child builds its state afresh from `registrations`.
    state: ForkCell<State>,
    /// Every task added and not removed, read without a lock (replaced
    /// whole, under the state's lock, on every add and remove).
    registrations: ArcSwap<Vec<Registration>>,
    /// `init()` asked for the scheduler to run.
    started: AtomicBool,
    /// Stopped for good at exit: nothing starts again.
    closed: AtomicBool,
    /// Bumped when the thread should look again at once (a task added, a
    /// stop). Not a condition variable: a forked child of a process whose
    /// scheduler was parked on one (gunicorn --preload) inherits its waiter
    /// in parking_lot's global table, and its first notify never returned.
    wake: AtomicU64,
}

/// The process's scheduler, on the real clock: a test that moves the
/// process clock by hand (`baldur.testing.advance`) must not set Baldur's
/// own tasks (the replay worker) running in the middle of it.
pub static SCHEDULER: LazyLock<Arc<Scheduler>> =
    LazyLock::new(|| Arc::new(Scheduler::new(SystemClock::shared())));

impl Scheduler {
    /// A scheduler reading time from `clock`, not started.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            state: ForkCell::default(),
            registrations: ArcSwap::from_pointee(Vec::new()),
            started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            wake: AtomicU64::new(0),
        }
    }

    /// Adds a task; it runs from now on if the scheduler is started. A name
    /// already taken is a [`ConfigError`] naming it.
    pub fn add(
        self: &Arc<Self>,
        name: &str,
        cadence: Cadence,
        leader_only: bool,
        runner: Arc<dyn ScheduledRun>,
    ) -> Result<(), ConfigError> {
        // Asked before the lock: the embedder's answer may take its own
        // locks (Python's), which must never be taken under ours.
        let wall = self.clock.wall_millis();
        let offset = offset_for(&cadence, runner.as_ref(), wall);
        let mut state = self.state.lock();
        let now = self.clock.now();
        let id = state
            .table
            .add(name, cadence, leader_only, now, wall, offset)?;
        state.runners.insert(id, runner.clone());
        self.registrations.rcu(|tasks| {
            let mut tasks = Vec::clone(tasks);
            tasks.push(Registration {
                name: name.to_owned(),
                cadence,
                leader_only,
                runner: runner.clone(),
            });
            tasks
        });
        if self.runs() {
            watchdog::watch(name, cadence.interval());
        }
        self.ensure_thread(&mut state);
        drop(state);
        self.wake.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Removes a task (a run under way finishes). False if none had the name.
    pub fn remove(&self, name: &str) -> bool {
        let mut state = self.state.lock();
        let removed = state.table.remove(name);
        if removed.is_some() {
            watchdog::forget(name);
            self.registrations.rcu(|tasks| {
                let mut tasks = Vec::clone(tasks);
                tasks.retain(|task| task.name != name);
                tasks
            });
        }
        removed.is_some_and(|id| state.runners.remove(&id).is_some())
    }

    /// Starts running tasks (`init()`): now, if any are added, else when
    /// the first one is.
    pub fn start(self: &Arc<Self>) {
        let mut state = self.state.lock();
        if !self.started.swap(true, Ordering::AcqRel) && !self.closed.load(Ordering::Acquire) {
            for task in state.table.status() {
                watchdog::watch(&task.name, task.cadence.interval());
            }
        }
        self.ensure_thread(&mut state);
    }

    /// Every task, in the order added, with the wall time (ms since the
    /// epoch) each is next due.
    pub fn status(&self) -> Vec<(TaskStatus, u64)> {
        let state = self.state.lock();
        let (now, wall) = (self.clock.now(), self.clock.wall_millis());
        state
            .table
            .status()
            .into_iter()
            .map(|task| {
                let ahead = task.due.saturating_sub(now) / 1_000_000;
                (task, wall.saturating_add(ahead))
            })
            .collect()
    }

    /// Whether the scheduler's thread runs.
    pub fn is_running(&self) -> bool {
        self.state
            .lock()
            .thread
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Stops the thread for good (at exit), waiting up to `bound` for a run
    /// under way to end; one that does not is left to end with the process.
    pub fn close(&self, bound: Duration) {
        let thread = {
            let mut state = self.state.lock();
            self.closed.store(true, Ordering::Release);
            state.generation += 1;
            watchdog::forget(LOOP);
            for task in state.table.status() {
                watchdog::forget(&task.name);
            }
            state.thread.take()
        };
        self.wake.fetch_add(1, Ordering::AcqRel);
        let Some(thread) = thread else { return };
        let deadline = Instant::now() + bound;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }

    /// A forked child's side: the parent's thread did not come along, and
    /// may have held the state's lock as the fork happened. The child's
    /// state is built afresh from the registrations (every task due as it
    /// would be if just added, its counts the child's own), never read from
    /// the parent's copy; a thread of the child's own starts if the
    /// parent's was started.
    pub fn after_fork(self: &Arc<Self>) {
        let (now, wall) = (self.clock.now(), self.clock.wall_millis());
        let mut fresh = State::default();
        for task in self.registrations.load().iter() {
            let offset = offset_for(&task.cadence, task.runner.as_ref(), wall);
            let added = fresh.table.add(
                &task.name,
                task.cadence,
                task.leader_only,
                now,
                wall,
                offset,
            );
            if let Ok(id) = added {
                fresh.runners.insert(id, task.runner.clone());
            }
        }
        self.state.replace_after_fork(fresh);
        let mut state = self.state.lock();
        // The watchdog forgot the parent's loops: these are the child's.
        if self.runs() {
            for task in state.table.status() {
                watchdog::watch(&task.name, task.cadence.interval());
            }
        }
        self.ensure_thread(&mut state);
    }

    /// Started and not closed.
    fn runs(&self) -> bool {
        self.started.load(Ordering::Acquire) && !self.closed.load(Ordering::Acquire)
    }

    fn ensure_thread(self: &Arc<Self>, state: &mut State) {
        let alive = state.thread.as_ref().is_some_and(|t| !t.is_finished());
        if alive || !self.runs() || state.table.is_empty() {
            return;
        }
        state.generation += 1;
        let generation = state.generation;
        watchdog::watch(LOOP, WAKE_AT_LEAST);
        let scheduler = Arc::clone(self);
        state.thread = std::thread::Builder::new()
            .name("baldur-scheduler".into())
            .spawn(move || scheduler.serve(generation))
            .ok();
    }

    /// The thread's loop: run what is due, then wait for the next due time,
    /// a new task or a stop.
    fn serve(&self, generation: u64) {
        loop {
            let due = {
                let mut state = self.state.lock();
                if state.generation != generation {
                    return;
                }
                watchdog::beat(LOOP);
                let now = self.clock.now();
                let due = state.table.due(now);
                if due.is_empty() {
                    let wait = state
                        .table
                        .next_due()
                        .map_or(WAKE_AT_LEAST, |at| from_nanos(at.saturating_sub(now)))
                        .min(WAKE_AT_LEAST);
                    let seen = self.wake.load(Ordering::Acquire);
                    drop(state);
                    self.nap(wait, seen);
                    continue;
                }
                due.into_iter()
                    .filter_map(|d| state.runners.get(&d.id).cloned().map(|r| (d, r)))
                    .collect::<Vec<_>>()
            };
            for (due, runner) in due {
                self.run_one(&due, runner.as_ref());
            }
        }
    }

    /// Sleeps `wait`, in short slices, or until woken.
    fn nap(&self, wait: Duration, seen: u64) {
        let until = Instant::now() + wait;
        loop {
            let now = Instant::now();
            if now >= until || self.wake.load(Ordering::Acquire) != seen {
                return;
            }
            std::thread::sleep((until - now).min(NAP_SLICE));
        }
    }

    fn run_one(&self, due: &Due, runner: &dyn ScheduledRun) {
        let outcome = if due.leader_only && !leader::is_leader() {
            Outcome::NotLeader
        } else {
            self.run_watched(due, runner)
        };
        watchdog::beat(&due.name);
        let wall = self.clock.wall_millis();
        let cadence = self.cadence_of(due.id);
        let offset = cadence.map_or(0, |c| offset_for(&c, runner, wall));
        let now = self.clock.now();
        self.state
            .lock()
            .table
            .finish(due.id, outcome, now, wall, offset);
    }

    /// One run, watched: the task beats as it starts, and while it runs
    /// the thread's own loop is allowed the task's interval (a run within
    /// it holds the thread up legitimately; one past it stalls both).
    fn run_watched(&self, due: &Due, runner: &dyn ScheduledRun) -> Outcome {
        watchdog::beat(&due.name);
        let interval = self
            .cadence_of(due.id)
            .map_or(WAKE_AT_LEAST, |c| c.interval());
        watchdog::watch(LOOP, interval.max(WAKE_AT_LEAST));
        let started = Instant::now();
        let outcome = match runner.run() {
            Ok(()) => {
                EVENTS.emit(Event::Scheduler {
                    name: "scheduler.run_completed",
                    task: due.name.clone(),
                    error_type: String::new(),
                    detail: format!("took {:.3} s", started.elapsed().as_secs_f64()),
                });
                Outcome::Ran
            }
            Err(failed) => {
                let detail = format!("{}: {}", failed.kind, failed.message);
                EVENTS.emit(Event::Scheduler {
                    name: "scheduler.run_failed",
                    task: due.name.clone(),
                    error_type: failed.kind,
                    detail: failed.message,
                });
                Outcome::Failed(detail)
            }
        };
        watchdog::watch(LOOP, WAKE_AT_LEAST);
        outcome
    }

    fn cadence_of(&self, id: u64) -> Option<Cadence> {
        self.state.lock().table.cadence_of(id)
    }
}

/// The local offset an `at` task needs (an `every` task needs none: the
/// embedder is not asked).
fn offset_for(cadence: &Cadence, runner: &dyn ScheduledRun, wall_millis: u64) -> i32 {
    match cadence {
        Cadence::Every(_) => 0,
        Cadence::At { .. } => {
            runner.utc_offset_seconds(i64::try_from(wall_millis / 1000).unwrap_or(i64::MAX))
        }
    }
}

/// In a forked child: the scheduler's thread, again.
pub(crate) fn after_fork() {
    SCHEDULER.after_fork();
}
