//! The kill switch: while disabled, every protected call passes straight
//! through (no breaker, retry, timeout, fallback, idempotency or DLQ).
//!
//! The hot path reads one relaxed `AtomicBool`; who disabled Baldur, why
//! and when sits beside it under a lock only the operator's path takes.
//! Persisting the state is the caller's job (see `baldur._kill_switch`).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Who disabled Baldur, why, and when (Unix seconds, as the caller's wall
/// clock said: the record outlives this process).
#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    /// Why (required: an incident note).
    pub reason: String,
    /// Who.
    pub actor: String,
    /// When, in Unix seconds.
    pub at: f64,
}

/// The switch. `Default` is enabled.
#[derive(Debug)]
pub struct KillSwitch {
    disabled: AtomicBool,
    record: Mutex<Option<Disabled>>,
    changes: AtomicU64,
}

impl Default for KillSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl KillSwitch {
    /// An enabled switch.
    pub const fn new() -> Self {
        Self {
            disabled: AtomicBool::new(false),
            record: Mutex::new(None),
            changes: AtomicU64::new(0),
        }
    }

    /// Whether self-healing is on. One relaxed load: a call that races a
    /// flip may see either state, which is all a kill switch promises.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }

    /// Disables self-healing. An empty reason or actor is refused: the
    /// record is what an operator reads during the incident.
    pub fn disable(&self, reason: &str, actor: &str, at: f64) -> Result<(), String> {
        if reason.trim().is_empty() {
            return Err("reason must be a non-empty string".into());
        }
        if actor.trim().is_empty() {
            return Err("actor must be a non-empty string".into());
        }
        let mut record = self.record.lock();
        *record = Some(Disabled {
            reason: reason.trim().to_owned(),
            actor: actor.trim().to_owned(),
            at,
        });
        self.disabled.store(true, Ordering::Relaxed);
        self.changes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Re-arms self-healing and clears the record. Returns the record that
    /// was cleared, if Baldur was disabled.
    pub fn enable(&self) -> Option<Disabled> {
        let mut record = self.record.lock();
        self.disabled.store(false, Ordering::Relaxed);
        let cleared = record.take();
        if cleared.is_some() {
            self.changes.fetch_add(1, Ordering::Relaxed);
        }
        cleared
    }

    /// Who disabled Baldur, why and when; `None` while enabled.
    pub fn record(&self) -> Option<Disabled> {
        self.record.lock().clone()
    }

    /// How many times the switch flipped in this process.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }
}

/// The process's switch, read by every zone.
pub static KILL_SWITCH: KillSwitch = KillSwitch::new();
