//! What the core tells the operator, and the one sink it goes through.
//!
//! A background service (the store's health watcher, the WAL replay, the DLQ
//! flusher, an idempotency completion landing late) has things to report
//! that no caller is waiting for. It emits an [`Event`]; whoever embeds the
//! core installs an [`EventSink`] (the Python bindings log it under the
//! `baldur` logger). The core never names its embedder: no feature reaches
//! up into Python by module name.

use parking_lot::RwLock;
use std::sync::Arc;

/// One thing worth an operator's attention. The names are the log's event
/// names (`storage.degraded_entered`, `idempotency.completion_failed`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A shared store's health, or its write-ahead log, changed or failed.
    Storage {
        /// The event's log name.
        name: &'static str,
        /// The store's name (`redis:dlq`, `wal`, ...).
        store: String,
        /// What happened, for the operator.
        detail: String,
    },
    /// An idempotency claim was taken over, or could not be settled.
    Idempotency {
        /// The event's log name.
        name: &'static str,
        /// The namespaced key (empty when no claim is at hand).
        key: String,
        /// What happened, for the operator.
        detail: String,
    },
    /// A retry was refused (the zone's retry budget is spent).
    Retry {
        /// The event's log name.
        name: &'static str,
        /// The zone.
        zone: String,
        /// Why, for the operator.
        detail: String,
    },
    /// The admin server started, skipped (another process serves) or failed.
    Admin {
        /// The event's log name.
        name: &'static str,
        /// What happened, for the operator.
        detail: String,
    },
    /// A background loop stalled (missed its beats) or beat again.
    Watchdog {
        /// The event's log name.
        name: &'static str,
        /// The loop's name.
        watched: String,
        /// What happened, for the operator.
        detail: String,
    },
    /// A scheduled task ran, or its run failed (it is retried on its next
    /// tick).
    Scheduler {
        /// The event's log name.
        name: &'static str,
        /// The task's name.
        task: String,
        /// The error's type (empty for a run that returned).
        error_type: String,
        /// What happened, for the operator (redacted by the embedder).
        detail: String,
    },
    /// This process became the fleet's leader, lost the lease, could not
    /// renew it, or released it on exit.
    Leader {
        /// The event's log name.
        name: &'static str,
        /// What happened, for the operator.
        detail: String,
    },
    /// The DLQ flusher carried entries to Redis, or could not.
    DlqFlush {
        /// The event's log name.
        name: &'static str,
        /// Entries concerned.
        count: u64,
        /// What happened, for the operator.
        detail: String,
    },
}

/// Receives every event. Called from whichever thread emitted it, with no
/// core lock held; a sink must not fail (it reports its own trouble).
pub trait EventSink: Send + Sync {
    /// Reports one event.
    fn emit(&self, event: Event);
}

/// Where events go: nowhere until a sink is installed.
#[derive(Default)]
pub struct EventBus {
    sink: RwLock<Option<Arc<dyn EventSink>>>,
}

impl EventBus {
    /// A bus with no sink.
    pub const fn new() -> Self {
        Self {
            sink: RwLock::new(None),
        }
    }

    /// Installs (or, with `None`, removes) the sink.
    pub fn set_sink(&self, sink: Option<Arc<dyn EventSink>>) {
        *self.sink.write() = sink;
    }

    /// Hands `event` to the sink, if one is installed. The sink is called
    /// after the bus's lock is released: it may take any time it needs.
    pub fn emit(&self, event: Event) {
        let sink = self.sink.read().clone();
        if let Some(sink) = sink {
            sink.emit(event);
        }
    }
}

/// The process's bus: every background service emits here.
pub static EVENTS: EventBus = EventBus::new();

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl EventSink for Recorder {
        fn emit(&self, event: Event) {
            self.0.lock().push(event);
        }
    }

    fn storage(name: &'static str) -> Event {
        Event::Storage {
            name,
            store: "redis:test".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn events_reach_the_installed_sink_in_order() {
        let bus = EventBus::new();
        let recorder = Arc::new(Recorder::default());
        bus.set_sink(Some(recorder.clone()));
        bus.emit(storage("storage.degraded_entered"));
        bus.emit(storage("storage.degraded_exited"));
        assert_eq!(
            *recorder.0.lock(),
            vec![
                storage("storage.degraded_entered"),
                storage("storage.degraded_exited")
            ]
        );
    }

    #[test]
    fn without_a_sink_an_event_goes_nowhere() {
        let bus = EventBus::new();
        bus.emit(storage("storage.data_lost"));
        let recorder = Arc::new(Recorder::default());
        bus.set_sink(Some(recorder.clone()));
        bus.set_sink(None);
        bus.emit(storage("storage.data_lost"));
        assert!(recorder.0.lock().is_empty());
    }

    /// A sink that emits again (a logger that reports its own failure)
    /// must not deadlock on the bus.
    #[test]
    fn a_sink_may_emit_from_inside_emit() {
        struct Echo(Arc<EventBus>, Mutex<u32>);
        impl EventSink for Echo {
            fn emit(&self, _: Event) {
                let mut depth = self.1.lock();
                *depth += 1;
                if *depth == 1 {
                    drop(depth);
                    self.0.emit(storage("storage.again"));
                }
            }
        }
        let bus = Arc::new(EventBus::new());
        let echo = Arc::new(Echo(bus.clone(), Mutex::new(0)));
        bus.set_sink(Some(echo.clone()));
        bus.emit(storage("storage.first"));
        assert_eq!(*echo.1.lock(), 2);
    }
}
