//! The dead-letter queue: calls that ended without the function succeeding,
//! recorded durably, replayed under the same protection, never dropped
//! without a count and a log line. Two stores behind one trait: SQLite
//! under the data directory, and Redis Streams shared by every worker.

pub mod entry;
pub mod group_commit;
pub mod listing;
mod redis_caps;
mod redis_insert;
pub mod redis_keys;
pub mod redis_record;
mod redis_round_trip;
pub mod redis_streams;
pub mod sqlite;
mod sqlite_forward;
mod sqlite_record;
mod sqlite_store;
pub mod store;

pub use entry::{Caps, Entry, Eviction, NewEntry, Overflow, DEFAULT_REPLAY_BUDGET};
pub use redis_keys::{DomainKeys, RedisEntryId};
pub use redis_streams::RedisDlq;
pub use sqlite::SqliteDlq;
pub use store::{DlqError, DlqStore, Stats};
