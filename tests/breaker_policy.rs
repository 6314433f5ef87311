//! The rules a breaker decides by, on their own: the local trip policy and
//! probe budget over the breaker's window, and the fleet's over its link
//! (the fleet's counts, the probe slots the store leased), on a manual clock.

use baldur::core::breaker::policy::{LocalPolicy, ProbeBudget, Probes, TripPolicy};
use baldur::core::breaker::shared::{Inbox, SharedLink};
use baldur::core::breaker::{BreakerConfig, CircuitState};
use baldur::core::clock::{Clock, ManualClock};
use baldur::core::window::{SlidingWindow, Totals};
use std::time::Duration;

const WINDOW: Duration = Duration::from_secs(60);

/// threshold 3 failures, floor 5 calls, 2 probes, 60 s window, rate 50 %.
fn config() -> BreakerConfig {
    BreakerConfig::new(3, 5, 10.0, 2, WINDOW.as_secs_f64()).unwrap()
}

fn record(window: &SlidingWindow, clock: &ManualClock, calls: u32, failures: u32) {
    for i in 0..calls {
        window.record(clock.now(), i < failures);
    }
}

/// A link that heard from the store: `fleet` counts, `leased` probe slots.
fn connected(fleet: Totals, leased: u32) -> SharedLink {
    let link = SharedLink::new();
    link.set_enabled(true);
    link.sync_succeeded(&Inbox {
        state: CircuitState::HalfOpen,
        version: 1,
        open_remaining_ms: 0,
        fleet,
        held_probes: leased,
        incarnation: 1,
        budget: None,
    });
    assert!(link.is_connected());
    link
}

#[test]
fn the_local_rule_needs_the_floor_the_count_and_the_rate() {
    let clock = ManualClock::new();
    let window = SlidingWindow::new(WINDOW);
    let trips = || LocalPolicy.trips(&config(), &window, clock.now());
    record(&window, &clock, 4, 4);
    assert!(!trips(), "4 calls: under the floor of 5");
    record(&window, &clock, 1, 0);
    assert!(trips(), "5 calls, 4 failures: 80 %");
    record(&window, &clock, 4, 0);
    assert!(!trips(), "9 calls, 4 failures: 44 % is under 50 %");
}

#[test]
fn the_local_rule_forgets_failures_that_slid_out_of_the_window() {
    let clock = ManualClock::new();
    let window = SlidingWindow::new(WINDOW);
    record(&window, &clock, 5, 5);
    assert!(LocalPolicy.trips(&config(), &window, clock.now()));
    clock.advance(WINDOW + Duration::from_secs(1));
    assert!(!LocalPolicy.trips(&config(), &window, clock.now()));
}

#[test]
fn the_fleets_rule_judges_everyones_counts_not_this_workers_window() {
    let clock = ManualClock::new();
    let window = SlidingWindow::new(WINDOW);
    record(&window, &clock, 5, 5);
    let _ = window.take_unsent(); // sent: now inside the fleet's counts
    let link = connected(
        Totals {
            calls: 40,
            failures: 5,
        },
        0,
    );
    assert!(
        LocalPolicy.trips(&config(), &window, clock.now()),
        "alone: 100 %"
    );
    assert!(!link.trips(&config(), &window, clock.now()), "fleet: 12 %");
    // What this worker has not sent yet counts on top of the fleet's view.
    record(&window, &clock, 40, 40);
    assert!(
        link.trips(&config(), &window, clock.now()),
        "80 calls, 45 failed"
    );
}

#[test]
fn the_local_budget_lets_max_probes_through_and_closes_when_all_succeeded() {
    let budget = LocalPolicy;
    assert!(
        budget.starts_probing(),
        "its own recovery timeout starts probing"
    );
    let mut probes = Probes::default();
    assert!(budget.take(&mut probes, 2) && budget.take(&mut probes, 2));
    assert!(!budget.take(&mut probes, 2), "both slots taken");
    budget.release(&mut probes);
    assert_eq!(probes.issued, 1, "a cancelled probe hands its slot back");
    assert!(budget.take(&mut probes, 2));
    assert!(!budget.succeeded(&mut probes, 2), "one of two");
    assert!(budget.succeeded(&mut probes, 2), "two of two: it closes");
    assert_eq!(
        probes,
        Probes {
            issued: 2,
            succeeded: 2
        }
    );
}

#[test]
fn the_fleets_budget_spends_leased_slots_and_only_reports_outcomes() {
    let link = connected(Totals::default(), 1);
    assert!(!link.starts_probing(), "the store says when probing starts");
    let mut probes = Probes::default();
    assert!(link.take(&mut probes, 2), "one slot leased to this worker");
    assert!(
        !link.take(&mut probes, 2),
        "the config's 2 is the store's business"
    );
    link.release(&mut probes);
    assert!(
        link.take(&mut probes, 2),
        "a released slot stays with this worker"
    );
    assert!(
        !link.succeeded(&mut probes, 2),
        "the fleet closes it, not a worker"
    );
    assert_eq!(
        probes,
        Probes {
            issued: 1,
            succeeded: 0
        }
    );
    let out = link.drain(Totals::default(), (CircuitState::HalfOpen, 0));
    assert_eq!(out.probe_successes, 1, "the success goes to the store");
    assert!(out.wants_probe, "a call found no slot and said so");
}
