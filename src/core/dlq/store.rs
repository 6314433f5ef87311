//! What every dead-letter store does: the local SQLite queue and the Redis
//! Streams queue answer the same operations, so the facade (and the
//! DEGRADED fallback from one to the other) never asks which it holds.

use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry};
use crate::core::dlq::listing::{ListQuery, Page};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqError {
    /// The queue is full and its overflow strategy is `reject`.
    Full {
        /// The cap that was hit.
        cap: &'static str,
        /// Its value.
        limit: u64,
    },
    /// The store cannot be reached now (Redis down or DEGRADED): the caller
    /// falls back on what it has locally and says so.
    Unavailable(String),
    /// The store failed.
    Store(String),
}

impl std::fmt::Display for DlqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DlqError::Full { cap, limit } => {
                write!(
                    f,
                    "the dead-letter queue is full ({cap}={limit}, overflow=reject)"
                )
            }
            DlqError::Unavailable(error) => {
                write!(f, "the dead-letter queue's store is unreachable: {error}")
            }
            DlqError::Store(error) => write!(f, "the dead-letter queue failed: {error}"),
        }
    }
}

impl std::error::Error for DlqError {}

/// A [`DlqError::Store`] from any error.
pub(crate) fn store<E: std::fmt::Display>(error: E) -> DlqError {
    DlqError::Store(error.to_string())
}

/// The queue's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries in all.
    pub total: u64,
    /// Entries by state.
    pub by_state: Vec<(String, u64)>,
    /// Entries by zone.
    pub by_zone: Vec<(String, u64)>,
    /// Entries folded into summaries by `compress_oldest`, by zone and type.
    pub compressed: Vec<(String, String, u64)>,
    /// Every eviction the store ever made to respect its caps, by any
    /// process (kept in the store itself: the fleet's count in Redis).
    pub evictions: Eviction,
}

/// A dead-letter store. Ids are strings: the SQLite store's are row
/// numbers, the Redis store's name the zone and the stream entry.
///
/// ```
/// use baldur::core::dlq::{Caps, DlqStore, NewEntry, SqliteDlq};
/// let dir = std::env::temp_dir().join(format!("baldur-doc-{}", std::process::id()));
/// let queue: Box<dyn DlqStore> = Box::new(SqliteDlq::open(&dir.join("q.sqlite3"), Caps::default()).unwrap());
/// let new = NewEntry {
///     zone: "billing".into(), function: "shop:charge".into(),
///     arguments: r#"{"args": [], "kwargs": {}}"#.into(), replayable: true,
///     error_type: "builtins.ConnectionError".into(), error_message: "down".into(),
///     attempts: 3, reason: "exhausted".into(),
/// };
/// let (id, _) = queue.record(&new, 3).unwrap();
/// assert_eq!(queue.get(&id).unwrap().unwrap().state, "pending");
/// # std::fs::remove_dir_all(dir).ok();
/// ```
pub trait DlqStore: Send + Sync + std::fmt::Debug {
    /// New limits, applied from the next record on.
    fn set_caps(&self, caps: Caps);

    /// Records an entry durably, making room first as the caps say.
    fn record(&self, new: &NewEntry, replay_budget: u32) -> Result<(String, Eviction), DlqError>;

    /// One entry.
    fn get(&self, id: &str) -> Result<Option<Entry>, DlqError>;

    /// A page of at most `limit` entries after the entry `after` (from the
    /// oldest when `None`), oldest first, filtered as `query` says. Each page
    /// is bounded work for the store, whatever the queue's size.
    fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page, DlqError>;

    /// Takes an entry for replay: only one replayer holds it at a time (a
    /// hold older than the lease is taken over). `None`: not replayable now.
    fn claim(&self, id: &str) -> Result<Option<Entry>, DlqError>;

    /// The replay succeeded: the entry is done.
    fn succeeded(&self, id: &str) -> Result<(), DlqError>;

    /// The replay failed: one replay spent; none left means `needs_review`.
    /// Returns the entry's new state (`gone` if it was purged meanwhile).
    fn failed(&self, id: &str, error: &str) -> Result<String, DlqError>;

    /// The replay cannot run at all (its function is refused, or cannot be
    /// imported any more): the entry goes straight to `needs_review` with
    /// `error`, its budget spent and its claim released. Returns its new
    /// state (`gone` if it was purged meanwhile).
    fn review(&self, id: &str, error: &str) -> Result<String, DlqError>;

    /// A needs-review entry gets a fresh replay budget. False if it is not
    /// in `needs_review`.
    fn redrive(&self, id: &str, budget: u32) -> Result<bool, DlqError>;

    /// Deletes the entries matching the filters (explicit, never implied).
    fn purge(&self, zone: Option<&str>, state: Option<&str>) -> Result<u64, DlqError>;

    /// The queue's counts.
    fn stats(&self) -> Result<Stats, DlqError>;
}
