//! The backoff schedule: how long to wait before the next attempt.

use crate::core::error::{non_negative_seconds, ConfigError};
use std::time::Duration;

/// Seconds before the first retry.
pub const DEFAULT_BASE_DELAY_SECONDS: f64 = 0.1;
/// No wait is ever longer than this many seconds.
pub const DEFAULT_MAX_DELAY_SECONDS: f64 = 10.0;
/// Each retry waits this many times longer than the one before.
pub const DEFAULT_MULTIPLIER: f64 = 2.0;
/// The largest multiplier: beyond it the second delay is already the cap,
/// so a larger one can only be a typo (the Python face allows the same).
pub const MAX_MULTIPLIER: f64 = 1000.0;

/// How a delay is randomised so a fleet of clients does not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The exponential delay as computed.
    None,
    /// Uniform between zero and the exponential delay (AWS's "full jitter").
    Full,
}

/// The jitter a policy uses unless told otherwise.
pub const DEFAULT_JITTER: Jitter = Jitter::Full;

impl Jitter {
    /// Every mode, in the order errors list them.
    pub const ALL: [Jitter; 2] = [Jitter::Full, Jitter::None];

    /// The public name (`RetryPolicy(jitter=...)`).
    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::Full => "full",
            Jitter::None => "none",
        }
    }

    /// Parses the public name (`"full"` or `"none"`).
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|jitter| jitter.as_str() == name)
            .ok_or_else(|| ConfigError::new("jitter", name, "'full' or 'none'"))
    }
}

/// Exponential backoff, capped, with optional jitter.
///
/// ```
/// use baldur::core::retry::backoff::{Backoff, Jitter};
/// use std::time::Duration;
/// let b = Backoff::new(0.1, 1.0, 2.0, Jitter::None).unwrap();
/// assert_eq!(b.delay(0, 0.5, None), Duration::from_millis(100));
/// assert_eq!(b.delay(2, 0.5, None), Duration::from_millis(400));
/// assert_eq!(b.delay(9, 0.5, None), Duration::from_secs(1)); // capped
/// // A delay the server named wins, up to the cap.
/// assert_eq!(b.delay(0, 0.5, Some(Duration::from_secs(30))), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
}

impl Backoff {
    /// Validates and builds a schedule; delays are in seconds.
    pub fn new(
        base_delay: f64,
        max_delay: f64,
        multiplier: f64,
        jitter: Jitter,
    ) -> Result<Self, ConfigError> {
        let base = non_negative_seconds("base_delay", base_delay)?;
        let max = non_negative_seconds("max_delay", max_delay)?;
        if max < base {
            return Err(ConfigError::new(
                "max_delay",
                max_delay,
                "a number of seconds >= base_delay",
            ));
        }
        if !(1.0..=MAX_MULTIPLIER).contains(&multiplier) {
            return Err(ConfigError::new(
                "multiplier",
                multiplier,
                "a number from 1 to 1000",
            ));
        }
        Ok(Self {
            base,
            max,
            multiplier,
            jitter,
        })
    }

    /// The wait before retry number `retry` (0 for the first retry).
    ///
    /// `unit` is a uniform random number in `[0, 1)`, used by full jitter.
    /// `server_delay` is a delay the failure named itself (an HTTP
    /// `Retry-After`): it replaces the schedule, capped by the max delay.
    pub fn delay(&self, retry: u32, unit: f64, server_delay: Option<Duration>) -> Duration {
        if let Some(named) = server_delay {
            return named.min(self.max);
        }
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let seconds = self.base.as_secs_f64() * self.multiplier.powi(exponent);
        // A finite delay can still exceed what a Duration holds (0.1 s * 2^70),
        // and a zero base times an overflowed power is NaN, not a long wait.
        let capped = if self.base.is_zero() {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(seconds).map_or(self.max, |d| d.min(self.max))
        };
        match self.jitter {
            Jitter::None => capped,
            // A NaN from a custom random source must not panic mul_f64.
            Jitter::Full => capped.mul_f64(if unit.is_nan() {
                0.0
            } else {
                unit.clamp(0.0, 1.0)
            }),
        }
    }

    /// The longest wait this schedule ever asks for.
    pub fn max_delay(&self) -> Duration {
        self.max
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs_f64(DEFAULT_BASE_DELAY_SECONDS),
            max: Duration::from_secs_f64(DEFAULT_MAX_DELAY_SECONDS),
            multiplier: DEFAULT_MULTIPLIER,
            jitter: DEFAULT_JITTER,
        }
    }
}
