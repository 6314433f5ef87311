//! A breaker's thresholds, validated once when built.

use crate::core::error::{positive_seconds, ConfigError};
use std::time::Duration;

/// Failures in the window that trip the breaker (`BALDUR_CB_FAILURE_THRESHOLD`).
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// Calls the window must hold before it may trip (`BALDUR_CB_MINIMUM_CALLS`).
pub const DEFAULT_MINIMUM_CALLS: u32 = 10;
/// Seconds an open breaker waits before probing (`BALDUR_CB_RECOVERY_TIMEOUT`).
pub const DEFAULT_RECOVERY_TIMEOUT_SECONDS: f64 = 60.0;
/// Probe calls admitted while half-open (`BALDUR_CB_HALF_OPEN_MAX_CALLS`).
pub const DEFAULT_HALF_OPEN_MAX_CALLS: u32 = 3;
/// Seconds of history the window keeps (`BALDUR_CB_WINDOW_SECONDS`).
pub const DEFAULT_WINDOW_SECONDS: f64 = 60.0;
/// Share of the window's calls that must have failed for it to trip
/// (`BALDUR_CB_FAILURE_RATE_THRESHOLD`): the count alone would open a busy
/// dependency's breaker on 0.05 % errors.
pub const DEFAULT_FAILURE_RATE_THRESHOLD: f64 = 0.5;

/// The thresholds of one circuit breaker.
///
/// ```
/// use baldur::core::breaker::config::BreakerConfig;
/// let config = BreakerConfig::new(3, 5, 2.0, 1, 30.0).unwrap();
/// assert_eq!(config.failure_threshold, 3);
/// assert!(BreakerConfig::new(0, 5, 2.0, 1, 30.0).is_err());
/// let strict = config.with_failure_rate_threshold(0.2).unwrap();
/// assert!(strict.trips(10, 3));
/// assert!(!config.trips(10, 3)); // 30 % is under the default 50 %
/// assert!(config.with_failure_rate_threshold(0.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failures in the window that trip the breaker.
    pub failure_threshold: u32,
    /// Calls the window must hold before it may trip.
    pub minimum_calls: u32,
    /// How long an open breaker refuses calls before probing.
    pub recovery_timeout: Duration,
    /// Probes admitted while half-open; all must succeed to close.
    pub half_open_max_calls: u32,
    /// How much history the window keeps.
    pub window: Duration,
    /// Failures over calls, in (0, 1], the window must reach as well.
    pub failure_rate_threshold: f64,
}

impl BreakerConfig {
    /// Validates and builds a config; durations are in seconds.
    pub fn new(
        failure_threshold: u32,
        minimum_calls: u32,
        recovery_timeout_seconds: f64,
        half_open_max_calls: u32,
        window_seconds: f64,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            failure_threshold: at_least_one("failure_threshold", failure_threshold)?,
            minimum_calls: at_least_one("minimum_calls", minimum_calls)?,
            recovery_timeout: positive_seconds("recovery_timeout", recovery_timeout_seconds)?,
            half_open_max_calls: at_least_one("half_open_max_calls", half_open_max_calls)?,
            window: positive_seconds("window_seconds", window_seconds)?,
            failure_rate_threshold: DEFAULT_FAILURE_RATE_THRESHOLD,
        })
    }

    /// The same thresholds with another failure-rate condition, in (0, 1].
    pub fn with_failure_rate_threshold(self, rate: f64) -> Result<Self, ConfigError> {
        if rate > 0.0 && rate <= 1.0 {
            Ok(Self {
                failure_rate_threshold: rate,
                ..self
            })
        } else {
            Err(ConfigError::new(
                "failure_rate_threshold",
                rate,
                "a number in (0, 1]",
            ))
        }
    }

    /// The trip rule: once the window holds the minimum calls, enough
    /// failures **and** a high enough share of failures.
    pub fn trips(&self, calls: u64, failures: u64) -> bool {
        calls >= u64::from(self.minimum_calls)
            && failures >= u64::from(self.failure_threshold)
            // failures / calls >= rate, without dividing by zero calls.
            && failures as f64 >= self.failure_rate_threshold * calls as f64
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            minimum_calls: DEFAULT_MINIMUM_CALLS,
            recovery_timeout: Duration::from_secs_f64(DEFAULT_RECOVERY_TIMEOUT_SECONDS),
            half_open_max_calls: DEFAULT_HALF_OPEN_MAX_CALLS,
            window: Duration::from_secs_f64(DEFAULT_WINDOW_SECONDS),
            failure_rate_threshold: DEFAULT_FAILURE_RATE_THRESHOLD,
        }
    }
}

fn at_least_one(key: &'static str, value: u32) -> Result<u32, ConfigError> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(ConfigError::new(key, value, "an integer >= 1"))
    }
}
