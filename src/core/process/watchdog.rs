//! The process's watchdog: background loops register and beat here, and a
//! thread of its own (never one of the loops it watches, so it cannot be
//! stuck with them) checks them and reports a stall or a recovery as an
//! event. It reads the real monotonic clock: a test's manual process clock
//! must not make a live loop look dead.

use crate::core::clock::SystemClock;
use crate::core::events::{Event, EVENTS};
use crate::core::watchdog::{Change, LoopStatus, Watchdog, DEFAULT_MISSED_BEATS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

static WATCHDOG: LazyLock<Watchdog> =
    LazyLock::new(|| Watchdog::new(SystemClock::shared(), DEFAULT_MISSED_BEATS));
/// Whether this process's checker thread runs (false again in a forked child).
static CHECKING: AtomicBool = AtomicBool::new(false);
/// The checker looks at least this often, and at most this often.
const CHECK_AT_MOST: Duration = Duration::from_secs(1);
const CHECK_AT_LEAST: Duration = Duration::from_millis(50);

/// Watches the loop `name`, which beats every `interval`.
pub fn watch(name: &str, interval: Duration) {
    WATCHDOG.watch(name, interval);
    start_checker();
}

/// The loop `name` is alive.
pub fn beat(name: &str) {
    WATCHDOG.beat(name);
}

/// The loop `name` ended on purpose: no longer watched.
pub fn forget(name: &str) {
    WATCHDOG.forget(name);
}

/// Silent intervals allowed before a loop is stalled.
pub fn set_missed_beats(missed_beats: u32) {
    WATCHDOG.set_missed_beats(missed_beats);
}

/// Every watched loop.
pub fn status() -> Vec<LoopStatus> {
    WATCHDOG.status()
}

/// In a forked child none of the parent's loops or its checker runs.
pub(crate) fn after_fork() {
    WATCHDOG.forget_all_after_fork();
    CHECKING.store(false, Ordering::Release);
}

fn start_checker() {
    if CHECKING.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = std::thread::Builder::new()
        .name("baldur-watchdog".into())
        .spawn(|| loop {
            let every = WATCHDOG
                .shortest_interval()
                .map_or(CHECK_AT_MOST, |shortest| shortest / 2)
                .clamp(CHECK_AT_LEAST, CHECK_AT_MOST);
            std::thread::sleep(every);
            for change in WATCHDOG.check() {
                EVENTS.emit(event_of(change));
            }
        });
    if started.is_err() {
        CHECKING.store(false, Ordering::Release);
    }
}

fn event_of(change: Change) -> Event {
    match change {
        Change::Stalled {
            name,
            silent_for,
            interval,
        } => Event::Watchdog {
            name: "watchdog.loop_stalled",
            detail: format!(
                "no beat for {:.1} s (it beats every {:.1} s)",
                silent_for.as_secs_f64(),
                interval.as_secs_f64()
            ),
            watched: name,
        },
        Change::Recovered { name } => Event::Watchdog {
            name: "watchdog.loop_recovered",
            detail: "beating again".into(),
            watched: name,
        },
    }
}
