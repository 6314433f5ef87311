//! The SQLite queue through the `DlqStore` trait, as the facade and the
//! DEGRADED fallback use it: string ids, and an id of another store's
//! shape names nothing. Plus what forwarding to Redis relies on: a stable
//! instance id, and holding an entry so no replay takes it meanwhile.

use baldur::core::dlq::listing::ListQuery;
use baldur::core::dlq::{Caps, DlqStore, NewEntry, SqliteDlq};

fn open(name: &str) -> SqliteDlq {
    let dir = std::env::temp_dir().join(format!("baldur-dlq-trait-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    SqliteDlq::open(&dir.join("dlq.sqlite3"), Caps::default()).unwrap()
}

fn new(zone: &str) -> NewEntry {
    NewEntry {
        zone: zone.into(),
        function: "shop:charge".into(),
        arguments: r#"{"args": [], "kwargs": {}}"#.into(),
        replayable: true,
        error_type: "builtins.OSError".into(),
        error_message: "down".into(),
        attempts: 1,
        reason: "exhausted".into(),
    }
}

#[test]
fn the_sqlite_queue_answers_every_operation_through_the_trait() {
    let sqlite = open("ops");
    let queue: &dyn DlqStore = &sqlite;
    let (id, _) = queue.record(&new("a"), 2).unwrap();
    queue.record(&new("b"), 2).unwrap();
    assert_eq!(queue.get(&id).unwrap().unwrap().recorded.zone, "a");
    let only_a = ListQuery {
        zone: Some("a"),
        ..ListQuery::default()
    };
    assert_eq!(queue.list(&only_a, None, 10).unwrap().entries.len(), 1);
    assert_eq!(queue.claim(&id).unwrap().unwrap().state, "replaying");
    assert!(
        queue.claim(&id).unwrap().is_none(),
        "one replayer at a time"
    );
    assert_eq!(queue.failed(&id, "E: again").unwrap(), "pending");
    queue.claim(&id).unwrap().unwrap();
    assert_eq!(queue.failed(&id, "E: again").unwrap(), "needs_review");
    assert!(queue.redrive(&id, 1).unwrap());
    queue.claim(&id).unwrap().unwrap();
    queue.succeeded(&id).unwrap();
    assert!(queue.get(&id).unwrap().is_none());
    assert_eq!(queue.failed(&id, "late").unwrap(), "gone");
    assert_eq!(queue.stats().unwrap().total, 1);
    assert_eq!(queue.purge(None, None).unwrap(), 1);
}

#[test]
fn an_id_of_another_shape_names_nothing() {
    let sqlite = open("foreign");
    let queue: &dyn DlqStore = &sqlite;
    queue.record(&new("a"), 2).unwrap();
    for foreign in ["a:1795433169798-0", "local:x", ""] {
        assert!(queue.get(foreign).unwrap().is_none());
        assert!(queue.claim(foreign).unwrap().is_none());
        assert!(!queue.redrive(foreign, 1).unwrap());
        assert_eq!(queue.failed(foreign, "e").unwrap(), "gone");
        queue.succeeded(foreign).unwrap();
    }
    assert_eq!(queue.stats().unwrap().total, 1);
}

#[test]
fn a_held_entry_is_neither_forwardable_nor_claimable_until_released() {
    let queue = open("hold");
    let (row, _) = queue.record(&new("a"), 2).unwrap();
    let instance = queue.instance().unwrap();
    assert_eq!(queue.instance().unwrap(), instance, "stable for the file");
    assert_eq!(queue.forwardable(10).unwrap().len(), 1);
    let held = queue.hold(row).unwrap().unwrap();
    assert_eq!(held.state, "pending", "returned as it was");
    assert!(queue.hold(row).unwrap().is_none());
    assert!(queue.forwardable(10).unwrap().is_empty());
    assert!(queue.claim(row).unwrap().is_none());
    queue.release(&held).unwrap();
    assert_eq!(queue.get(row).unwrap().unwrap().state, "pending");
    assert!(queue.claim(row).unwrap().is_some());
    assert!(queue.hold(row).unwrap().is_none(), "a live replay keeps it");
}

#[test]
fn evictions_are_counted_in_the_file_for_every_handle() {
    use baldur::core::dlq::Overflow;
    let dir = std::env::temp_dir().join(format!("baldur-dlq-trait-{}-count", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let caps = Caps {
        max_size: 2,
        max_per_zone: 2,
        overflow: Overflow::CompressOldest,
    };
    let first = SqliteDlq::open(&dir.join("dlq.sqlite3"), caps).unwrap();
    for _ in 0..3 {
        first.record(&new("a"), 1).unwrap();
    }
    let second = SqliteDlq::open(&dir.join("dlq.sqlite3"), caps).unwrap();
    second.record(&new("a"), 1).unwrap();
    let counted = first.stats().unwrap().evictions;
    assert_eq!((counted.evicted, counted.compressed), (2, 2));
}

#[test]
fn a_record_keeps_the_token_another_store_knows_it_by() {
    let queue = open("token");
    let (plain, _) = queue.record(&new("a"), 1).unwrap();
    let (tokened, _) = queue.record_with_token(&new("a"), 1, Some("5f3a")).unwrap();
    assert_eq!(queue.token(plain).unwrap(), None);
    assert_eq!(queue.token(tokened).unwrap().as_deref(), Some("5f3a"));
    assert_eq!(queue.token(9999).unwrap(), None);
}

#[test]
fn a_file_from_before_tokens_gains_the_column() {
    let dir = std::env::temp_dir().join(format!("baldur-dlq-trait-{}-old", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dlq.sqlite3");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            zone TEXT NOT NULL, function TEXT NOT NULL, arguments TEXT NOT NULL,
            replayable INTEGER NOT NULL, error_type TEXT NOT NULL, error_message TEXT NOT NULL,
            attempts INTEGER NOT NULL, reason TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', replays_left INTEGER NOT NULL,
            last_replay_error TEXT, claimed_ms INTEGER NOT NULL DEFAULT 0,
            created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
         INSERT INTO entries (zone, function, arguments, replayable, error_type, error_message,
            attempts, reason, replays_left, created_ms, updated_ms)
            VALUES ('a', 'm:f', '{}', 1, 'E', 'm', 1, 'exhausted', 3, 1, 1);",
    )
    .unwrap();
    drop(old);
    let queue = SqliteDlq::open(&path, Caps::default()).unwrap();
    assert_eq!(queue.get(1).unwrap().unwrap().recorded.zone, "a");
    let (id, _) = queue.record_with_token(&new("a"), 1, Some("t")).unwrap();
    assert_eq!(queue.token(id).unwrap().as_deref(), Some("t"));
}
