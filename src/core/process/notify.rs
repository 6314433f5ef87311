//! Notifications as a process service: the guards and the outbox, once
//! per process, on the process clock. With breaker state shared in Redis
//! the cooldown is the fleet's (`core::notify::wire`); a store that does
//! not answer leaves this process's own cooldown to decide. The posts
//! themselves are the embedder's: its worker takes what is due and
//! settles each attempt here.
//!
//! A forked child starts with fresh guards and an empty outbox (what the
//! parent queued is the parent's to post): the embedder calls
//! [`after_fork`], which swaps them in without taking the lock a parent's
//! thread may have held at the fork (a [`ForkCell`]). The lock is never
//! held across I/O, only for the guards' arithmetic.

use crate::core::clock::{process_clock, Nanos};
use crate::core::fork_cell::ForkCell;
use crate::core::notify::cooldown::Verdict;
use crate::core::notify::guard::{Decision, Guard};
use crate::core::notify::outbox::{Delivery, Failure, Outbox, OutboxCounts, Settled};
use crate::core::notify::{wire, Channel, NotifyConfig, Priority, Reason, Suppressed};
use crate::core::process::stores;
use arc_swap::ArcSwap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

struct Service {
    guard: Guard,
    outbox: Outbox,
}

impl Service {
    fn new(config: NotifyConfig) -> Self {
        Self {
            guard: Guard::new(config),
            outbox: Outbox::default(),
        }
    }
}

static SERVICE: LazyLock<ForkCell<Service>> =
    LazyLock::new(|| ForkCell::new(Service::new(NotifyConfig::default())));

/// What [`configure`] was last given, read without a lock by a forked child.
static CONFIG: LazyLock<ArcSwap<NotifyConfig>> = LazyLock::new(ArcSwap::default);

fn now() -> Nanos {
    process_clock().now()
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted for delivery at `priority` (after escalation) to `channels`.
    Sent {
        /// As asked, or escalated.
        priority: Priority,
        /// Where it goes.
        channels: Vec<Channel>,
    },
    /// Not sent, for this reason.
    Suppressed(Reason),
}

/// New settings for the guards (what was spent and counted stays).
pub fn configure(config: NotifyConfig) {
    CONFIG.store(Arc::new(config));
    SERVICE.lock().guard.configure(config);
}

/// The guards' settings in force.
pub fn config() -> NotifyConfig {
    *SERVICE.lock().guard.config()
}

/// Puts `body` (the embedder's, opaque here) through the guards under
/// `key` and queues what they accept (a full outbox accepts nothing:
/// `rate_limited`). May ask Redis (bounded by the
/// store's timeout): release the GIL.
pub fn notify(key: &str, priority: Priority, body: &str) -> Outcome {
    let config = {
        let mut locked = SERVICE.lock();
        if let Err(reason) = locked.guard.precheck(priority, now()) {
            return Outcome::Suppressed(reason);
        }
        *locked.guard.config()
    };
    let fleet = stores::breaker_store().and_then(|redis| {
        redis
            .run(|connection| async move {
                wire::claim(connection, key, config.cooldown, config.burst_threshold).await
            })
            .ok()
    });
    let mut locked = SERVICE.lock();
    let at = now();
    let verdict: Verdict = fleet.unwrap_or_else(|| locked.guard.local_verdict(key, at));
    match locked.guard.admit(priority, verdict, at) {
        Decision::Suppressed(reason) => Outcome::Suppressed(reason),
        Decision::Deliver {
            priority,
            channels,
            after,
        } => {
            let body: Arc<str> = Arc::from(body);
            let queued: Vec<Channel> = channels
                .into_iter()
                .filter(|channel| {
                    locked
                        .outbox
                        .push(*channel, priority, body.clone(), at, after)
                })
                .collect();
            // A full outbox (its channels far behind) takes nothing more:
            // not sent, and counted as queue_full besides.
            if queued.is_empty() {
                Outcome::Suppressed(Reason::RateLimited)
            } else {
                Outcome::Sent {
                    priority,
                    channels: queued,
                }
            }
        }
    }
}

/// The deliveries due now, handed to the worker.
pub fn take_due() -> Vec<Delivery> {
    SERVICE.lock().outbox.take_due(now())
}

/// How an attempt the worker took ended.
pub fn settle(delivery: Delivery, result: Result<(), Failure>) -> Settled {
    SERVICE.lock().outbox.settle(delivery, result, now())
}

/// How long until the next delivery is due (`None`: nothing waits).
pub fn next_due() -> Option<Duration> {
    SERVICE.lock().outbox.next_due(now())
}

/// Nothing waits and nothing is being posted.
pub fn is_idle() -> bool {
    SERVICE.lock().outbox.is_idle()
}

/// Suppressions by reason, and what the outbox delivered and failed.
pub fn counts() -> (Suppressed, OutboxCounts) {
    let locked = SERVICE.lock();
    (locked.guard.suppressed(), locked.outbox.counts())
}

/// A forked child's guards and outbox: fresh, with the settings in force.
pub fn after_fork() {
    SERVICE.replace_after_fork(Service::new(**CONFIG.load()));
}

/// Forgets spending, cooldowns, counts and what waits (tests).
pub fn clear() {
    let mut locked = SERVICE.lock();
    locked.guard.clear();
    locked.outbox.clear();
}
