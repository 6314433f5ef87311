//! The audit chain in SQLite: writers on separate connections (as separate
//! processes are) take turns and never fork the chain, and each kind of
//! tampering done with SQL against the real table is named by `verify`.

use baldur::core::audit::{NewRecord, SqliteAudit, CHECKPOINT_EVERY};
use rusqlite::Connection;
use std::path::PathBuf;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baldur-audit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("audit.sqlite3")
}

fn action(target: &str) -> NewRecord {
    NewRecord {
        at: 1_733_300_000.5,
        actor: "admin:alice".into(),
        action: "cb.force_open".into(),
        target: target.into(),
        reason: Some("drill".into()),
        details: serde_json::Map::new(),
    }
}

fn filled(name: &str, records: usize) -> (PathBuf, SqliteAudit) {
    let path = temp_path(name);
    let audit = SqliteAudit::open(&path, None).unwrap();
    audit
        .append((0..records).map(|i| action(&format!("zone-{i}"))).collect())
        .unwrap();
    (path, audit)
}

fn tamper(path: &PathBuf, sql: &str) {
    Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

#[test]
fn writers_on_separate_connections_make_one_unbroken_chain() {
    let path = temp_path("writers");
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let path = &path;
            scope.spawn(move || {
                // A connection of its own, as a process has.
                let audit = SqliteAudit::open(path, None).unwrap();
                std::thread::scope(|scope| {
                    for thread in 0..4 {
                        let audit = &audit;
                        scope.spawn(move || {
                            for i in 0..25 {
                                let target = format!("w{writer}-t{thread}-{i}");
                                audit.append(vec![action(&target)]).unwrap();
                            }
                        });
                    }
                });
            });
        }
    });
    let audit = SqliteAudit::open(&path, None).unwrap();
    let verdict = audit.verify().unwrap();
    assert!(verdict.ok, "{verdict:?}");
    assert_eq!(verdict.checked, 8 * 4 * 25);
    let listed = audit.list(1_000, 0).unwrap();
    let seqs: Vec<u64> = listed.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=800).collect::<Vec<_>>(), "no gap, no duplicate");
}

#[test]
fn list_pages_by_seq() {
    let (_, audit) = filled("list", 10);
    let page: Vec<u64> = audit.list(3, 4).unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(page, vec![5, 6, 7]);
    assert_eq!(audit.list(3, 10).unwrap(), vec![]);
}

#[test]
fn each_kind_of_tampering_with_sql_is_named() {
    let cases = [
        (
            "UPDATE baldur_audit SET actor = 'admin:mallory' WHERE seq = 4",
            4,
        ),
        (
            "UPDATE baldur_audit SET details = '{\"x\":1}' WHERE seq = 6",
            6,
        ),
        ("DELETE FROM baldur_audit WHERE seq = 5", 5),
        // Inserted: everything from 5 on moved up one, a forged row put in 5.
        (
            "UPDATE baldur_audit SET seq = seq + 100 WHERE seq >= 5;
             UPDATE baldur_audit SET seq = seq - 99 WHERE seq >= 105;
             INSERT INTO baldur_audit SELECT 5, at, actor, action, 'forged', reason, details,
                 prev_hash, hash FROM baldur_audit WHERE seq = 4;",
            5,
        ),
        // Reordered: rows 3 and 4 swap places.
        (
            "UPDATE baldur_audit SET seq = 100 WHERE seq = 3;
             UPDATE baldur_audit SET seq = 3 WHERE seq = 4;
             UPDATE baldur_audit SET seq = 4 WHERE seq = 100;",
            3,
        ),
    ];
    for (i, (sql, first_bad)) in cases.into_iter().enumerate() {
        let (path, audit) = filled(&format!("tamper-{i}"), 10);
        assert!(audit.verify().unwrap().ok);
        tamper(&path, sql);
        let verdict = audit.verify().unwrap();
        assert!(!verdict.ok, "{sql}");
        assert_eq!(verdict.first_bad_seq, Some(first_bad), "{sql}: {verdict:?}");
    }
}

#[test]
fn a_tail_cut_behind_a_checkpoint_is_caught() {
    let records = CHECKPOINT_EVERY as usize + 10;
    let (path, audit) = filled("truncated", records);
    audit.checkpoint().unwrap();
    tamper(&path, "DELETE FROM baldur_audit WHERE seq > 990");
    let verdict = audit.verify().unwrap();
    assert_eq!((verdict.ok, verdict.first_bad_seq), (false, Some(991)));
    assert!(verdict.problem.unwrap().contains("truncated"));
}

#[test]
fn a_signed_checkpoint_catches_a_chain_rebuilt_without_the_key() {
    let path = temp_path("signed");
    let key = b"operator's key".to_vec();
    let audit = SqliteAudit::open(&path, Some(key.clone())).unwrap();
    audit
        .append((0..5).map(|i| action(&format!("z{i}"))).collect())
        .unwrap();
    audit.checkpoint().unwrap();
    assert!(audit.verify().unwrap().ok);
    // A forger rewrites the checkpoint to match a chain of their own.
    tamper(
        &path,
        "UPDATE baldur_audit_checkpoints SET hash = 'forged', signature = NULL",
    );
    let verdict = audit.verify().unwrap();
    assert!(!verdict.ok && verdict.problem.unwrap().contains("not signed"));
}

#[test]
fn the_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (path, _audit) = filled("private", 1);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
