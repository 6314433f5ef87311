//! The write-ahead log: durable, ordered, acknowledged one entry at a time,
//! and shared by every handle on the same file (the workers of one host).

use baldur::core::clock::ManualClock;
use baldur::core::store::wal::{breaker_slot, LazyWal, LoggedDecision, Pending, WriteAheadLog};

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baldur-wal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("nested").join("wal.sqlite3")
}

fn complete(key: &str) -> Pending {
    Pending::IdempotencyComplete {
        key: key.into(),
        owner: 7,
        memory_ttl_ms: 1000,
    }
}

#[test]
fn entries_come_back_in_order_until_acknowledged() {
    let log = WriteAheadLog::open(&temp_path("order")).unwrap();
    let first = log.append(&complete("a")).unwrap();
    log.append(&Pending::IdempotencyRelease {
        key: "b".into(),
        owner: 9,
    })
    .unwrap();
    let pending = log.pending(10).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].pending, complete("a"));
    log.ack(first).unwrap();
    let left = log.pending(10).unwrap();
    assert_eq!(left.len(), 1);
    assert!(matches!(
        left[0].pending,
        Pending::IdempotencyRelease { .. }
    ));
    assert_eq!(log.len().unwrap(), 1);
}

#[test]
fn entries_survive_reopening_the_file() {
    let path = temp_path("reopen");
    {
        let log = WriteAheadLog::open(&path).unwrap();
        log.append(&complete("kept")).unwrap();
    }
    let reopened = WriteAheadLog::open(&path).unwrap();
    assert_eq!(reopened.pending(10).unwrap()[0].pending, complete("kept"));
}

#[test]
fn two_handles_on_one_file_see_each_others_entries() {
    let path = temp_path("shared");
    let one = WriteAheadLog::open(&path).unwrap();
    let other = WriteAheadLog::open(&path).unwrap();
    one.append(&complete("x")).unwrap();
    let seen = other.pending(10).unwrap();
    assert_eq!(seen.len(), 1);
    other.ack(seen[0].id).unwrap();
    assert!(one.is_empty().unwrap());
}

fn decision(pid: u32, name: &str, probe_failures: u32) -> Pending {
    Pending::Breaker {
        name: name.into(),
        pid,
        started: 99,
        trip: true,
        probe_successes: 0,
        probe_failures,
        operator: Some(("force_open".into(), 42)),
        merge: Some(LoggedDecision {
            state: "open".into(),
            open_until_ms: 1_700_000_000_000,
            decided_at_ms: 1_699_999_999_000,
        }),
    }
}

#[test]
fn breaker_decisions_round_trip() {
    let log = WriteAheadLog::open(&temp_path("breaker")).unwrap();
    log.append(&decision(7, "payments", 1)).unwrap();
    assert_eq!(
        log.pending(1).unwrap()[0].pending,
        decision(7, "payments", 1)
    );
}

#[test]
fn a_breaker_row_per_process_is_replaced_not_repeated() {
    let log = WriteAheadLog::open(&temp_path("slots")).unwrap();
    let first = log.append(&decision(7, "payments", 1)).unwrap();
    log.append(&complete("k")).unwrap();
    let again = log.append(&decision(7, "payments", 3)).unwrap();
    log.append(&decision(8, "payments", 1)).unwrap();
    assert_eq!(first, again, "the row keeps its place");
    let rows = log.pending(10).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].pending, decision(7, "payments", 3), "latest wins");
    log.clear_slot(&breaker_slot(7, 99, "payments")).unwrap();
    assert_eq!(log.len().unwrap(), 2);
    let later = log.pending_after(rows[1].id, 10).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].pending, decision(8, "payments", 1));
}

#[test]
fn a_log_from_before_slots_gains_the_column() {
    let path = temp_path("migrate");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE pending (id INTEGER PRIMARY KEY AUTOINCREMENT,
             payload TEXT NOT NULL, logged_at_ms INTEGER NOT NULL)",
        )
        .unwrap();
    }
    let log = WriteAheadLog::open(&path).unwrap();
    log.append(&decision(7, "a", 1)).unwrap();
    log.append(&decision(7, "a", 2)).unwrap();
    assert_eq!(log.len().unwrap(), 1);
}

#[test]
fn a_lazy_log_touches_the_disk_only_when_used() {
    let path = temp_path("lazy");
    let lazy = LazyWal::new(path.clone());
    assert!(!path.exists());
    lazy.get().unwrap().append(&complete("now")).unwrap();
    assert!(path.exists());
}

#[test]
fn an_unwritable_place_is_an_error_not_a_panic() {
    let lazy = LazyWal::new("/proc/baldur-cannot/wal.sqlite3".into());
    assert!(lazy.get().is_err());
}

#[test]
fn an_unreadable_row_is_set_aside_and_the_rest_still_read() {
    let path = temp_path("poison");
    let log = WriteAheadLog::open(&path).unwrap();
    log.append(&complete("before")).unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "INSERT INTO pending (payload, logged_at_ms) VALUES ('{\"kind\":\"nonsense\"}', 0)",
            [],
        )
        .unwrap();
    }
    log.append(&complete("after")).unwrap();
    let rows = log.pending(10).unwrap();
    assert_eq!(rows.len(), 2, "both readable rows, past the bad one");
    let set_aside = log.take_quarantined();
    assert_eq!(set_aside.len(), 1);
    assert!(set_aside[0].contains("unreadable"));
    assert_eq!(log.len().unwrap(), 2, "the bad row left the queue");
    assert!(log.take_quarantined().is_empty(), "reported once");
}

#[test]
fn a_breaker_row_from_before_pids_reads_as_anyones_to_replay() {
    let old = r#"{"kind":"breaker","name":"a","trip":true,"probe_successes":0,
        "probe_failures":0,"operator":null,"state":["open",900]}"#;
    let parsed: Pending = serde_json::from_str(old).unwrap();
    let Pending::Breaker {
        pid, started, trip, ..
    } = parsed
    else {
        panic!("not a breaker row");
    };
    assert_eq!((pid, started, trip), (0, 0, true));
}

#[test]
fn rows_are_stamped_with_the_injected_clocks_wall_time() {
    let path = temp_path("clock");
    let (manual, clock) = ManualClock::shared();
    manual.set_wall_millis(1_234_000);
    let lazy = LazyWal::with_clock(path.clone(), clock);
    let log = lazy.get().unwrap();
    log.append(&complete("first")).unwrap();
    manual.advance(std::time::Duration::from_secs(5));
    log.append(&complete("second")).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let stamps: Vec<i64> = raw
        .prepare("SELECT logged_at_ms FROM pending ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stamps, vec![1_234_000, 1_239_000]);
}
