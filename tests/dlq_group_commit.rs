//! Group commit: concurrent recorders share one commit, each answered with
//! its own result (its own id, its own refusal under a cap), and every
//! acknowledged entry is on disk (a process killed right after the acks
//! loses none).

use baldur::core::dlq::group_commit::GroupCommit;
use baldur::core::dlq::{Caps, DlqError, NewEntry, Overflow, SqliteDlq};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Barrier, Mutex};

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baldur-dlqgc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("dlq.sqlite3")
}

fn new(zone: &str) -> NewEntry {
    NewEntry {
        zone: zone.into(),
        function: "shop.billing:charge".into(),
        arguments: r#"{"args": [], "kwargs": {}}"#.into(),
        replayable: true,
        error_type: "builtins.ConnectionError".into(),
        error_message: "down".into(),
        attempts: 1,
        reason: "exhausted".into(),
    }
}

/// Waits (yielding, not sleeping) until `group` holds `n` queued requests.
fn until_waiting<R, T>(group: &GroupCommit<R, T>, n: usize) {
    while group.waiting() < n {
        std::thread::yield_now();
    }
}

/// A commit that says it started, then waits to be let go.
struct Gate {
    started: mpsc::Sender<()>,
    go: Mutex<mpsc::Receiver<()>>,
}

impl Gate {
    /// The gate, the receiver of "started" and the sender of "go".
    fn new() -> (Self, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (started, on_start) = mpsc::channel();
        let (release, go) = mpsc::channel();
        let go = Mutex::new(go);
        (Self { started, go }, on_start, release)
    }

    fn pass(&self) {
        self.started.send(()).unwrap();
        self.go.lock().unwrap().recv().unwrap();
    }
}

#[test]
fn requests_queued_during_a_commit_share_the_next_one_each_answered_its_own() {
    let group: GroupCommit<u32, u32> = GroupCommit::new();
    let batches = Mutex::new(Vec::new());
    let (gate, on_start, release) = Gate::new();
    std::thread::scope(|s| {
        let (group, batches, gate) = (&group, &batches, &gate);
        let first = s.spawn(move || {
            group.submit(0, |batch| {
                gate.pass(); // a slow commit
                batches.lock().unwrap().push(batch.clone());
                batch.iter().map(|n| n * 10).collect()
            })
        });
        on_start.recv().unwrap();
        let others: Vec<_> = (1..=3)
            .map(|n| {
                s.spawn(move || {
                    group.submit(n, |batch| {
                        batches.lock().unwrap().push(batch.clone());
                        batch.iter().map(|n| n * 10).collect()
                    })
                })
            })
            .collect();
        until_waiting(group, 3);
        release.send(()).unwrap();
        assert_eq!(first.join().unwrap(), Some(0));
        let answers: Vec<_> = others.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(answers, vec![Some(10), Some(20), Some(30)]);
    });
    let mut batches = batches.into_inner().unwrap();
    batches[1].sort_unstable();
    assert_eq!(
        batches,
        vec![vec![0], vec![1, 2, 3]],
        "one commit for the three"
    );
}

#[test]
fn a_leader_that_panics_answers_its_batch_none_and_the_next_commit_runs() {
    let group: GroupCommit<u32, u32> = GroupCommit::new();
    let (gate, on_start, release) = Gate::new();
    std::thread::scope(|s| {
        let (group, gate) = (&group, &gate);
        let leader = s.spawn(move || {
            group.submit(1, |_| {
                gate.pass();
                panic!("the disk caught fire");
            })
        });
        on_start.recv().unwrap();
        // Queued behind the doomed commit: answered by a commit of its own.
        let follower = s.spawn(move || group.submit(2, |batch| batch));
        until_waiting(group, 1);
        release.send(()).unwrap();
        assert!(leader.join().is_err());
        assert_eq!(follower.join().unwrap(), Some(2));
    });
    assert_eq!(group.submit(3, |batch| batch), Some(3));
}

#[test]
fn concurrent_recorders_under_reject_get_exactly_the_room_left_each_its_own_answer() {
    let caps = Caps {
        max_size: 1_000,
        max_per_zone: 10,
        overflow: Overflow::Reject,
    };
    let dlq = SqliteDlq::open(&temp_path("reject"), caps).unwrap();
    let barrier = Barrier::new(8);
    let answers: Vec<_> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dlq, barrier) = (&dlq, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    (0..5).map(|_| dlq.record(&new("z"), 3)).collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let ids: BTreeSet<i64> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(|a| a.0)
        .collect();
    let refused = answers.iter().filter(|a| a.is_err()).collect::<Vec<_>>();
    assert_eq!(ids.len(), 10, "exactly the cap, each id its own");
    assert_eq!(refused.len(), 30);
    let full = DlqError::Full {
        cap: "max_per_zone",
        limit: 10,
    };
    assert!(refused.iter().all(|a| a.as_ref().unwrap_err() == &full));
    let stored: BTreeSet<i64> = ids
        .iter()
        .filter(|id| dlq.get(**id).unwrap().is_some())
        .copied()
        .collect();
    assert_eq!(stored, ids);
}

#[test]
fn concurrent_recorders_under_drop_oldest_each_see_their_own_eviction() {
    let caps = Caps {
        max_size: 20,
        max_per_zone: 1_000,
        overflow: Overflow::DropOldest,
    };
    let dlq = SqliteDlq::open(&temp_path("drop"), caps).unwrap();
    let barrier = Barrier::new(8);
    let evicted = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (dlq, barrier, evicted) = (&dlq, &barrier, &evicted);
            s.spawn(move || {
                barrier.wait();
                for _ in 0..10 {
                    let (_, eviction) = dlq.record(&new(&format!("z{t}")), 3).unwrap();
                    evicted.fetch_add(eviction.evicted as usize, Ordering::Relaxed);
                }
            });
        }
    });
    let stats = dlq.stats().unwrap();
    assert_eq!(stats.total, 20);
    assert_eq!(evicted.into_inner(), 60);
    assert_eq!(stats.evictions.evicted, 60);
}

/// Set in the child process of the kill test: where its queue lives.
const CHILD: &str = "BALDUR_DLQ_GROUP_COMMIT_CHILD";
/// Acknowledgements the child waits for before it is killed.
const ACKS: usize = 200;

#[test]
fn every_entry_acknowledged_survives_a_kill_9_right_after_the_acks() {
    if let Ok(path) = std::env::var(CHILD) {
        record_until_killed(std::path::Path::new(&path));
    }
    let path = temp_path("kill9");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "every_entry_acknowledged_survives_a_kill_9_right_after_the_acks",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.status.signal(), Some(9), "{child:?}");
    let acked: Vec<i64> = String::from_utf8_lossy(&child.stdout)
        .lines()
        // The harness's own "test ... " line has no newline: the first ack
        // may follow it on the same line.
        .filter_map(|line| line.split_once("acked ").map(|(_, id)| id))
        .map(|id| id.parse().unwrap())
        .collect();
    assert!(acked.len() >= ACKS, "{} acks", acked.len());
    let dlq = SqliteDlq::open(&path, Caps::default()).unwrap();
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| dlq.get(**id).unwrap().is_none())
        .collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
}

/// The child: 8 threads record as fast as they can, printing each id once
/// it is acknowledged; the one that prints the `ACKS`th kills the process
/// while the others are mid-commit.
fn record_until_killed(path: &std::path::Path) -> ! {
    let dlq = SqliteDlq::open(path, Caps::default()).unwrap();
    let acks = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (dlq, acks) = (&dlq, &acks);
            s.spawn(move || loop {
                let (id, _) = dlq.record(&new(&format!("z{t}")), 3).unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "acked {id}").unwrap();
                out.flush().unwrap();
                drop(out);
                if acks.fetch_add(1, Ordering::SeqCst) + 1 == ACKS {
                    let _ = rustix::process::kill_process(
                        rustix::process::getpid(),
                        rustix::process::Signal::KILL,
                    );
                }
            });
        }
    });
    unreachable!("killed")
}
