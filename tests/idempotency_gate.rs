//! The idempotency gate over a memory store on a manual clock, and over a
//! store that cannot answer: refusals, owner tokens, take-over, the memory
//! TTL setting, store swaps, and racing threads.

use baldur::core::clock::ManualClock;
use baldur::core::idempotency::gate::{DEFAULT_EXECUTION_TTL_SECONDS, DEFAULT_MEMORY_TTL_SECONDS};
use baldur::core::idempotency::{
    Claim, ClaimKey, ClaimOutcome, IdempotencyGate, IdempotencyStore, MemoryStore, Owner,
    RecordState, Refusal, StoreError,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

const EXEC: Duration = Duration::from_secs(60);
const NS: Duration = Duration::from_nanos(1);
const THREADS: usize = 16;

/// A store that is never reachable.
#[derive(Debug)]
struct Down;

fn down() -> StoreError {
    StoreError("connection refused".into())
}

impl IdempotencyStore for Down {
    fn claim(
        &self,
        _: &str,
        _: Owner,
        _: Option<u64>,
        _: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        Err(down())
    }

    fn complete(&self, _: &str, _: Owner, _: Duration) -> Result<bool, StoreError> {
        Err(down())
    }

    fn release(&self, _: &str, _: Owner) -> Result<bool, StoreError> {
        Err(down())
    }
}

fn rig() -> (Arc<ManualClock>, IdempotencyGate) {
    let (clock, shared) = ManualClock::shared();
    (
        clock,
        IdempotencyGate::new(Arc::new(MemoryStore::new(shared))),
    )
}

fn claim(gate: &IdempotencyGate, key: &str, fingerprint: Option<u64>) -> Result<Claim, Refusal> {
    gate.claim(key.to_owned(), fingerprint, EXEC)
}

#[test]
fn defaults_are_thirty_minutes() {
    let (_clock, gate) = rig();
    assert_eq!(gate.memory_ttl(), Duration::from_secs(1800));
    assert_eq!(DEFAULT_MEMORY_TTL_SECONDS, 1800.0);
    assert_eq!(DEFAULT_EXECUTION_TTL_SECONDS, 1800.0);
}

#[test]
fn claim_duplicate_complete_and_the_default_memory_ttl() {
    let (clock, gate) = rig();
    let held = claim(&gate, "zone:order-1", None).unwrap();
    assert_eq!(held.key(), "zone:order-1");
    assert!(!held.took_over());
    let running = claim(&gate, "zone:order-1", None).unwrap_err();
    assert_eq!(running, Refusal::Duplicate(RecordState::InProgress));
    assert_eq!(gate.complete(&held), Ok(true));
    let ttl = gate.memory_ttl();
    clock.advance(ttl - NS);
    let done = claim(&gate, "zone:order-1", None).unwrap_err();
    assert_eq!(done, Refusal::Duplicate(RecordState::Completed));
    clock.advance(NS);
    let again = claim(&gate, "zone:order-1", None).unwrap();
    assert!(!again.took_over());
}

#[test]
fn a_failed_call_releases_its_claim() {
    let (_clock, gate) = rig();
    let first = claim(&gate, "k", None).unwrap();
    assert_eq!(gate.release(&first), Ok(true));
    let second = claim(&gate, "k", None).unwrap();
    // The first claim is gone: releasing or completing it again is a no-op.
    assert_eq!(gate.release(&first), Ok(false));
    assert_eq!(gate.complete(&first), Ok(false));
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::InProgress)
    );
    assert_eq!(gate.complete(&second), Ok(true));
    assert_eq!(
        gate.release(&second),
        Ok(false),
        "a completed claim stays completed"
    );
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::Completed)
    );
}

#[test]
fn a_stale_claim_is_taken_over_and_its_late_owner_changes_nothing() {
    let (clock, gate) = rig();
    let old = claim(&gate, "k", None).unwrap();
    clock.advance(EXEC - NS);
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::InProgress)
    );
    clock.advance(NS);
    let new = claim(&gate, "k", None).unwrap();
    assert!(new.took_over());
    assert_eq!(new.key(), "k");
    assert_ne!(new, old, "a fresh owner token");
    assert_eq!(gate.complete(&old), Ok(false));
    assert_eq!(gate.release(&old), Ok(false));
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::InProgress)
    );
    assert_eq!(gate.complete(&new), Ok(true));
    assert_eq!(gate.release(&old), Ok(false));
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::Completed)
    );
}

#[test]
fn fingerprints_map_to_duplicate_or_payload_mismatch() {
    // (original, duplicate, refused as a plain duplicate)
    let cases = [
        (Some(1), Some(1), true),
        (Some(1), Some(2), false),
        (Some(1), None, true),
        (None, Some(2), true),
        (None, None, true),
    ];
    for (i, (theirs, ours, same)) in cases.into_iter().enumerate() {
        let (_clock, gate) = rig();
        let expect = |state| {
            if same {
                Refusal::Duplicate(state)
            } else {
                Refusal::PayloadMismatch(state)
            }
        };
        let held = claim(&gate, "k", theirs).unwrap();
        let running = claim(&gate, "k", ours).unwrap_err();
        assert_eq!(running, expect(RecordState::InProgress), "case {i} running");
        assert_eq!(gate.complete(&held), Ok(true));
        let done = claim(&gate, "k", ours).unwrap_err();
        assert_eq!(done, expect(RecordState::Completed), "case {i} completed");
    }
}

#[test]
fn set_memory_ttl_applies_to_later_completions() {
    let (clock, gate) = rig();
    let before = claim(&gate, "before", None).unwrap();
    assert_eq!(gate.complete(&before), Ok(true));
    let after = claim(&gate, "after", None).unwrap();
    gate.set_memory_ttl(Duration::from_secs(10));
    assert_eq!(gate.memory_ttl(), Duration::from_secs(10));
    assert_eq!(gate.complete(&after), Ok(true));
    clock.advance(Duration::from_secs(10) - NS);
    assert_eq!(
        claim(&gate, "after", None).unwrap_err(),
        Refusal::Duplicate(RecordState::Completed)
    );
    clock.advance(NS);
    claim(&gate, "after", None).unwrap();
    // Completed under the old TTL: still blocked.
    assert_eq!(
        claim(&gate, "before", None).unwrap_err(),
        Refusal::Duplicate(RecordState::Completed)
    );
}

#[test]
fn a_store_that_cannot_answer_fails_closed_and_surfaces_errors() {
    let (_clock, gate) = rig();
    let held = claim(&gate, "k", None).unwrap();
    gate.set_store(Arc::new(Down));
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Unavailable(down())
    );
    assert_eq!(
        claim(&gate, "fresh", Some(3)).unwrap_err(),
        Refusal::Unavailable(down())
    );
    assert_eq!(gate.complete(&held), Err(down()));
    assert_eq!(gate.release(&held), Err(down()));
    assert!(down().to_string().contains("connection refused"));
}

#[test]
fn set_store_swaps_the_store() {
    let (_clock, shared) = ManualClock::shared();
    let gate = IdempotencyGate::new(Arc::new(MemoryStore::new(shared.clone())));
    let first = Arc::new(MemoryStore::new(shared.clone()));
    let second = Arc::new(MemoryStore::new(shared));
    gate.set_store(first.clone());
    let held = claim(&gate, "k", None).unwrap();
    assert_eq!(first.len(), 1);
    gate.set_store(second.clone());
    // The new store has never seen the key.
    let other = claim(&gate, "k", None).unwrap();
    assert_eq!(second.len(), 1);
    // The first claim's owner is unknown to the second store.
    assert_eq!(gate.complete(&held), Ok(false));
    gate.set_store(first.clone());
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::InProgress)
    );
    assert_eq!(gate.complete(&held), Ok(true));
    assert_eq!(gate.complete(&other), Ok(false));
    assert_eq!(
        first.claim("k", 0, None, EXEC).unwrap(),
        ClaimOutcome::Duplicate {
            state: RecordState::Completed,
            same_payload: true
        }
    );
}

#[test]
fn racing_threads_on_one_key_get_exactly_one_claim() {
    for _round in 0..50 {
        let (_clock, gate) = rig();
        let (claimed, running) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let start = Barrier::new(THREADS);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    start.wait();
                    match claim(&gate, "k", Some(1)) {
                        Ok(held) => {
                            assert!(!held.took_over());
                            claimed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Refusal::Duplicate(RecordState::InProgress)) => {
                            running.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("unexpected refusal {other:?}"),
                    }
                });
            }
        });
        assert_eq!(
            (claimed.into_inner(), running.into_inner()),
            (1, THREADS - 1)
        );
    }
}

#[test]
fn racing_threads_on_distinct_keys_all_claim() {
    let (_clock, gate) = rig();
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (gate, start) = (&gate, &start);
            s.spawn(move || {
                start.wait();
                let held = claim(gate, &format!("k{i}"), None).unwrap();
                assert_eq!(gate.complete(&held), Ok(true));
            });
        }
    });
    for i in 0..THREADS {
        let again = claim(&gate, &format!("k{i}"), None).unwrap_err();
        assert_eq!(again, Refusal::Duplicate(RecordState::Completed));
    }
}

#[test]
fn the_gates_own_memory_store_forgets_its_claims_when_gone_back_to() {
    let (_clock, shared) = ManualClock::shared();
    let gate = IdempotencyGate::in_memory(shared.clone());
    let held = claim(&gate, "k", None).unwrap();
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::InProgress)
    );
    let other = Arc::new(MemoryStore::new(shared.clone()));
    gate.set_store(other.clone());
    let on_other = claim(&gate, "k", None).unwrap();
    assert_eq!(other.len(), 1);
    // Back on its own store, emptied: neither claim is known there.
    gate.use_own_memory(shared);
    assert_eq!(gate.complete(&held), Ok(false));
    assert_eq!(gate.complete(&on_other), Ok(false));
    let fresh = claim(&gate, "k", None).unwrap();
    assert_eq!(gate.complete(&fresh), Ok(true));
    assert_eq!(
        claim(&gate, "k", None).unwrap_err(),
        Refusal::Duplicate(RecordState::Completed)
    );
    assert_eq!(other.len(), 1, "the other store was left alone");
    // ... and dropped by the gate (a Redis store's connections close).
    assert_eq!(Arc::strong_count(&other), 1);
}

#[test]
fn the_gates_own_store_holds_long_and_short_keys_alike() {
    let (_clock, shared) = ManualClock::shared();
    let gate = IdempotencyGate::in_memory(shared);
    let long = "k".repeat(200);
    for key in [
        ClaimKey::joined("ns", &long),
        ClaimKey::joined("ns", "short"),
    ] {
        let held = gate.claim(key.clone(), None, EXEC).unwrap();
        // The same key, spelt out whole, is the same record.
        let spelt = key.as_str().to_owned();
        assert_eq!(
            gate.claim(spelt.clone(), None, EXEC).unwrap_err(),
            Refusal::Duplicate(RecordState::InProgress)
        );
        assert_eq!(gate.release(&held), Ok(true));
        let again = gate.claim(spelt, None, EXEC).unwrap();
        assert_eq!(gate.complete(&again), Ok(true));
        assert_eq!(
            gate.claim(key, None, EXEC).unwrap_err(),
            Refusal::Duplicate(RecordState::Completed)
        );
    }
}

#[test]
fn the_gates_own_store_completes_claims_wherever_their_records_moved() {
    // Enough claims for every shard to move its recent records into its
    // main table several times between a claim and its completion.
    const KEYS: u64 = 40_000;
    let (_clock, shared) = ManualClock::shared();
    let gate = IdempotencyGate::in_memory(shared);
    let claims: Vec<Claim> = (0..KEYS)
        .map(|i| gate.claim(ClaimKey::joined("ns", &i.to_string()), None, EXEC))
        .collect::<Result<_, _>>()
        .unwrap();
    for (i, claim) in claims.iter().enumerate().rev() {
        if i % 3 == 0 {
            assert_eq!(gate.release(claim), Ok(true), "{i}");
        } else {
            assert_eq!(gate.complete(claim), Ok(true), "{i}");
        }
        // Settled once: a second settlement finds nothing of its own.
        assert_eq!(gate.complete(claim), Ok(false), "{i}");
    }
    for i in 0..KEYS {
        let again = gate.claim(ClaimKey::joined("ns", &i.to_string()), None, EXEC);
        if i % 3 == 0 {
            assert!(again.is_ok(), "{i}: released, free again");
        } else {
            assert_eq!(
                again.unwrap_err(),
                Refusal::Duplicate(RecordState::Completed)
            );
        }
    }
}
