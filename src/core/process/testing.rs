//! A test's reset: the process's services back to what a fresh process
//! has, its configuration kept. Shared stores are never touched: what a
//! Redis holds is the test's to clear.

use crate::core::control::KILL_SWITCH;
use crate::core::metrics::registry::METRICS;
use crate::core::metrics::routes::ENDPOINTS;
use crate::core::process::breakers::REGISTRY;
use crate::core::process::dlq_queues;
use crate::core::process::idempotency::{self, GATE};
use crate::core::process::notify;
use crate::core::retry::waits;

/// Breakers no zone holds forgotten (the rest restarted, as if just made),
/// the idempotency gate on a fresh memory store unless a shared one is
/// configured, the kill switch enabled, every metric at zero, the DLQ's
/// replay lease back to its default, notifications' budgets, cooldowns,
/// counts and outbox emptied, and the recorded skipped waits forgotten.
/// The drain is the caller's: ending it is announced (readiness changes),
/// which only the embedder can do.
pub fn reset() {
    REGISTRY.forget();
    if !GATE.is_remote() {
        // Also ends an injected fault (an unreachable store is not remote).
        idempotency::use_memory_store();
    }
    KILL_SWITCH.enable();
    METRICS.clear();
    ENDPOINTS.clear();
    // Never refused: the default lease is not zero.
    let _ = dlq_queues::set_replay_lease(dlq_queues::DEFAULT_REPLAY_LEASE);
    notify::clear();
    waits::clear_skipped();
}
