//! A breaker's side of the fleet: the link its sync task reads and
//! writes, the fleet's state adopted (entered like any other state, by
//! `CircuitBreaker::enter`), and the outbox each sync carries away.

use super::{unpack, CircuitBreaker};
use crate::core::breaker::shared::{Answer, Inbox, Outbox, SharedLink};
use crate::core::breaker::state::{Cause, CircuitState};
use std::sync::atomic::Ordering;

impl CircuitBreaker {
    /// The breaker's link to the fleet.
    pub fn link(&self) -> &SharedLink {
        &self.link
    }

    /// Adopts the fleet's state, if `inbox` is newer than what this breaker
    /// applied. The store fenced it by version, so the table is not asked.
    pub fn apply_fleet(&self, inbox: &Inbox) {
        self.apply_fleet_answer(inbox, None, false);
    }

    /// As [`CircuitBreaker::apply_fleet`], for the answer to a sync that
    /// carried this worker's own decision (an operator's action, a merge):
    /// the store may have refused it (an older epoch, a forced state), so
    /// its state stands even at an unchanged version. `drained` is the
    /// breaker's generation when the outbox left: a breaker that moved on
    /// its own since keeps its state (the answer predates that decision,
    /// which the next sync carries).
    pub fn apply_fleet_answer(&self, inbox: &Inbox, drained: Option<u64>, carried_decision: bool) {
        let moved = drained.is_some_and(|g| unpack(self.word.load(Ordering::Acquire)).0 != g);
        let now = self.clock.now();
        self.link.heard_fleet_at(now);
        if let Some(budget) = inbox.budget {
            self.link.hear_budget(budget, now);
        }
        match self.link.sync_succeeded(inbox) {
            Answer::Newer | Answer::Same if moved => return,
            Answer::Newer => {}
            Answer::Same if carried_decision => {}
            Answer::Same => return,
            Answer::StoreReset => {
                // Everything this worker stands in is now unknown to the
                // fleet: the next sync merges it.
                self.link.mark_diverged(self.clock.wall_millis());
                return;
            }
        }
        let now = self.clock.now();
        self.decide(|inner| {
            if inbox.state == CircuitState::Open {
                // The store's clock says when probing starts: followed even
                // in an open state this breaker was already in.
                let remaining = inbox.open_remaining_ms.saturating_mul(1_000_000);
                self.open_until
                    .store(now.saturating_add(remaining), Ordering::Release);
            }
            let (_, from) = unpack(self.word.load(Ordering::Acquire));
            let transition =
                (inbox.state != from).then(|| self.enter(inner, inbox.state, Cause::Synced, now));
            ((), transition)
        });
    }

    /// In a forked child: what the parent owed the fleet stays the
    /// parent's (its counts too); the child syncs afresh.
    pub fn forget_link_after_fork(&self) {
        self.link.forget_after_fork();
        let _ = self.window.take_unsent();
        let _ = self.take_unsent_retries();
    }

    /// Whether the next sync round must carry this breaker: it has counts
    /// or decisions to send, something to learn from the fleet, or an open
    /// state whose recovery time has come (the fleet moves it to half-open
    /// when a worker syncs). Otherwise it costs the store nothing.
    pub fn needs_sync(&self) -> bool {
        self.link.has_business()
            || self.window.peek_unsent().calls != 0
            || self.has_unsent_retries()
            || (self.state() == CircuitState::Open && self.open_remaining_ms() == 0)
    }

    /// Empties the breaker's outbox for one sync with the shared store.
    pub fn drain_outbox(&self) -> Outbox {
        let (generation, _) = unpack(self.word.load(Ordering::Acquire));
        Outbox {
            generation,
            budget: self.take_unsent_retries(),
            ..self.link.drain(
                self.window.take_unsent(),
                (self.state(), self.open_remaining_ms()),
            )
        }
    }
}
