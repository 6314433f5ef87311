//! The compartment's state machine on a manual clock, and its sharing
//! between real threads and tasks.

use super::*;
use crate::core::clock::{ManualClock, SystemClock};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn compartment(
    capacity: i64,
    max_waiting: i64,
    wait_ms: u64,
) -> (Arc<ManualClock>, Arc<Compartment>) {
    let (clock, shared) = ManualClock::shared();
    let settings = Settings::new(capacity, max_waiting, Duration::from_millis(wait_ms)).unwrap();
    (clock, Compartment::new("db", settings, shared))
}

fn permit(acquired: Acquire) -> Permit {
    match acquired {
        Acquire::Permit(permit) => permit,
        other => panic!("expected a permit, got {other:?}"),
    }
}

fn ticket(acquired: Acquire) -> Ticket {
    match acquired {
        Acquire::Wait(ticket) => ticket,
        other => panic!("expected a place in line, got {other:?}"),
    }
}

#[test]
fn a_full_compartment_without_a_line_refuses_and_says_how_full() {
    let (_, db) = compartment(2, 0, 0);
    let _a = permit(db.acquire());
    let _b = permit(db.acquire());
    let Acquire::Full(occupancy) = db.acquire() else {
        panic!()
    };
    assert_eq!(occupancy.to_string(), "db: 2/2 active, 0/0 waiting");
    let snapshot = db.snapshot();
    assert_eq!(
        (snapshot.active, snapshot.waiting, snapshot.rejected),
        (2, 0, 1)
    );
}

#[test]
fn a_returned_permit_goes_to_the_first_in_line_and_newcomers_queue_behind() {
    let (_, db) = compartment(1, 3, 1_000);
    let held = permit(db.acquire());
    let mut first = ticket(db.acquire());
    let mut second = ticket(db.acquire());
    drop(held);
    assert!(second.poll().is_none(), "the second waits for the first");
    let _newcomer = ticket(db.acquire()); // a free permit is not taken past the line
    let first_permit = first.poll().unwrap().unwrap();
    assert_eq!(db.snapshot().active, 1);
    drop(first_permit);
    assert!(second.poll().unwrap().is_ok());
}

#[test]
fn a_wait_times_out_on_the_compartments_clock() {
    let (clock, db) = compartment(1, 1, 500);
    let _held = permit(db.acquire());
    let mut waiting = ticket(db.acquire());
    clock.advance(Duration::from_millis(499));
    assert!(waiting.poll().is_none());
    clock.advance(Duration::from_millis(1));
    let refused = waiting.poll().unwrap().unwrap_err();
    assert_eq!(refused.to_string(), "db: 1/1 active, 1/1 waiting");
    assert_eq!(db.snapshot().waiting, 0);
    assert_eq!(db.snapshot().rejected, 1);
}

#[test]
fn a_full_line_refuses() {
    let (_, db) = compartment(1, 1, 1_000);
    let _held = permit(db.acquire());
    let _waiting = ticket(db.acquire());
    let Acquire::Full(occupancy) = db.acquire() else {
        panic!()
    };
    assert_eq!(occupancy.to_string(), "db: 1/1 active, 1/1 waiting");
}

#[test]
fn a_dropped_ticket_leaves_the_line_and_hands_on_a_granted_permit() {
    let (_, db) = compartment(1, 2, 1_000);
    let held = permit(db.acquire());
    let cancelled = ticket(db.acquire());
    let mut next = ticket(db.acquire());
    drop(cancelled); // a cancelled waiter: out of the line
    assert_eq!(db.snapshot().waiting, 1);
    drop(held);
    assert!(next.poll().unwrap().is_ok());

    let (_, db) = compartment(1, 2, 1_000);
    let held = permit(db.acquire());
    let granted_then_cancelled = ticket(db.acquire());
    let mut next = ticket(db.acquire());
    drop(held); // granted to the first, who is gone before it looks
    drop(granted_then_cancelled);
    let handed_on = next.poll().unwrap().unwrap();
    assert_eq!(db.snapshot().active, 1);
    drop(handed_on);
    assert_eq!(db.snapshot().active, 0);
}

#[test]
fn trying_takes_a_free_permit_and_otherwise_leaves_no_trace() {
    let (_, db) = compartment(1, 1, 1_000);
    let held = db.try_acquire().expect("a free permit");
    assert!(db.try_acquire().is_none());
    let snapshot = db.snapshot();
    assert_eq!(
        (snapshot.active, snapshot.waiting, snapshot.rejected),
        (1, 0, 0)
    );
    let mut waiting = ticket(db.acquire());
    drop(held);
    assert!(db.try_acquire().is_none(), "the line goes first");
    assert!(waiting.poll().unwrap().is_ok());
}

#[test]
fn every_permit_comes_back() {
    let (_, db) = compartment(3, 0, 0);
    let permits: Vec<_> = (0..3).map(|_| permit(db.acquire())).collect();
    assert_eq!(db.snapshot().active, 3);
    drop(permits);
    assert_eq!(db.snapshot().active, 0);
}

#[test]
fn a_larger_capacity_lets_the_line_in_and_a_smaller_one_drains() {
    let (_, db) = compartment(1, 2, 1_000);
    let a = permit(db.acquire());
    let mut b = ticket(db.acquire());
    db.reconfigure(Settings::new(2, 2, Duration::from_secs(1)).unwrap());
    let b = b.poll().unwrap().unwrap();
    db.reconfigure(Settings::new(1, 2, Duration::from_secs(1)).unwrap());
    let mut c = ticket(db.acquire());
    drop(a); // 2 out of a capacity of 1: freed, not handed on
    assert!(c.poll().is_none());
    drop(b);
    assert!(c.poll().unwrap().is_ok());
}

#[test]
fn bad_limits_name_the_key() {
    let zero = Settings::new(0, 0, Duration::ZERO).unwrap_err();
    assert_eq!(zero.key, "max_concurrent");
    let negative = Settings::new(1, -1, Duration::ZERO).unwrap_err();
    assert_eq!(negative.key, "max_waiting");
}

#[test]
fn the_registry_holds_the_built_ins_and_names_them_when_a_name_is_unknown() {
    let (_, clock) = ManualClock::shared();
    let registry = Compartments::with_built_ins(clock);
    let api = registry.get("external_api").unwrap().snapshot();
    assert_eq!((api.settings.capacity, api.settings.max_waiting), (5, 10));
    assert_eq!(api.settings.wait_timeout, Duration::from_secs(5));
    assert_eq!(
        registry
            .get("message_queue")
            .unwrap()
            .snapshot()
            .settings
            .max_waiting,
        0
    );
    let missing = registry.get("x").unwrap_err();
    assert_eq!(
        missing.to_string(),
        "compartment not found: 'x'; registered: cache, database, external_api, message_queue"
    );
    let search = registry.register(
        "search",
        Settings::new(8, 16, Duration::from_millis(500)).unwrap(),
    );
    let again = registry.register("search", Settings::new(4, 0, Duration::ZERO).unwrap());
    assert!(Arc::ptr_eq(&search, &again), "one compartment per name");
    assert_eq!(search.snapshot().settings.capacity, 4);
}

#[test]
fn threads_never_hold_more_permits_than_the_capacity() {
    let settings = Settings::new(2, 16, Duration::from_secs(10)).unwrap();
    let db = Compartment::new("db", settings, SystemClock::shared());
    let running = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (db, running, most) = (db.clone(), running.clone(), most.clone());
            std::thread::spawn(move || {
                let permit = match db.acquire() {
                    Acquire::Permit(permit) => permit,
                    Acquire::Wait(mut ticket) => loop {
                        if let Some(settled) = ticket.wait(Duration::from_millis(50)) {
                            break settled.unwrap();
                        }
                    },
                    Acquire::Full(occupancy) => panic!("{occupancy}"),
                };
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
    assert_eq!(db.snapshot().active, 0);
}

#[test]
fn a_task_awaits_its_permit_and_a_cancelled_task_leaves_the_line() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (_, db) = compartment(1, 2, 1_000);
    runtime.block_on(async {
        let held = permit(db.acquire());
        let cancelled = ticket(db.acquire()).wait_async();
        let waiting = tokio::spawn(ticket(db.acquire()).wait_async());
        // Cancelled: its future is dropped before it is granted.
        let _ = tokio::time::timeout(Duration::from_millis(1), cancelled).await;
        assert_eq!(db.snapshot().waiting, 1);
        drop(held);
        let permit = waiting.await.unwrap().unwrap();
        assert_eq!(db.snapshot().active, 1);
        drop(permit);
    });
    assert_eq!(db.snapshot().active, 0);
}

#[test]
fn a_forked_child_starts_with_nothing_out_and_nobody_in_line() {
    let (_, db) = compartment(2, 4, 1_000);
    let held = permit(db.acquire());
    let other = permit(db.acquire());
    let waiting = ticket(db.acquire());
    // The parent's threads held these; in the child they never come back.
    std::mem::forget(other);
    std::mem::forget(waiting);
    db.after_fork();
    let fresh = db.snapshot();
    assert_eq!(
        (fresh.active, fresh.waiting, fresh.settings.capacity),
        (0, 0, 2)
    );
    // The forking thread's own permit comes back to the fresh state: freed,
    // never below zero.
    drop(held);
    assert_eq!(db.snapshot().active, 0);
    let _a = permit(db.acquire());
    let _b = permit(db.acquire());
    assert!(matches!(db.acquire(), Acquire::Wait(_)));
}
