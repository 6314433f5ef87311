//! The breaker state machine, driven one call at a time on a manual clock.

mod common;

use baldur::core::breaker::{BreakerConfig, Cause, CircuitState, Rejection};
use common::{config, tripped, Rig};
use std::time::Duration;

const RECOVERY: Duration = Duration::from_secs(10);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A rig that is half-open: tripped at t = 0, then recovery elapsed.
fn half_open() -> Rig {
    let rig = tripped(config());
    rig.advance(RECOVERY);
    rig
}

#[test]
fn stays_closed_below_the_minimum_calls_floor_however_many_fail() {
    let rig = Rig::new(BreakerConfig::new(1, 10, 10.0, 1, 60.0).unwrap());
    rig.fail(9);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    rig.fail(1);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn trips_once_calls_reach_the_floor_and_failures_the_threshold() {
    // threshold 3, floor 5, and a rate (20 %) this test's 3 of 13 passes.
    let rig = Rig::new(config().with_failure_rate_threshold(0.2).unwrap());
    rig.succeed(10);
    rig.fail(2);
    assert_eq!(
        rig.breaker.state(),
        CircuitState::Closed,
        "2 failures < threshold"
    );
    rig.fail(1);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    let seen = rig.recorder.transitions();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].cause, Cause::Trip);
    assert_eq!((seen[0].totals.calls, seen[0].totals.failures), (13, 3));
}

#[test]
fn a_busy_breaker_does_not_trip_on_a_small_share_of_failures() {
    // The count alone would open it: 1,000 successes, then 5 failures (0.5 %).
    let rig = Rig::new(BreakerConfig::new(5, 10, 10.0, 1, 60.0).unwrap());
    rig.succeed(1_000);
    rig.fail(5);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    // A real outage: failures climb to half the window's calls.
    rig.fail(989);
    assert_eq!(rig.breaker.state(), CircuitState::Closed, "994 of 1994");
    rig.fail(6);
    assert_eq!(rig.breaker.state(), CircuitState::Open, "1000 of 2000");
}

#[test]
fn the_rate_condition_is_configurable_and_validated() {
    let strict = BreakerConfig::new(5, 10, 10.0, 1, 60.0)
        .unwrap()
        .with_failure_rate_threshold(0.05)
        .unwrap();
    let rig = Rig::new(strict);
    rig.succeed(95);
    rig.fail(4);
    assert_eq!(rig.breaker.state(), CircuitState::Closed, "4 < threshold 5");
    rig.fail(1); // 5 of 100: both conditions met
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    for bad in [0.0, -0.1, 1.01, f64::NAN, f64::INFINITY] {
        let err = config().with_failure_rate_threshold(bad).unwrap_err();
        assert!(err.to_string().contains("failure_rate_threshold"), "{err}");
    }
    assert!(config().with_failure_rate_threshold(1.0).is_ok());
}

#[test]
fn the_documents_example_still_trips_five_failures_in_ten_calls() {
    let rig = Rig::new(BreakerConfig::default());
    rig.succeed(5);
    rig.fail(5);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn an_open_breaker_reads_half_open_once_its_recovery_timeout_passed() {
    let rig = tripped(config());
    assert_eq!(rig.breaker.observed_state(), CircuitState::Open);
    rig.advance(RECOVERY - Duration::from_millis(1));
    assert_eq!(rig.breaker.observed_state(), CircuitState::Open);
    rig.advance(Duration::from_millis(1));
    // No call arrived: the stored state is still open, but every reader
    // (state queries, snapshots, health, metrics) sees half-open.
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert_eq!(rig.breaker.observed_state(), CircuitState::HalfOpen);
    let snapshot = rig.breaker.snapshot();
    assert_eq!(snapshot.state, CircuitState::HalfOpen);
    assert_eq!((snapshot.retry_after, snapshot.opened_ago), (None, None));
    // The next call moves it there for real, as a probe.
    let permit = rig.breaker.try_acquire().expect("a probe");
    assert!(permit.is_probe());
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
}

#[test]
fn successes_count_towards_the_floor() {
    let rig = Rig::new(config());
    rig.succeed(2);
    rig.fail(2);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    rig.fail(1); // 5 calls, 3 failures
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn failures_that_slid_out_of_the_window_do_not_trip() {
    let rig = Rig::new(config());
    rig.succeed(5);
    rig.fail(2);
    rig.advance(secs(60));
    rig.succeed(5);
    rig.fail(2);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
}

#[test]
fn open_rejects_with_retry_after_counting_down() {
    let rig = tripped(config());
    let reject = |left| {
        Err(Rejection {
            state: CircuitState::Open,
            retry_after: Some(left),
        })
    };
    assert_eq!(rig.breaker.try_acquire(), reject(RECOVERY));
    rig.advance(secs(4));
    assert_eq!(rig.breaker.try_acquire(), reject(secs(6)));
    rig.advance(secs(6) - Duration::from_nanos(1));
    assert_eq!(rig.breaker.try_acquire(), reject(Duration::from_nanos(1)));
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn after_recovery_the_next_acquire_goes_half_open_with_a_probe() {
    let rig = half_open();
    assert_eq!(
        rig.breaker.state(),
        CircuitState::Open,
        "moves only when asked"
    );
    let permit = rig.breaker.try_acquire().expect("probe admitted");
    assert!(permit.is_probe());
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
    assert_eq!(rig.recorder.transitions()[1].cause, Cause::RecoveryElapsed);
}

#[test]
fn half_open_admits_exactly_the_probe_budget() {
    let rig = half_open(); // 2 probes
    assert!(rig.breaker.try_acquire().unwrap().is_probe());
    assert!(rig.breaker.try_acquire().unwrap().is_probe());
    let busy = Rejection {
        state: CircuitState::HalfOpen,
        retry_after: Some(Duration::ZERO),
    };
    assert_eq!(rig.breaker.try_acquire(), Err(busy));
}

#[test]
fn closes_only_when_every_probe_succeeds() {
    let rig = half_open();
    let (a, b) = (
        rig.breaker.try_acquire().unwrap(),
        rig.breaker.try_acquire().unwrap(),
    );
    rig.breaker.on_success(a);
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
    rig.breaker.on_success(b);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    assert_eq!(
        rig.breaker.snapshot().totals.calls,
        0,
        "closing starts a fresh window"
    );
    assert!(!rig.breaker.try_acquire().unwrap().is_probe());
}

#[test]
fn one_failed_probe_reopens_and_restarts_the_timer() {
    let rig = half_open();
    let (a, b) = (
        rig.breaker.try_acquire().unwrap(),
        rig.breaker.try_acquire().unwrap(),
    );
    rig.advance(secs(3));
    rig.breaker.on_failure(a);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    let retry_after = rig.breaker.try_acquire().unwrap_err().retry_after;
    assert_eq!(
        retry_after,
        Some(RECOVERY),
        "timer restarts at the failure, not the trip"
    );
    // The other probe's late success is for a half-open that is gone.
    rig.breaker.on_success(b);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert_eq!(
        rig.recorder.transitions().last().unwrap().cause,
        Cause::ProbeFailed
    );
}

#[test]
fn release_hands_a_probe_slot_back() {
    let rig = half_open();
    let a = rig.breaker.try_acquire().unwrap();
    let _b = rig.breaker.try_acquire().unwrap();
    assert!(rig.breaker.try_acquire().is_err());
    rig.breaker.release(a);
    let c = rig.breaker.try_acquire().expect("the released slot");
    assert!(c.is_probe());
    assert!(rig.breaker.try_acquire().is_err());
}

#[test]
fn releasing_a_non_probe_or_stale_probe_changes_nothing() {
    let rig = half_open();
    let old = rig.breaker.try_acquire().unwrap();
    let other = rig.breaker.try_acquire().unwrap();
    rig.breaker.on_failure(other); // reopen; `old` is now stale
    rig.advance(RECOVERY);
    let _p1 = rig.breaker.try_acquire().unwrap();
    let _p2 = rig.breaker.try_acquire().unwrap();
    rig.breaker.release(old);
    assert!(
        rig.breaker.try_acquire().is_err(),
        "stale release freed no slot"
    );

    let closed = Rig::new(config());
    let permit = closed.breaker.try_acquire().unwrap();
    closed.breaker.release(permit);
    assert_eq!(closed.breaker.snapshot().generation, 0);
}

#[test]
fn stale_permits_from_an_older_generation_do_not_change_state() {
    let rig = Rig::new(config());
    let stale = rig.breaker.try_acquire().unwrap(); // closed, generation 0
    rig.fail(5);
    rig.advance(RECOVERY);
    let probe = rig.breaker.try_acquire().unwrap();
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
    assert!(!rig.breaker.still_admits(stale));
    assert!(rig.breaker.still_admits(probe));

    rig.breaker.on_failure(stale);
    assert_eq!(
        rig.breaker.state(),
        CircuitState::HalfOpen,
        "old failure is no probe failure"
    );
    rig.breaker.on_success(stale);
    rig.breaker.on_success(probe);
    assert_eq!(
        rig.breaker.state(),
        CircuitState::HalfOpen,
        "old success is no probe success"
    );
    assert_eq!(rig.breaker.snapshot().generation, 2);
}

#[test]
fn a_failure_observed_after_a_reset_counts_in_the_new_window() {
    // A retry loop admitted before an operator's reset keeps reporting: its
    // failures are the dependency's, observed now.
    let rig = Rig::new(BreakerConfig::new(1, 1, 10.0, 1, 60.0).unwrap());
    let earlier = rig.breaker.try_acquire().unwrap();
    rig.breaker.force_open();
    rig.breaker.reset();
    assert!(
        rig.breaker.still_admits(earlier),
        "closed again: calls flow"
    );
    rig.breaker.on_failure(earlier);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn force_close_during_a_retry_loop_lets_it_continue() {
    let rig = Rig::new(config());
    let permit = rig.breaker.try_acquire().unwrap();
    rig.breaker.force_close();
    assert!(rig.breaker.still_admits(permit));
    rig.breaker.force_open();
    assert!(!rig.breaker.still_admits(permit));
}

#[test]
fn forced_open_rejects_without_retry_after_until_reset() {
    let rig = Rig::new(config());
    rig.breaker.force_open();
    let refused = Err(Rejection {
        state: CircuitState::ForcedOpen,
        retry_after: None,
    });
    assert_eq!(rig.breaker.try_acquire(), refused);
    rig.advance(secs(3_600)); // no recovery timer applies
    assert_eq!(rig.breaker.try_acquire(), refused);
    let snap = rig.breaker.snapshot();
    assert_eq!(
        (snap.opened_ago, snap.retry_after),
        (Some(secs(3_600)), None)
    );
    rig.breaker.reset();
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    assert!(rig.breaker.try_acquire().is_ok());
}

#[test]
fn forced_closed_never_trips_but_still_counts() {
    let rig = Rig::new(config());
    rig.breaker.force_close();
    rig.fail(100);
    assert_eq!(rig.breaker.state(), CircuitState::ForcedClosed);
    assert_eq!(rig.breaker.snapshot().totals.failures, 100);
    rig.breaker.reset();
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    assert_eq!(
        rig.breaker.snapshot().totals.calls,
        0,
        "reset forgets the history"
    );
}

#[test]
fn operator_commands_that_change_no_state_emit_nothing() {
    let rig = Rig::new(config());
    rig.fail(2);
    rig.breaker.reset(); // closed already: only forgets the window
    let snap = rig.breaker.snapshot();
    assert_eq!(
        (snap.state, snap.totals.calls, snap.generation),
        (CircuitState::Closed, 0, 0)
    );
    assert!(rig.recorder.transitions().is_empty());
    for _ in 0..2 {
        rig.breaker.force_open();
    }
    for _ in 0..2 {
        rig.breaker.force_close();
    }
    assert_eq!(rig.breaker.snapshot().generation, 2, "repeats are no-ops");
    assert_eq!(rig.recorder.transitions().len(), 2);
}

#[test]
fn reconfigure_applies_new_thresholds_and_restarts_a_resized_window() {
    let rig = Rig::new(config());
    rig.fail(2);
    rig.breaker
        .reconfigure(BreakerConfig::new(3, 5, 10.0, 2, 60.0).unwrap());
    assert_eq!(
        rig.breaker.snapshot().totals.calls,
        2,
        "same span keeps counts"
    );

    let lenient = BreakerConfig::new(50, 50, 5.0, 1, 30.0).unwrap();
    rig.breaker.reconfigure(lenient);
    assert_eq!(
        rig.breaker.snapshot().totals.calls,
        0,
        "new span restarts the window"
    );
    assert_eq!(rig.breaker.snapshot().config, lenient);
    rig.fail(49);
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    rig.fail(1);
    assert_eq!(
        rig.breaker.try_acquire().unwrap_err().retry_after,
        Some(secs(5))
    );
}

#[test]
fn snapshot_reports_each_state() {
    let rig = Rig::new(config());
    rig.succeed(1);
    let snap = rig.breaker.snapshot();
    assert_eq!(
        (snap.state, snap.generation, snap.config),
        (CircuitState::Closed, 0, config())
    );
    assert_eq!((snap.totals.calls, snap.totals.failures), (1, 0));
    assert_eq!((snap.opened_ago, snap.retry_after), (None, None));

    rig.fail(4);
    rig.advance(secs(4));
    let snap = rig.breaker.snapshot();
    assert_eq!((snap.state, snap.generation), (CircuitState::Open, 1));
    assert_eq!((snap.totals.calls, snap.totals.failures), (5, 4));
    assert_eq!(
        (snap.opened_ago, snap.retry_after),
        (Some(secs(4)), Some(secs(6)))
    );

    rig.advance(secs(6));
    rig.breaker.try_acquire().unwrap();
    let snap = rig.breaker.snapshot();
    assert_eq!((snap.state, snap.generation), (CircuitState::HalfOpen, 2));
    assert_eq!((snap.opened_ago, snap.retry_after), (None, None));
}

#[test]
fn observer_sees_every_transition_in_generation_order() {
    let rig = half_open();
    let probe = rig.breaker.try_acquire().unwrap();
    rig.breaker.on_failure(probe);
    rig.advance(RECOVERY);
    let (a, b) = (
        rig.breaker.try_acquire().unwrap(),
        rig.breaker.try_acquire().unwrap(),
    );
    rig.breaker.on_success(a);
    rig.breaker.on_success(b);
    rig.breaker.force_open();
    rig.breaker.force_close();
    rig.breaker.reset();

    use CircuitState::*;
    let expected = [
        (Closed, Open, Cause::Trip),
        (Open, HalfOpen, Cause::RecoveryElapsed),
        (HalfOpen, Open, Cause::ProbeFailed),
        (Open, HalfOpen, Cause::RecoveryElapsed),
        (HalfOpen, Closed, Cause::ProbesSucceeded),
        (Closed, ForcedOpen, Cause::ForceOpen),
        (ForcedOpen, ForcedClosed, Cause::ForceClose),
        (ForcedClosed, Closed, Cause::Reset),
    ];
    let seen = rig.recorder.transitions();
    assert_eq!(seen.len(), expected.len());
    for (i, (t, (from, to, cause))) in seen.iter().zip(expected).enumerate() {
        assert_eq!((t.from, t.to, t.cause), (from, to, cause), "transition {i}");
        assert_eq!(t.generation, i as u64 + 1);
        assert_eq!(&*t.name, "dep");
    }
}

#[test]
fn config_rejects_zero_counts_and_non_positive_durations() {
    assert!(BreakerConfig::new(0, 1, 1.0, 1, 1.0).is_err());
    assert!(BreakerConfig::new(1, 0, 1.0, 1, 1.0).is_err());
    assert!(BreakerConfig::new(1, 1, 0.0, 1, 1.0).is_err());
    assert!(BreakerConfig::new(1, 1, 1.0, 0, 1.0).is_err());
    assert!(BreakerConfig::new(1, 1, 1.0, 1, -1.0).is_err());
    assert!(BreakerConfig::new(1, 1, f64::NAN, 1, 1.0).is_err());
    assert!(BreakerConfig::new(1, 1, 1.0, 1, f64::INFINITY).is_err());
    let err = BreakerConfig::new(1, 1, 1.0, 1, 0.0).unwrap_err();
    assert_eq!(err.key, "window_seconds");
}
