//! The lease on a manual clock: who leads, when it stops, what changes.

use super::*;
use crate::core::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(15);

fn election(me: &str) -> (Arc<ManualClock>, Election) {
    let (clock, shared) = ManualClock::shared();
    let timing = LeaseTiming::new(LEASE).unwrap();
    (clock, Election::new(me.into(), timing, shared))
}

fn held(holder: &str, token: u64, ttl: Duration) -> Observed {
    Observed {
        holder: holder.into(),
        token,
        ttl,
    }
}

#[test]
fn a_follower_leads_once_the_script_says_it_holds_the_lease() {
    let (_, mut me) = election("a");
    assert!(!me.is_leader());
    let attempt = me.attempt();
    let changes = me.answered(attempt, held("a", 1, LEASE));
    assert_eq!(changes, vec![Change::Acquired { token: 1 }]);
    assert!(me.is_leader());
    let status = me.status();
    assert_eq!(status.leader_id.as_deref(), Some("a"));
    assert_eq!(status.token, 1);
    assert_eq!(status.lease_left, Some(Duration::from_secs(10)));
}

#[test]
fn the_lease_is_measured_from_before_the_request_was_sent() {
    let (clock, mut me) = election("a");
    let attempt = me.attempt();
    clock.advance(Duration::from_secs(3)); // a slow answer
    me.answered(attempt, held("a", 1, LEASE));
    assert_eq!(me.status().lease_left, Some(Duration::from_secs(7)));
    clock.advance(Duration::from_secs(7));
    assert!(!me.is_leader(), "the deadline counts from the send");
}

#[test]
fn an_answer_too_late_to_act_on_makes_no_leader() {
    let (clock, mut me) = election("a");
    let attempt = me.attempt();
    clock.advance(Duration::from_secs(11));
    assert!(me.answered(attempt, held("a", 1, LEASE)).is_empty());
    assert!(!me.is_leader());
}

#[test]
fn a_leader_stops_acting_before_the_lease_in_redis_can_end() {
    let (clock, mut me) = election("a");
    let attempt = me.attempt();
    me.answered(attempt, held("a", 4, LEASE));
    clock.advance(Duration::from_secs(9));
    assert!(me.is_leader());
    assert_eq!(
        me.failed("timeout"),
        vec![Change::RenewFailed {
            detail: "timeout".into()
        }]
    );
    clock.advance(Duration::from_secs(1));
    // Redis keeps the lease for 5 s more; this process has stopped.
    assert!(!me.is_leader());
    assert_eq!(
        me.expire(),
        Some(Change::Lost {
            token: 4,
            why: "the lease could not be renewed in time".into()
        })
    );
    assert_eq!(me.expire(), None);
}

#[test]
fn renewals_keep_the_leader_and_its_token() {
    let (clock, mut me) = election("a");
    let attempt = me.attempt();
    me.answered(attempt, held("a", 2, LEASE));
    for _ in 0..20 {
        clock.advance(me.next_attempt_in());
        let attempt = me.attempt();
        assert!(me.answered(attempt, held("a", 2, LEASE)).is_empty());
        assert!(me.is_leader());
    }
    assert_eq!(me.status().token, 2);
}

#[test]
fn a_paused_leader_is_no_leader_the_moment_it_resumes() {
    let (clock, mut me) = election("a");
    let attempt = me.attempt();
    me.answered(attempt, held("a", 1, LEASE));
    clock.advance(Duration::from_secs(60)); // SIGSTOP, then SIGCONT
    assert!(!me.is_leader(), "before its loop runs again");
    let attempt = me.attempt();
    let changes = me.answered(attempt, held("b", 2, LEASE));
    assert_eq!(
        changes,
        vec![Change::Lost {
            token: 1,
            why: "the lease could not be renewed in time".into()
        }]
    );
    let status = me.status();
    assert_eq!((status.leader_id.as_deref(), status.token), (Some("b"), 2));
    assert!(!status.is_leader);
}

#[test]
fn a_leader_that_sees_another_holder_steps_down_at_once() {
    let (_, mut me) = election("a");
    let attempt = me.attempt();
    me.answered(attempt, held("a", 1, LEASE));
    let attempt = me.attempt();
    let changes = me.answered(attempt, held("b", 2, LEASE));
    assert!(matches!(
        changes.as_slice(),
        [Change::Lost { token: 1, .. }]
    ));
    assert!(!me.is_leader());
}

#[test]
fn a_lease_taken_again_under_a_new_token_is_a_change_of_leader() {
    let (_, mut me) = election("a");
    let attempt = me.attempt();
    me.answered(attempt, held("a", 1, LEASE));
    let attempt = me.attempt();
    let changes = me.answered(attempt, held("a", 3, LEASE));
    assert!(matches!(
        changes.as_slice(),
        [Change::Lost { token: 1, .. }, Change::Acquired { token: 3 }]
    ));
    assert_eq!(me.status().token, 3);
}

#[test]
fn a_follower_tries_again_when_the_holders_lease_ends_or_every_retry_period() {
    let (clock, mut me) = election("a");
    assert_eq!(me.next_attempt_in(), Duration::from_secs(2));
    let attempt = me.attempt();
    me.answered(attempt, held("b", 1, Duration::from_millis(500)));
    assert_eq!(me.next_attempt_in(), Duration::from_millis(501));
    clock.advance(Duration::from_millis(500));
    assert_eq!(me.next_attempt_in(), Duration::from_millis(1));
    assert_eq!(me.status().leader_id, None, "the lease seen has ended");
    assert_eq!(me.status().token, 1);
}

#[test]
fn followers_retry_at_least_every_third_of_a_short_lease() {
    let (_, shared) = ManualClock::shared();
    let timing = LeaseTiming::new(Duration::from_secs(1)).unwrap();
    let mut me = Election::new("a".into(), timing, shared);
    let attempt = me.attempt();
    me.answered(attempt, held("b", 1, Duration::from_secs(1)));
    assert!(me.next_attempt_in() <= Duration::from_secs(1) / 3);
}

#[test]
fn stepping_down_hands_back_the_token_to_release() {
    let (_, mut me) = election("a");
    assert_eq!(me.step_down(), None);
    let attempt = me.attempt();
    me.answered(attempt, held("a", 5, LEASE));
    assert_eq!(me.step_down(), Some(5));
    assert!(!me.is_leader());
}

#[test]
fn a_failure_as_a_follower_is_no_event() {
    let (_, mut me) = election("a");
    assert!(me.failed("refused").is_empty());
}
