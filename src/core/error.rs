//! The core's base errors: a configuration value that is not allowed, and a
//! store that could not answer.

use std::fmt;

/// A rejected configuration value, naming the key, the value and what is allowed.
///
/// ```
/// use baldur::core::error::ConfigError;
/// let e = ConfigError::new("failure_threshold", "0", "an integer >= 1");
/// assert_eq!(e.to_string(), "invalid failure_threshold=0: allowed is an integer >= 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration key.
    pub key: &'static str,
    /// The rejected value, as text.
    pub value: String,
    /// What the key accepts.
    pub allowed: &'static str,
}

impl ConfigError {
    /// A new error for `key`.
    pub fn new(key: &'static str, value: impl fmt::Display, allowed: &'static str) -> Self {
        Self {
            key,
            value: value.to_string(),
            allowed,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={}: allowed is {}",
            self.key, self.value, self.allowed
        )
    }
}

impl std::error::Error for ConfigError {}

/// Checks that a duration given in seconds is finite and positive.
pub fn positive_seconds(
    key: &'static str,
    seconds: f64,
) -> Result<std::time::Duration, ConfigError> {
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(duration) if seconds > 0.0 => Ok(duration),
        _ => Err(ConfigError::new(key, seconds, "a number of seconds > 0")),
    }
}

/// Checks that a duration given in seconds is finite and not negative.
pub fn non_negative_seconds(
    key: &'static str,
    seconds: f64,
) -> Result<std::time::Duration, ConfigError> {
    // try_from refuses NaN, infinities, negatives and what overflows.
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| ConfigError::new(key, seconds, "a number of seconds >= 0"))
}

/// A store could not answer (unreachable, timed out, refused). Its text
/// keeps the name users saw first, when only idempotency had a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "idempotency store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}
