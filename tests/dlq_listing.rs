//! Listing a page at a time: the local queue's pages, the cursor, and the
//! merge of Redis's and the local queue's pages into one walk.

use baldur::core::dlq::listing::{merge_pages, Cursor, ListQuery, Page};
use baldur::core::dlq::{Caps, DlqStore, Entry, NewEntry, SqliteDlq};

fn open(name: &str) -> SqliteDlq {
    let dir = std::env::temp_dir().join(format!("baldur-dlq-list-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    SqliteDlq::open(&dir.join("dlq.sqlite3"), Caps::default()).unwrap()
}

fn new(zone: &str, error_type: &str) -> NewEntry {
    NewEntry {
        zone: zone.into(),
        function: "shop:charge".into(),
        arguments: r#"{"args": [], "kwargs": {}}"#.into(),
        replayable: true,
        error_type: error_type.into(),
        error_message: "down".into(),
        attempts: 1,
        reason: "exhausted".into(),
    }
}

fn entry(id: &str, created_ms: i64) -> Entry {
    Entry {
        id: id.into(),
        recorded: new("z", "builtins.OSError"),
        state: "pending".into(),
        replays_left: 3,
        last_replay_error: None,
        created_ms,
        updated_ms: created_ms,
    }
}

/// Every id a walk of `limit`-sized pages over the local queue hands out.
fn walk_local(queue: &SqliteDlq, query: &ListQuery<'_>, limit: u64) -> (Vec<String>, usize) {
    let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, Some(Cursor::default()));
    while let Some(at) = cursor {
        let local = queue.list(query, at.local_after.as_deref(), limit).unwrap();
        let (entries, next) = merge_pages(&at, None, local, limit as usize);
        assert!(entries.len() as u64 <= limit);
        seen.extend(entries.into_iter().map(|(e, remote)| {
            assert!(!remote);
            e.id
        }));
        pages += 1;
        assert!(pages < 1_000, "the walk ends");
        cursor = next.map(|c| Cursor::decode(&c.encode()).unwrap());
    }
    (seen, pages)
}

#[test]
fn a_walk_over_the_local_queue_sees_every_entry_once_in_order() {
    let queue = open("walk");
    for i in 0..25 {
        let zone = if i % 2 == 0 { "even" } else { "odd" };
        queue.record(&new(zone, "builtins.OSError"), 3).unwrap();
    }
    let (seen, pages) = walk_local(&queue, &ListQuery::default(), 10);
    let expected: Vec<String> = (1..=25).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    let odd = ListQuery {
        zone: Some("odd"),
        ..ListQuery::default()
    };
    let (seen, _) = walk_local(&queue, &odd, 5);
    assert_eq!(seen.len(), 12);
    assert!(seen.iter().all(|id| id.parse::<i64>().unwrap() % 2 == 0));
}

#[test]
fn a_page_says_whether_more_follow() {
    let queue = open("more");
    for _ in 0..3 {
        queue.record(&new("z", "builtins.OSError"), 3).unwrap();
    }
    let all = ListQuery::default();
    assert!(queue.list(&all, None, 2).unwrap().more);
    assert!(!queue.list(&all, None, 3).unwrap().more);
    assert!(!queue.list(&all, Some("2"), 5).unwrap().more);
    assert_eq!(queue.list(&all, Some("2"), 5).unwrap().entries.len(), 1);
    assert!(
        queue.list(&all, Some("zone:1-0"), 5).is_err(),
        "not a local id"
    );
}

#[test]
fn pages_of_both_queues_merge_oldest_first_and_resume_where_each_stopped() {
    let remote = Page {
        entries: vec![entry("z:100-0", 100), entry("z:300-0", 300)],
        more: true,
    };
    let local = Page {
        entries: vec![entry("1", 200), entry("2", 400)],
        more: false,
    };
    let (entries, next) = merge_pages(&Cursor::default(), Some(remote), local, 3);
    let ids: Vec<&str> = entries.iter().map(|(e, _)| e.id.as_str()).collect();
    assert_eq!(ids, ["z:100-0", "1", "z:300-0"]);
    let next = next.expect("more to come");
    assert_eq!(next.remote_after.as_deref(), Some("z:300-0"));
    assert_eq!(next.local_after.as_deref(), Some("1"));
    assert!(
        !next.remote_done && !next.local_done,
        "entry 2 was not handed out"
    );
}

#[test]
fn the_walk_ends_when_both_are_done_or_redis_cannot_answer() {
    let done = Page {
        entries: vec![entry("z:1-0", 1)],
        more: false,
    };
    let (_, next) = merge_pages(&Cursor::default(), Some(done.clone()), Page::default(), 10);
    assert_eq!(next, None);
    // Redis unreachable: the walk goes over the local queue and ends with it.
    let (entries, next) = merge_pages(&Cursor::default(), None, done, 10);
    assert_eq!(entries.len(), 1);
    assert_eq!(next, None);
}

#[test]
fn a_cursor_that_was_not_handed_out_is_refused() {
    // Empty, not hex, an odd length, and {"r":1} (a number where an id goes).
    for bad in ["", "zz", "7b7d0", "7b2272223a317d"] {
        assert!(Cursor::decode(bad).is_err(), "{bad:?}");
    }
}
