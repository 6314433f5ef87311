//! A shared store's health changes, reported as events, and the background
//! probe that ends a DEGRADED spell when Redis is back.

use crate::core::events::{Event, EVENTS};
use crate::core::process::RUNTIME;
use crate::core::store::health::HealthEvent;
use crate::core::store::RedisStore;
use std::sync::Arc;

/// Installs the store's health listener: every change is emitted, `also`
/// runs after (a replay to schedule, say), and each time the store enters
/// DEGRADED it is probed in the background, so it leaves DEGRADED when
/// Redis is back whether or not traffic needs it.
pub fn listen(redis: &Arc<RedisStore>, also: fn(&HealthEvent)) {
    // Weak: the store owns its health, which owns this listener.
    let store = Arc::downgrade(redis);
    redis
        .health()
        .set_listener(Some(Arc::new(move |event: &HealthEvent| {
            if matches!(event, HealthEvent::DegradedEntered { .. }) {
                // The runtime is up: the failure was an operation on it.
                let _ = RUNTIME.spawn(RedisStore::recover(store.clone()));
            }
            also(event);
            EVENTS.emit(as_event(event));
        })));
}

/// A health change as the log names it.
pub fn as_event(event: &HealthEvent) -> Event {
    let (name, store, detail) = match event {
        HealthEvent::DegradedEntered { store, error } => {
            ("storage.degraded_entered", store.clone(), error.clone())
        }
        HealthEvent::DegradedExited { store, after } => (
            "storage.degraded_exited",
            store.clone(),
            format!("after {:.3}s", after.as_secs_f64()),
        ),
        HealthEvent::DataLost { store, detail } => {
            ("storage.data_lost", store.clone(), detail.clone())
        }
    };
    Event::Storage {
        name,
        store,
        detail,
    }
}

/// Nothing more to do on a change (the DLQ's store: its flusher probes on
/// its own whenever entries wait locally).
pub fn nothing_more(_: &HealthEvent) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_health_change_has_its_log_name() {
        let exited = as_event(&HealthEvent::DegradedExited {
            store: "redis:dlq".into(),
            after: Duration::from_millis(1500),
        });
        assert_eq!(
            exited,
            Event::Storage {
                name: "storage.degraded_exited",
                store: "redis:dlq".into(),
                detail: "after 1.500s".into()
            }
        );
        let lost = as_event(&HealthEvent::DataLost {
            store: "redis:dlq".into(),
            detail: "empty".into(),
        });
        assert!(matches!(
            lost,
            Event::Storage {
                name: "storage.data_lost",
                ..
            }
        ));
    }
}
