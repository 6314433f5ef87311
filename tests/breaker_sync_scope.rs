//! Which breakers a sync round carries: those with something to send or to
//! learn. A breaker with no calls, no decision and no fleet change since its
//! last sync costs the store nothing.

mod common;

use baldur::core::breaker::shared::Inbox;
use baldur::core::breaker::CircuitState;
use baldur::core::window::Totals;
use common::{config, inbox, Rig};
use std::time::Duration;

/// Linked, and one sync answered (closed, version 1), its outbox drained.
fn synced() -> Rig {
    let rig = Rig::new(config());
    rig.breaker.link().set_enabled(true);
    assert!(
        rig.breaker.needs_sync(),
        "never synced: the first round owes it"
    );
    let _ = rig.breaker.drain_outbox();
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 1));
    rig
}

#[test]
fn a_quiet_breaker_needs_no_sync() {
    let rig = synced();
    assert!(!rig.breaker.needs_sync());
    rig.advance(Duration::from_secs(3600));
    assert!(!rig.breaker.needs_sync(), "time alone changes nothing");
}

#[test]
fn calls_since_the_last_sync_need_one() {
    let rig = synced();
    rig.succeed(1);
    assert!(rig.breaker.needs_sync());
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.counts.calls, 1);
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 1));
    assert!(!rig.breaker.needs_sync(), "sent: quiet again");
}

#[test]
fn an_operators_action_needs_one() {
    let rig = synced();
    rig.breaker.force_open();
    assert!(rig.breaker.needs_sync());
    let _ = rig.breaker.drain_outbox();
    rig.breaker.apply_fleet(&inbox(CircuitState::ForcedOpen, 2));
    assert!(
        !rig.breaker.needs_sync(),
        "a forced state is quiet once shared"
    );
}

#[test]
fn a_trip_needs_one() {
    let rig = synced();
    rig.fail(5);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    let out = rig.breaker.drain_outbox();
    assert!(out.trip);
    rig.breaker.apply_fleet(&Inbox {
        open_remaining_ms: 10_000,
        ..inbox(CircuitState::Open, 2)
    });
    assert!(!rig.breaker.needs_sync(), "open, its recovery not yet due");
    rig.advance(Duration::from_secs(10));
    assert!(
        rig.breaker.needs_sync(),
        "recovery due: the fleet moves to half-open when a worker syncs"
    );
}

#[test]
fn a_wanted_or_held_probe_slot_needs_one() {
    let rig = synced();
    rig.breaker.apply_fleet(&inbox(CircuitState::HalfOpen, 2));
    assert!(!rig.breaker.needs_sync(), "half-open with nothing asked");
    assert!(rig.breaker.try_acquire().is_err(), "no slot leased yet");
    assert!(rig.breaker.needs_sync(), "a call wants a probe slot");
    let _ = rig.breaker.drain_outbox();
    rig.breaker.apply_fleet(&Inbox {
        held_probes: 1,
        ..inbox(CircuitState::HalfOpen, 2)
    });
    assert!(rig.breaker.needs_sync(), "a leased slot is renewed or used");
}

#[test]
fn a_refresh_asked_for_needs_one_until_answered() {
    let rig = synced();
    rig.breaker.link().request_refresh();
    assert!(rig.breaker.needs_sync());
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 1));
    assert!(!rig.breaker.needs_sync());
}

#[test]
fn a_failed_sync_keeps_the_breaker_in_every_round() {
    let rig = synced();
    rig.succeed(1);
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    assert!(
        rig.breaker.needs_sync(),
        "disconnected: each round tries again"
    );
}

#[test]
fn a_version_check_that_disagrees_is_seen() {
    let rig = synced();
    let link = rig.breaker.link();
    assert!(!link.differs_from((1, 1)));
    assert!(link.differs_from((2, 1)), "changed elsewhere");
    assert!(link.differs_from((1, 7)), "a new record");
    assert!(link.differs_from((0, 0)), "the record is gone");
}

#[test]
fn the_fleets_counts_trip_here_only_while_fresh() {
    // threshold 3, floor 5: the fleet's 4 calls with 2 failures, heard now,
    // and one more failure here make 5 and 3.
    let heard = |rig: &Rig| {
        rig.breaker.apply_fleet(&Inbox {
            fleet: Totals {
                calls: 4,
                failures: 2,
            },
            ..inbox(CircuitState::Closed, 1)
        })
    };
    let fresh = synced();
    heard(&fresh);
    fresh.fail(1);
    assert_eq!(fresh.breaker.state(), CircuitState::Open);

    // Heard long ago (a quiet breaker no round carried since): the fleet's
    // window may have dropped them; this worker's own failure alone does
    // not trip it (the store still trips the fleet on the fleet's counts).
    let stale = synced();
    heard(&stale);
    stale.advance(Duration::from_secs(60));
    stale.fail(1);
    assert_eq!(stale.breaker.state(), CircuitState::Closed);
}

#[test]
fn the_fleets_retry_budget_counts_while_fresh() {
    let rig = synced();
    rig.breaker.count_call();
    rig.breaker.count_call();
    assert_eq!(rig.breaker.retry_counts(), (2, 0), "its own, until heard");
    assert!(rig.breaker.needs_sync(), "calls for the fleet's budget");
    rig.breaker.apply_fleet(&Inbox {
        budget: Some(Totals {
            calls: 100,
            failures: 10,
        }),
        ..inbox(CircuitState::Closed, 1)
    });
    // The fleet's 100 calls (10 of them retries) and its 2 unsent.
    assert_eq!(rig.breaker.retry_counts(), (92, 10));
    rig.advance(Duration::from_secs(2));
    assert_eq!(rig.breaker.retry_counts(), (2, 0), "stale: its own again");
}

#[test]
fn counts_on_their_way_to_the_store_still_count_towards_a_trip() {
    // threshold 3, floor 5: 4 calls (2 failed) drained for a round whose
    // answer has not come, then one more failure here.
    let rig = synced();
    rig.succeed(2);
    rig.fail(2);
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.counts.calls, 4);
    rig.fail(1);
    assert_eq!(rig.breaker.state(), CircuitState::Open, "5 calls, 3 failed");

    // Once answered, they are the fleet's counts, not counted twice.
    let rig = synced();
    rig.succeed(4);
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().counts_landed(out.counts);
    rig.breaker.apply_fleet(&Inbox {
        fleet: Totals {
            calls: 4,
            failures: 0,
        },
        ..inbox(CircuitState::Closed, 1)
    });
    assert_eq!(rig.breaker.link().totals(Totals::default()).calls, 4);

    // A failed round drops them (set semantics), and they leave the way.
    let rig = synced();
    rig.succeed(4);
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    assert_eq!(rig.breaker.link().totals(Totals::default()).calls, 0);
}
