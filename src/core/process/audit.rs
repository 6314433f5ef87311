//! The process's audit trail: off until `init()` turns it on
//! (`BALDUR_AUDIT_ENABLED`), then the chain in `DATA_DIR/audit.sqlite3`.
//!
//! An operator's action is recorded before the function that took it
//! returns ([`record`]: acknowledged means on disk). What Baldur does on
//! its own happens on the call path (a breaker tripping inside a call), so
//! it is queued ([`record_later`]) and written by one blocking task of the
//! background runtime, a batch to a transaction; at exit the queue is
//! written and the head checkpointed. A record that cannot be written is
//! an event naming the action, never silently gone.
//!
//! Processes sharing the data directory share the file: each append takes
//! SQLite's write lock, reads the head and writes after it, so the chain
//! never forks. A forked child opens its own connection (an SQLite
//! connection must not cross a fork) and leaves the parent's queue to it.
//! Every use of the connection, opening it too, is a section of the
//! process's fork gate (`core::store::sqlite_connection`): a fork waits a
//! bounded while for the one under way, since SQLite keeps its locks'
//! bookkeeping in process memory and a child forked mid-transaction would
//! inherit a lock no connection of its will ever release.

use crate::core::audit::{AuditRecord, NewRecord, SqliteAudit, Verdict};
use crate::core::clock::process_clock;
use crate::core::events::{Event, EVENTS};
use crate::core::fork_cell::{ForkCell, FORK_GATE};
use crate::core::process::RUNTIME;
use arc_swap::ArcSwapOption;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// Where the chain lives and what signs its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// `BALDUR_AUDIT_SIGNING_KEY`, as bytes.
    pub signing_key: Option<Vec<u8>>,
}

/// `None`: the audit trail is off.
static CONFIG: LazyLock<ArcSwapOption<AuditConfig>> = LazyLock::new(ArcSwapOption::empty);
/// A chain opened, and the configuration it was opened for.
type Opened = Option<(Arc<AuditConfig>, Arc<SqliteAudit>)>;
/// The chain opened for the configuration in force (opened on first use).
static OPENED: LazyLock<ForkCell<Opened>> = LazyLock::new(|| ForkCell::new(None));
/// Automated actions waiting for the writer.
static QUEUE: LazyLock<ForkCell<VecDeque<NewRecord>>> = LazyLock::new(ForkCell::default);
/// Whether the writer task runs.
static WRITING: AtomicBool = AtomicBool::new(false);

/// Turns the trail on at `config`, or off with `None`. No I/O: the file is
/// opened on the first record or read.
pub fn configure(config: Option<AuditConfig>) {
    CONFIG.store(config.map(Arc::new));
}

/// Whether actions are being recorded.
pub fn enabled() -> bool {
    CONFIG.load().is_some()
}

/// Seconds since the epoch on the process's clock: a record's `at`.
pub fn now_seconds() -> f64 {
    process_clock().wall_millis() as f64 / 1000.0
}

/// Records an operator's action now, returning its seq (`None`: the trail
/// is off). Blocks for one SQLite transaction.
pub fn record(record: NewRecord) -> Result<Option<u64>, String> {
    let Some(chain) = chain()? else {
        return Ok(None);
    };
    let seqs = chain.append(vec![record]).map_err(|e| e.0)?;
    Ok(seqs.first().copied())
}

/// Queues an automated action (off the call path); the writer task writes
/// it soon. Nothing happens while the trail is off.
pub fn record_later(record: NewRecord) {
    if !enabled() {
        return;
    }
    QUEUE.lock().push_back(record);
    if WRITING.swap(true, Ordering::AcqRel) {
        return; // the running writer takes it
    }
    let started = RUNTIME.handle().map(|runtime| {
        runtime.spawn_blocking(|| {
            write_queued();
            WRITING.store(false, Ordering::Release);
            // Queued between the writer's last look and now.
            if !QUEUE.lock().is_empty() && !WRITING.swap(true, Ordering::AcqRel) {
                write_queued();
                WRITING.store(false, Ordering::Release);
            }
        })
    });
    if started.is_err() {
        // No runtime (at exit): written here rather than lost.
        write_queued();
        WRITING.store(false, Ordering::Release);
    }
}

/// Writes what is queued and checkpoints the head (the exit hook), waiting
/// at most `bound` for a writer under way.
pub fn flush(bound: Duration) {
    let deadline = Instant::now() + bound;
    while WRITING.load(Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    write_queued();
    if let Ok(Some(chain)) = chain() {
        if let Err(error) = chain.checkpoint() {
            report_failure("the exit checkpoint", &error.0);
        }
    }
}

/// Up to `limit` records after seq `after`, ascending (empty while off).
pub fn list(limit: u64, after: u64) -> Result<Vec<AuditRecord>, String> {
    match chain()? {
        Some(chain) => chain.list(limit, after).map_err(|e| e.0),
        None => Ok(Vec::new()),
    }
}

/// Walks the chain (`None` while the trail is off).
pub fn verify() -> Result<Option<Verdict>, String> {
    match chain()? {
        Some(chain) => chain.verify().map(Some).map_err(|e| e.0),
        None => Ok(None),
    }
}

/// In a forked child: the parent's connection must not be used here, and
/// its queue is the parent's to write.
pub(crate) fn after_fork() {
    OPENED.replace_after_fork(None);
    QUEUE.replace_after_fork(VecDeque::new());
    WRITING.store(false, Ordering::Release);
}

/// The chain for the configuration in force, opened on first use.
fn chain() -> Result<Option<Arc<SqliteAudit>>, String> {
    let Some(config) = CONFIG.load_full() else {
        return Ok(None);
    };
    let mut opened = OPENED.lock();
    if let Some((at, chain)) = opened.as_ref() {
        if **at == *config {
            return Ok(Some(chain.clone()));
        }
    }
    let opening = FORK_GATE.enter();
    let chain =
        Arc::new(SqliteAudit::open(&config.path, config.signing_key.clone()).map_err(|e| e.0)?);
    drop(opening);
    *opened = Some((config, chain.clone()));
    Ok(Some(chain))
}

fn write_queued() {
    loop {
        let batch: Vec<NewRecord> = QUEUE.lock().drain(..).collect();
        if batch.is_empty() {
            return;
        }
        let written = chain().and_then(|chain| match chain {
            Some(chain) => chain.append(batch.clone()).map(drop).map_err(|e| e.0),
            None => Ok(()),
        });
        if let Err(error) = written {
            let actions: Vec<&str> = batch.iter().map(|r| r.action.as_str()).collect();
            report_failure(
                &format!("{} record(s): {}", batch.len(), actions.join(", ")),
                &error,
            );
            return;
        }
    }
}

fn report_failure(what: &str, error: &str) {
    EVENTS.emit(Event::Storage {
        name: "storage.audit_write_failed",
        store: "audit".into(),
        detail: format!("{what} not written to the audit trail: {error}"),
    });
}
