//! The guards and the outbox on a manual clock.

use super::budget::RateBudget;
use super::cooldown::{Cooldowns, Verdict};
use super::guard::{Decision, Guard};
use super::outbox::{FailReason, Failure, Outbox, Settled, CAPACITY, MAX_ATTEMPTS};
use super::{Channel, NotifyConfig, Priority, Reason, Routing};
use crate::core::clock::{Clock, ManualClock};
use std::sync::Arc;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

fn both() -> Routing {
    Routing {
        slack: true,
        webhook: true,
        info_channel: None,
    }
}

fn config(per_minute: u32, per_hour: u32) -> NotifyConfig {
    NotifyConfig {
        per_minute,
        per_hour,
        routing: both(),
        ..NotifyConfig::default()
    }
}

fn delivered(decision: &Decision) -> bool {
    matches!(decision, Decision::Deliver { .. })
}

#[test]
fn routing_follows_the_priority() {
    let slack_only = Routing {
        slack: true,
        webhook: false,
        info_channel: None,
    };
    assert_eq!(slack_only.route(Priority::Critical), vec![Channel::Slack]);
    let webhook_only = Routing {
        slack: false,
        webhook: true,
        info_channel: None,
    };
    assert!(webhook_only.route(Priority::Medium).is_empty());
    assert_eq!(webhook_only.route(Priority::High), vec![Channel::Webhook]);
    let info = Routing {
        info_channel: Some(Channel::Webhook),
        ..both()
    };
    assert_eq!(info.route(Priority::Info), vec![Channel::Webhook]);
    assert!(Routing::default().route(Priority::Critical).is_empty());
}

#[test]
fn escalation_goes_up_one_level() {
    assert_eq!(Priority::Info.escalated(), Priority::Low);
    assert_eq!(Priority::Medium.escalated(), Priority::High);
    assert_eq!(Priority::Critical.escalated(), Priority::Critical);
}

#[test]
fn the_minute_budget_refuses_then_refills() {
    let clock = ManualClock::new();
    let mut budget = RateBudget::new(2, 60);
    assert!(budget.try_spend(clock.now()));
    assert!(budget.try_spend(clock.now()));
    assert!(!budget.try_spend(clock.now()));
    clock.advance(Duration::from_secs(59));
    assert!(!budget.has_room(clock.now()));
    clock.advance(SECOND);
    assert!(budget.try_spend(clock.now()));
}

#[test]
fn the_hour_budget_holds_across_minutes() {
    let clock = ManualClock::new();
    let mut budget = RateBudget::new(10, 3);
    for _ in 0..3 {
        assert!(budget.try_spend(clock.now()));
        clock.advance(Duration::from_secs(61));
    }
    assert!(!budget.has_room(clock.now()));
    clock.advance(Duration::from_secs(3600 - 3 * 61));
    assert!(budget.has_room(clock.now()));
}

#[test]
fn a_reservation_waits_for_the_first_free_moment() {
    let clock = ManualClock::new();
    let mut budget = RateBudget::new(1, 60);
    assert_eq!(budget.reserve(clock.now()), Duration::ZERO);
    clock.advance(Duration::from_secs(10));
    assert_eq!(budget.reserve(clock.now()), Duration::from_secs(50));
    // The next waits for the reserved one's minute to pass, too.
    assert_eq!(budget.reserve(clock.now()), Duration::from_secs(110));
    // Nothing else fits meanwhile.
    assert!(!budget.has_room(clock.now()));
}

#[test]
fn the_cooldown_delivers_once_and_escalates_once() {
    let clock = ManualClock::new();
    let mut cooldowns = Cooldowns::default();
    let cooldown = Duration::from_secs(300);
    let mut claims = |key: &str, times: usize| -> Vec<Verdict> {
        (0..times)
            .map(|_| cooldowns.claim(key, clock.now(), cooldown, 3))
            .collect()
    };
    use Verdict::{Deliver, Escalate, Suppress};
    assert_eq!(claims("k", 2), [Deliver, Suppress]);
    assert_eq!(claims("other", 1), [Deliver]);
    assert_eq!(
        claims("k", 5),
        [Suppress, Escalate, Suppress, Suppress, Suppress]
    );
    clock.advance(cooldown);
    assert_eq!(claims("k", 2), [Deliver, Suppress]);
}

#[test]
fn the_guards_in_order() {
    let clock = ManualClock::new();
    let mut guard = Guard::new(NotifyConfig {
        enabled: false,
        ..config(10, 60)
    });
    let now = clock.now();
    assert_eq!(
        guard.decide("a", Priority::High, now),
        Decision::Suppressed(Reason::Disabled)
    );
    guard.configure(config(10, 60));
    assert_eq!(
        guard.decide("a", Priority::Info, now),
        Decision::Suppressed(Reason::LogOnly)
    );
    assert_eq!(
        guard.decide("a", Priority::High, now),
        Decision::Deliver {
            priority: Priority::High,
            channels: vec![Channel::Slack, Channel::Webhook],
            after: Duration::ZERO,
        }
    );
    assert_eq!(
        guard.decide("a", Priority::High, now),
        Decision::Suppressed(Reason::Cooldown)
    );
    let counted = guard.suppressed();
    assert_eq!(counted.of(Reason::Disabled), 1);
    assert_eq!(counted.of(Reason::LogOnly), 1);
    assert_eq!(counted.of(Reason::Cooldown), 1);
}

#[test]
fn suppressed_notifications_spend_no_budget() {
    let clock = ManualClock::new();
    let mut guard = Guard::new(config(2, 60));
    let now = clock.now();
    assert!(delivered(&guard.decide("a", Priority::Medium, now)));
    for _ in 0..5 {
        assert_eq!(
            guard.decide("a", Priority::Medium, now),
            Decision::Suppressed(Reason::Cooldown)
        );
    }
    assert!(delivered(&guard.decide("b", Priority::Medium, now)));
    assert_eq!(
        guard.decide("c", Priority::Medium, now),
        Decision::Suppressed(Reason::RateLimited)
    );
    // The refused one opened no cooldown: it goes once the budget refills.
    clock.advance(Duration::from_secs(60));
    assert!(delivered(&guard.decide("c", Priority::Medium, clock.now())));
}

#[test]
fn a_critical_over_budget_waits_instead_of_being_dropped() {
    let clock = ManualClock::new();
    let mut guard = Guard::new(config(1, 60));
    let now = clock.now();
    assert!(delivered(&guard.decide("a", Priority::Low, now)));
    assert_eq!(
        guard.decide("b", Priority::Critical, now),
        Decision::Deliver {
            priority: Priority::Critical,
            channels: vec![Channel::Slack, Channel::Webhook],
            after: Duration::from_secs(60),
        }
    );
    assert_eq!(guard.suppressed().of(Reason::RateLimited), 0);
}

#[test]
fn a_burst_escalates_one_level_once_per_cooldown() {
    let clock = ManualClock::new();
    let mut guard = Guard::new(NotifyConfig {
        burst_threshold: 3,
        ..config(100, 100)
    });
    let now = clock.now();
    let mut escalated = Vec::new();
    for _ in 0..10 {
        if let Decision::Deliver { priority, .. } = guard.decide("k", Priority::Medium, now) {
            escalated.push(priority);
        }
    }
    assert_eq!(escalated, vec![Priority::Medium, Priority::High]);
}

#[test]
fn an_escalated_info_reaches_slack() {
    let clock = ManualClock::new();
    let mut guard = Guard::new(NotifyConfig {
        burst_threshold: 1,
        routing: Routing {
            info_channel: Some(Channel::Webhook),
            ..both()
        },
        ..config(100, 100)
    });
    let now = clock.now();
    assert!(delivered(&guard.decide("k", Priority::Info, now)));
    assert_eq!(
        guard.decide("k", Priority::Info, now),
        Decision::Deliver {
            priority: Priority::Low,
            channels: vec![Channel::Slack],
            after: Duration::ZERO,
        }
    );
}

fn body() -> Arc<str> {
    Arc::from("{}")
}

#[test]
fn the_outbox_gives_what_is_due() {
    let clock = ManualClock::new();
    let mut outbox = Outbox::default();
    assert!(outbox.push(
        Channel::Slack,
        Priority::High,
        body(),
        clock.now(),
        Duration::ZERO
    ));
    assert!(outbox.push(
        Channel::Webhook,
        Priority::High,
        body(),
        clock.now(),
        Duration::from_secs(60)
    ));
    assert_eq!(outbox.take_due(clock.now()).len(), 1);
    assert_eq!(outbox.next_due(clock.now()), Some(Duration::from_secs(60)));
    clock.advance(Duration::from_secs(60));
    let due = outbox.take_due(clock.now());
    assert_eq!(due[0].channel, Channel::Webhook);
    assert!(!outbox.is_idle());
}

#[test]
fn a_throttled_delivery_waits_as_asked_then_succeeds_once() {
    let clock = ManualClock::new();
    let mut outbox = Outbox::default();
    outbox.push(
        Channel::Webhook,
        Priority::High,
        body(),
        clock.now(),
        Duration::ZERO,
    );
    let first = outbox.take_due(clock.now()).remove(0);
    let asked = Some(Duration::from_secs(7));
    assert_eq!(
        outbox.settle(first, Err(Failure::Throttled(asked)), clock.now()),
        Settled::Retry(Duration::from_secs(7))
    );
    clock.advance(Duration::from_secs(6));
    assert!(outbox.take_due(clock.now()).is_empty());
    clock.advance(SECOND);
    let second = outbox.take_due(clock.now()).remove(0);
    assert_eq!(second.attempt, 2);
    assert_eq!(
        outbox.settle(second, Ok(()), clock.now()),
        Settled::Delivered
    );
    assert!(outbox.is_idle());
    let counts = outbox.counts();
    assert_eq!(counts.delivered, [0, 1]);
    assert_eq!(counts.failed[0], 1); // throttled
}

#[test]
fn failures_back_off_and_give_up_after_the_last_attempt() {
    let clock = ManualClock::new();
    let mut outbox = Outbox::default();
    outbox.push(
        Channel::Slack,
        Priority::High,
        body(),
        clock.now(),
        Duration::ZERO,
    );
    let mut waits = Vec::new();
    loop {
        let delivery = outbox.take_due(clock.now()).remove(0);
        match outbox.settle(delivery, Err(Failure::Status(503)), clock.now()) {
            Settled::Retry(wait) => {
                waits.push(wait.as_secs());
                clock.advance(wait);
            }
            settled => {
                assert_eq!(settled, Settled::GaveUp);
                break;
            }
        }
    }
    assert_eq!(waits.len() as u32, MAX_ATTEMPTS - 1);
    assert_eq!(waits, vec![1, 2, 4]);
    let failed = outbox.counts().failed;
    assert_eq!(failed[1], u64::from(MAX_ATTEMPTS)); // http_error
    assert_eq!(failed[4], 1); // gave_up
    assert_eq!(FailReason::ALL[4].as_str(), "gave_up");
}

#[test]
fn a_client_error_is_not_retried() {
    let clock = ManualClock::new();
    let mut outbox = Outbox::default();
    outbox.push(
        Channel::Slack,
        Priority::High,
        body(),
        clock.now(),
        Duration::ZERO,
    );
    let delivery = outbox.take_due(clock.now()).remove(0);
    assert_eq!(
        outbox.settle(delivery, Err(Failure::Status(404)), clock.now()),
        Settled::GaveUp
    );
}

#[test]
fn a_full_outbox_refuses_and_counts_it() {
    let clock = ManualClock::new();
    let mut outbox = Outbox::default();
    for _ in 0..CAPACITY {
        assert!(outbox.push(Channel::Slack, Priority::Low, body(), clock.now(), SECOND));
    }
    assert!(!outbox.push(Channel::Slack, Priority::Low, body(), clock.now(), SECOND));
    assert_eq!(outbox.counts().failed[3], 1); // queue_full
    assert_eq!(FailReason::ALL[3].as_str(), "queue_full");
}
