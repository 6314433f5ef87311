//! The transition table: every (state, cause) pair, legal or not.

use baldur::core::breaker::state::next_state;
use baldur::core::breaker::{Cause, CircuitState};
use std::collections::HashSet;

const CAUSES: [Cause; 7] = [
    Cause::Trip,
    Cause::RecoveryElapsed,
    Cause::ProbesSucceeded,
    Cause::ProbeFailed,
    Cause::ForceOpen,
    Cause::ForceClose,
    Cause::Reset,
];

/// The whole table written out: one row per state, one column per cause in
/// `CAUSES` order. Spelled out rather than computed so it cannot mirror a bug.
fn expected(from: CircuitState, cause: Cause) -> Option<CircuitState> {
    use CircuitState::*;
    const N: Option<CircuitState> = None;
    const FO: Option<CircuitState> = Some(ForcedOpen);
    const FC: Option<CircuitState> = Some(ForcedClosed);
    const C: Option<CircuitState> = Some(Closed);
    #[rustfmt::skip]
    let row: [Option<CircuitState>; 7] = match from {
        //            Trip        Recovery        ProbesOk   ProbeFailed  ForceOpen ForceClose Reset
        Closed =>    [Some(Open), N,              N,         N,           FO,       FC,        C],
        Open =>      [N,          Some(HalfOpen), N,         N,           FO,       FC,        C],
        HalfOpen =>  [N,          N,              C,         Some(Open),  FO,       FC,        C],
        ForcedOpen =>   [N,       N,              N,         N,           FO,       FC,        C],
        ForcedClosed => [N,       N,              N,         N,           FO,       FC,        C],
    };
    row[CAUSES.iter().position(|&c| c == cause).unwrap()]
}

#[test]
fn every_state_and_cause_pair_matches_the_table() {
    for from in CircuitState::ALL {
        for cause in CAUSES {
            assert_eq!(
                next_state(from, cause),
                expected(from, cause),
                "{from:?} + {cause:?}"
            );
        }
    }
}

#[test]
fn exactly_nineteen_moves_are_legal() {
    // 4 automatic moves + 3 operator causes from each of the 5 states.
    let legal = CircuitState::ALL
        .iter()
        .flat_map(|&from| CAUSES.iter().map(move |&cause| next_state(from, cause)))
        .filter(Option::is_some)
        .count();
    assert_eq!(legal, 4 + 3 * CircuitState::ALL.len());
}

#[test]
fn automatic_causes_apply_only_from_their_own_state() {
    let automatic = [
        (Cause::Trip, CircuitState::Closed, CircuitState::Open),
        (
            Cause::RecoveryElapsed,
            CircuitState::Open,
            CircuitState::HalfOpen,
        ),
        (
            Cause::ProbesSucceeded,
            CircuitState::HalfOpen,
            CircuitState::Closed,
        ),
        (
            Cause::ProbeFailed,
            CircuitState::HalfOpen,
            CircuitState::Open,
        ),
    ];
    for (cause, only_from, to) in automatic {
        for from in CircuitState::ALL {
            let want = (from == only_from).then_some(to);
            assert_eq!(next_state(from, cause), want, "{from:?} + {cause:?}");
        }
    }
}

#[test]
fn forced_states_ignore_every_automatic_cause() {
    // A late trip or recovery must never undo an operator's decision.
    for from in [CircuitState::ForcedOpen, CircuitState::ForcedClosed] {
        for cause in [
            Cause::Trip,
            Cause::RecoveryElapsed,
            Cause::ProbesSucceeded,
            Cause::ProbeFailed,
        ] {
            assert_eq!(next_state(from, cause), None, "{from:?} + {cause:?}");
        }
    }
}

#[test]
fn operator_causes_apply_from_every_state() {
    for from in CircuitState::ALL {
        assert_eq!(
            next_state(from, Cause::ForceOpen),
            Some(CircuitState::ForcedOpen)
        );
        assert_eq!(
            next_state(from, Cause::ForceClose),
            Some(CircuitState::ForcedClosed)
        );
        assert_eq!(next_state(from, Cause::Reset), Some(CircuitState::Closed));
    }
}

#[test]
fn every_state_is_reachable() {
    let reachable: HashSet<CircuitState> = CircuitState::ALL
        .iter()
        .flat_map(|&from| {
            CAUSES
                .iter()
                .filter_map(move |&cause| next_state(from, cause))
        })
        .collect();
    assert_eq!(reachable, CircuitState::ALL.into_iter().collect());
}

#[test]
fn public_names_are_stable() {
    let states: Vec<&str> = CircuitState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        states,
        [
            "closed",
            "open",
            "half_open",
            "forced_open",
            "forced_closed"
        ]
    );
    let causes: Vec<&str> = CAUSES.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        causes,
        [
            "failure_threshold",
            "recovery_timeout_elapsed",
            "probes_succeeded",
            "probe_failed",
            "forced_open",
            "forced_closed",
            "reset",
        ]
    );
}

#[test]
fn the_fleets_sync_is_never_a_move_of_the_table() {
    // Adopting the shared store's state is fenced by its version instead.
    for from in CircuitState::ALL {
        assert_eq!(next_state(from, Cause::Synced), None);
    }
}
