//! The background runtime's life cycle: lazy start, shutdown, restart.

use baldur::core::runtime::BackgroundRuntime;
use std::time::Duration;

#[test]
fn starts_only_when_first_used() {
    let runtime = BackgroundRuntime::new();
    assert!(!runtime.is_running());
    assert_eq!(runtime.starts(), 0);
    assert_eq!(runtime.block_on(async { 1 + 1 }).unwrap(), 2);
    assert!(runtime.is_running());
    assert_eq!(runtime.starts(), 1);
    runtime.shutdown(Duration::from_secs(1));
}

#[test]
fn spawned_tasks_run_on_its_workers() {
    let runtime = BackgroundRuntime::new();
    let task = runtime
        .spawn(async { std::thread::current().name().map(str::to_owned) })
        .unwrap();
    let name = runtime.block_on(task).unwrap().unwrap();
    let name = name.as_deref();
    assert_eq!(name, Some("baldur-runtime"));
    runtime.shutdown(Duration::from_secs(1));
}

#[test]
fn a_shut_down_runtime_starts_again_on_next_use() {
    let runtime = BackgroundRuntime::new();
    runtime.block_on(async {}).unwrap();
    runtime.shutdown(Duration::from_secs(1));
    assert!(!runtime.is_running());
    runtime.block_on(async {}).unwrap();
    assert_eq!(runtime.starts(), 2);
    runtime.shutdown(Duration::from_secs(1));
}

#[test]
fn forgetting_after_fork_leaves_the_next_use_a_fresh_runtime() {
    let runtime = BackgroundRuntime::new();
    runtime.block_on(async {}).unwrap();
    runtime.forget_after_fork();
    assert!(!runtime.is_running());
    assert_eq!(runtime.block_on(async { 7 }).unwrap(), 7);
    assert_eq!(runtime.starts(), 2);
    runtime.shutdown(Duration::from_secs(1));
}

#[test]
fn shutting_down_a_runtime_that_never_started_is_a_no_op() {
    let runtime = BackgroundRuntime::new();
    runtime.shutdown(Duration::from_secs(1));
    assert_eq!(runtime.starts(), 0);
}
