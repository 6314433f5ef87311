//! What a window still owes a shared store: counts since the last take, as
//! deltas, across rollover, clear, resize and bucket recycling.

use baldur::core::clock::Nanos;
use baldur::core::window::{SlidingWindow, Totals, BUCKETS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const SEC: Nanos = 1_000_000_000;

/// A 20 s window: one bucket per second.
fn window() -> SlidingWindow {
    SlidingWindow::new(Duration::from_secs(BUCKETS as u64))
}

fn totals(calls: u64, failures: u64) -> Totals {
    Totals { calls, failures }
}

fn record(w: &SlidingWindow, now: Nanos, calls: u64, failures: u64) {
    for i in 0..calls {
        w.record(now, i < failures);
    }
}

#[test]
fn a_new_window_owes_nothing() {
    let w = window();
    assert_eq!(w.peek_unsent(), Totals::default());
    assert_eq!(w.take_unsent(), Totals::default());
}

#[test]
fn take_returns_counts_since_the_last_take_as_deltas() {
    let w = window();
    record(&w, 0, 3, 1);
    assert_eq!(w.take_unsent(), totals(3, 1));
    assert_eq!(w.take_unsent(), Totals::default(), "already sent");
    record(&w, SEC / 2, 2, 2); // same bucket
    assert_eq!(w.take_unsent(), totals(2, 2), "only the new ones");
    assert_eq!(w.totals(SEC / 2), totals(5, 3), "the window still has all");
}

#[test]
fn peek_does_not_mark_counts_sent() {
    let w = window();
    record(&w, 0, 4, 1);
    assert_eq!(w.peek_unsent(), totals(4, 1));
    assert_eq!(w.peek_unsent(), totals(4, 1));
    record(&w, 0, 1, 1);
    assert_eq!(w.peek_unsent(), totals(5, 2));
    assert_eq!(w.take_unsent(), totals(5, 2));
    assert_eq!(w.peek_unsent(), Totals::default());
}

#[test]
fn counts_in_new_buckets_after_rollover_are_owed() {
    let w = window();
    record(&w, 0, 2, 0);
    assert_eq!(w.take_unsent(), totals(2, 0));
    record(&w, SEC, 1, 1);
    record(&w, 5 * SEC, 3, 0);
    assert_eq!(w.peek_unsent(), totals(4, 1));
    assert_eq!(w.take_unsent(), totals(4, 1));
    record(&w, 5 * SEC, 1, 0);
    record(&w, 19 * SEC, 1, 1);
    assert_eq!(w.take_unsent(), totals(2, 1));
}

#[test]
fn counts_spread_over_many_buckets_are_summed_once() {
    let w = window();
    for s in 0..BUCKETS as u64 {
        record(&w, s * SEC, 2, 1);
    }
    assert_eq!(w.take_unsent(), totals(2 * BUCKETS as u64, BUCKETS as u64));
    assert_eq!(w.take_unsent(), Totals::default());
}

#[test]
fn clear_forgets_counts_not_yet_sent() {
    let w = window();
    record(&w, 0, 3, 3);
    w.clear();
    assert_eq!(w.peek_unsent(), Totals::default());
    assert_eq!(w.take_unsent(), Totals::default());
}

#[test]
fn counts_recorded_after_clear_in_an_already_sent_bucket_are_owed() {
    let w = window();
    record(&w, 0, 5, 2);
    assert_eq!(w.take_unsent(), totals(5, 2));
    w.clear();
    // Same second, same bucket, same tag as what was sent before the clear.
    record(&w, SEC / 2, 1, 1);
    assert_eq!(w.peek_unsent(), totals(1, 1));
    assert_eq!(w.take_unsent(), totals(1, 1));
    record(&w, SEC / 2, 6, 0);
    assert_eq!(w.take_unsent(), totals(6, 0));
}

#[test]
fn resize_forgets_counts_and_what_was_sent() {
    let w = window();
    record(&w, 0, 4, 1);
    assert_eq!(w.take_unsent(), totals(4, 1));
    record(&w, 0, 2, 0);
    w.resize(Duration::from_secs(40)); // 2 s buckets: t = 0 keeps tag 1
    assert_eq!(
        w.peek_unsent(),
        Totals::default(),
        "unsent counts forgotten"
    );
    record(&w, SEC, 1, 0);
    assert_eq!(w.take_unsent(), totals(1, 0));
    record(&w, 3 * SEC, 2, 2);
    assert_eq!(w.take_unsent(), totals(2, 2));
}

#[test]
fn a_bucket_recycled_after_a_full_lap_reports_only_its_new_counts() {
    let w = window();
    record(&w, 3 * SEC, 5, 4);
    assert_eq!(w.take_unsent(), totals(5, 4));
    let lap = BUCKETS as u64 * SEC;
    // Fewer counts than were sent: a delta against the old tag would hide them.
    record(&w, 3 * SEC + lap, 1, 0);
    assert_eq!(w.take_unsent(), totals(1, 0));
    // More counts than were sent: a delta against the old tag would shrink them.
    record(&w, 3 * SEC + 2 * lap, 7, 5);
    assert_eq!(w.take_unsent(), totals(7, 5));
    assert_eq!(w.take_unsent(), Totals::default());
}

#[test]
fn buckets_that_slid_out_without_recycling_are_not_reported_again() {
    let w = window();
    record(&w, 0, 3, 1);
    record(&w, 4 * SEC, 2, 0);
    assert_eq!(w.take_unsent(), totals(5, 1));
    // Much later, other buckets are recycled; the old ones still hold counts.
    record(&w, 1_000 * SEC + 7 * SEC, 1, 1);
    assert_eq!(w.totals(1_007 * SEC), totals(1, 1));
    assert_eq!(w.take_unsent(), totals(1, 1));
}

#[test]
fn concurrent_records_are_each_taken_exactly_once() {
    // A recorder walks through fresh buckets (each first use recycles one)
    // while a sync task keeps taking: every call must be taken exactly once,
    // even when a bucket is recycled in the middle of a take.
    const CALLS: u64 = 1_900;
    for _ in 0..400 {
        let w = window();
        let done = AtomicBool::new(false);
        let mut taken = Totals::default();
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..CALLS {
                    // 19 buckets: less than a lap, so nothing is recycled away.
                    w.record(i * 19 * SEC / CALLS, i % 2 == 0);
                }
                done.store(true, Ordering::Release);
            });
            while !done.load(Ordering::Acquire) {
                let t = w.take_unsent();
                taken.calls += t.calls;
                taken.failures += t.failures;
            }
        });
        let t = w.take_unsent();
        taken.calls += t.calls;
        taken.failures += t.failures;
        assert_eq!(taken, totals(CALLS, CALLS / 2));
        assert_eq!(w.totals(19 * SEC), taken);
    }
}
