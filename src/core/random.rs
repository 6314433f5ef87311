//! Fork-safe randomness. Jitter and idempotency owner tokens come from
//! fastrand's per-thread generator, whose state a forked child inherits:
//! without a reseed, every pre-forked worker would draw the same numbers
//! (the same backoff, and colliding owner tokens in a shared store).

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// Reseeds this thread's generator from the process id and the clock. Call
/// it in a forked child (other threads of the child start fresh anyway).
pub fn reseed_after_fork() {
    // The system clock read directly, not the injected one: this is
    // entropy, not time, and a manual clock would seed every child alike.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(nanos);
    fastrand::seed(hasher.finish());
}
