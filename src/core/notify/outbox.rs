//! What is waiting to be posted, and when. The embedder's worker takes
//! the deliveries that are due, posts them, and settles each: a failed
//! one is tried again after a backoff (or the channel's `Retry-After`),
//! at most [`MAX_ATTEMPTS`] times in all. Bounded: past [`CAPACITY`]
//! waiting deliveries a new one is refused and counted.

use super::{Channel, Priority};
use crate::core::clock::Nanos;
use std::sync::Arc;
use std::time::Duration;

/// Attempts at one delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// The wait before the second attempt; doubled for each later one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest backoff between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured (a channel asking for more gets this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Deliveries waiting at most.
pub const CAPACITY: usize = 1000;

/// One post to one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Unique in the process.
    pub id: u64,
    /// Where it goes.
    pub channel: Channel,
    /// The notification's priority, after escalation.
    pub priority: Priority,
    /// What the embedder gave to post (opaque here).
    pub body: Arc<str>,
    /// The attempt about to be made, from 1.
    pub attempt: u32,
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429: the channel asks to wait (`Retry-After`, when it said).
    Throttled(Option<Duration>),
    /// Any other answer than 2xx.
    Status(u16),
    /// No answer: refused, reset, timed out.
    Unreachable,
}

/// Failed deliveries by reason, as metrics label them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The channel answered 429.
    Throttled,
    /// The channel answered another status than 2xx.
    HttpError,
    /// The channel did not answer.
    Unreachable,
    /// The outbox was full: the delivery was never queued.
    QueueFull,
    /// The last attempt failed (counted besides its own reason).
    GaveUp,
}

impl FailReason {
    /// Every reason.
    pub const ALL: [FailReason; 5] = [
        FailReason::Throttled,
        FailReason::HttpError,
        FailReason::Unreachable,
        FailReason::QueueFull,
        FailReason::GaveUp,
    ];

    /// The metric's label.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailReason::Throttled => "throttled",
            FailReason::HttpError => "http_error",
            FailReason::Unreachable => "unreachable",
            FailReason::QueueFull => "queue_full",
            FailReason::GaveUp => "gave_up",
        }
    }
}

impl Failure {
    fn reason(self) -> FailReason {
        match self {
            Failure::Throttled(_) => FailReason::Throttled,
            Failure::Status(_) => FailReason::HttpError,
            Failure::Unreachable => FailReason::Unreachable,
        }
    }

    /// A client error other than 408 and 429 will not change by asking
    /// again (a revoked webhook, a malformed body).
    fn is_final(self) -> bool {
        matches!(self, Failure::Status(status) if (400..500).contains(&status) && status != 408)
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The channel took it.
    Delivered,
    /// Tried again this long from now.
    Retry(Duration),
    /// No attempt left, or a failure that another would not change.
    GaveUp,
}

/// Counts of what the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Deliveries that succeeded, by channel (`Channel::ALL`'s order).
    pub delivered: [u64; 2],
    /// Failures by reason (`FailReason::ALL`'s order).
    pub failed: [u64; 5],
}

/// The deliveries waiting, with their due times.
#[derive(Debug, Default)]
pub struct Outbox {
    waiting: Vec<(Nanos, Delivery)>,
    in_flight: usize,
    next_id: u64,
    counts: OutboxCounts,
}

fn nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Outbox {
    /// Queues a first attempt at `channel`, due `after` from `now`; false
    /// (counted) when the outbox is full.
    pub fn push(
        &mut self,
        channel: Channel,
        priority: Priority,
        body: Arc<str>,
        now: Nanos,
        after: Duration,
    ) -> bool {
        if self.waiting.len() >= CAPACITY {
            self.count(FailReason::QueueFull);
            return false;
        }
        self.next_id += 1;
        let delivery = Delivery {
            id: self.next_id,
            channel,
            priority,
            body,
            attempt: 1,
        };
        self.waiting
            .push((now.saturating_add(nanos(after)), delivery));
        true
    }

    /// Takes every delivery due at `now`, oldest due first.
    pub fn take_due(&mut self, now: Nanos) -> Vec<Delivery> {
        let (mut due, waiting): (Vec<_>, Vec<_>) =
            self.waiting.drain(..).partition(|(at, _)| *at <= now);
        self.waiting = waiting;
        due.sort_by_key(|(at, d)| (*at, d.id));
        self.in_flight += due.len();
        due.into_iter().map(|(_, d)| d).collect()
    }

    /// How long from `now` until the next delivery is due (`None`: none waits).
    pub fn next_due(&self, now: Nanos) -> Option<Duration> {
        self.waiting
            .iter()
            .map(|(at, _)| Duration::from_nanos(at.saturating_sub(now)))
            .min()
    }

    /// Nothing waits and nothing is being posted.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.in_flight == 0
    }

    /// Records how an attempt taken from [`Outbox::take_due`] ended.
    pub fn settle(
        &mut self,
        mut delivery: Delivery,
        result: Result<(), Failure>,
        now: Nanos,
    ) -> Settled {
        self.in_flight = self.in_flight.saturating_sub(1);
        let failure = match result {
            Ok(()) => {
                let index = usize::from(delivery.channel == Channel::Webhook);
                self.counts.delivered[index] += 1;
                return Settled::Delivered;
            }
            Err(failure) => failure,
        };
        self.count(failure.reason());
        if failure.is_final() || delivery.attempt >= MAX_ATTEMPTS {
            self.count(FailReason::GaveUp);
            return Settled::GaveUp;
        }
        let wait = match failure {
            Failure::Throttled(Some(asked)) => asked.min(MAX_RETRY_AFTER),
            _ => FIRST_BACKOFF
                .saturating_mul(1 << (delivery.attempt - 1).min(16))
                .min(MAX_BACKOFF),
        };
        delivery.attempt += 1;
        self.waiting
            .push((now.saturating_add(nanos(wait)), delivery));
        Settled::Retry(wait)
    }

    /// What was delivered and what failed.
    pub fn counts(&self) -> OutboxCounts {
        self.counts
    }

    fn count(&mut self, reason: FailReason) {
        let index = FailReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.counts.failed[index] += 1;
    }

    /// Drops what waits and the counts (tests).
    pub fn clear(&mut self) {
        *self = Self {
            next_id: self.next_id,
            ..Self::default()
        };
    }
}
