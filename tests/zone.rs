//! The per-call state machine: admission, retries, breaker bookkeeping and
//! the wall-clock bound, stepped through by hand as a driver would.

mod common;

use baldur::core::breaker::{BreakerConfig, CircuitState};
use baldur::core::protect::{CallState, GiveUp, Next, Verdict, Zone, ZoneDefaults};
use baldur::core::retry::{Backoff, Jitter, RetryPolicy};
use common::{tripped, Rig};
use std::time::Duration;

const RETRYABLE: Verdict = Verdict::Retryable { server_delay: None };

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `attempts` attempts, 100 ms doubling to 1 s with full jitter; the zone's
/// random source is pinned at 0.5, so the waits are 50, 100, 200 ... ms.
fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap()).unwrap()
}

/// A breaker that never trips on its own (floor and threshold out of reach).
fn lenient() -> BreakerConfig {
    BreakerConfig::new(1_000, 1_000, 10.0, 1, 60.0).unwrap()
}

fn zone(rig: &Rig, attempts: u32, timeout: Option<Duration>) -> Zone {
    Zone::new(
        Some(rig.breaker.clone()),
        policy(attempts),
        timeout,
        rig.clock.clone(),
    )
    .with_random(|| 0.5)
}

/// Begins a call and starts its first attempt, as every driver does.
fn start(zone: &Zone) -> CallState {
    let mut call = zone.begin().expect("admitted");
    zone.start_attempt(&mut call).expect("within the bound");
    call
}

/// After `Next::Retry`, the driver sleeps and starts the next attempt.
fn retry(zone: &Zone, call: &mut CallState) {
    zone.start_attempt(call).expect("within the bound");
}

fn totals(rig: &Rig) -> (u64, u64) {
    let t = rig.breaker.snapshot().totals;
    (t.calls, t.failures)
}

#[test]
fn begin_starts_no_attempt_until_the_driver_does() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let mut call = zone.begin().unwrap();
    assert_eq!((call.attempts(), call.is_probe()), (0, false));
    assert_eq!(zone.start_attempt(&mut call), Ok(None), "unbounded zone");
    assert_eq!(call.attempts(), 1);
}

#[test]
fn success_is_recorded_on_the_breaker() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let call = start(&zone);
    zone.succeeded(&call);
    assert_eq!(totals(&rig), (1, 0));
}

#[test]
fn retryable_failures_retry_with_backoff_until_attempts_run_out() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let mut call = start(&zone);
    assert_eq!(zone.failed(&mut call, RETRYABLE), Next::Retry(ms(50)));
    retry(&zone, &mut call);
    assert_eq!(call.attempts(), 2);
    assert_eq!(zone.failed(&mut call, RETRYABLE), Next::Retry(ms(100)));
    retry(&zone, &mut call);
    assert_eq!(call.attempts(), 3);
    assert_eq!(
        zone.failed(&mut call, RETRYABLE),
        Next::GiveUp(GiveUp::Exhausted)
    );
    assert_eq!(totals(&rig), (3, 3), "each attempt counts once");
}

#[test]
fn success_after_a_retry_counts_one_failure_and_one_success() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let mut call = start(&zone);
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    retry(&zone, &mut call);
    zone.succeeded(&call);
    assert_eq!(totals(&rig), (2, 1));
}

#[test]
fn server_delay_replaces_the_schedule() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let mut call = start(&zone);
    let verdict = Verdict::Retryable {
        server_delay: Some(ms(300)),
    };
    assert_eq!(zone.failed(&mut call, verdict), Next::Retry(ms(300)));
}

#[test]
fn fatal_gives_up_at_once_and_counts_a_failure() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert_eq!(
        zone.failed(&mut call, Verdict::Fatal),
        Next::GiveUp(GiveUp::Exhausted)
    );
    assert_eq!(call.attempts(), 1);
    assert_eq!(totals(&rig), (1, 1));
}

#[test]
fn not_a_failure_propagates_and_counts_as_a_success() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert_eq!(
        zone.failed(&mut call, Verdict::NotAFailure),
        Next::Propagate
    );
    assert_eq!(totals(&rig), (1, 0));
}

#[test]
fn abort_propagates_counts_nothing_and_returns_the_probe_slot() {
    let rig = tripped(BreakerConfig::new(3, 5, 10.0, 1, 60.0).unwrap()); // 1 probe
    rig.advance(Duration::from_secs(10));
    let zone = zone(&rig, 3, None);
    let mut call = start(&zone);
    assert!(call.is_probe());
    assert!(zone.begin().is_err(), "the only probe slot is taken");
    let before = totals(&rig);
    assert_eq!(zone.failed(&mut call, Verdict::Abort), Next::Propagate);
    assert_eq!(totals(&rig), before);
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
    assert!(start(&zone).is_probe(), "the slot came back");
}

#[test]
fn breaker_tripping_on_this_call_gives_up_with_circuit_opened() {
    let rig = Rig::new(BreakerConfig::new(2, 2, 10.0, 1, 60.0).unwrap());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    retry(&zone, &mut call);
    assert_eq!(
        zone.failed(&mut call, RETRYABLE),
        Next::GiveUp(GiveUp::CircuitOpened)
    );
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn breaker_opened_by_other_calls_mid_loop_gives_up_with_circuit_opened() {
    let rig = Rig::new(BreakerConfig::new(3, 3, 10.0, 1, 60.0).unwrap());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    rig.fail(2); // other callers trip it while this one sleeps
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    // The next attempt is refused before it reaches the dependency.
    assert_eq!(zone.start_attempt(&mut call), Err(GiveUp::CircuitOpened));
    assert_eq!(call.attempts(), 1);
}

#[test]
fn breaker_opened_during_the_wait_is_seen_before_the_next_attempt() {
    let rig = Rig::new(BreakerConfig::new(3, 3, 10.0, 1, 60.0).unwrap());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    assert!(zone.still_admitted(&call), "nothing changed yet");
    rig.fail(2); // other callers trip it while this one sleeps
    assert!(
        !zone.still_admitted(&call),
        "no further attempt once it opened"
    );
}

#[test]
fn operator_opening_the_breaker_during_the_wait_is_seen() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    rig.breaker.force_open();
    assert!(!zone.still_admitted(&call));
}

#[test]
fn zone_without_a_breaker_always_admits() {
    let rig = Rig::new(lenient());
    let zone = Zone::new(None, policy(3), None, rig.clock.clone());
    let call = start(&zone);
    assert!(zone.still_admitted(&call));
}

#[test]
fn failed_probe_gives_up_instead_of_retrying() {
    let rig = tripped(BreakerConfig::new(3, 5, 10.0, 1, 60.0).unwrap());
    rig.advance(Duration::from_secs(10));
    let zone = zone(&rig, 5, None);
    let mut call = start(&zone);
    assert_eq!(
        zone.failed(&mut call, RETRYABLE),
        Next::GiveUp(GiveUp::CircuitOpened)
    );
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn begin_on_an_open_breaker_is_rejected() {
    let rig = tripped(BreakerConfig::new(3, 5, 10.0, 1, 60.0).unwrap());
    let zone = zone(&rig, 3, Some(ms(500)));
    let rejection = zone.begin().unwrap_err();
    assert_eq!(rejection.state, CircuitState::Open);
    assert_eq!(rejection.retry_after, Some(Duration::from_secs(10)));
}

#[test]
fn attempt_budget_shrinks_as_time_passes_then_times_out() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 5, Some(Duration::from_secs(1)));
    let mut call = zone.begin().unwrap();
    assert_eq!(
        zone.start_attempt(&mut call),
        Ok(Some(Duration::from_secs(1)))
    );
    rig.advance(ms(300));
    assert_eq!(zone.start_attempt(&mut call), Ok(Some(ms(700))));
    rig.advance(ms(700) - Duration::from_nanos(1));
    assert_eq!(
        zone.start_attempt(&mut call),
        Ok(Some(Duration::from_nanos(1)))
    );
    rig.advance(Duration::from_nanos(1));
    assert_eq!(zone.start_attempt(&mut call), Err(GiveUp::TimedOut));
    assert_eq!(call.attempts(), 3, "the refused attempt never started");
    assert_eq!(
        totals(&rig),
        (0, 0),
        "running out between attempts is no failure"
    );
}

#[test]
fn attempt_budget_running_out_returns_the_probe_slot() {
    let rig = tripped(BreakerConfig::new(3, 5, 10.0, 1, 60.0).unwrap());
    rig.advance(Duration::from_secs(10));
    let zone = zone(&rig, 3, Some(ms(100)));
    let mut call = zone.begin().unwrap();
    assert!(call.is_probe());
    rig.advance(ms(100));
    assert_eq!(zone.start_attempt(&mut call), Err(GiveUp::TimedOut));
    assert!(start(&zone).is_probe());
}

#[test]
fn unbounded_zone_has_no_attempt_budget() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 3, None);
    let mut call = zone.begin().unwrap();
    rig.advance(Duration::from_secs(86_400));
    assert_eq!(zone.start_attempt(&mut call), Ok(None));
}

#[test]
fn process_default_timeout_applies_unless_the_zone_names_one() {
    let rig = Rig::new(lenient());
    let defaults = std::sync::Arc::new(ZoneDefaults::default());
    let unbounded = zone(&rig, 3, None).with_defaults(defaults.clone());
    let bounded = zone(&rig, 3, Some(ms(200))).with_defaults(defaults.clone());
    assert_eq!(unbounded.timeout(), None);
    defaults.set_timeout(Some(Duration::from_secs(2)));
    assert_eq!(unbounded.timeout(), Some(Duration::from_secs(2)));
    assert_eq!(bounded.timeout(), Some(ms(200)), "the callsite's own wins");
    let mut call = unbounded.begin().unwrap();
    rig.advance(Duration::from_secs(2));
    assert_eq!(unbounded.start_attempt(&mut call), Err(GiveUp::TimedOut));
}

#[test]
fn retry_delay_that_would_cross_the_deadline_gives_up_timed_out() {
    let rig = Rig::new(lenient());
    let zone = zone(&rig, 5, Some(Duration::from_secs(1)));
    let mut call = start(&zone);
    rig.advance(ms(899));
    let delay = |d| Verdict::Retryable {
        server_delay: Some(ms(d)),
    };
    assert_eq!(
        zone.failed(&mut call, delay(100)),
        Next::Retry(ms(100)),
        "ends 1 ms early"
    );
    rig.advance(ms(100));
    retry(&zone, &mut call);
    // Now at 999 ms: a 1 ms wait would start the next attempt at the deadline.
    assert_eq!(
        zone.failed(&mut call, delay(1)),
        Next::GiveUp(GiveUp::TimedOut)
    );
    assert_eq!(call.attempts(), 2);
    assert_eq!(totals(&rig), (2, 2), "the failure is still counted");
}

#[test]
fn timed_out_attempt_counts_as_a_breaker_failure() {
    let rig = Rig::new(BreakerConfig::new(2, 2, 10.0, 1, 60.0).unwrap());
    let zone = zone(&rig, 1, Some(ms(100)));
    let call = start(&zone);
    rig.advance(ms(150));
    assert_eq!(zone.timed_out(&call), GiveUp::TimedOut);
    assert_eq!(totals(&rig), (1, 1));
    let call = start(&zone);
    zone.timed_out(&call);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn zone_without_a_breaker_still_retries_and_times_out() {
    let (clock, shared) = baldur::core::clock::ManualClock::shared();
    let zone = Zone::new(None, policy(2), Some(Duration::from_secs(1)), shared).with_random(|| 0.5);
    assert!(zone.breaker().is_none());
    assert_eq!(zone.timeout(), Some(Duration::from_secs(1)));
    assert_eq!(zone.retry().attempts(), 2);

    let mut call = start(&zone);
    assert!(!call.is_probe());
    assert_eq!(zone.failed(&mut call, RETRYABLE), Next::Retry(ms(50)));
    retry(&zone, &mut call);
    assert_eq!(
        zone.failed(&mut call, RETRYABLE),
        Next::GiveUp(GiveUp::Exhausted)
    );
    assert_eq!(
        zone.failed(&mut call, Verdict::NotAFailure),
        Next::Propagate
    );
    assert_eq!(zone.failed(&mut call, Verdict::Abort), Next::Propagate);
    zone.succeeded(&call);

    clock.advance(Duration::from_secs(1));
    assert_eq!(zone.start_attempt(&mut call), Err(GiveUp::TimedOut));
    assert_eq!(zone.timed_out(&call), GiveUp::TimedOut);
}

#[test]
fn give_up_reasons_have_stable_public_names() {
    assert_eq!(GiveUp::Exhausted.as_str(), "exhausted");
    assert_eq!(GiveUp::CircuitOpened.as_str(), "circuit_open");
    assert_eq!(GiveUp::TimedOut.as_str(), "timeout");
}
