//! The retry policy: how many attempts, and the backoff between them.

use crate::core::error::ConfigError;
use crate::core::retry::backoff::Backoff;

/// Attempts a retried call makes in all, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// How many attempts a call gets and how long it waits between them.
///
/// ```
/// use baldur::core::retry::policy::RetryPolicy;
/// assert_eq!(RetryPolicy::once().attempts(), 1);
/// assert!(RetryPolicy::new(0, Default::default()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
}

impl RetryPolicy {
    /// A policy of `attempts` attempts (at least one).
    pub fn new(attempts: u32, backoff: Backoff) -> Result<Self, ConfigError> {
        if attempts == 0 {
            return Err(ConfigError::new("attempts", attempts, "an integer >= 1"));
        }
        Ok(Self { attempts, backoff })
    }

    /// One attempt, no retry: what a call without `retry=` gets.
    pub fn once() -> Self {
        Self {
            attempts: 1,
            backoff: Backoff::default(),
        }
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The schedule between attempts.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_ATTEMPTS,
            backoff: Backoff::default(),
        }
    }
}
