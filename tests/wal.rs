//! The write-ahead log: durable, ordered, acknowledged one entry at a time,
//! and shared by every handle on the same file (the workers of one host).

use baldur::core::store::wal::{LazyWal, Pending, WriteAheadLog};

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

#[test]
fn breaker_decisions_round_trip() {
    let log = WriteAheadLog::open(&temp_path("breaker")).unwrap();
    let decision = Pending::Breaker {
        name: "payments".into(),
        trip: true,
        probe_successes: 0,
        probe_failures: 1,
        operator: Some(("force_open".into(), 42)),
        state: Some(("open".into(), 900)),
    };
    log.append(&decision).unwrap();
    assert_eq!(log.pending(1).unwrap()[0].pending, decision);
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
