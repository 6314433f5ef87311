//! Leader election over Redis: one process of the fleet leads, by a lease
//! with a fencing token that grows on every change of leader.
//!
//! [`Election`] is the lease as a state machine on an injected clock (no
//! I/O); [`wire`] holds the scripts: acquire-or-renew, release, and the
//! fenced write a leader's work goes through so a stale leader's write is
//! refused. The loop that runs them lives in `core::process::leader`.

mod lease;
mod timing;
pub mod wire;

pub use lease::{Attempt, Change, Election, Observed, Status};
pub use timing::{LeaseTiming, DEFAULT_LEASE, MAX_RETRY_PERIOD, MIN_LEASE};

#[cfg(test)]
mod tests;
