//! Graceful shutdown's drain: calls in flight, the deadline, on a manual clock.

use baldur::core::clock::ManualClock;
use baldur::core::control::{Drain, DrainProgress};
use std::time::Duration;

#[test]
fn calls_count_while_their_guard_lives() {
    let (_, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    let a = drain.enter();
    let b = drain.enter();
    assert_eq!(drain.in_flight(), 2);
    drop(a);
    assert_eq!(drain.in_flight(), 1);
    drop(b);
    assert_eq!(drain.in_flight(), 0);
}

#[test]
fn not_draining_until_started() {
    let (_, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    assert!(!drain.is_draining());
    assert_eq!(drain.progress(), DrainProgress::NotDraining);
    assert_eq!(drain.seconds_left(), 0);
}

#[test]
fn a_drain_waits_for_calls_in_flight_then_reports_drained() {
    let (manual, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    let call = drain.enter();
    assert!(drain.start(Duration::from_secs(30)));
    manual.advance(Duration::from_secs(10));
    assert_eq!(
        drain.progress(),
        DrainProgress::Waiting {
            in_flight: 1,
            remaining: Duration::from_secs(20)
        }
    );
    assert_eq!(drain.seconds_left(), 20);
    drop(call);
    assert_eq!(drain.progress(), DrainProgress::Drained);
}

#[test]
fn the_deadline_ends_the_wait_with_calls_still_in_flight() {
    let (manual, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    let _stuck = drain.enter();
    drain.start(Duration::from_secs(5));
    manual.advance(Duration::from_secs(5));
    assert_eq!(
        drain.progress(),
        DrainProgress::DeadlinePassed { in_flight: 1 }
    );
    assert_eq!(drain.seconds_left(), 0);
}

#[test]
fn a_second_start_keeps_the_first_deadline() {
    let (manual, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    let _call = drain.enter();
    assert!(drain.start(Duration::from_secs(5)));
    manual.advance(Duration::from_secs(4));
    assert!(!drain.start(Duration::from_secs(60)));
    assert_eq!(drain.seconds_left(), 1);
}

#[test]
fn calls_started_during_the_drain_are_waited_for_too() {
    let (_, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    drain.start(Duration::from_secs(5));
    assert_eq!(drain.progress(), DrainProgress::Drained);
    let late = drain.enter();
    assert!(matches!(drain.progress(), DrainProgress::Waiting { .. }));
    drop(late);
    assert_eq!(drain.progress(), DrainProgress::Drained);
}

#[test]
fn cancel_returns_to_serving() {
    let (_, clock) = ManualClock::shared();
    let drain = Drain::new(clock);
    drain.start(Duration::from_secs(5));
    drain.cancel();
    assert!(!drain.is_draining());
}
