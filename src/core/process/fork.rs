//! What a forked child forgets, in one place and one order. A child of a
//! pre-forking server (gunicorn, Celery's prefork pool) inherits the
//! parent's memory but none of its threads: every service here is dropped
//! without touching what the parent's threads own, and restarts lazily on
//! the child's first use.

use crate::core::events::{Event, EVENTS};
use crate::core::fork_cell::FORK_GATE;
use crate::core::process::admin::{Started, ADMIN};
use crate::core::process::{
    audit, compartments, dlq_flush, dlq_queues, idempotency, leader, scheduler, stores, watchdog,
    RUNTIME,
};
use crate::core::random;
use crate::core::store::caller_connection;
use std::time::Duration;

/// How long a fork waits for the sections under way (each takes
/// milliseconds; one waiting on another process, a SQLite lock say, is not
/// waited for past this).
const FORK_WAIT: Duration = Duration::from_secs(2);

/// The parent's side, before the fork (the bindings install it as
/// `os.register_at_fork(before=...)`): the fork gate's sections under way
/// (the breaker sync's lock-taking phases, the audit trail's SQLite
/// transactions) end first, a bounded wait, so the child inherits none
/// half done.
pub fn before_fork() {
    FORK_GATE.before_fork(FORK_WAIT);
}

/// The parent's side, after the fork: what waited goes on.
pub fn after_fork_in_parent() {
    FORK_GATE.after_fork_in_parent();
}

/// The child's side of a fork, run before anything else in the child (the
/// bindings install it as `os.register_at_fork(after_in_child=...)`). The
/// order matters: the runtime first (everything after may start a new
/// one), the random generator before anything draws a worker id or an
/// owner token from it, the stores before the queues that listen to their
/// health. An error names a store that could not be set up again from the
/// parent's configuration (the child then runs on process memory).
pub fn after_fork() -> Result<(), String> {
    FORK_GATE.after_fork_in_child();
    RUNTIME.forget_after_fork();
    watchdog::after_fork();
    random::reseed_after_fork();
    caller_connection::forget_after_fork();
    let stores = stores::after_fork();
    idempotency::after_fork();
    dlq_queues::after_fork();
    dlq_flush::after_fork();
    audit::after_fork();
    compartments::after_fork();
    admin_after_fork();
    leader::after_fork();
    scheduler::after_fork();
    stores
}

/// The admin server in the child: skipped while the parent serves, else
/// tried again; what happened is an event either way.
fn admin_after_fork() {
    let (name, detail) = match ADMIN.after_fork() {
        None => return,
        Some(Ok(Started::Serving(address))) => {
            ("admin.server_started", format!("serving on {address}"))
        }
        Some(Ok(Started::Skipped(why))) => ("admin.server_skipped", why),
        Some(Err(problem)) => ("admin.server_failed", problem),
    };
    EVENTS.emit(Event::Admin { name, detail });
}
