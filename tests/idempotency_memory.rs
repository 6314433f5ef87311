//! The memory idempotency store on a manual clock: claims, duplicates, the
//! memory TTL to the nanosecond, owner tokens, take-over, fingerprints,
//! sweeping, and racing threads.

use baldur::core::clock::ManualClock;
use baldur::core::idempotency::RecordState::{self, Completed, InProgress};
use baldur::core::idempotency::{ClaimOutcome, IdempotencyStore, MemoryStore};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

const EXEC: Duration = Duration::from_secs(60);
const MEMORY: Duration = Duration::from_secs(300);
const NS: Duration = Duration::from_nanos(1);
const THREADS: usize = 16;

fn rig() -> (Arc<ManualClock>, MemoryStore) {
    let (clock, shared) = ManualClock::shared();
    (clock, MemoryStore::new(shared))
}

fn claim(store: &MemoryStore, key: &str, owner: u64) -> ClaimOutcome {
    store.claim(key, owner, None, EXEC).unwrap()
}

fn dup(state: RecordState) -> ClaimOutcome {
    ClaimOutcome::Duplicate {
        state,
        same_payload: true,
    }
}

fn mismatch(state: RecordState) -> ClaimOutcome {
    ClaimOutcome::Duplicate {
        state,
        same_payload: false,
    }
}

#[test]
fn a_free_key_is_claimed() {
    let (_clock, store) = rig();
    assert!(store.is_empty());
    assert_eq!(claim(&store, "k", 1), ClaimOutcome::Claimed);
    assert_eq!(store.len(), 1);
    // Another key is independent.
    assert_eq!(claim(&store, "other", 2), ClaimOutcome::Claimed);
}

#[test]
fn a_duplicate_while_running_is_in_progress() {
    let (clock, store) = rig();
    claim(&store, "k", 1);
    assert_eq!(claim(&store, "k", 2), dup(InProgress));
    clock.advance(EXEC - NS);
    assert_eq!(claim(&store, "k", 3), dup(InProgress));
}

#[test]
fn a_completed_key_blocks_until_exactly_the_memory_ttl() {
    let (clock, store) = rig();
    claim(&store, "k", 1);
    clock.advance(Duration::from_secs(10));
    // The memory TTL counts from the completion, not from the claim.
    assert!(store.complete("k", 1, MEMORY).unwrap());
    assert_eq!(claim(&store, "k", 2), dup(Completed));
    clock.advance(MEMORY - NS);
    assert_eq!(claim(&store, "k", 3), dup(Completed));
    clock.advance(NS);
    // Expired completion: a plain claim, not a take-over.
    assert_eq!(claim(&store, "k", 4), ClaimOutcome::Claimed);
    assert_eq!(claim(&store, "k", 5), dup(InProgress));
}

#[test]
fn a_released_claim_frees_the_key() {
    let (_clock, store) = rig();
    claim(&store, "k", 1);
    assert!(store.release("k", 1).unwrap());
    assert_eq!(store.len(), 0);
    assert_eq!(claim(&store, "k", 2), ClaimOutcome::Claimed);
    // A second release by the old owner does nothing to the new claim.
    assert!(!store.release("k", 1).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(InProgress));
}

#[test]
fn a_non_owner_can_neither_complete_nor_release() {
    let (_clock, store) = rig();
    claim(&store, "k", 1);
    assert!(!store.complete("k", 2, MEMORY).unwrap());
    assert!(!store.release("k", 2).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(InProgress));
    assert!(store.complete("k", 1, MEMORY).unwrap());
    // A completed record is not released, nor completed twice, by anyone.
    assert!(!store.release("k", 1).unwrap());
    assert!(!store.release("k", 2).unwrap());
    assert!(!store.complete("k", 1, MEMORY).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(Completed));
    // Unknown keys.
    assert!(!store.complete("nope", 1, MEMORY).unwrap());
    assert!(!store.release("nope", 1).unwrap());
    assert_eq!(store.len(), 1);
}

#[test]
fn a_stale_running_claim_is_taken_over_and_the_old_owner_is_locked_out() {
    let (clock, store) = rig();
    claim(&store, "k", 1);
    clock.advance(EXEC - NS);
    assert_eq!(claim(&store, "k", 2), dup(InProgress));
    clock.advance(NS);
    assert_eq!(claim(&store, "k", 2), ClaimOutcome::TookOver);
    // The old owner wakes up late: neither call touches the new claim.
    assert!(!store.complete("k", 1, MEMORY).unwrap());
    assert!(!store.release("k", 1).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(InProgress));
    // The new claim runs its own full window from the take-over.
    clock.advance(EXEC - NS);
    assert_eq!(claim(&store, "k", 3), dup(InProgress));
    assert!(store.complete("k", 2, MEMORY).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(Completed));
    assert!(!store.release("k", 1).unwrap());
    assert_eq!(claim(&store, "k", 3), dup(Completed));
}

#[test]
fn fingerprints_decide_same_payload_in_both_states() {
    // (original, duplicate, same_payload)
    let cases = [
        (Some(7), Some(7), true),
        (Some(7), Some(8), false),
        (Some(7), None, true),
        (None, Some(8), true),
        (None, None, true),
    ];
    for (i, (theirs, ours, same)) in cases.into_iter().enumerate() {
        let (_clock, store) = rig();
        let key = format!("k{i}");
        store.claim(&key, 1, theirs, EXEC).unwrap();
        let expect = |state| if same { dup(state) } else { mismatch(state) };
        let running = store.claim(&key, 2, ours, EXEC).unwrap();
        assert_eq!(running, expect(InProgress), "case {i} running");
        assert!(store.complete(&key, 1, MEMORY).unwrap());
        let done = store.claim(&key, 2, ours, EXEC).unwrap();
        assert_eq!(done, expect(Completed), "case {i} completed");
    }
}

#[test]
fn sweep_drops_expired_records_and_keeps_live_ones() {
    let (clock, store) = rig();
    store
        .claim("short", 1, None, Duration::from_secs(5))
        .unwrap();
    claim(&store, "done", 2);
    store.complete("done", 2, Duration::from_secs(5)).unwrap();
    claim(&store, "running", 3);
    claim(&store, "kept", 4);
    store.complete("kept", 4, MEMORY).unwrap();
    clock.advance(Duration::from_secs(5) - NS);
    store.sweep();
    assert_eq!(store.len(), 4);
    clock.advance(NS);
    // Expired but unswept records still count in len() until a sweep.
    assert_eq!(store.len(), 4);
    store.sweep();
    assert_eq!(store.len(), 2);
    assert_eq!(claim(&store, "running", 9), dup(InProgress));
    assert_eq!(claim(&store, "kept", 9), dup(Completed));
    assert_eq!(claim(&store, "short", 9), ClaimOutcome::Claimed);
    assert_eq!(claim(&store, "done", 9), ClaimOutcome::Claimed);
    clock.advance(MEMORY);
    store.sweep();
    assert!(store.is_empty());
}

#[test]
fn growth_triggers_a_sweep_that_keeps_live_claims() {
    let (clock, store) = rig();
    // The first claim sweeps (interval); the next interval sweep is 30 s away.
    for i in 0..500 {
        store
            .claim(&format!("short{i}"), i, None, Duration::from_secs(1))
            .unwrap();
    }
    for i in 0..500 {
        store.claim(&format!("live{i}"), i, None, EXEC).unwrap();
    }
    clock.advance(Duration::from_secs(2));
    assert_eq!(store.len(), 1000);
    // Well past 2 * len_after_sweep + 1024 records, well short of 30 s.
    for i in 500..2600 {
        store.claim(&format!("live{i}"), i, None, EXEC).unwrap();
    }
    assert_eq!(store.len(), 2600, "expired swept, every live claim kept");
    for i in 0..2600 {
        let again = store
            .claim(&format!("live{i}"), u64::MAX, None, EXEC)
            .unwrap();
        assert_eq!(again, dup(InProgress), "live{i}");
    }
}

#[test]
fn the_interval_sweep_runs_on_a_claim_once_30_seconds_pass() {
    let (clock, store) = rig();
    store.claim("a", 1, None, Duration::from_secs(1)).unwrap();
    clock.advance(Duration::from_secs(2));
    claim(&store, "b", 2);
    assert_eq!(store.len(), 2, "no sweep before the interval");
    clock.advance(Duration::from_secs(30));
    claim(&store, "c", 3);
    assert_eq!(store.len(), 2, "a swept, b and c kept");
    assert_eq!(claim(&store, "b", 9), dup(InProgress));
}

#[test]
fn racing_threads_on_one_key_get_exactly_one_claim() {
    for _round in 0..50 {
        let (_clock, store) = rig();
        let outcomes = Mutex::new(Vec::new());
        let start = Barrier::new(THREADS);
        thread::scope(|s| {
            for owner in 0..THREADS as u64 {
                let (store, outcomes, start) = (&store, &outcomes, &start);
                s.spawn(move || {
                    start.wait();
                    let outcome = store.claim("k", owner, None, EXEC).unwrap();
                    outcomes.lock().unwrap().push(outcome);
                });
            }
        });
        let outcomes = outcomes.into_inner().unwrap();
        let claimed = outcomes
            .iter()
            .filter(|o| **o == ClaimOutcome::Claimed)
            .count();
        let running = outcomes.iter().filter(|o| **o == dup(InProgress)).count();
        assert_eq!((claimed, running), (1, THREADS - 1));
        assert_eq!(store.len(), 1);
    }
}

#[test]
fn racing_threads_on_distinct_keys_all_claim() {
    let (_clock, store) = rig();
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for owner in 0..THREADS as u64 {
            let (store, start) = (&store, &start);
            s.spawn(move || {
                start.wait();
                let key = format!("k{owner}");
                assert_eq!(
                    store.claim(&key, owner, None, EXEC).unwrap(),
                    ClaimOutcome::Claimed
                );
                assert!(store.complete(&key, owner, MEMORY).unwrap());
            });
        }
    });
    assert_eq!(store.len(), THREADS);
}

#[test]
fn records_stay_found_as_the_store_moves_them_between_its_tables() {
    // Enough keys for every shard to move its recent records into its main
    // table many times over, and for sweeps to rebuild the key buffers.
    const KEYS: u64 = 50_000;
    let (clock, store) = rig();
    let key = |i: u64| format!("charge:{i}-é{}", "x".repeat((i % 40) as usize));
    for i in 0..KEYS {
        assert_eq!(claim(&store, &key(i), i), ClaimOutcome::Claimed, "{i}");
    }
    for i in (0..KEYS).step_by(3) {
        assert!(store.complete(&key(i), i, MEMORY).unwrap(), "{i}");
    }
    for i in (1..KEYS).step_by(3) {
        assert!(store.release(&key(i), i).unwrap(), "{i}");
    }
    store.sweep();
    for i in 0..KEYS {
        let expected = match i % 3 {
            0 => dup(Completed),
            1 => ClaimOutcome::Claimed,
            _ => dup(InProgress),
        };
        assert_eq!(claim(&store, &key(i), KEYS + i), expected, "{i}");
    }
    // Every running claim's window ends; the completed records outlive it.
    clock.advance(EXEC);
    store.sweep();
    assert_eq!(store.len(), KEYS.div_ceil(3) as usize);
    assert_eq!(claim(&store, &key(3), 0), dup(Completed));
    assert_eq!(claim(&store, &key(4), 0), ClaimOutcome::Claimed);
}
