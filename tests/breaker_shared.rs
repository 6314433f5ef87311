//! A breaker linked to the fleet: local until the first sync answers, then
//! the fleet's counts, probe leases and versioned state are in force; back
//! to local when a sync fails, with nothing lost.

mod common;

use baldur::core::breaker::shared::{Inbox, Outbox};
use baldur::core::breaker::{Cause, CircuitBreaker, CircuitState, Permit, Registry, Rejection};
use baldur::core::clock::ManualClock;
use baldur::core::window::Totals;
use common::{config, inbox, tripped, Rig};
use std::time::Duration;

const RECOVERY: Duration = Duration::from_secs(10);

fn totals(calls: u64, failures: u64) -> Totals {
    Totals { calls, failures }
}

/// threshold 3, floor 5, 10 s recovery, 2 probes; sharing on, not synced.
fn linked() -> Rig {
    let rig = Rig::new(config());
    rig.breaker.link().set_enabled(true);
    rig
}

/// Linked and connected: one sync answered (closed, version 1).
fn connected() -> Rig {
    let rig = linked();
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 1));
    assert!(rig.breaker.link().is_connected());
    assert!(rig.recorder.transitions().is_empty(), "the states agree");
    rig
}

/// Connected and half-open at version 2, with `leased` probe slots.
fn half_open(leased: u32) -> Rig {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        held_probes: leased,
        ..inbox(CircuitState::HalfOpen, 2)
    });
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
    rig
}

fn rejected_now(state: CircuitState) -> Result<Permit, Rejection> {
    Err(Rejection {
        state,
        retry_after: Some(Duration::ZERO),
    })
}

#[test]
fn registry_set_shared_links_existing_and_later_breakers() {
    let (_clock, shared) = ManualClock::shared();
    let registry = Registry::new(shared);
    let before = registry.get_or_create("a");
    assert!(!before.link().is_enabled());
    registry.set_shared(true);
    let after = registry.get_or_create("b");
    assert!(before.link().is_enabled() && after.link().is_enabled());
    assert!(!before.link().is_connected(), "no sync has answered yet");
    registry.set_shared(false);
    assert!(!before.link().is_enabled() && !after.link().is_enabled());
}

#[test]
fn before_any_sync_the_breaker_decides_alone() {
    let rig = linked();
    rig.fail(5); // its own window: 5 calls, 3 failures needed
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    let out = rig.breaker.drain_outbox();
    let merge = out.merge.expect("the trip was decided alone");
    assert_eq!(merge.state, CircuitState::Open, "the open state is merged");
    assert!(!out.trip, "the merge says it: no separate trip");
    assert_eq!(out.counts, totals(5, 5));
    rig.advance(RECOVERY);
    let probes = [rig.breaker.try_acquire(), rig.breaker.try_acquire()];
    assert!(probes.iter().all(|p| p.is_ok_and(|p| p.is_probe())));
    assert_eq!(
        rig.breaker.try_acquire(),
        rejected_now(CircuitState::HalfOpen)
    );
    for p in probes {
        rig.breaker.on_success(p.unwrap());
    }
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    assert_eq!(rig.recorder.transitions()[2].cause, Cause::ProbesSucceeded);
    assert!(!rig.breaker.drain_outbox().wants_probe);
}

#[test]
fn connected_a_low_fleet_failure_rate_does_not_trip() {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        fleet: totals(20, 2),
        ..inbox(CircuitState::Closed, 1)
    });
    rig.fail(1); // 21 calls, 3 failures fleet-wide: 14 % < 50 %
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
}

#[test]
fn connected_a_quiet_worker_trips_on_the_fleet_totals() {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        fleet: totals(4, 2),
        ..inbox(CircuitState::Closed, 1)
    });
    rig.fail(1); // 5 calls, 3 failures fleet-wide (60 %)
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    let seen = rig.recorder.transitions();
    assert_eq!((seen.len(), seen[0].cause), (1, Cause::Trip));
    let out = rig.breaker.drain_outbox();
    assert!(out.trip);
    assert_eq!(out.counts, totals(1, 1));
}

#[test]
fn connected_unsent_counts_add_to_the_fleet_totals() {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        fleet: totals(2, 1),
        ..inbox(CircuitState::Closed, 1)
    });
    rig.succeed(1);
    rig.fail(1); // 4 calls, 2 failures: below the floor
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    rig.fail(1); // 5 calls, 3 failures
    assert_eq!(rig.breaker.state(), CircuitState::Open);
}

#[test]
fn connected_an_open_breaker_waits_for_the_fleet_to_start_probing() {
    let rig = connected();
    rig.fail(5);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    rig.advance(RECOVERY * 3);
    assert_eq!(rig.breaker.try_acquire(), rejected_now(CircuitState::Open));
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert_eq!(rig.recorder.transitions().len(), 1, "only the trip");
}

#[test]
fn connected_half_open_admits_only_leased_probes() {
    let rig = half_open(1);
    let seen = rig.recorder.transitions();
    assert_eq!(
        (seen[0].to, seen[0].cause),
        (CircuitState::HalfOpen, Cause::Synced)
    );
    let probe = rig.breaker.try_acquire().expect("the leased slot");
    assert!(probe.is_probe());
    assert!(
        !rig.breaker.drain_outbox().wants_probe,
        "no call went without"
    );
    assert_eq!(
        rig.breaker.try_acquire(),
        rejected_now(CircuitState::HalfOpen)
    );
    assert!(rig.breaker.drain_outbox().wants_probe);
    assert!(!rig.breaker.drain_outbox().wants_probe, "sent once");
    // A lease arrives even with a sync whose state is not newer: the
    // worker holds two now, one of them busy with the running probe.
    let out = rig.breaker.drain_outbox();
    assert_eq!(
        out.probes_in_flight, 1,
        "the running probe's lease is renewed"
    );
    rig.breaker.apply_fleet(&Inbox {
        held_probes: 2,
        ..inbox(CircuitState::HalfOpen, 2)
    });
    assert!(rig.breaker.try_acquire().is_ok_and(|p| p.is_probe()));
    assert_eq!(
        rig.breaker.try_acquire(),
        rejected_now(CircuitState::HalfOpen)
    );
}

#[test]
fn connected_a_probe_success_is_reported_and_the_fleet_closes() {
    let rig = half_open(2);
    for _ in 0..2 {
        let probe = rig.breaker.try_acquire().unwrap();
        rig.breaker.on_success(probe);
    }
    assert_eq!(
        rig.breaker.state(),
        CircuitState::HalfOpen,
        "not closed locally"
    );
    assert_eq!(rig.breaker.drain_outbox().probe_successes, 2);
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 3));
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    assert_eq!(
        rig.recorder.transitions().last().unwrap().cause,
        Cause::Synced
    );
}

#[test]
fn connected_a_probe_failure_reopens_locally_and_is_reported() {
    let rig = half_open(1);
    let probe = rig.breaker.try_acquire().unwrap();
    rig.breaker.on_failure(probe);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert_eq!(
        rig.recorder.transitions().last().unwrap().cause,
        Cause::ProbeFailed
    );
    let out = rig.breaker.drain_outbox();
    assert_eq!((out.probe_failures, out.probe_successes), (1, 0));
}

#[test]
fn slots_leased_for_one_half_open_round_do_not_carry_into_the_next() {
    let rig = half_open(2);
    let probe = rig.breaker.try_acquire().unwrap();
    rig.breaker.on_failure(probe); // reopens locally; one slot unused
    rig.breaker.apply_fleet(&inbox(CircuitState::Open, 3)); // fleet reopens
    rig.breaker.apply_fleet(&inbox(CircuitState::HalfOpen, 4)); // nothing leased
    assert_eq!(
        rig.breaker.try_acquire(),
        rejected_now(CircuitState::HalfOpen)
    );
    assert!(rig.breaker.drain_outbox().wants_probe);
}

#[test]
fn operator_actions_go_to_the_outbox() {
    let rig = connected();
    type Act = fn(&CircuitBreaker);
    let actions: [(Act, Cause); 3] = [
        (CircuitBreaker::force_open, Cause::ForceOpen),
        (CircuitBreaker::force_close, Cause::ForceClose),
        (CircuitBreaker::reset, Cause::Reset),
    ];
    for (act, cause) in actions {
        act(&rig.breaker);
        let action = rig.breaker.drain_outbox().operator.expect("queued");
        assert_eq!(action.cause, cause);
        assert!(action.epoch > 0, "wall-clock milliseconds");
        assert_eq!(rig.breaker.drain_outbox().operator, None);
    }
    let local = Rig::new(config());
    local.breaker.force_open();
    assert_eq!(local.breaker.drain_outbox().operator, None, "no store");
}

#[test]
fn an_operators_epoch_is_the_breakers_wall_clock() {
    let rig = connected();
    rig.clock.set_wall_millis(1_800_000_000_000);
    rig.breaker.force_open();
    rig.advance(Duration::from_secs(2));
    let first = rig.breaker.drain_outbox().operator.expect("queued");
    assert_eq!(first.epoch, 1_800_000_000_000, "taken when it acted");
    rig.breaker.reset();
    let later = rig.breaker.drain_outbox().operator.expect("queued");
    assert_eq!(later.epoch, 1_800_000_002_000);
}

#[test]
fn a_state_the_fleet_decided_is_entered_as_one_decided_here() {
    let rig = connected();
    rig.fail(1); // under the floor: no trip, one failure in the window
    rig.breaker.apply_fleet(&Inbox {
        open_remaining_ms: 10_000,
        ..inbox(CircuitState::Open, 2)
    });
    rig.advance(Duration::from_secs(4));
    let open = rig.breaker.snapshot();
    assert_eq!(open.opened_ago, Some(Duration::from_secs(4)));
    assert_eq!(open.retry_after, Some(Duration::from_secs(6)));
    rig.breaker.apply_fleet(&Inbox {
        held_probes: 1,
        ..inbox(CircuitState::HalfOpen, 3)
    });
    assert!(rig.breaker.try_acquire().is_ok_and(|p| p.is_probe()));
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 4));
    let closed = rig.breaker.snapshot();
    assert_eq!((closed.totals, closed.opened_ago), (totals(0, 0), None));
    let seen: Vec<_> = rig
        .recorder
        .transitions()
        .iter()
        .map(|t| (t.to, t.cause, t.generation))
        .collect();
    assert_eq!(
        seen,
        vec![
            (CircuitState::Open, Cause::Synced, 1),
            (CircuitState::HalfOpen, Cause::Synced, 2),
            (CircuitState::Closed, Cause::Synced, 3),
        ]
    );
    assert_eq!(rig.recorder.transitions()[0].totals, totals(1, 1));
}

#[test]
fn apply_fleet_adopts_only_newer_versions() {
    let rig = connected();
    let mut open = inbox(CircuitState::Open, 5);
    open.open_remaining_ms = 2_500;
    rig.breaker.apply_fleet(&open);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    assert_eq!(rig.breaker.open_remaining_ms(), 2_500);
    let reject = rig.breaker.try_acquire().unwrap_err();
    assert_eq!(reject.retry_after, Some(Duration::from_millis(2_500)));
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 5)); // equal
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 4)); // older
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    open.version = 6; // same state, newer: the later open-until wins
    open.open_remaining_ms = 9_000;
    rig.breaker.apply_fleet(&open);
    assert_eq!(rig.breaker.open_remaining_ms(), 9_000);
    rig.breaker
        .apply_fleet(&inbox(CircuitState::ForcedClosed, 7));
    let seen = rig.recorder.transitions();
    let moves: Vec<_> = seen
        .iter()
        .map(|t| (t.from, t.to, t.cause, t.generation))
        .collect();
    assert_eq!(
        moves,
        [
            (CircuitState::Closed, CircuitState::Open, Cause::Synced, 1),
            (
                CircuitState::Open,
                CircuitState::ForcedClosed,
                Cause::Synced,
                2
            ),
        ]
    );
}

#[test]
fn a_failed_sync_loses_nothing_and_the_breaker_decides_alone() {
    let rig = connected();
    rig.breaker.reset();
    rig.advance(Duration::from_millis(5));
    rig.fail(5); // trips on the fleet view, after the reset
    let out = rig.breaker.drain_outbox();
    assert!(out.trip && out.operator.is_some() && out.merge.is_none());
    rig.breaker.link().sync_failed(out);
    assert!(!rig.breaker.link().is_connected());
    rig.breaker.reset(); // a newer operator action replaces the returned one
    rig.fail(1);
    let next = rig.breaker.drain_outbox();
    assert_eq!(
        next.counts,
        totals(1, 1),
        "set semantics: old counts dropped"
    );
    assert!(
        !next.trip,
        "superseded by the merge: the reset closed it since"
    );
    assert_eq!(next.operator.unwrap().cause, Cause::Reset);
    assert!(!next.operator.unwrap().late, "taken now, not carried");
    let merge = next.merge.expect("the reset was decided alone");
    assert_eq!(merge.state, CircuitState::Closed);
    let empty = rig.breaker.drain_outbox();
    assert_eq!(
        empty,
        Outbox {
            generation: empty.generation,
            ..Outbox::default()
        },
        "all drained"
    );
}

#[test]
fn disconnected_the_breaker_opens_and_probes_on_its_own() {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        fleet: totals(100, 90),
        ..inbox(CircuitState::Closed, 1)
    });
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    rig.fail(1);
    assert_eq!(
        rig.breaker.state(),
        CircuitState::Closed,
        "stale fleet ignored"
    );
    rig.fail(4);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    rig.advance(RECOVERY + Duration::from_secs(1));
    assert!(rig.breaker.try_acquire().is_ok_and(|p| p.is_probe()));
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.merge.map(|m| m.state), Some(CircuitState::HalfOpen));
    rig.breaker.link().sync_failed(out); // the merging sync failed too
    assert!(
        rig.breaker.drain_outbox().merge.is_some(),
        "merge is retried"
    );
}

#[test]
fn disabling_the_link_disconnects() {
    let rig = tripped(config());
    rig.breaker.link().set_enabled(true);
    rig.breaker.apply_fleet(&Inbox {
        open_remaining_ms: 60_000,
        ..inbox(CircuitState::Open, 1)
    });
    rig.breaker.link().set_enabled(false);
    assert!(!rig.breaker.link().is_connected());
    rig.advance(RECOVERY);
    assert!(
        rig.breaker.try_acquire().is_err(),
        "open-until from the fleet"
    );
    rig.advance(Duration::from_secs(50));
    assert!(rig.breaker.try_acquire().is_ok_and(|p| p.is_probe()));
    assert_eq!(
        rig.recorder.transitions().last().unwrap().cause,
        Cause::RecoveryElapsed
    );
}

#[test]
fn counts_after_the_fleet_closes_reach_the_store() {
    let rig = connected();
    rig.fail(2);
    assert_eq!(rig.breaker.drain_outbox().counts, totals(2, 2));
    rig.breaker.apply_fleet(&inbox(CircuitState::Open, 2));
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 3)); // clears the window
    rig.fail(1); // the same bucket as the two already sent
    assert_eq!(rig.breaker.drain_outbox().counts, totals(1, 1));
}

#[test]
fn a_state_adopted_from_the_fleet_is_not_merged_back_after_a_blip() {
    // Half-open came from the fleet; one sync fails; the fleet closes
    // meanwhile. The worker decided nothing alone, so it must not drag the
    // fleet back to half-open.
    let rig = half_open(0);
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    let next = rig.breaker.drain_outbox();
    assert_eq!(next.merge, None, "nothing decided alone");
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 3));
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
}

#[test]
fn an_operator_action_carried_past_a_failed_sync_is_marked_late() {
    let rig = connected();
    rig.breaker.reset();
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    let action = rig.breaker.drain_outbox().operator.expect("carried");
    assert_eq!((action.cause, action.late), (Cause::Reset, true));
}

#[test]
fn a_store_that_lost_its_data_gets_this_workers_state_merged_not_replaced() {
    let rig = connected();
    rig.breaker.apply_fleet(&Inbox {
        open_remaining_ms: 30_000,
        ..inbox(CircuitState::Open, 9)
    });
    assert!(rig.breaker.drain_outbox().merge.is_none());
    // Redis restarted empty: a new record, versions from 1 again.
    let fresh = Inbox {
        incarnation: 2,
        ..inbox(CircuitState::Closed, 1)
    };
    rig.breaker.apply_fleet(&fresh);
    assert_eq!(rig.breaker.state(), CircuitState::Open, "not replaced");
    let merge = rig.breaker.drain_outbox().merge.expect("merged next");
    assert_eq!(merge.state, CircuitState::Open);
    assert!(merge.open_remaining_ms > 0);
    // The merged answer (version 2 of the new record) is adopted.
    rig.breaker.apply_fleet(&Inbox {
        incarnation: 2,
        open_remaining_ms: 30_000,
        ..inbox(CircuitState::Open, 2)
    });
    rig.breaker.apply_fleet(&Inbox {
        incarnation: 2,
        ..inbox(CircuitState::HalfOpen, 3)
    });
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen);
}

#[test]
fn held_slots_reconcile_with_probes_running_and_unreported() {
    let rig = half_open(2);
    let first = rig.breaker.try_acquire().unwrap();
    rig.breaker.on_success(first); // reported next sync: its slot is busy
    rig.breaker.apply_fleet(&Inbox {
        held_probes: 2,
        ..inbox(CircuitState::HalfOpen, 2)
    });
    assert!(rig.breaker.try_acquire().is_ok_and(|p| p.is_probe()));
    assert_eq!(
        rig.breaker.try_acquire(),
        rejected_now(CircuitState::HalfOpen),
        "one slot free, not two"
    );
}

#[test]
fn a_running_probe_is_still_renewed_after_a_failed_sync() {
    let rig = half_open(1);
    let _probe = rig.breaker.try_acquire().unwrap();
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.probes_in_flight, 1);
    rig.breaker.link().sync_failed(out);
    assert_eq!(rig.breaker.drain_outbox().probes_in_flight, 1);
}

#[test]
fn a_trip_the_worker_recovered_from_alone_does_not_reopen_the_fleet() {
    let rig = connected();
    rig.fail(5); // trips on the fleet view, connected: a plain trip
    let out = rig.breaker.drain_outbox();
    assert!(out.trip);
    rig.breaker.link().sync_failed(out); // the store is gone
    rig.advance(RECOVERY);
    for _ in 0..2 {
        let probe = rig.breaker.try_acquire().unwrap();
        rig.breaker.on_success(probe);
    }
    assert_eq!(rig.breaker.state(), CircuitState::Closed, "recovered alone");
    let next = rig.breaker.drain_outbox();
    assert!(!next.trip, "the old trip is not sent");
    assert_eq!(next.merge.map(|m| m.state), Some(CircuitState::Closed));
}

#[test]
fn a_store_restored_to_an_older_version_gets_this_workers_state_merged() {
    let rig = connected();
    rig.breaker.apply_fleet(&inbox(CircuitState::Open, 7));
    // Same record, older version: restored from a snapshot.
    rig.breaker.apply_fleet(&inbox(CircuitState::Closed, 2));
    assert_eq!(rig.breaker.state(), CircuitState::Open, "not replaced");
    assert_eq!(
        rig.breaker.drain_outbox().merge.map(|m| m.state),
        Some(CircuitState::Open)
    );
    rig.breaker.apply_fleet(&inbox(CircuitState::HalfOpen, 3));
    assert_eq!(rig.breaker.state(), CircuitState::HalfOpen, "then followed");
}

#[test]
fn an_operators_forced_state_is_sent_again_to_a_store_that_lost_it() {
    let rig = connected();
    rig.breaker.force_open();
    let sent = rig.breaker.drain_outbox().operator.expect("queued");
    rig.breaker.apply_fleet(&inbox(CircuitState::ForcedOpen, 2));
    rig.breaker.apply_fleet(&Inbox {
        incarnation: 2,
        ..inbox(CircuitState::Closed, 1)
    });
    let again = rig.breaker.drain_outbox().operator.expect("sent again");
    assert_eq!((again.cause, again.epoch), (sent.cause, sent.epoch));
}

#[test]
fn a_refused_operator_action_yields_to_the_fleets_state() {
    let rig = connected();
    rig.breaker.apply_fleet(&inbox(CircuitState::ForcedOpen, 4));
    rig.breaker.reset(); // locally closed; the store refuses (older epoch)
    assert_eq!(rig.breaker.state(), CircuitState::Closed);
    let out = rig.breaker.drain_outbox();
    rig.breaker.apply_fleet_answer(
        &inbox(CircuitState::ForcedOpen, 4),
        Some(out.generation),
        true,
    );
    assert_eq!(rig.breaker.state(), CircuitState::ForcedOpen);
}

#[test]
fn an_answer_does_not_undo_a_transition_made_after_its_outbox_left() {
    let rig = connected();
    rig.breaker.reset();
    let out = rig.breaker.drain_outbox();
    rig.fail(5); // trips while the sync is on its way
    rig.breaker
        .apply_fleet_answer(&inbox(CircuitState::Closed, 2), Some(out.generation), true);
    assert_eq!(rig.breaker.state(), CircuitState::Open, "the trip stands");
    assert!(rig.breaker.drain_outbox().trip, "and goes out next");
}

#[test]
fn a_forked_child_owes_the_fleet_nothing_of_its_parents() {
    let rig = connected();
    rig.fail(5);
    rig.breaker.force_close();
    rig.breaker.forget_link_after_fork();
    let out = rig.breaker.drain_outbox();
    assert_eq!(
        out,
        Outbox {
            generation: out.generation,
            ..Outbox::default()
        }
    );
    assert!(!rig.breaker.link().is_connected());
}

#[test]
fn a_detached_breaker_is_not_kept_by_the_registry() {
    let (_clock, shared) = ManualClock::shared();
    let registry = Registry::new(shared);
    let kept = registry.get_or_create("kept");
    assert!(std::sync::Arc::ptr_eq(
        &registry.get_or_detached("kept"),
        &kept
    ));
    let detached = registry.get_or_detached("theirs");
    assert_eq!(&**detached.name(), "theirs");
    assert!(registry.get("theirs").is_none());
}

#[test]
fn a_trip_sent_with_a_later_operators_action_is_applied_before_it() {
    // Both reach the store in one sync; the trip came first, so the store
    // opens the fleet and then lets the operator's reset have the last word
    // (sent the other way round, the trip would undo the reset).
    let rig = connected();
    rig.fail(5);
    assert_eq!(rig.breaker.state(), CircuitState::Open);
    rig.breaker.reset();
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.operator.map(|a| a.cause), Some(Cause::Reset));
    assert!(out.trip && out.trip_before_operator());
}

#[test]
fn a_trip_after_an_operators_action_in_the_same_round_comes_after_it() {
    let rig = connected();
    rig.breaker.reset();
    rig.advance(Duration::from_millis(5));
    rig.fail(5);
    let out = rig.breaker.drain_outbox();
    assert_eq!(out.operator.map(|a| a.cause), Some(Cause::Reset));
    assert!(out.trip && !out.trip_before_operator());
}

#[test]
fn a_trip_carried_past_a_failed_sync_keeps_its_time() {
    let rig = connected();
    rig.breaker.reset();
    rig.advance(Duration::from_millis(5));
    rig.fail(5);
    let out = rig.breaker.drain_outbox();
    rig.breaker.link().sync_failed(out);
    rig.breaker
        .link()
        .sync_succeeded(&inbox(CircuitState::Closed, 1));
    let again = rig.breaker.drain_outbox();
    assert!(again.trip && !again.trip_before_operator());
}

#[test]
fn operator_actions_within_one_millisecond_are_ordered() {
    // The store applies an action only if it is newer than the last it
    // holds: a force-open and a reset in the same millisecond both land.
    let rig = connected();
    rig.breaker.force_open();
    let first = rig.breaker.drain_outbox().operator.expect("queued");
    rig.breaker.reset();
    let second = rig.breaker.drain_outbox().operator.expect("queued");
    assert_eq!(second.epoch, first.epoch + 1);
}
