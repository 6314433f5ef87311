//! The operational counters: how a zone's calls are counted by outcome, the
//! cap on domain labels, and the bounded endpoint table.

mod common;

use baldur::core::breaker::{BreakerConfig, CircuitState};
use baldur::core::metrics::{
    normalise_path, CallOutcome, EndpointTable, MetricsRegistry, ZoneCounters, OVERFLOW_DOMAIN,
    UNMATCHED_ROUTE,
};
use baldur::core::protect::{GiveUp, Next, Verdict, Zone};
use baldur::core::retry::{Backoff, Jitter, RetryPolicy};
use common::Rig;
use std::sync::Arc;
use std::time::Duration;

const RETRYABLE: Verdict = Verdict::Retryable { server_delay: None };

fn counted_zone(rig: &Rig, attempts: u32, timeout: Option<Duration>) -> (Zone, Arc<ZoneCounters>) {
    let policy =
        RetryPolicy::new(attempts, Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap()).unwrap();
    let counters = Arc::<ZoneCounters>::default();
    let zone = Zone::new(
        Some(rig.breaker.clone()),
        policy,
        timeout,
        rig.clock.clone(),
    )
    .with_random(|| 0.5)
    .with_counters(counters.clone());
    (zone, counters)
}

/// A breaker that trips on the second failure.
fn tight() -> BreakerConfig {
    BreakerConfig::new(2, 2, 10.0, 1, 60.0).unwrap()
}

fn lenient() -> BreakerConfig {
    BreakerConfig::new(1_000, 1_000, 10.0, 1, 60.0).unwrap()
}

#[test]
fn a_success_counts_one_call_and_one_attempt() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 3, None);
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    zone.succeeded(&call);
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::Success), 1);
    assert_eq!(snap.attempts, 1);
    assert_eq!(snap.calls.iter().sum::<u64>(), 1);
}

#[test]
fn a_retried_success_counts_every_attempt_and_one_call() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 3, None);
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    zone.start_attempt(&mut call).unwrap();
    zone.succeeded(&call);
    let snap = counters.snapshot();
    assert_eq!(snap.attempts, 2);
    assert_eq!(snap.calls(CallOutcome::Success), 1);
    assert_eq!(snap.calls(CallOutcome::Failure), 0);
}

#[test]
fn exhausted_retries_count_one_failure() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 2, None);
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    zone.start_attempt(&mut call).unwrap();
    assert_eq!(
        zone.failed(&mut call, RETRYABLE),
        Next::GiveUp(GiveUp::Exhausted)
    );
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::Failure), 1);
    assert_eq!(snap.attempts, 2);
}

#[test]
fn an_open_breaker_counts_a_rejection_and_nothing_reaches_the_dependency() {
    let rig = Rig::new(tight());
    let (zone, counters) = counted_zone(&rig, 1, None);
    for _ in 0..2 {
        let mut call = zone.begin().unwrap();
        zone.start_attempt(&mut call).unwrap();
        zone.failed(&mut call, Verdict::Fatal);
    }
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert!(zone.begin().is_err());
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::Failure), 2);
    assert_eq!(snap.calls(CallOutcome::Rejected), 1);
    assert_eq!(snap.attempts, 2, "a rejected call reaches nothing");
}

#[test]
fn a_timeout_before_the_next_attempt_counts_one_timeout() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 5, Some(Duration::from_millis(120)));
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    assert!(matches!(zone.failed(&mut call, RETRYABLE), Next::Retry(_)));
    rig.clock.advance(Duration::from_millis(200));
    assert_eq!(zone.start_attempt(&mut call), Err(GiveUp::TimedOut));
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::Timeout), 1);
    assert_eq!(snap.calls(CallOutcome::Failure), 0);
}

#[test]
fn an_attempt_outliving_the_bound_counts_one_timeout() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 1, Some(Duration::from_secs(1)));
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    zone.timed_out(&call);
    assert_eq!(counters.snapshot().calls(CallOutcome::Timeout), 1);
}

#[test]
fn not_a_failure_and_abort_have_their_own_outcomes() {
    let rig = Rig::new(lenient());
    let (zone, counters) = counted_zone(&rig, 3, None);
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    assert_eq!(
        zone.failed(&mut call, Verdict::NotAFailure),
        Next::Propagate
    );
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    assert_eq!(zone.failed(&mut call, Verdict::Abort), Next::Propagate);
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::NotAFailure), 1);
    assert_eq!(snap.calls(CallOutcome::Aborted), 1);
    assert_eq!(snap.calls(CallOutcome::Success), 0);
}

#[test]
fn counters_count_fallbacks_transitions_and_duplicates() {
    let counters = ZoneCounters::default();
    counters.fallback();
    counters.transition(CircuitState::Open);
    counters.transition(CircuitState::Open);
    counters.transition(CircuitState::HalfOpen);
    counters.idempotency_duplicate();
    let snap = counters.snapshot();
    assert_eq!(snap.fallbacks, 1);
    assert_eq!(snap.transitions_to(CircuitState::Open), 2);
    assert_eq!(snap.transitions_to(CircuitState::HalfOpen), 1);
    assert_eq!(snap.transitions_to(CircuitState::Closed), 0);
    assert_eq!(snap.idempotency_duplicates, 1);
}

#[test]
fn one_name_one_series() {
    let registry = MetricsRegistry::with_max_domains(3);
    let a = registry.zone("payments");
    let b = registry.zone("payments");
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn domains_beyond_the_cap_share_the_overflow_series() {
    let registry = MetricsRegistry::with_max_domains(2);
    registry.zone("a").call(CallOutcome::Success);
    registry.zone("b").call(CallOutcome::Success);
    registry.zone("c").call(CallOutcome::Success);
    registry.zone("d").call(CallOutcome::Failure);
    assert!(registry.has_own_series("a"));
    assert!(!registry.has_own_series("c"));
    let series = registry.snapshot();
    let labels: Vec<&str> = series.iter().map(|(l, _)| l.as_ref()).collect();
    assert_eq!(labels, ["a", "b", OVERFLOW_DOMAIN]);
    let overflow = &series[2].1;
    assert_eq!(overflow.calls(CallOutcome::Success), 1);
    assert_eq!(overflow.calls(CallOutcome::Failure), 1);
    assert_eq!(registry.overflowed_lookups(), 2);
}

#[test]
fn no_overflow_series_until_a_name_overflows() {
    let registry = MetricsRegistry::with_max_domains(2);
    registry.zone("a");
    assert_eq!(registry.snapshot().len(), 1);
}

#[test]
fn dlq_replays_are_counted_by_result() {
    let registry = MetricsRegistry::default();
    registry.global.dlq_replay(true);
    registry.global.dlq_replay(true);
    registry.global.dlq_replay(false);
    assert_eq!(registry.global.dlq_replays(), (2, 1));
}

#[test]
fn per_id_segments_become_id() {
    assert_eq!(normalise_path("/orders/42"), "/orders/{id}");
    assert_eq!(
        normalise_path("/orders/42/items/7"),
        "/orders/{id}/items/{id}"
    );
    assert_eq!(
        normalise_path("/u/3f2b8c1e-9d4a-4f6b-8a2e-1c3d5e7f9a0b/x"),
        "/u/{id}/x"
    );
    assert_eq!(
        normalise_path("/blob/9f86d081884c7d659a2feaa0c55ad015"),
        "/blob/{id}"
    );
    assert_eq!(normalise_path("/t/a8Fz93kLq0x1"), "/t/{id}");
    assert_eq!(normalise_path("/orders/42?page=2"), "/orders/{id}");
}

#[test]
fn words_are_not_ids() {
    assert_eq!(normalise_path("/api/baldur/health/"), "/api/baldur/health/");
    assert_eq!(normalise_path("/v2/users"), "/v2/users");
    assert_eq!(normalise_path("/deadbeef"), "/deadbeef");
    assert_eq!(normalise_path(""), "/");
}

#[test]
fn unmatched_routes_share_one_series() {
    let table = EndpointTable::with_capacity(10);
    table.record("get", None, 404, 0.01);
    table.record("GET", None, 404, 0.01);
    let rows = table.snapshot();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, ("GET".to_owned(), UNMATCHED_ROUTE.to_owned()));
    assert_eq!(rows[0].1.by_class[3], 2);
}

#[test]
fn requests_count_by_status_class_and_time() {
    let table = EndpointTable::with_capacity(10);
    table.record("GET", Some("/orders/1"), 200, 0.5);
    table.record("GET", Some("/orders/2"), 503, 0.25);
    let rows = table.snapshot();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.by_class, [0, 1, 0, 0, 1]);
    assert!((rows[0].1.duration_sum - 0.75).abs() < 1e-9);
    assert_eq!(rows[0].1.total(), 2);
}

#[test]
fn the_least_recently_seen_endpoint_is_evicted_at_the_cap() {
    let table = EndpointTable::with_capacity(2);
    table.record("GET", Some("/a"), 200, 0.0);
    table.record("GET", Some("/b"), 200, 0.0);
    table.record("GET", Some("/a"), 200, 0.0); // /a is now the fresher
    table.record("GET", Some("/c"), 200, 0.0);
    let routes: Vec<String> = table.snapshot().into_iter().map(|r| r.0 .1).collect();
    assert_eq!(routes, ["/a", "/c"]);
    assert_eq!(table.evicted(), 1);
}

#[test]
fn a_raised_domain_cap_gives_new_names_their_own_series() {
    let registry = MetricsRegistry::with_max_domains(1);
    registry.zone("a");
    registry.zone("b");
    assert!(!registry.has_own_series("b"));
    registry.set_max_domains(3);
    registry.zone("c");
    assert!(registry.has_own_series("c"));
}

#[test]
fn a_lowered_endpoint_cap_evicts_down_to_it() {
    let table = EndpointTable::with_capacity(3);
    for route in ["/a", "/b", "/c"] {
        table.record("GET", Some(route), 200, 0.0);
    }
    table.set_capacity(1);
    table.record("GET", Some("/d"), 200, 0.0);
    let routes: Vec<String> = table.snapshot().into_iter().map(|r| r.0 .1).collect();
    assert_eq!(routes, ["/d"]);
    assert_eq!(table.evicted(), 3);
}

#[test]
fn a_tally_counts_and_a_level_never_reads_below_zero() {
    use baldur::core::metrics::{Level, Tally};
    let tally = Tally::default();
    tally.bump();
    tally.bump();
    assert_eq!(tally.get(), 2);
    let level = Level::new();
    level.add(1);
    level.add(-2); // a stray extra release
    assert_eq!(level.get(), 0);
    level.add(2);
    assert_eq!(level.get(), 1);
}
