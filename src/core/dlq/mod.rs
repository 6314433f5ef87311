//! The dead-letter queue: calls that ended without the function succeeding,
//! recorded durably, replayed under the same protection, never dropped
//! without a count and a log line.

pub mod entry;
pub mod sqlite;

pub use entry::{Caps, Entry, Eviction, NewEntry, Overflow, DEFAULT_REPLAY_BUDGET};
pub use sqlite::{DlqError, SqliteDlq, Stats};
