//! A dead-letter entry: one call that ended without the function
//! succeeding, recorded so it can be replayed (never pickled: its
//! arguments are JSON, and a queue never executes what it reads back).

use serde::{Deserialize, Serialize};

/// Replays an entry gets before it needs a human.
pub const DEFAULT_REPLAY_BUDGET: u32 = 3;
/// Entries the queue holds in all (`BALDUR_DLQ_MAX_SIZE`).
pub const DEFAULT_MAX_SIZE: u64 = 100_000;
/// Entries one zone may hold (`BALDUR_DLQ_MAX_PER_DOMAIN`).
pub const DEFAULT_MAX_PER_ZONE: u64 = 10_000;

/// An entry waiting for a replay.
pub const STATE_PENDING: &str = "pending";
/// An entry a replayer holds (taken over once its lease passes).
pub const STATE_REPLAYING: &str = "replaying";
/// An entry out of replays, or refused by replay: a human's turn.
pub const STATE_NEEDS_REVIEW: &str = "needs_review";
/// What a replay that succeeded reports: the entry left the queue.
pub const STATE_DONE: &str = "done";
/// What settling reports for an entry purged meanwhile.
pub const STATE_GONE: &str = "gone";
/// The states an entry in the queue is in (the SQL and Lua of the stores
/// spell the same words: they are their own languages).
pub const STATES: [&str; 3] = [STATE_PENDING, STATE_REPLAYING, STATE_NEEDS_REVIEW];

/// What a new entry holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// The zone (domain) the call belonged to.
    pub zone: String,
    /// The protected function's import path, `module:qualname`.
    pub function: String,
    /// `{"args": [...], "kwargs": {...}}` as JSON.
    pub arguments: String,
    /// False when an argument was not JSON and was kept by `repr`.
    pub replayable: bool,
    /// The final exception's type, `module.Name`.
    pub error_type: String,
    /// Its message.
    pub error_message: String,
    /// Attempts the call made.
    pub attempts: u32,
    /// `exhausted`, `circuit_open` or `timeout`.
    pub reason: String,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its id: a row number in the SQLite store, `zone:stream-id` in Redis.
    pub id: String,
    /// What was recorded.
    #[serde(flatten)]
    pub recorded: NewEntry,
    /// `pending`, `replaying` or `needs_review`.
    pub state: String,
    /// Replays left before `needs_review`.
    pub replays_left: u32,
    /// The last replay's error, if any.
    pub last_replay_error: Option<String>,
    /// Wall-clock milliseconds.
    pub created_ms: i64,
    /// Wall-clock milliseconds of the last change.
    pub updated_ms: i64,
}

/// How a full queue makes room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Evict the oldest entries (counted and logged).
    DropOldest,
    /// Refuse the new entry (the caller raises; adapters answer 503).
    Reject,
    /// Fold the oldest into per-zone summaries, then evict them.
    CompressOldest,
}

/// What a full queue does unless told otherwise.
pub const DEFAULT_OVERFLOW: Overflow = Overflow::DropOldest;

impl Overflow {
    /// Every strategy, in the order errors list them.
    pub const ALL: [Overflow; 3] = [
        Overflow::DropOldest,
        Overflow::Reject,
        Overflow::CompressOldest,
    ];

    /// The public name (`BALDUR_DLQ_OVERFLOW_STRATEGY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Overflow::DropOldest => "drop_oldest",
            Overflow::Reject => "reject",
            Overflow::CompressOldest => "compress_oldest",
        }
    }

    /// Parses the public name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|overflow| overflow.as_str() == name)
    }
}

/// The queue's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Entries in all.
    pub max_size: u64,
    /// Entries per zone.
    pub max_per_zone: u64,
    /// What gives when a cap is hit.
    pub overflow: Overflow,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_SIZE,
            max_per_zone: DEFAULT_MAX_PER_ZONE,
            overflow: DEFAULT_OVERFLOW,
        }
    }
}

/// What recording did to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eviction {
    /// Entries evicted.
    pub evicted: u64,
    /// Of those, folded into summaries first.
    pub compressed: u64,
}
