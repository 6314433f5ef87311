//! A store's health: HEALTHY admits everything; DEGRADED fails fast and
//! lets one probe through per interval, until an operation succeeds.

use baldur::core::clock::ManualClock;
use baldur::core::store::{Admission, HealthEvent, StoreHealth};
use parking_lot::Mutex;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const INTERVAL: Duration = Duration::from_millis(500);

struct Rig {
    clock: Arc<ManualClock>,
    health: Arc<StoreHealth>,
    events: Arc<Mutex<Vec<HealthEvent>>>,
}

fn rig() -> Rig {
    let (clock, shared) = ManualClock::shared();
    let health = Arc::new(StoreHealth::new("redis (idempotency)", shared, INTERVAL));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    health.set_listener(Some(Arc::new(move |e: &HealthEvent| {
        sink.lock().push(e.clone())
    })));
    Rig {
        clock,
        health,
        events,
    }
}

fn entered(error: &str) -> HealthEvent {
    HealthEvent::DegradedEntered {
        store: "redis (idempotency)".into(),
        error: error.into(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_healthy_store_admits_every_operation() {
    let r = rig();
    assert_eq!(r.health.name(), "redis (idempotency)");
    assert!(!r.health.is_degraded());
    for _ in 0..3 {
        assert_eq!(r.health.admit(), Admission::Go);
    }
    r.health.succeeded(); // nothing to leave
    assert_eq!(r.health.degraded_entries(), 0);
    assert!(r.events.lock().is_empty());
}

#[test]
fn failures_enter_degraded_once() {
    let r = rig();
    r.health.failed("connection refused");
    r.clock.advance(ms(100));
    r.health.failed("timed out");
    r.health.failed("timed out");
    assert!(r.health.is_degraded());
    assert_eq!(r.health.degraded_entries(), 1);
    assert_eq!(*r.events.lock(), [entered("connection refused")]);
}

#[test]
fn degraded_fails_fast_until_the_probe_interval_has_passed() {
    let r = rig();
    r.health.failed("refused");
    assert_eq!(r.health.admit(), Admission::FailFast);
    r.clock.advance(INTERVAL - ms(1));
    assert_eq!(r.health.admit(), Admission::FailFast);
    r.clock.advance(ms(1));
    assert_eq!(r.health.admit(), Admission::Probe);
    assert_eq!(r.health.admit(), Admission::FailFast, "one per interval");
}

#[test]
fn exactly_one_probe_per_interval() {
    let r = rig();
    r.health.failed("refused");
    let mut probes = Vec::new();
    // 10 s in steps of 100 ms, three admits a step: a probe every 500 ms.
    for step in 1..=100u64 {
        r.clock.advance(ms(100));
        for _ in 0..3 {
            if r.health.admit() == Admission::Probe {
                probes.push(step * 100);
            }
        }
    }
    let expected: Vec<u64> = (1..=20).map(|i| i * 500).collect();
    assert_eq!(probes, expected);
}

#[test]
fn a_failed_probe_keeps_it_degraded_and_restarts_the_interval() {
    let r = rig();
    r.health.failed("refused");
    r.clock.advance(INTERVAL);
    assert_eq!(r.health.admit(), Admission::Probe);
    r.clock.advance(ms(200));
    r.health.failed("refused again"); // the probe's answer, 200 ms later
    assert_eq!(r.health.degraded_entries(), 1);
    assert_eq!(r.events.lock().len(), 1);
    r.clock.advance(INTERVAL - ms(1));
    assert_eq!(r.health.admit(), Admission::FailFast);
    r.clock.advance(ms(1));
    assert_eq!(r.health.admit(), Admission::Probe);
}

#[test]
fn concurrent_admits_at_the_due_time_let_exactly_one_probe_through() {
    for _ in 0..50 {
        let r = rig();
        r.health.failed("refused");
        r.clock.advance(INTERVAL);
        let start = Barrier::new(8);
        let admitted: Vec<Admission> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        r.health.admit()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let probes = admitted.iter().filter(|a| **a == Admission::Probe).count();
        assert_eq!(probes, 1, "{admitted:?}");
        assert!(admitted
            .iter()
            .all(|a| matches!(a, Admission::Probe | Admission::FailFast)));
    }
}

#[test]
fn success_leaves_degraded_with_its_duration() {
    let r = rig();
    r.clock.advance(Duration::from_secs(7));
    r.health.failed("refused");
    r.clock.advance(ms(1_250));
    assert_eq!(r.health.admit(), Admission::Probe);
    r.health.succeeded();
    r.health.succeeded(); // once only
    assert!(!r.health.is_degraded());
    assert_eq!(r.health.admit(), Admission::Go);
    assert_eq!(
        *r.events.lock(),
        [
            entered("refused"),
            HealthEvent::DegradedExited {
                store: "redis (idempotency)".into(),
                after: ms(1_250),
            },
        ]
    );
}

#[test]
fn each_new_outage_is_counted_and_reported() {
    let r = rig();
    for round in 1..=3u64 {
        r.health.failed("reset by peer");
        r.health.failed("reset by peer");
        r.clock.advance(Duration::from_secs(round));
        r.health.succeeded();
        assert_eq!(r.health.degraded_entries(), round);
    }
    let events = r.events.lock();
    assert_eq!(events.len(), 6);
    let durations: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            HealthEvent::DegradedExited { after, .. } => Some(*after),
            HealthEvent::DegradedEntered { .. } | HealthEvent::DataLost { .. } => None,
        })
        .collect();
    assert_eq!(durations, [1, 2, 3].map(Duration::from_secs));
}

#[test]
fn a_data_loss_is_counted_and_reported_whatever_the_health() {
    let r = rig();
    r.health.data_lost("lost 3 dead-letter entries");
    r.health.failed("refused");
    r.health.data_lost("again");
    assert_eq!(r.health.data_losses(), 2);
    let events = r.events.lock();
    assert!(
        matches!(&events[0], HealthEvent::DataLost { detail, .. } if detail.contains("3 dead"))
    );
    assert!(matches!(&events[2], HealthEvent::DataLost { .. }));
}

#[test]
fn a_new_outage_waits_a_full_interval_before_probing() {
    let r = rig();
    r.health.failed("refused");
    r.clock.advance(Duration::from_secs(60));
    r.health.succeeded();
    r.health.failed("refused"); // the old due time is long past
    assert_eq!(r.health.admit(), Admission::FailFast);
    r.clock.advance(INTERVAL);
    assert_eq!(r.health.admit(), Admission::Probe);
}

#[test]
fn removing_the_listener_silences_events() {
    let r = rig();
    r.health.set_listener(None);
    r.health.failed("refused");
    r.health.succeeded();
    assert!(r.events.lock().is_empty());
    assert_eq!(r.health.degraded_entries(), 1);
}
