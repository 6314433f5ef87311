//! The backoff schedule and the retry policy built on it.

use baldur::core::retry::{Backoff, Jitter, RetryPolicy};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 100 ms, doubling, capped at 1 s, no jitter.
fn plain() -> Backoff {
    Backoff::new(0.1, 1.0, 2.0, Jitter::None).unwrap()
}

#[test]
fn delay_grows_exponentially() {
    let b = plain();
    let delays: Vec<Duration> = (0..4).map(|retry| b.delay(retry, 0.5, None)).collect();
    assert_eq!(delays, [ms(100), ms(200), ms(400), ms(800)]);
}

#[test]
fn other_multipliers_grow_by_their_factor() {
    let b = Backoff::new(0.01, 100.0, 3.0, Jitter::None).unwrap();
    assert_eq!(b.delay(0, 0.0, None), ms(10));
    assert_eq!(b.delay(1, 0.0, None), ms(30));
    assert_eq!(b.delay(3, 0.0, None), ms(270));
}

#[test]
fn multiplier_of_one_is_a_constant_delay() {
    let b = Backoff::new(0.25, 1.0, 1.0, Jitter::None).unwrap();
    for retry in [0, 1, 10, 1_000] {
        assert_eq!(b.delay(retry, 0.5, None), ms(250));
    }
}

#[test]
fn delay_is_capped_at_max() {
    let b = plain();
    assert_eq!(b.delay(4, 0.5, None), Duration::from_secs(1));
    assert_eq!(b.delay(30, 0.5, None), Duration::from_secs(1));
    assert_eq!(b.max_delay(), Duration::from_secs(1));
}

#[test]
fn huge_retry_numbers_are_capped_not_overflowed() {
    // 0.1 s * 2^70 is finite as an f64 but far beyond what a Duration holds.
    let b = plain();
    for retry in [64, 70, 200, 1_100, u32::MAX] {
        assert_eq!(
            b.delay(retry, 0.5, None),
            Duration::from_secs(1),
            "retry {retry}"
        );
    }
    let full = Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap();
    assert_eq!(full.delay(u32::MAX, 0.5, None), ms(500));
}

#[test]
fn zero_base_never_waits() {
    // Even when the power overflows to infinity (0 * inf is NaN, not max).
    let b = Backoff::new(0.0, 5.0, 2.0, Jitter::None).unwrap();
    for retry in [0, 50, 2_000, u32::MAX] {
        assert_eq!(b.delay(retry, 0.5, None), Duration::ZERO, "retry {retry}");
    }
}

#[test]
fn full_jitter_scales_the_delay_by_the_unit_random() {
    let b = Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap();
    assert_eq!(b.delay(0, 0.0, None), Duration::ZERO);
    assert_eq!(b.delay(0, 0.5, None), ms(50));
    assert_eq!(b.delay(2, 0.25, None), ms(100));
    // Jitter applies after the cap: half of the 1 s maximum.
    assert_eq!(b.delay(10, 0.5, None), ms(500));
}

#[test]
fn full_jitter_stays_within_zero_and_the_delay() {
    let b = Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap();
    for unit in [-1.0, 0.0, 0.3, 0.999_999, 1.0, 7.0] {
        let d = b.delay(1, unit, None);
        assert!(d <= ms(200), "unit {unit} gave {d:?}");
    }
    assert_eq!(b.delay(1, 7.0, None), ms(200), "units above 1 clamp to 1");
    assert_eq!(
        b.delay(1, -1.0, None),
        Duration::ZERO,
        "units below 0 clamp to 0"
    );
}

#[test]
fn server_delay_wins_up_to_max() {
    let b = plain();
    assert_eq!(
        b.delay(3, 0.5, Some(ms(50))),
        ms(50),
        "even shorter than the schedule"
    );
    assert_eq!(b.delay(0, 0.5, Some(ms(700))), ms(700));
    assert_eq!(
        b.delay(0, 0.5, Some(Duration::from_secs(30))),
        Duration::from_secs(1)
    );
    assert_eq!(b.delay(0, 0.5, Some(Duration::ZERO)), Duration::ZERO);
}

#[test]
fn server_delay_is_not_jittered() {
    let b = Backoff::new(0.1, 5.0, 2.0, Jitter::Full).unwrap();
    assert_eq!(b.delay(0, 0.0, Some(ms(700))), ms(700));
}

#[test]
fn invalid_configs_are_rejected() {
    let cases = [
        ("base_delay", Backoff::new(-0.1, 1.0, 2.0, Jitter::None)),
        ("base_delay", Backoff::new(f64::NAN, 1.0, 2.0, Jitter::None)),
        (
            "base_delay",
            Backoff::new(f64::INFINITY, 1.0, 2.0, Jitter::None),
        ),
        ("max_delay", Backoff::new(0.1, -1.0, 2.0, Jitter::None)),
        ("max_delay", Backoff::new(0.1, f64::NAN, 2.0, Jitter::None)),
        ("max_delay", Backoff::new(2.0, 1.0, 2.0, Jitter::None)),
        ("multiplier", Backoff::new(0.1, 1.0, 0.5, Jitter::None)),
        ("multiplier", Backoff::new(0.1, 1.0, -2.0, Jitter::None)),
        ("multiplier", Backoff::new(0.1, 1.0, f64::NAN, Jitter::None)),
        (
            "multiplier",
            Backoff::new(0.1, 1.0, f64::INFINITY, Jitter::None),
        ),
        // The same bound as the Python face's RetryPolicy.
        ("multiplier", Backoff::new(0.1, 1.0, 1000.5, Jitter::None)),
    ];
    for (key, result) in cases {
        assert_eq!(result.expect_err(key).key, key);
    }
}

#[test]
fn boundary_configs_are_accepted() {
    assert!(Backoff::new(0.0, 0.0, 1.0, Jitter::Full).is_ok());
    assert!(Backoff::new(0.1, 1.0, 1000.0, Jitter::Full).is_ok());
    assert!(
        Backoff::new(1.0, 1.0, 1.0, Jitter::None).is_ok(),
        "max == base is fine"
    );
}

#[test]
fn jitter_parses_its_public_names_only() {
    assert_eq!(Jitter::parse("full"), Ok(Jitter::Full));
    assert_eq!(Jitter::parse("none"), Ok(Jitter::None));
    for bad in ["Full", "NONE", "", "equal", " full"] {
        let err = Jitter::parse(bad).unwrap_err();
        assert_eq!((err.key, err.value.as_str()), ("jitter", bad));
    }
}

#[test]
fn defaults_are_documented_values() {
    let b = Backoff::default();
    assert_eq!(b.max_delay(), Duration::from_secs(10));
    assert_eq!(
        b.delay(0, 1.0, None),
        ms(100),
        "full jitter at unit 1 is the raw delay"
    );
    assert_eq!(b.delay(1, 1.0, None), ms(200));
}

#[test]
fn retry_policy_counts_attempts() {
    assert_eq!(RetryPolicy::once().attempts(), 1);
    assert_eq!(RetryPolicy::default().attempts(), 3);
    let p = RetryPolicy::new(5, plain()).unwrap();
    assert_eq!((p.attempts(), *p.backoff()), (5, plain()));
    assert_eq!(RetryPolicy::new(0, plain()).unwrap_err().key, "attempts");
}
