//! Notifications: what is sent, where, and what the fatigue guards let
//! through. Priorities and routing (here), the per-minute and per-hour
//! budgets (`budget`), the cooldown per key with its burst escalation
//! (`cooldown`, and `wire` for the fleet's copy in Redis), the guard that
//! puts them in the contract's order (`guard`), and the outbox that says
//! which delivery is due and when a failed one is tried again (`outbox`).
//! No I/O: the HTTP posts belong to the embedder, the Redis script to the
//! process service.

pub mod budget;
pub mod cooldown;
pub mod guard;
pub mod outbox;
pub mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

/// Default budget: notifications accepted a minute.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 10;
/// Default budget: notifications accepted an hour.
pub const DEFAULT_RATE_PER_HOUR: u32 = 60;
/// Default cooldown per key.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(300);
/// Default count of cooldown suppressions that escalate a key.
pub const DEFAULT_BURST_THRESHOLD: u32 = 20;

/// How urgent a notification is, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Every channel, and never dropped by the rate budget.
    Critical,
    /// Every channel.
    High,
    /// Slack only (the default).
    Medium,
    /// Slack only.
    Low,
    /// Logged only, unless `BALDUR_NOTIFY_INFO_CHANNEL` names a channel.
    Info,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 5] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
        Priority::Info,
    ];

    /// The contract's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "CRITICAL",
            Priority::High => "HIGH",
            Priority::Medium => "MEDIUM",
            Priority::Low => "LOW",
            Priority::Info => "INFO",
        }
    }

    /// The priority spelled `text` (exactly, upper case).
    ///
    /// ```
    /// use baldur::core::notify::Priority;
    /// assert_eq!(Priority::parse("HIGH"), Some(Priority::High));
    /// assert_eq!(Priority::parse("urgent"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// One level more urgent (a `CRITICAL` stays one).
    pub const fn escalated(self) -> Self {
        match self {
            Priority::Critical | Priority::High => Priority::Critical,
            Priority::Medium => Priority::High,
            Priority::Low => Priority::Medium,
            Priority::Info => Priority::Low,
        }
    }
}

/// Where a notification can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A Slack incoming webhook.
    Slack,
    /// A generic JSON webhook.
    Webhook,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 2] = [Channel::Slack, Channel::Webhook];

    /// The contract's name (`NotifyResult.channels`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Webhook => "webhook",
        }
    }

    /// The channel named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Why a notification was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Notifications are turned off.
    Disabled,
    /// The per-minute or per-hour budget is spent.
    RateLimited,
    /// The same key was delivered within its cooldown.
    Cooldown,
    /// No channel is configured for the priority: logged only.
    LogOnly,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 4] = [
        Reason::Disabled,
        Reason::RateLimited,
        Reason::Cooldown,
        Reason::LogOnly,
    ];

    /// The contract's spelling (`NotifyResult.reason`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Disabled => "disabled",
            Reason::RateLimited => "rate_limited",
            Reason::Cooldown => "cooldown",
            Reason::LogOnly => "log_only",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Which channels are configured, and where `INFO` goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Routing {
    /// `BALDUR_SLACK_WEBHOOK_URL` is set.
    pub slack: bool,
    /// `BALDUR_WEBHOOK_URL` is set.
    pub webhook: bool,
    /// `BALDUR_NOTIFY_INFO_CHANNEL`: `INFO` is logged only without it.
    pub info_channel: Option<Channel>,
}

impl Routing {
    fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Slack => self.slack,
            Channel::Webhook => self.webhook,
        }
    }

    /// The configured channels `priority` goes to: `CRITICAL`/`HIGH`
    /// every channel, `MEDIUM`/`LOW` Slack only, `INFO` its channel if
    /// one is named. Empty: logged only.
    ///
    /// ```
    /// use baldur::core::notify::{Channel, Priority, Routing};
    /// let both = Routing { slack: true, webhook: true, info_channel: None };
    /// assert_eq!(both.route(Priority::High), vec![Channel::Slack, Channel::Webhook]);
    /// assert_eq!(both.route(Priority::Low), vec![Channel::Slack]);
    /// assert!(both.route(Priority::Info).is_empty());
    /// ```
    pub fn route(&self, priority: Priority) -> Vec<Channel> {
        let wanted: &[Channel] = match priority {
            Priority::Critical | Priority::High => &Channel::ALL,
            Priority::Medium | Priority::Low => &[Channel::Slack],
            Priority::Info => match &self.info_channel {
                Some(channel) => std::slice::from_ref(channel),
                None => &[],
            },
        };
        wanted
            .iter()
            .copied()
            .filter(|c| self.configured(*c))
            .collect()
    }
}

/// The guards' settings. Budgets of 0 are refused by the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `false`: every notification is suppressed as `disabled`.
    pub enabled: bool,
    /// Notifications accepted in any minute.
    pub per_minute: u32,
    /// Notifications accepted in any hour.
    pub per_hour: u32,
    /// How long a key, once delivered, is suppressed.
    pub cooldown: Duration,
    /// The suppression within one cooldown that is delivered escalated.
    pub burst_threshold: u32,
    /// Which channels exist, and where `INFO` goes.
    pub routing: Routing,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_minute: DEFAULT_RATE_PER_MINUTE,
            per_hour: DEFAULT_RATE_PER_HOUR,
            cooldown: DEFAULT_COOLDOWN,
            burst_threshold: DEFAULT_BURST_THRESHOLD,
            routing: Routing::default(),
        }
    }
}

/// Suppressions by reason, since start (or the last clear).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Suppressed([u64; 4]);

impl Suppressed {
    /// Counts one suppression.
    pub fn count(&mut self, reason: Reason) {
        self.0[reason.index()] += 1;
    }

    /// How many for `reason`.
    pub fn of(&self, reason: Reason) -> u64 {
        self.0[reason.index()]
    }
}
