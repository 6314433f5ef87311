//! The breaker under contention: probe budget, lost counts, and the order of
//! transitions as seen by an observer.

mod common;

use baldur::core::breaker::{BreakerConfig, CircuitState};
use common::{tripped, Rig};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

const THREADS: usize = 16;

#[test]
fn racing_threads_in_half_open_get_exactly_the_probe_budget() {
    for _round in 0..50 {
        let rig = tripped(BreakerConfig::new(3, 5, 10.0, 3, 60.0).unwrap());
        rig.advance(Duration::from_secs(10));
        let admitted = AtomicU32::new(0);
        let start = Barrier::new(THREADS);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    start.wait();
                    if let Ok(permit) = rig.breaker.try_acquire() {
                        assert!(permit.is_probe());
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 3);
        assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
        // Exactly one thread moved it out of open.
        assert_eq!(rig.recorder.transitions().len(), 2);
    }
}

#[test]
fn concurrent_records_on_a_closed_breaker_lose_no_counts() {
    const PER_THREAD: u64 = 2_000;
    // Thresholds out of reach: the breaker must stay closed so every record lands.
    let rig = Rig::new(BreakerConfig::new(u32::MAX, u32::MAX, 10.0, 1, 60.0).unwrap());
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (rig, start) = (&rig, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..PER_THREAD {
                    let permit = rig.breaker.try_acquire().unwrap();
                    // Odd threads fail every third call, even threads never.
                    if t % 2 == 1 && i % 3 == 0 {
                        rig.breaker.on_failure(permit);
                    } else {
                        rig.breaker.on_success(permit);
                    }
                }
            });
        }
    });
    let failing_threads = (THREADS / 2) as u64;
    let failures_each = PER_THREAD.div_ceil(3);
    let totals = rig.breaker.snapshot().totals;
    assert_eq!(totals.calls, THREADS as u64 * PER_THREAD);
    assert_eq!(totals.failures, failing_threads * failures_each);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
}

#[test]
fn concurrent_records_across_a_fresh_bucket_lose_no_counts() {
    // Every thread's first record lands in a bucket that must be recycled,
    // so they all race through the recycle path at once.
    let rig = Rig::new(BreakerConfig::new(u32::MAX, u32::MAX, 10.0, 1, 60.0).unwrap());
    rig.succeed(7);
    rig.advance(Duration::from_secs(600)); // a long lap later: all slots stale
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                start.wait();
                rig.succeed(100);
            });
        }
    });
    assert_eq!(rig.breaker.snapshot().totals.calls, THREADS as u64 * 100);
}

#[test]
fn transitions_under_contention_form_one_contiguous_chain() {
    const ROUNDS: usize = 3_000;
    // Low thresholds and a short recovery so the breaker cycles through
    // closed -> open -> half-open -> ... many times while threads hammer it.
    let rig = Rig::new(BreakerConfig::new(2, 2, 0.001, 2, 1.0).unwrap());
    let working = AtomicUsize::new(THREADS);
    let start = Barrier::new(THREADS + 1);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (rig, working, start) = (&rig, &working, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..ROUNDS {
                    // Yield so the clock thread gets to run even on a
                    // machine with far fewer cores than threads.
                    if let Ok(permit) = rig.breaker.try_acquire() {
                        match (t + i) % 5 {
                            0 => rig.breaker.release(permit),
                            1 | 2 => rig.breaker.on_failure(permit),
                            _ => rig.breaker.on_success(permit),
                        }
                    }
                    thread::yield_now();
                }
                working.fetch_sub(1, Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            start.wait();
            let mut step = 0u32;
            while working.load(Ordering::Relaxed) > 0 {
                step += 1;
                rig.advance(Duration::from_micros(400));
                // Now and then an operator steps in too.
                match step % 200 {
                    50 => rig.breaker.force_open(),
                    55 => rig.breaker.reset(),
                    100 => rig.breaker.force_close(),
                    105 => rig.breaker.reset(),
                    _ => {}
                }
                thread::yield_now();
            }
        });
    });

    let mut seen = rig.recorder.transitions();
    assert!(
        seen.len() > 50,
        "the breaker should have cycled; saw {}",
        seen.len()
    );
    seen.sort_by_key(|t| t.generation);
    let mut state = CircuitState::Closed;
    for (i, t) in seen.iter().enumerate() {
        assert_eq!(t.generation, i as u64 + 1, "no gaps or duplicates");
        assert_eq!(
            t.from, state,
            "generation {} must leave the state it entered",
            t.generation
        );
        assert_ne!(t.from, t.to);
        state = t.to;
    }
    let snap = rig.breaker.snapshot();
    assert_eq!(snap.generation, seen.len() as u64);
    // The stored state: the snapshot reads an elapsed open as half-open.
    assert_eq!(
        rig.breaker.state(),
        state,
        "the last event describes the current state"
    );
}
