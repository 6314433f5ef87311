//! The zone spends retries from the retry budget its breaker counts: a
//! refused retry ends the call as exhausted; calls of the last 10 s earn
//! retries, and age out.

mod common;

use baldur::core::breaker::machine::RETRY_BUDGET_SPAN;
use baldur::core::breaker::BreakerConfig;
use baldur::core::protect::{GiveUp, Next, Verdict, Zone};
use baldur::core::retry::budget::{BudgetSetting, RetryBudget, SPAN};
use baldur::core::retry::{Backoff, Jitter, RetryPolicy};
use common::Rig;
use std::time::Duration;

const RETRYABLE: Verdict = Verdict::Retryable { server_delay: None };

fn lenient() -> BreakerConfig {
    BreakerConfig::new(1_000, 1_000, 10.0, 1, 60.0).unwrap()
}

fn zone(rig: &Rig, budget: &'static BudgetSetting) -> Zone {
    let retry = RetryPolicy::new(3, Backoff::new(0.0, 0.0, 2.0, Jitter::Full).unwrap()).unwrap();
    Zone::new(Some(rig.breaker.clone()), retry, None, rig.clock.clone())
        .with_random(|| 0.5)
        .with_retry_budget(budget)
}

/// One call that fails every attempt: the attempts it made, and how it ended.
fn failing_call(zone: &Zone) -> (u32, GiveUp) {
    let mut call = zone.begin().expect("admitted");
    loop {
        zone.start_attempt(&mut call).expect("unbounded");
        match zone.failed(&mut call, RETRYABLE) {
            Next::Retry(_) => continue,
            Next::GiveUp(how) => return (call.attempts(), how),
            Next::Propagate => panic!("a retryable failure propagated"),
        }
    }
}

fn succeeding_call(zone: &Zone) {
    let mut call = zone.begin().expect("admitted");
    zone.start_attempt(&mut call).expect("unbounded");
    zone.succeeded(&call);
}

#[test]
fn the_breaker_counts_over_the_budgets_span() {
    assert_eq!(RETRY_BUDGET_SPAN, SPAN);
}

#[test]
fn a_spent_budget_ends_the_call_as_exhausted() {
    static BUDGET: BudgetSetting = BudgetSetting::new();
    BUDGET.set(Some(RetryBudget::new(0.0, 0.2).unwrap())); // 2 retries in 10 s
    let rig = Rig::new(lenient());
    let zone = zone(&rig, &BUDGET);
    assert_eq!(failing_call(&zone), (3, GiveUp::Exhausted), "2 retries");
    assert_eq!(failing_call(&zone), (1, GiveUp::Exhausted), "none left");
    assert_eq!(zone.counters().snapshot().retries_refused, 1);
}

#[test]
fn calls_earn_retries_and_age_out() {
    static BUDGET: BudgetSetting = BudgetSetting::new();
    BUDGET.set(Some(RetryBudget::new(0.5, 0.0).unwrap()));
    let rig = Rig::new(lenient());
    let zone = zone(&rig, &BUDGET);
    for _ in 0..3 {
        succeeding_call(&zone);
    }
    // 4 calls (this one too) at 50%: 2 retries.
    assert_eq!(failing_call(&zone).0, 3);
    rig.advance(SPAN + Duration::from_secs(1));
    assert_eq!(
        failing_call(&zone).0,
        1,
        "the calls that earned them aged out"
    );
}

#[test]
fn no_budget_leaves_the_retry_policy_alone() {
    static BUDGET: BudgetSetting = BudgetSetting::new();
    BUDGET.set(None);
    let rig = Rig::new(lenient());
    let zone = zone(&rig, &BUDGET);
    for _ in 0..100 {
        assert_eq!(failing_call(&zone).0, 3);
    }
    assert_eq!(zone.counters().snapshot().retries_refused, 0);
}

#[test]
fn a_zone_without_retries_counts_nothing() {
    static BUDGET: BudgetSetting = BudgetSetting::new();
    let rig = Rig::new(lenient());
    let once = Zone::new(
        Some(rig.breaker.clone()),
        RetryPolicy::once(),
        None,
        rig.clock.clone(),
    )
    .with_retry_budget(&BUDGET);
    succeeding_call(&once);
    assert_eq!(rig.breaker.retry_counts(), (0, 0));
}
