//! The retry budget (Finagle's, and gRPC's retry throttling): per zone,
//! retries may spend a share of the calls of the last few seconds plus a
//! small floor of retries a second, so that a brownout does not multiply
//! the load on a struggling dependency by the attempt count.
//!
//! The budget decides; the zone's breaker counts (its calls and retries of
//! the last [`SPAN`], fleet-wide when breaker state is shared).
//!
//! ```
//! use baldur::core::retry::budget::RetryBudget;
//! let budget = RetryBudget::new(0.2, 0.0).unwrap();
//! assert!(budget.allows(100, 19)); // the 20th retry of 100 calls
//! assert!(!budget.allows(100, 20)); // the 21st is refused
//! ```

use crate::core::error::ConfigError;
use parking_lot::RwLock;
use std::time::Duration;

/// The span the budget counts over: the contract's "calls of the last 10 s".
pub const SPAN: Duration = Duration::from_secs(10);
/// `BALDUR_RETRY_BUDGET_RATIO`'s default.
pub const DEFAULT_RATIO: f64 = 0.2;
/// `BALDUR_RETRY_BUDGET_MIN_PER_SECOND`'s default.
pub const DEFAULT_MIN_PER_SECOND: f64 = 10.0;

/// How many retries a zone's calls may buy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            ratio: DEFAULT_RATIO,
            min_per_second: DEFAULT_MIN_PER_SECOND,
        }
    }
}

impl RetryBudget {
    /// Retries may spend `ratio` of the calls of the last [`SPAN`], plus
    /// `min_per_second` retries a second. Both 0: no retries at all.
    pub fn new(ratio: f64, min_per_second: f64) -> Result<Self, ConfigError> {
        if !(ratio.is_finite() && ratio >= 0.0) {
            return Err(ConfigError::new(
                "retry_budget_ratio",
                ratio,
                "a number >= 0, or none to turn the budget off",
            ));
        }
        if !(min_per_second.is_finite() && min_per_second >= 0.0) {
            return Err(ConfigError::new(
                "retry_budget_min_per_second",
                min_per_second,
                "a number >= 0",
            ));
        }
        Ok(Self {
            ratio,
            min_per_second,
        })
    }

    /// Whether one more retry fits, after `retries` retries made for
    /// `calls` calls (first attempts) in the last [`SPAN`].
    #[inline]
    pub fn allows(&self, calls: u64, retries: u64) -> bool {
        let floor = self.min_per_second * SPAN.as_secs_f64();
        (retries + 1) as f64 <= floor + self.ratio * calls as f64
    }

    /// The share of calls retries may spend.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The retries a second allowed whatever the calls.
    pub fn min_per_second(&self) -> f64 {
        self.min_per_second
    }
}

/// The process's budget, as configured: `None` when it is off
/// (`BALDUR_RETRY_BUDGET_RATIO=none`). Read on a failed attempt only.
pub static RETRY_BUDGET: BudgetSetting = BudgetSetting::new();

/// A budget every zone of a process reads, changed by configuration.
#[derive(Debug)]
pub struct BudgetSetting {
    budget: RwLock<Option<RetryBudget>>,
}

impl Default for BudgetSetting {
    fn default() -> Self {
        Self::new()
    }
}

impl BudgetSetting {
    /// The default budget, on.
    pub const fn new() -> Self {
        Self {
            budget: RwLock::new(Some(RetryBudget {
                ratio: DEFAULT_RATIO,
                min_per_second: DEFAULT_MIN_PER_SECOND,
            })),
        }
    }

    /// Sets the budget (`None`: off).
    pub fn set(&self, budget: Option<RetryBudget>) {
        *self.budget.write() = budget;
    }

    /// The budget in force, if any.
    #[inline]
    pub fn get(&self) -> Option<RetryBudget> {
        *self.budget.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_allows_retries_with_no_calls() {
        let budget = RetryBudget::new(0.2, 10.0).unwrap();
        assert!(budget.allows(0, 99), "10 a second over 10 s: the 100th");
        assert!(!budget.allows(0, 100));
    }

    #[test]
    fn the_ratio_adds_a_share_of_the_calls() {
        let budget = RetryBudget::new(0.2, 1.0).unwrap();
        // floor 10 + 0.2 x 1,000 calls = 210 retries
        assert!(budget.allows(1_000, 209));
        assert!(!budget.allows(1_000, 210));
    }

    #[test]
    fn zero_and_zero_turns_retries_off() {
        let budget = RetryBudget::new(0.0, 0.0).unwrap();
        assert!(!budget.allows(1_000_000, 0));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (ratio, min) in [
            (-0.1, 1.0),
            (f64::NAN, 1.0),
            (0.2, -1.0),
            (0.2, f64::INFINITY),
        ] {
            let error = RetryBudget::new(ratio, min).unwrap_err().to_string();
            assert!(error.contains("retry_budget_"), "{error}");
        }
    }

    #[test]
    fn the_setting_starts_at_the_contracts_defaults_and_can_be_turned_off() {
        let setting = BudgetSetting::new();
        assert_eq!(setting.get(), Some(RetryBudget::default()));
        setting.set(None);
        assert_eq!(setting.get(), None);
    }
}
