//! The lease as a sans-I/O state machine: the service sends the acquire
//! script and hands each answer (or failure) here; this decides whether
//! this process leads, until when, and what changed. Time comes from an
//! injected clock, so tests drive it on a `ManualClock`.
//!
//! Kleppmann's rule: a lease is measured from the local monotonic time
//! *before* the request was sent (Redis started its own clock later), and
//! this process stops acting as leader [`LeaseTiming::renew_deadline`]
//! after that instant, a third of the lease before Redis could hand the
//! lease to another. [`Election::is_leader`] reads the clock on every call:
//! a process paused past its lease answers `false` the moment it resumes,
//! before its loop has run again.

use crate::core::clock::{Nanos, SharedClock};
use crate::core::leader::LeaseTiming;
use std::time::Duration;

/// What the acquire script answered: who holds the lease, under which
/// fencing token, for how much longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The holder's id.
    pub holder: String,
    /// The holder's fencing token.
    pub token: u64,
    /// What is left of the holder's lease in Redis.
    pub ttl: Duration,
}

/// A change worth an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This process leads from now, under `token`.
    Acquired {
        /// The new fencing token.
        token: u64,
    },
    /// This process no longer leads.
    Lost {
        /// The token it led under.
        token: u64,
        /// Why, for the operator.
        why: String,
    },
    /// A renewal failed while leading (the lease may still hold).
    RenewFailed {
        /// The store's error.
        detail: String,
    },
}

/// An attempt in flight: when its request left.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    sent_at: Nanos,
}

/// Who leads, as this process sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The holder's id, if a lease is known to hold now.
    pub leader_id: Option<String>,
    /// The last fencing token seen (0 before any).
    pub token: u64,
    /// How long the lease known holds yet (for this process as leader:
    /// how long it may still act).
    pub lease_left: Option<Duration>,
    /// Whether this process leads now.
    pub is_leader: bool,
}

#[derive(Debug, Clone, Copy)]
struct Leading {
    token: u64,
    until: Nanos,
}

#[derive(Debug, Clone)]
struct Seen {
    holder: String,
    token: u64,
    until: Nanos,
}

/// One process's view of the election.
///
/// ```
/// use baldur::core::clock::ManualClock;
/// use baldur::core::leader::{Election, LeaseTiming, Observed};
/// use std::time::Duration;
/// let (clock, shared) = ManualClock::shared();
/// let mut election = Election::new("me".into(), LeaseTiming::default(), shared);
/// let attempt = election.attempt();
/// election.answered(attempt, Observed { holder: "me".into(), token: 7, ttl: Duration::from_secs(15) });
/// assert!(election.is_leader());
/// clock.advance(Duration::from_secs(10));
/// assert!(!election.is_leader()); // it stops a third of the lease early
/// ```
#[derive(Debug)]
pub struct Election {
    me: String,
    timing: LeaseTiming,
    clock: SharedClock,
    leading: Option<Leading>,
    seen: Option<Seen>,
}

impl Election {
    /// A follower that has seen nothing yet.
    pub fn new(me: String, timing: LeaseTiming, clock: SharedClock) -> Self {
        Self {
            me,
            timing,
            clock,
            leading: None,
            seen: None,
        }
    }

    /// This process's id in the election.
    pub fn id(&self) -> &str {
        &self.me
    }

    /// The lease's timings.
    pub fn timing(&self) -> LeaseTiming {
        self.timing
    }

    /// Marks the instant a request leaves: read before it is sent.
    pub fn attempt(&self) -> Attempt {
        Attempt {
            sent_at: self.clock.now(),
        }
    }

    /// The acquire script's answer to `attempt`.
    pub fn answered(&mut self, attempt: Attempt, observed: Observed) -> Vec<Change> {
        let now = self.clock.now();
        let mut changes = self.expire().into_iter().collect::<Vec<_>>();
        let ttl = nanos(observed.ttl);
        if observed.holder == self.me {
            let until = attempt
                .sent_at
                .saturating_add(nanos(self.timing.renew_deadline()));
            self.seen = Some(Seen {
                holder: observed.holder,
                token: observed.token,
                until,
            });
            match self.leading {
                Some(leading) if leading.token != observed.token => {
                    changes.push(Change::Lost {
                        token: leading.token,
                        why: "the lease lapsed and was taken again".into(),
                    });
                    self.leading = None;
                }
                _ => {}
            }
            if until <= now {
                // The answer came too late to act on.
                return changes;
            }
            if self.leading.is_none() {
                changes.push(Change::Acquired {
                    token: observed.token,
                });
            }
            self.leading = Some(Leading {
                token: observed.token,
                until,
            });
        } else {
            if let Some(leading) = self.leading.take() {
                changes.push(Change::Lost {
                    token: leading.token,
                    why: format!("{} holds the lease", observed.holder),
                });
            }
            self.seen = Some(Seen {
                holder: observed.holder,
                token: observed.token,
                until: now.saturating_add(ttl),
            });
        }
        changes
    }

    /// An attempt failed (Redis did not answer in time, or refused).
    pub fn failed(&mut self, detail: &str) -> Vec<Change> {
        let mut changes = self.expire().into_iter().collect::<Vec<_>>();
        if self.leading.is_some() {
            changes.push(Change::RenewFailed {
                detail: detail.to_owned(),
            });
        }
        changes
    }

    /// Steps down if the time to act has passed; the loop calls it before
    /// each attempt ([`Election::is_leader`] needs no call to be right).
    pub fn expire(&mut self) -> Option<Change> {
        let leading = self.leading?;
        if self.clock.now() < leading.until {
            return None;
        }
        self.leading = None;
        Some(Change::Lost {
            token: leading.token,
            why: "the lease could not be renewed in time".into(),
        })
    }

    /// Gives the lease up (a clean exit): the token it held, to release.
    pub fn step_down(&mut self) -> Option<u64> {
        self.seen = None;
        self.leading.take().map(|leading| leading.token)
    }

    /// Whether this process leads now.
    pub fn is_leader(&self) -> bool {
        self.leading
            .is_some_and(|leading| self.clock.now() < leading.until)
    }

    /// How long until the next attempt: a leader renews every retry
    /// period; a follower tries every retry period, or as soon as the
    /// holder's lease as last seen ends, whichever comes first.
    pub fn next_attempt_in(&self) -> Duration {
        let period = self.timing.retry_period();
        match &self.seen {
            Some(seen) if self.leading.is_none() => {
                let left = seen.until.saturating_sub(self.clock.now());
                period.min(Duration::from_nanos(left) + Duration::from_millis(1))
            }
            _ => period,
        }
    }

    /// Who leads, as this process sees it now.
    pub fn status(&self) -> Status {
        let now = self.clock.now();
        let is_leader = self.is_leader();
        let live = self.seen.as_ref().filter(|seen| now < seen.until);
        Status {
            leader_id: live.map(|seen| seen.holder.clone()),
            token: self.seen.as_ref().map_or(0, |seen| seen.token),
            lease_left: live.map(|seen| Duration::from_nanos(seen.until - now)),
            is_leader,
        }
    }
}

fn nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
