//! A compartment's limits, validated once where they are given.

use crate::core::error::ConfigError;
use std::time::Duration;

/// How long a call waits for a permit when `register_compartment` names no
/// `wait_timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// How many calls run at once, how many may wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Calls holding a permit at once.
    pub capacity: u32,
    /// Calls waiting for a permit at once; 0 fails fast.
    pub max_waiting: u32,
    /// The longest a call waits for a permit.
    pub wait_timeout: Duration,
}

impl Settings {
    /// Checked limits: a capacity of at least 1 (a compartment of 0 admits
    /// nothing, which is the kill switch's job, not a bulkhead's).
    pub fn new(
        capacity: i64,
        max_waiting: i64,
        wait_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let capacity = u32::try_from(capacity)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| ConfigError::new("max_concurrent", capacity, "an integer >= 1"))?;
        let max_waiting = u32::try_from(max_waiting)
            .map_err(|_| ConfigError::new("max_waiting", max_waiting, "an integer >= 0"))?;
        Ok(Self {
            capacity,
            max_waiting,
            wait_timeout,
        })
    }

    /// Whether a call finding no free permit may wait for one.
    pub fn waits(&self) -> bool {
        self.max_waiting > 0 && !self.wait_timeout.is_zero()
    }
}
