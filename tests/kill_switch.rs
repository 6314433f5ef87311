//! The kill switch: the record it keeps, and a zone's calls passing
//! straight through while it is off.

mod common;

use baldur::core::breaker::{BreakerConfig, CircuitState};
use baldur::core::control::KillSwitch;
use baldur::core::metrics::{CallOutcome, ZoneCounters};
use baldur::core::protect::{Next, Verdict, Zone};
use baldur::core::retry::{Backoff, Jitter, RetryPolicy};
use common::Rig;
use std::sync::Arc;
use std::time::Duration;

fn leaked() -> &'static KillSwitch {
    Box::leak(Box::new(KillSwitch::new()))
}

fn zone(rig: &Rig, switch: &'static KillSwitch) -> (Zone, Arc<ZoneCounters>) {
    let policy = RetryPolicy::new(3, Backoff::new(0.1, 1.0, 2.0, Jitter::Full).unwrap()).unwrap();
    let counters = Arc::<ZoneCounters>::default();
    let zone = Zone::new(
        Some(rig.breaker.clone()),
        policy,
        Some(Duration::from_secs(1)),
        rig.clock.clone(),
    )
    .with_counters(counters.clone())
    .with_kill_switch(switch);
    (zone, counters)
}

#[test]
fn starts_enabled_with_no_record() {
    let switch = KillSwitch::new();
    assert!(switch.is_enabled());
    assert_eq!(switch.record(), None);
}

#[test]
fn disable_records_who_why_and_when_and_enable_clears_it() {
    let switch = KillSwitch::new();
    switch
        .disable(" incident 42 ", "alice", 1_700_000_000.5)
        .unwrap();
    assert!(!switch.is_enabled());
    let record = switch.record().unwrap();
    assert_eq!(record.reason, "incident 42");
    assert_eq!(record.actor, "alice");
    assert_eq!(record.at, 1_700_000_000.5);
    assert_eq!(switch.enable(), Some(record));
    assert!(switch.is_enabled());
    assert_eq!(switch.record(), None);
    assert_eq!(switch.changes(), 2);
}

#[test]
fn a_reason_and_an_actor_are_required() {
    let switch = KillSwitch::new();
    assert!(switch
        .disable("  ", "alice", 0.0)
        .unwrap_err()
        .contains("reason"));
    assert!(switch
        .disable("why", "", 0.0)
        .unwrap_err()
        .contains("actor"));
    assert!(switch.is_enabled());
}

#[test]
fn enabling_an_enabled_switch_changes_nothing() {
    let switch = KillSwitch::new();
    assert_eq!(switch.enable(), None);
    assert_eq!(switch.changes(), 0);
}

#[test]
fn a_disabled_zone_admits_through_an_open_breaker_and_counts_a_pass_through() {
    let rig = Rig::new(BreakerConfig::new(1, 1, 10.0, 1, 60.0).unwrap());
    let switch = leaked();
    let (zone, counters) = zone(&rig, switch);
    rig.breaker.force_open();
    assert!(zone.begin().is_err());
    switch.disable("incident", "ops", 0.0).unwrap();
    let mut call = zone.begin().expect("disabled: no breaker");
    assert!(call.is_passthrough());
    assert_eq!(zone.start_attempt(&mut call), Ok(None), "no bound either");
    zone.succeeded(&call);
    let snap = counters.snapshot();
    assert_eq!(snap.calls(CallOutcome::PassedThrough), 1);
    assert_eq!(snap.calls(CallOutcome::Success), 0);
    assert_eq!(snap.calls(CallOutcome::Rejected), 1);
    assert_eq!(rig.breaker.state(), CircuitState::ForcedOpen);
}

#[test]
fn a_disabled_zone_never_retries_and_leaves_the_breaker_alone() {
    let rig = Rig::new(BreakerConfig::new(1, 1, 10.0, 1, 60.0).unwrap());
    let switch = leaked();
    let (zone, counters) = zone(&rig, switch);
    switch.disable("incident", "ops", 0.0).unwrap();
    let mut call = zone.begin().unwrap();
    zone.start_attempt(&mut call).unwrap();
    let retryable = Verdict::Retryable { server_delay: None };
    assert_eq!(zone.failed(&mut call, retryable), Next::Propagate);
    assert_eq!(
        rig.breaker.state(),
        CircuitState::Closed,
        "no failure recorded"
    );
    assert_eq!(rig.breaker.snapshot().totals.calls, 0);
    assert_eq!(counters.snapshot().attempts, 0);
}

#[test]
fn re_enabled_zones_are_protected_again() {
    let rig = Rig::new(BreakerConfig::new(1, 1, 10.0, 1, 60.0).unwrap());
    let switch = leaked();
    let (zone, _) = zone(&rig, switch);
    switch.disable("incident", "ops", 0.0).unwrap();
    switch.enable();
    let call = zone.begin().unwrap();
    assert!(!call.is_passthrough());
}
