//! The sliding window: counting, rollover, bucket recycling, clear, resize.

use baldur::core::clock::Nanos;
use baldur::core::window::{SlidingWindow, Totals, BUCKETS};
use std::time::Duration;

const SEC: Nanos = 1_000_000_000;

/// A 20 s window: one bucket per second, so bucket arithmetic is readable.
fn window() -> SlidingWindow {
    SlidingWindow::new(Duration::from_secs(BUCKETS as u64))
}

fn totals(calls: u64, failures: u64) -> Totals {
    Totals { calls, failures }
}

#[test]
fn new_window_is_empty() {
    let w = window();
    assert_eq!(w.totals(0), Totals::default());
    assert_eq!(w.totals(1_000 * SEC), Totals::default());
}

#[test]
fn counts_calls_and_failures_within_the_window() {
    let w = window();
    w.record(0, false);
    w.record(SEC / 2, true);
    w.record(3 * SEC, true);
    w.record(19 * SEC, false);
    assert_eq!(w.totals(19 * SEC), totals(4, 2));
}

#[test]
fn failures_are_counted_as_calls_too() {
    let w = window();
    for _ in 0..1_000 {
        w.record(5 * SEC, true);
    }
    assert_eq!(w.totals(5 * SEC), totals(1_000, 1_000));
}

#[test]
fn record_slides_out_exactly_when_the_window_has_passed() {
    let w = window();
    w.record(0, true);
    assert_eq!(w.totals(20 * SEC - 1), totals(1, 1));
    assert_eq!(w.totals(20 * SEC), totals(0, 0));
}

#[test]
fn expiry_is_per_bucket_so_a_late_record_in_a_bucket_leaves_with_it() {
    // The window slides in whole buckets: a record at 0.9 s lives in the
    // same bucket as one at 0 s and leaves at 20 s too.
    let w = window();
    w.record(SEC - SEC / 10, false);
    assert_eq!(w.totals(20 * SEC - 1).calls, 1);
    assert_eq!(w.totals(20 * SEC).calls, 0);
}

#[test]
fn buckets_slide_out_one_at_a_time() {
    let w = window();
    for second in 0..20 {
        w.record(second * SEC, second % 2 == 0);
    }
    assert_eq!(w.totals(19 * SEC), totals(20, 10));
    // Each second past the window drops the oldest bucket, and only it.
    for passed in 1..=20u64 {
        let expected_calls = 20 - passed;
        // Even seconds failed; the survivors are seconds passed..20.
        let expected_failures = (passed..20).filter(|s| s % 2 == 0).count() as u64;
        assert_eq!(
            w.totals((19 + passed) * SEC),
            totals(expected_calls, expected_failures),
            "{passed} s past the window"
        );
    }
}

#[test]
fn bucket_is_recycled_after_a_full_lap() {
    let w = window();
    for _ in 0..5 {
        w.record(0, true);
    }
    // 20 s later the same slot is reused: the old five must not leak in.
    w.record(20 * SEC, false);
    assert_eq!(w.totals(20 * SEC), totals(1, 0));
    // And a later lap recycles it again.
    w.record(40 * SEC + SEC / 2, true);
    assert_eq!(w.totals(40 * SEC + SEC / 2), totals(1, 1));
}

#[test]
fn recycling_one_bucket_leaves_its_neighbours_alone() {
    let w = window();
    w.record(0, false); // slot 0
    w.record(10 * SEC, true); // slot 10
    w.record(20 * SEC, false); // slot 0 again, one lap later
    assert_eq!(w.totals(20 * SEC), totals(2, 1));
    assert_eq!(w.totals(30 * SEC), totals(1, 0));
}

#[test]
fn long_idle_period_forgets_everything() {
    let w = window();
    w.record(SEC, true);
    assert_eq!(w.totals(10_000 * SEC), Totals::default());
    w.record(10_000 * SEC, true);
    assert_eq!(w.totals(10_000 * SEC), totals(1, 1));
}

#[test]
fn clear_forgets_every_count() {
    let w = window();
    for second in 0..10 {
        w.record(second * SEC, true);
    }
    w.clear();
    assert_eq!(w.totals(9 * SEC), Totals::default());
    // Recording afterwards, even into a bucket used before, starts at zero.
    w.record(9 * SEC, false);
    w.record(3 * SEC, true);
    assert_eq!(w.totals(9 * SEC), totals(2, 1));
}

#[test]
fn resize_forgets_counts_and_applies_the_new_span() {
    let w = window();
    w.record(0, true);
    w.record(SEC, true);
    w.resize(Duration::from_secs(2)); // buckets of 100 ms
    assert_eq!(w.totals(SEC), Totals::default());

    w.record(SEC, false);
    assert_eq!(w.totals(3 * SEC - 1).calls, 1);
    assert_eq!(w.totals(3 * SEC).calls, 0, "gone after the new 2 s span");
}

#[test]
fn resize_to_a_longer_span_keeps_records_longer() {
    let w = window();
    w.resize(Duration::from_secs(200)); // buckets of 10 s
    w.record(0, true);
    assert_eq!(w.totals(199 * SEC).calls, 1);
    assert_eq!(w.totals(200 * SEC).calls, 0);
}

#[test]
fn tiny_span_still_counts_with_one_nanosecond_buckets() {
    // A span shorter than BUCKETS nanoseconds gets 1 ns buckets, not zero.
    let w = SlidingWindow::new(Duration::from_nanos(5));
    w.record(0, true);
    assert_eq!(w.totals(0).calls, 1);
    assert_eq!(w.totals(19).calls, 1);
    assert_eq!(w.totals(20).calls, 0);
}
