//! How long a lease lasts and when its holder renews it, after client-go's
//! leader election (lease 15 s, renew deadline 10 s, retry period 2 s).

use std::time::Duration;

/// The lease when none is configured (`BALDUR_LEADER_LEASE_SECONDS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// The shortest lease allowed: below it one slow answer from Redis costs
/// the fleet its leader.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// The longest pause between two attempts (client-go's retry period).
pub const MAX_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// A lease's timings, derived from its length.
///
/// ```
/// use baldur::core::leader::LeaseTiming;
/// use std::time::Duration;
/// let timing = LeaseTiming::new(Duration::from_secs(15)).unwrap();
/// assert_eq!(timing.renew_deadline(), Duration::from_secs(10));
/// assert_eq!(timing.retry_period(), Duration::from_secs(2));
/// assert!(LeaseTiming::new(Duration::from_millis(500)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    lease: Duration,
}

impl LeaseTiming {
    /// Timings for a lease of `lease`; shorter than [`MIN_LEASE`] is refused.
    pub fn new(lease: Duration) -> Result<Self, String> {
        if lease < MIN_LEASE {
            return Err(format!(
                "leader_lease_seconds must be >= {} (got {})",
                MIN_LEASE.as_secs_f64(),
                lease.as_secs_f64()
            ));
        }
        Ok(Self { lease })
    }

    /// How long Redis keeps the lease after the holder's last renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How long after sending a successful acquire or renew the holder may
    /// act as leader: two thirds of the lease. The third left is the margin
    /// Kleppmann's rule asks for (the lease in Redis started after the
    /// request was sent; clocks drift; a pause may strike between a check
    /// and an act, which the fencing token covers).
    pub fn renew_deadline(&self) -> Duration {
        self.lease * 2 / 3
    }

    /// The pause between two attempts, a leader's renewals and a follower's
    /// tries alike: a third of the lease, at most [`MAX_RETRY_PERIOD`].
    pub fn retry_period(&self) -> Duration {
        (self.lease / 3).min(MAX_RETRY_PERIOD)
    }
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            lease: DEFAULT_LEASE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_lease_is_retried_every_third_of_it() {
        let timing = LeaseTiming::new(Duration::from_secs(1)).unwrap();
        assert_eq!(
            timing.retry_period(),
            Duration::from_millis(333) + Duration::from_nanos(333_333)
        );
        assert!(timing.renew_deadline() < timing.lease());
        assert!(timing.retry_period() * 2 <= timing.renew_deadline());
    }
}
