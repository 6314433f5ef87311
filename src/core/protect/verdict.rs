//! What an attempt's error means, and what the call does next.

use std::time::Duration;

/// How a failed attempt's error is judged (by the caller's classifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not the dependency's fault (an ignored exception, an HTTP 4xx): the
    /// error propagates untouched and the breaker counts a success.
    NotAFailure,
    /// A failure worth another attempt, after `server_delay` if the failure
    /// named one (HTTP `Retry-After`).
    Retryable {
        /// A delay named by the failure itself.
        server_delay: Option<Duration>,
    },
    /// A failure that must not be retried (`give_up_on`, or outside `retry_on`).
    Fatal,
    /// Not a verdict on the dependency at all (an interrupt, a cancellation):
    /// nothing is counted, a probe slot is returned, the error propagates.
    Abort,
}

/// Why a call stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every attempt failed, or the last failure was not retryable.
    Exhausted,
    /// The breaker opened during the retry loop.
    CircuitOpened,
    /// The call's wall-clock bound ran out.
    TimedOut,
}

impl GiveUp {
    /// The public name, as the DLQ and the logs record it.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::Exhausted => "exhausted",
            GiveUp::CircuitOpened => "circuit_open",
            GiveUp::TimedOut => "timeout",
        }
    }
}

/// What the driver does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long (zero: not at all), then attempt again.
    Retry(Duration),
    /// Stop: fallback or raise.
    GiveUp(GiveUp),
    /// Stop and let the error propagate untouched.
    Propagate,
}
