//! The clock: monotonic and wall time move together on a manual clock, and
//! the process clock switches between system and manual time without its
//! monotonic reading ever going back.

use baldur::core::clock::{
    advance_process_clock, process_clock, use_manual_process_clock, use_system_process_clock,
    Clock, ManualClock, SystemClock, MANUAL_WALL_START_MILLIS,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn system_wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_manual_clock_starts_at_a_fixed_instant_and_moves_both_times_together() {
    let clock = ManualClock::new();
    assert_eq!(
        (clock.now(), clock.wall_millis()),
        (0, MANUAL_WALL_START_MILLIS)
    );
    clock.advance(Duration::from_millis(1500));
    assert_eq!(clock.now(), 1_500_000_000);
    assert_eq!(clock.wall_millis(), MANUAL_WALL_START_MILLIS + 1500);
}

#[test]
fn sub_millisecond_advances_add_up_on_the_wall() {
    let clock = ManualClock::new();
    for _ in 0..4 {
        clock.advance(Duration::from_micros(250));
    }
    assert_eq!(clock.wall_millis(), MANUAL_WALL_START_MILLIS + 1);
}

#[test]
fn setting_the_wall_time_leaves_monotonic_time_alone() {
    let (manual, shared) = ManualClock::shared();
    manual.advance(Duration::from_secs(3));
    manual.set_wall_millis(42);
    assert_eq!((shared.now(), shared.wall_millis()), (3_000_000_000, 42));
    manual.advance(Duration::from_secs(1));
    assert_eq!(shared.wall_millis(), 1_042);
}

#[test]
fn the_system_clock_reads_the_systems_wall_time() {
    let clock = SystemClock::new();
    let before = system_wall_millis();
    let wall = clock.wall_millis();
    assert!(before <= wall && wall <= system_wall_millis());
}

/// One test: the process clock is one per process, and the tests of a
/// binary run at the same time.
#[test]
fn the_process_clock_switches_modes_without_going_back() {
    let clock = process_clock();
    assert!(Arc::ptr_eq(&clock, &process_clock()), "one per process");

    // System mode: the wall is the system's; advancing does nothing.
    let wall = clock.wall_millis();
    assert!(wall.abs_diff(system_wall_millis()) < 60_000);
    let start = clock.now();
    advance_process_clock(Duration::from_secs(3600));
    assert!(clock.now() < start + 3_600_000_000_000, "not moved by hand");

    // Manual: stopped where it read, moved only by hand, both times at once.
    use_manual_process_clock();
    let (frozen, frozen_wall) = (clock.now(), clock.wall_millis());
    assert!(frozen >= start && frozen_wall >= wall);
    use_manual_process_clock(); // a second switch changes nothing
    assert_eq!(clock.now(), frozen);
    advance_process_clock(Duration::from_secs(90));
    assert_eq!(clock.now(), frozen + 90_000_000_000);
    assert_eq!(clock.wall_millis(), frozen_wall + 90_000);

    // Back to the system: monotonic time continues from the manual reading
    // (90 s ahead of the system's), the wall is the system's again.
    use_system_process_clock();
    let resumed = clock.now();
    assert!(resumed >= frozen + 90_000_000_000);
    assert!(resumed < frozen + 90_000_000_000 + 60_000_000_000);
    assert!(clock.wall_millis().abs_diff(system_wall_millis()) < 60_000);
    use_system_process_clock(); // a second switch changes nothing
    assert!(clock.now() >= resumed);

    // And manual again: it continues from there, not from the first stop.
    use_manual_process_clock();
    let again = clock.now();
    assert!(again >= resumed);
    advance_process_clock(Duration::from_millis(1));
    assert_eq!(clock.now(), again + 1_000_000);
    use_system_process_clock();
    assert!(clock.now() >= again + 1_000_000);
}

#[test]
fn the_system_clock_shared_is_still_its_own_clock() {
    let a = SystemClock::shared();
    let b = SystemClock::shared();
    assert!(!Arc::ptr_eq(&a, &b));
    assert!(a.now() <= a.now());
}
