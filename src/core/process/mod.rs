//! The process's services: the one background runtime, the breaker
//! registry, the idempotency gate, the shared stores and their write-ahead
//! log, the dead-letter queues and their flusher. Each lives once per
//! process, is configured by `init()` through the bindings, starts lazily on
//! first use (never at import), and is forgotten in a forked child in one
//! order ([`fork::after_fork`]).
//!
//! This is the composition layer: it wires features to the stores they run
//! on. The bindings only convert its answers; nothing here knows Python.

pub mod admin;
pub mod audit;
pub mod breaker_reads;
pub mod breakers;
pub mod compartments;
pub mod dead_letters;
pub mod dlq_flush;
pub mod dlq_queues;
pub mod fork;
pub mod health;
pub mod idempotency;
pub mod leader;
pub mod notify;
pub mod scheduler;
pub mod stores;
pub mod testing;
pub mod wal;
pub mod watchdog;
pub mod zones;

use crate::core::runtime::BackgroundRuntime;
use std::sync::LazyLock;

/// The one background runtime of this process.
pub static RUNTIME: LazyLock<BackgroundRuntime> = LazyLock::new(BackgroundRuntime::new);
