//! The local dead-letter queue: every field kept, caps that evict, refuse or
//! compress (and say so), one replayer per entry, a bounded replay budget,
//! and entries that survive the handle and are shared by every handle.

use baldur::core::clock::{ManualClock, MANUAL_WALL_START_MILLIS};
use baldur::core::dlq::listing::ListQuery;
use baldur::core::dlq::sqlite::REPLAY_LEASE_MS;
use baldur::core::dlq::{Caps, DlqError, Eviction, NewEntry, Overflow, SqliteDlq};
use std::sync::Barrier;

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baldur-dlq-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("dlq.sqlite3")
}

fn caps(max_size: u64, max_per_zone: u64, overflow: Overflow) -> Caps {
    Caps {
        max_size,
        max_per_zone,
        overflow,
    }
}

fn open(name: &str, caps: Caps) -> SqliteDlq {
    SqliteDlq::open(&temp_path(name), caps).unwrap()
}

fn new(zone: &str, error_type: &str) -> NewEntry {
    NewEntry {
        zone: zone.into(),
        function: "shop.billing:charge".into(),
        arguments: r#"{"args": [1, "x"], "kwargs": {"k": null}}"#.into(),
        replayable: true,
        error_type: error_type.into(),
        error_message: "boom".into(),
        attempts: 4,
        reason: "exhausted".into(),
    }
}

fn record(dlq: &SqliteDlq, zone: &str, error_type: &str) -> (i64, Eviction) {
    dlq.record(&new(zone, error_type), 3).unwrap()
}

type Filter<'a> = Option<&'a str>;

/// The ids `list` returns, in its order.
fn list(dlq: &SqliteDlq, zone: Filter, state: Filter, error_type: Filter, n: u64) -> Vec<i64> {
    let query = ListQuery {
        zone,
        state,
        error_type,
    };
    let page = dlq.page(&query, None, n).unwrap();
    page.entries.iter().map(|e| e.id.parse().unwrap()).collect()
}

fn ids(dlq: &SqliteDlq, zone: Filter) -> Vec<i64> {
    list(dlq, zone, None, None, 100)
}

/// (evicted, compressed)
fn counts(eviction: Eviction) -> (u64, u64) {
    (eviction.evicted, eviction.compressed)
}

fn full(cap: &'static str, limit: u64) -> DlqError {
    DlqError::Full { cap, limit }
}

fn owned<const N: usize>(pairs: [(&str, u64); N]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[test]
fn record_and_get_keep_every_field() {
    let dlq = open("round_trip", Caps::default());
    let recorded = NewEntry {
        zone: "payments".into(),
        function: "shop.billing:Charger.charge".into(),
        arguments: r#"{"args": [], "kwargs": {"amount": 12.5, "note": "ünï"}}"#.into(),
        replayable: false,
        error_type: "builtins.TimeoutError".into(),
        error_message: "took 'too' long\nline two".into(),
        attempts: 7,
        reason: "timeout".into(),
    };
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let (id, eviction) = dlq.record(&recorded, 5).unwrap();
    assert_eq!(eviction, Eviction::default());
    let entry = dlq.get(id).unwrap().expect("recorded entry");
    assert_eq!(entry.id, id.to_string());
    assert_eq!(entry.recorded, recorded);
    assert_eq!(entry.state, "pending");
    assert_eq!(entry.replays_left, 5);
    assert_eq!(entry.last_replay_error, None);
    assert!(entry.created_ms >= before.unwrap().as_millis() as i64 - 1);
    assert_eq!(entry.updated_ms, entry.created_ms);
    assert_eq!(dlq.get(id + 1000).unwrap(), None);
}

#[test]
fn list_filters_by_zone_state_and_type_oldest_first() {
    let dlq = open("list", Caps::default());
    let a1 = record(&dlq, "a", "E1").0;
    let b1 = record(&dlq, "b", "E1").0;
    let a2 = record(&dlq, "a", "E2").0;
    let a3 = record(&dlq, "a", "E1").0;
    dlq.claim(a2).unwrap().unwrap();
    assert_eq!(ids(&dlq, None), vec![a1, b1, a2, a3]);
    assert_eq!(ids(&dlq, Some("a")), vec![a1, a2, a3]);
    assert_eq!(list(&dlq, None, None, Some("E1"), 100), vec![a1, b1, a3]);
    let pending_e1 = list(&dlq, Some("a"), Some("pending"), Some("E1"), 100);
    assert_eq!(pending_e1, vec![a1, a3]);
    assert_eq!(list(&dlq, None, Some("replaying"), None, 100), vec![a2]);
    assert_eq!(list(&dlq, Some("a"), None, None, 2), vec![a1, a2]);
    assert!(list(&dlq, Some("c"), None, None, 100).is_empty());
    assert!(list(&dlq, None, None, None, 0).is_empty());
}

#[test]
fn drop_oldest_evicts_the_oldest_not_replaying_and_counts_it() {
    let dlq = open("drop_oldest", caps(3, 100, Overflow::DropOldest));
    let first: Vec<i64> = (0..3).map(|_| record(&dlq, "a", "E").0).collect();
    let (fourth, eviction) = record(&dlq, "b", "E");
    assert_eq!(counts(eviction), (1, 0));
    assert_eq!(ids(&dlq, None), vec![first[1], first[2], fourth]);
    // A lower cap evicts as many as it takes, oldest first.
    dlq.set_caps(caps(2, 100, Overflow::DropOldest));
    let (fifth, eviction) = record(&dlq, "a", "E");
    assert_eq!(eviction.evicted, 2);
    assert_eq!(ids(&dlq, None), vec![fourth, fifth]);
    // An entry being replayed is never evicted: the next oldest goes.
    dlq.claim(fourth).unwrap().unwrap();
    let (sixth, eviction) = record(&dlq, "a", "E");
    assert_eq!(counts(eviction), (1, 0));
    assert_eq!(ids(&dlq, None), vec![fourth, sixth]);
}

#[test]
fn max_per_zone_evicts_only_within_that_zone() {
    let dlq = open("per_zone", caps(100, 2, Overflow::DropOldest));
    let b1 = record(&dlq, "b", "E").0;
    let a1 = record(&dlq, "a", "E").0;
    let a2 = record(&dlq, "a", "E").0;
    let b2 = record(&dlq, "b", "E").0;
    let (a3, eviction) = record(&dlq, "a", "E");
    assert_eq!(counts(eviction), (1, 0));
    assert_eq!(ids(&dlq, Some("a")), vec![a2, a3]);
    assert_eq!(ids(&dlq, Some("b")), vec![b1, b2]);
    assert!(dlq.get(a1).unwrap().is_none());
}

#[test]
fn reject_refuses_and_inserts_nothing() {
    let dlq = open("reject", caps(3, 2, Overflow::Reject));
    record(&dlq, "a", "E");
    record(&dlq, "a", "E");
    let err = dlq.record(&new("a", "E"), 3).unwrap_err();
    assert_eq!(err, full("max_per_zone", 2));
    assert!(err.to_string().contains("max_per_zone=2"));
    record(&dlq, "b", "E");
    let err = dlq.record(&new("c", "E"), 3).unwrap_err();
    assert_eq!(err, full("max_size", 3));
    let stats = dlq.stats().unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_zone, owned([("a", 2), ("b", 1)]));
}

#[test]
fn compress_oldest_folds_evicted_entries_into_counted_summaries() {
    let dlq = open("compress", Caps::default());
    record(&dlq, "a", "E1");
    record(&dlq, "a", "E1");
    record(&dlq, "b", "E2");
    dlq.set_caps(caps(1, 100, Overflow::CompressOldest));
    let (kept, eviction) = record(&dlq, "c", "E3");
    assert_eq!(counts(eviction), (3, 3));
    assert_eq!(ids(&dlq, None), vec![kept]);
    let s = |z: &str, t: &str, n| (z.to_string(), t.to_string(), n);
    let compressed = dlq.stats().unwrap().compressed;
    assert_eq!(compressed, vec![s("a", "E1", 2), s("b", "E2", 1)]);
    // Later evictions add to an existing summary.
    record(&dlq, "a", "E1");
    let (_, eviction) = record(&dlq, "a", "E1");
    assert_eq!(counts(eviction), (1, 1));
    let compressed = dlq.stats().unwrap().compressed;
    let expected = vec![s("a", "E1", 3), s("b", "E2", 1), s("c", "E3", 1)];
    assert_eq!(compressed, expected);
}

#[test]
fn claim_takes_a_pending_replayable_entry_once_and_success_deletes_it() {
    let dlq = open("claim", Caps::default());
    let id = record(&dlq, "a", "E").0;
    let claimed = dlq.claim(id).unwrap().expect("first claim");
    assert_eq!(
        (claimed.id, claimed.state.as_str()),
        (id.to_string(), "replaying")
    );
    assert_eq!(dlq.claim(id).unwrap(), None);
    let mut not_json = new("a", "E");
    not_json.replayable = false;
    let opaque = dlq.record(&not_json, 3).unwrap().0;
    assert_eq!(dlq.claim(opaque).unwrap(), None);
    assert_eq!(dlq.get(opaque).unwrap().unwrap().state, "pending");
    assert_eq!(dlq.claim(id + 1000).unwrap(), None);
    // Success removes the entry, and only it.
    dlq.succeeded(id).unwrap();
    assert_eq!(dlq.get(id).unwrap(), None);
    assert_eq!(ids(&dlq, None), vec![opaque]);
}

#[test]
fn a_claim_held_past_the_lease_is_taken_over_on_the_queues_clock() {
    let (manual, clock) = ManualClock::shared();
    let dlq = SqliteDlq::open_with_clock(&temp_path("lease"), Caps::default(), clock).unwrap();
    let id = record(&dlq, "a", "E").0;
    let entry = dlq.get(id).unwrap().unwrap();
    let start = MANUAL_WALL_START_MILLIS as i64;
    assert_eq!((entry.created_ms, entry.updated_ms), (start, start));
    dlq.claim(id).unwrap().expect("first claim");
    manual.advance(std::time::Duration::from_millis(REPLAY_LEASE_MS as u64));
    assert_eq!(dlq.claim(id).unwrap(), None, "the lease still holds");
    manual.advance(std::time::Duration::from_millis(1));
    let taken = dlq
        .claim(id)
        .unwrap()
        .expect("the replayer presumably died");
    assert_eq!(taken.updated_ms, start + REPLAY_LEASE_MS + 1);
}

#[test]
fn racing_claimers_get_exactly_one_entry() {
    let path = temp_path("claim_race");
    let shared = SqliteDlq::open(&path, Caps::default()).unwrap();
    for round in 0..5 {
        let id = record(&shared, "a", "E").0;
        let barrier = Barrier::new(8);
        let claimer = |i: usize| {
            // Half share one handle, half have their own (other workers).
            let own = (i % 2 == 1).then(|| SqliteDlq::open(&path, Caps::default()).unwrap());
            let dlq = own.as_ref().unwrap_or(&shared);
            barrier.wait();
            dlq.claim(id).unwrap().is_some() as usize
        };
        let wins: usize = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8).map(|i| s.spawn(move || claimer(i))).collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(wins, 1, "round {round}");
    }
}

#[test]
fn failed_replays_spend_the_budget_then_need_review() {
    let dlq = open("failed", Caps::default());
    let id = record(&dlq, "a", "E").0;
    for (left, state) in [(2, "pending"), (1, "pending"), (0, "needs_review")] {
        assert!(dlq.claim(id).unwrap().is_some(), "claimable at {left}");
        let error = format!("err {left}");
        assert_eq!(dlq.failed(id, &error).unwrap(), state);
        let entry = dlq.get(id).unwrap().unwrap();
        assert_eq!((entry.replays_left, entry.state.as_str()), (left, state));
        assert_eq!(entry.last_replay_error, Some(error));
    }
    assert_eq!(dlq.claim(id).unwrap(), None, "needs_review is terminal");
}

#[test]
fn redrive_only_from_needs_review_and_resets_the_budget() {
    let dlq = open("redrive", Caps::default());
    let id = dlq.record(&new("a", "E"), 1).unwrap().0;
    assert!(!dlq.redrive(id, 4).unwrap(), "pending is not redriven");
    dlq.claim(id).unwrap().unwrap();
    assert!(!dlq.redrive(id, 4).unwrap(), "replaying is not redriven");
    assert_eq!(dlq.failed(id, "nope").unwrap(), "needs_review");
    assert!(dlq.redrive(id, 4).unwrap());
    let entry = dlq.get(id).unwrap().unwrap();
    assert_eq!((entry.state.as_str(), entry.replays_left), ("pending", 4));
    assert_eq!(entry.last_replay_error.as_deref(), Some("nope"));
    assert!(dlq.claim(id).unwrap().is_some());
    assert!(!dlq.redrive(id + 1000, 4).unwrap());
}

#[test]
fn stats_count_and_purge_deletes_by_zone_and_state() {
    let dlq = open("stats_purge", Caps::default());
    let a1 = record(&dlq, "a", "E").0;
    record(&dlq, "a", "E");
    let b1 = dlq.record(&new("b", "E"), 1).unwrap().0;
    record(&dlq, "c", "E");
    dlq.claim(a1).unwrap().unwrap();
    dlq.claim(b1).unwrap().unwrap();
    dlq.failed(b1, "x").unwrap();
    let stats = dlq.stats().unwrap();
    assert_eq!(stats.total, 4);
    let by_state = owned([("needs_review", 1), ("pending", 2), ("replaying", 1)]);
    assert_eq!(stats.by_state, by_state);
    assert_eq!(stats.by_zone, owned([("a", 2), ("b", 1), ("c", 1)]));
    assert!(stats.compressed.is_empty());
    assert_eq!(dlq.purge(Some("a"), Some("replaying")).unwrap(), 1);
    assert_eq!(dlq.purge(None, Some("needs_review")).unwrap(), 1);
    assert_eq!(dlq.purge(Some("zz"), None).unwrap(), 0);
    assert_eq!(dlq.purge(Some("a"), None).unwrap(), 1);
    assert_eq!(dlq.stats().unwrap().by_zone, owned([("c", 1)]));
    assert_eq!(dlq.purge(None, None).unwrap(), 1);
    assert_eq!(dlq.stats().unwrap().total, 0);
}

#[test]
fn entries_survive_the_handle_and_are_shared_by_every_handle() {
    let path = temp_path("durable_shared");
    let dlq = SqliteDlq::open(&path, Caps::default()).unwrap();
    let id = record(&dlq, "a", "E").0;
    let before = dlq.get(id).unwrap().unwrap();
    drop(dlq);
    let one = SqliteDlq::open(&path, Caps::default()).unwrap();
    assert_eq!(one.get(id).unwrap(), Some(before));
    let two = SqliteDlq::open(&path, Caps::default()).unwrap();
    let from_two = record(&two, "b", "E").0;
    assert!(from_two > id);
    assert_eq!(ids(&one, None), vec![id, from_two]);
    assert!(one.claim(from_two).unwrap().is_some());
    assert_eq!(two.claim(from_two).unwrap(), None);
    assert_eq!(two.get(from_two).unwrap().unwrap().state, "replaying");
}

#[test]
fn handles_recording_concurrently_all_succeed() {
    let path = temp_path("concurrent_record");
    SqliteDlq::open(&path, Caps::default()).unwrap();
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (barrier, path) = (&barrier, &path);
            s.spawn(move || {
                let dlq = SqliteDlq::open(path, Caps::default()).unwrap();
                barrier.wait();
                for _ in 0..25 {
                    dlq.record(&new(&format!("z{t}"), "E"), 3).unwrap();
                }
            });
        }
    });
    let dlq = SqliteDlq::open(&path, Caps::default()).unwrap();
    assert_eq!(dlq.stats().unwrap().total, 100);
}

#[test]
fn a_held_entry_still_waits_though_it_is_not_forwardable_meanwhile() {
    let dlq = open("held-waits", Caps::default());
    assert!(!dlq.waiting().unwrap());
    let (id, _) = record(&dlq, "billing", "builtins.ValueError");
    assert!(dlq.waiting().unwrap());
    let held = dlq.hold(id).unwrap().expect("a pending entry can be held");
    assert!(dlq.forwardable(10).unwrap().is_empty());
    assert!(dlq.hold(id).unwrap().is_none(), "held once at a time");
    assert!(dlq.waiting().unwrap(), "a flusher keeps looking for it");
    dlq.release(&held).unwrap();
    assert_eq!(dlq.forwardable(10).unwrap().len(), 1);
    dlq.succeeded(id).unwrap();
    assert!(!dlq.waiting().unwrap());
}
