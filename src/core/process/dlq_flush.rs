//! Carries the records the local queue took while Redis was unreachable
//! over to Redis once it answers again: a background thread that retries
//! every probe interval until the local queue is empty. Each entry is held
//! locally (no replay takes it meanwhile), written to Redis with its token
//! (so a copy Redis has already, from a crash between the copy and the
//! delete or from a record whose answer was lost, is recognised there and
//! not added), then deleted locally: nothing lost, nothing doubled.

use crate::core::dlq::{DlqError, DlqStore, RedisDlq, SqliteDlq};
use crate::core::events::{Event, EVENTS};
use crate::core::process::dlq_queues::{Queues, GENERATION};
use crate::core::process::watchdog;
use crate::core::store::health::DEFAULT_PROBE_INTERVAL;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Entries looked at per round.
const BATCH: u64 = 100;

/// The wait after Redis refused an entry because its queue is full
/// (`reject`): the entry stays local until Redis has room.
const FULL_RETRY: Duration = Duration::from_secs(5);
/// The flusher's name for the watchdog; it beats every batch or retry (at
/// most `FULL_RETRY` apart, a batch bounded by the store's timeout).
pub const FLUSH_LOOP: &str = "dlq_flusher";

/// The generation (plus one) of the queues a running flusher serves; 0: none.
static FLUSHING_FOR: AtomicU64 = AtomicU64::new(0);
static FLUSHED: AtomicU64 = AtomicU64::new(0);

/// Starts the flusher for `queues` unless one runs for them. It keeps the
/// queues it was given (it never takes the configuration's lock, so a fork
/// cannot catch it holding that), and stops when they are replaced.
pub(crate) fn schedule(queues: &Queues) {
    let Some(remote) = queues.remote.clone() else {
        return;
    };
    let generation = GENERATION.load(Ordering::Acquire);
    let mark = generation + 1;
    if FLUSHING_FOR.swap(mark, Ordering::AcqRel) == mark {
        return;
    }
    let local = queues.local.clone();
    let current = move || GENERATION.load(Ordering::Acquire) == generation;
    let spawned = std::thread::Builder::new()
        .name("baldur-dlq-flush".into())
        .spawn(move || loop {
            flush_all(&local, &remote, &current);
            // Hand the mark back, unless a flusher for newer queues holds it.
            let (success, failure) = (Ordering::AcqRel, Ordering::Acquire);
            if FLUSHING_FOR
                .compare_exchange(mark, 0, success, failure)
                .is_err()
                || !current()
            {
                return;
            }
            // A record may have landed after the last look: look again.
            if !local.waiting().unwrap_or(false) {
                return;
            }
            // Take it again, unless a flusher started meanwhile (it will do).
            if FLUSHING_FOR
                .compare_exchange(0, mark, success, failure)
                .is_err()
            {
                return;
            }
        });
    if spawned.is_err() {
        let _ = FLUSHING_FOR.compare_exchange(mark, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// In a forked child the parent's flusher thread does not exist.
pub(crate) fn after_fork() {
    FLUSHING_FOR.store(0, Ordering::Release);
}

/// Entries carried to Redis by this process so far.
pub fn flushed() -> u64 {
    FLUSHED.load(Ordering::Relaxed)
}

/// Flushes until nothing waits, or until the queues are replaced (the new
/// ones get a flusher of their own: what this one left is still waiting).
fn flush_all(local: &SqliteDlq, remote: &RedisDlq, current: &dyn Fn() -> bool) {
    watchdog::watch(FLUSH_LOOP, FULL_RETRY);
    flush_until_done(local, remote, current);
    watchdog::forget(FLUSH_LOOP);
}

fn flush_until_done(local: &SqliteDlq, remote: &RedisDlq, current: &dyn Fn() -> bool) {
    // Each trouble is logged once per run, not once per retry.
    let (mut refused_logged, mut failed_logged) = (false, false);
    while current() {
        watchdog::beat(FLUSH_LOOP);
        match flush_batch(local, remote) {
            Ok(None) => return,
            Ok(Some(0)) => std::thread::sleep(DEFAULT_PROBE_INTERVAL),
            Ok(Some(n)) => {
                FLUSHED.fetch_add(n, Ordering::Relaxed);
                log("dlq.entries_flushed", n, String::new());
            }
            Err(DlqError::Full { cap, limit }) => {
                if !refused_logged {
                    refused_logged = true;
                    log("dlq.flush_refused", 0, format!("{cap}={limit}"));
                }
                std::thread::sleep(FULL_RETRY);
            }
            // Redis still away: the next try is the next probe (the
            // health record logs the outage itself).
            Err(DlqError::Unavailable(_)) => std::thread::sleep(DEFAULT_PROBE_INTERVAL),
            Err(DlqError::Store(error)) => {
                if !failed_logged {
                    failed_logged = true;
                    log("dlq.flush_failed", 0, error);
                }
                std::thread::sleep(DEFAULT_PROBE_INTERVAL);
            }
        }
    }
}

/// One batch: `None` when nothing is left, else how many went over.
fn flush_batch(local: &SqliteDlq, remote: &RedisDlq) -> Result<Option<u64>, DlqError> {
    let batch = local.forwardable(BATCH)?;
    if batch.is_empty() {
        // Entries held (by a replay, or by a flusher killed mid-forward)
        // are looked at again when their hold runs out.
        return Ok(local.waiting()?.then_some(0));
    }
    let instance = local.instance()?;
    let mut forwarded = 0;
    for entry in batch {
        let Ok(row) = entry.id.parse::<i64>() else {
            continue;
        };
        let Some(held) = local.hold(row)? else {
            continue; // a replay took it since
        };
        // Its own token if Redis may have it already, else one for this
        // file's row: either way a second forward (a crash between the copy
        // and the delete) adds nothing.
        let token = local
            .token(row)?
            .unwrap_or_else(|| format!("{instance}:{row}"));
        match remote.forward(&held, &token) {
            Ok((_, eviction)) => {
                if eviction.evicted > 0 {
                    let zone = &held.recorded.zone;
                    let detail = format!("zone={zone} compressed={}", eviction.compressed);
                    log("dlq.entries_evicted", eviction.evicted, detail);
                }
                DlqStore::succeeded(local, &held.id)?;
                forwarded += 1;
            }
            Err(error) => {
                local.release(&held)?;
                return Err(error);
            }
        }
    }
    Ok(Some(forwarded))
}

fn log(name: &'static str, count: u64, detail: String) {
    EVENTS.emit(Event::DlqFlush {
        name,
        count,
        detail,
    });
}
