//! The fatigue guards in the contract's order, for one process: turned
//! off (`disabled`), no channel for the priority (`log_only`), the budget
//! spent (`rate_limited`, never for a `CRITICAL`, which waits), a repeat
//! within the key's cooldown (`cooldown`, its burst escalated once). The
//! budget is peeked before the cooldown and spent after it, so a
//! suppressed notification spends nothing and one the budget refuses
//! opens no cooldown. The cooldown's verdict is given from outside when
//! the fleet shares it (Redis); [`Guard::decide`] uses the local one.

use super::budget::RateBudget;
use super::cooldown::{Cooldowns, Verdict};
use super::{Channel, NotifyConfig, Priority, Reason, Suppressed};
use crate::core::clock::Nanos;
use std::time::Duration;

/// What the guards decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not sent, for this reason.
    Suppressed(Reason),
    /// Accepted for delivery at `priority` (after escalation) to
    /// `channels`, `after` from now (a `CRITICAL` waiting for budget).
    Deliver {
        /// As asked, or one level higher (a burst).
        priority: Priority,
        /// Where it goes (never empty).
        channels: Vec<Channel>,
        /// How long it waits for budget (zero but for a `CRITICAL`).
        after: Duration,
    },
}

/// The guards and what they counted.
#[derive(Debug)]
pub struct Guard {
    config: NotifyConfig,
    budget: RateBudget,
    cooldowns: Cooldowns,
    suppressed: Suppressed,
}

impl Guard {
    /// Guards with `config`.
    pub fn new(config: NotifyConfig) -> Self {
        Self {
            config,
            budget: RateBudget::new(config.per_minute, config.per_hour),
            cooldowns: Cooldowns::default(),
            suppressed: Suppressed::default(),
        }
    }

    /// New settings; what was spent and counted stays.
    pub fn configure(&mut self, config: NotifyConfig) {
        self.budget.set_limits(config.per_minute, config.per_hour);
        self.config = config;
    }

    /// The settings in force.
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// Suppressions by reason so far.
    pub fn suppressed(&self) -> Suppressed {
        self.suppressed
    }

    /// The guards before the cooldown: `Err` (counted) when the
    /// notification stops here.
    pub fn precheck(&mut self, priority: Priority, now: Nanos) -> Result<(), Reason> {
        let reason = if !self.config.enabled {
            Reason::Disabled
        } else if self.config.routing.route(priority).is_empty() {
            Reason::LogOnly
        } else if priority != Priority::Critical && !self.budget.has_room(now) {
            Reason::RateLimited
        } else {
            return Ok(());
        };
        self.suppressed.count(reason);
        Err(reason)
    }

    /// This process's cooldown verdict on `key`.
    pub fn local_verdict(&mut self, key: &str, now: Nanos) -> Verdict {
        self.cooldowns
            .claim(key, now, self.config.cooldown, self.config.burst_threshold)
    }

    /// The guards after the cooldown said `verdict` of a notification
    /// asked at `asked`.
    pub fn admit(&mut self, asked: Priority, verdict: Verdict, now: Nanos) -> Decision {
        let priority = match verdict {
            Verdict::Suppress => return self.suppress(Reason::Cooldown),
            Verdict::Deliver => asked,
            Verdict::Escalate => asked.escalated(),
        };
        let channels = self.config.routing.route(priority);
        if channels.is_empty() {
            return self.suppress(Reason::LogOnly);
        }
        let after = if priority == Priority::Critical {
            self.budget.reserve(now)
        } else if self.budget.try_spend(now) {
            Duration::ZERO
        } else {
            return self.suppress(Reason::RateLimited);
        };
        Decision::Deliver {
            priority,
            channels,
            after,
        }
    }

    /// Every guard, with this process's cooldown.
    pub fn decide(&mut self, key: &str, priority: Priority, now: Nanos) -> Decision {
        if let Err(reason) = self.precheck(priority, now) {
            return Decision::Suppressed(reason);
        }
        let verdict = self.local_verdict(key, now);
        self.admit(priority, verdict, now)
    }

    fn suppress(&mut self, reason: Reason) -> Decision {
        self.suppressed.count(reason);
        Decision::Suppressed(reason)
    }

    /// Forgets spending, cooldowns and counts (tests).
    pub fn clear(&mut self) {
        self.budget = RateBudget::new(self.config.per_minute, self.config.per_hour);
        self.cooldowns.clear();
        self.suppressed = Suppressed::default();
    }
}
