//! The write-ahead log of this process: what had to reach Redis and could
//! not (an idempotency completion or release, a breaker decision) waits
//! here, durably, for the replay when Redis is back. Configured with the
//! stores; opened on first use.

use crate::core::events::{Event, EVENTS};
use crate::core::store::wal::{LazyWal, Pending};
use arc_swap::ArcSwapOption;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

/// The log, when a store is remote and a path is configured. Read without
/// a lock: a thread logging as the process forks leaves the child nothing
/// held.
static WAL: LazyLock<ArcSwapOption<LazyWal>> = LazyLock::new(ArcSwapOption::empty);

/// Keeps the log at `path` while some store is remote (`remote`), none
/// otherwise; the same path keeps the log already open.
pub(crate) fn configure(path: Option<PathBuf>, remote: bool) {
    let same = WAL.load().as_ref().map(|w| w.path().to_owned()) == path;
    if !remote {
        WAL.store(None);
    } else if !same {
        WAL.store(path.map(|path| Arc::new(LazyWal::new(path))));
    }
}

/// The log, if one is configured.
pub(crate) fn current() -> Option<Arc<LazyWal>> {
    WAL.load_full()
}

/// Logs a write that could not reach Redis, durably (a disk write: not
/// with the GIL held); a failure to log is reported (the write would
/// otherwise be lost silently).
pub fn log_pending(pending: &Pending) {
    let logged = match current() {
        Some(wal) => wal.get().and_then(|log| log.append(pending).map(|_| ())),
        None => Err("no write-ahead log is configured".to_owned()),
    };
    if let Err(error) = logged {
        report_append_failure(&error);
    }
}

/// A write the log refused.
pub(crate) fn report_append_failure(error: &str) {
    report("storage.wal_append_failed", error);
}

/// Reports a trouble of the log's.
pub(crate) fn report(name: &'static str, detail: &str) {
    EVENTS.emit(Event::Storage {
        name,
        store: "wal".to_owned(),
        detail: detail.to_owned(),
    });
}

/// Appends one write, given as the log's own JSON, to the write-ahead log
/// (tests and tooling: what another process would have left there).
pub fn append_json(payload: &str) -> Result<(), String> {
    let pending: Pending =
        serde_json::from_str(payload).map_err(|e| format!("not a write-ahead log entry: {e}"))?;
    let wal = current().ok_or_else(|| "no write-ahead log is configured".to_owned())?;
    wal.get().and_then(|log| log.append(&pending)).map(|_| ())
}

/// Writes waiting in the log (SQLite may wait on another process's lock).
pub fn pending() -> Result<u64, String> {
    match current() {
        None => Ok(0),
        Some(wal) => wal.get().and_then(|log| log.len()),
    }
}

/// In a forked child: the parent's SQLite connection must not be used
/// here. Forgets it and returns the path, to reopen lazily.
pub(crate) fn after_fork() -> Option<PathBuf> {
    WAL.swap(None).map(|wal| {
        let path = wal.path().to_owned();
        std::mem::forget(wal);
        path
    })
}
