//! The process's idempotency gate, and the claims its calls hold: settled
//! exactly once (completed on success, released on any other end), a
//! remote completion carried in the background, and whatever could not
//! reach the store queued in the write-ahead log.

use crate::core::clock::process_clock;
use crate::core::events::{Event, EVENTS};
use crate::core::fork_cell::ForkCell;
use crate::core::idempotency::{Claim, IdempotencyGate, StoreError, UnreachableStore};
use crate::core::process::{wal, RUNTIME};
use crate::core::store::wal::Pending;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The process's idempotency gate; the memory store until a shared one is
/// configured.
pub static GATE: LazyLock<IdempotencyGate> =
    LazyLock::new(|| IdempotencyGate::in_memory(process_clock()));

/// Completions and releases still travelling to a remote store; the exit
/// hook waits for them before the runtime stops.
static IN_FLIGHT: LazyLock<ForkCell<Vec<JoinHandle<()>>>> = LazyLock::new(ForkCell::default);

/// Puts the gate back on a fresh memory store (a shared store is
/// unconfigured, or a drill's fault is over).
pub fn use_memory_store() {
    GATE.use_own_memory(process_clock());
}

/// A drill: every claim fails as if the store's service were down.
pub fn use_unreachable_store(reason: String) {
    GATE.set_store(Arc::new(UnreachableStore::new(reason)));
}

/// Waits (at most `timeout`) for background completions to land. Blocks:
/// not with anything held that the runtime's threads need.
pub fn wait_for_completions(timeout: Duration) {
    let tasks = std::mem::take(&mut *IN_FLIGHT.lock());
    if tasks.is_empty() {
        return;
    }
    let _ = RUNTIME.block_on(async move {
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(timeout, all).await;
    });
}

/// In a forked child: the parent's completions run on a runtime the child
/// does not have, so waiting for them at exit would only wait out the
/// timeout. They are the parent's to deliver; the child forgets them.
pub(crate) fn after_fork() {
    // The parent's tasks are on a runtime the child does not have: left
    // with the parent's list, never dropped.
    IN_FLIGHT.replace_after_fork(Vec::new());
}

/// A claim held for the length of one call. Settled exactly once:
/// completed on success, released on any other end (including being
/// dropped).
#[derive(Debug)]
pub struct HeldClaim {
    claim: Option<Claim>,
    /// Release a remote claim in the background (an async callsite must
    /// not block its event loop on the round trip).
    background_release: bool,
}

impl HeldClaim {
    /// Holds what the gate granted; a claim taken over from an owner whose
    /// execution window ran out is reported.
    pub fn hold(claim: Claim) -> Self {
        if claim.took_over() {
            emit(
                "idempotency.claim_taken_over",
                claim.key(),
                "a claim older than its execution window was taken over",
            );
        }
        Self {
            claim: Some(claim),
            background_release: false,
        }
    }

    /// Releases (if it comes to that) in the background.
    pub fn releasing_in_background(mut self) -> Self {
        self.background_release = true;
        self
    }

    /// Whether [`HeldClaim::release`] waits on a round trip to a remote
    /// store: the caller lets go of whatever others wait on (the GIL).
    pub fn release_blocks(&self) -> bool {
        self.claim.is_some() && !self.background_release && GATE.is_remote()
    }

    /// The call succeeded: duplicates are refused from now on. A remote
    /// completion runs in the background: the caller has its answer after
    /// one round trip (the claim). Until it lands, a duplicate still sees
    /// the claim, "in_progress", and is refused.
    pub fn complete(mut self) {
        self.complete_in_place();
    }

    /// [`HeldClaim::complete`] where the claim lies, leaving it settled:
    /// a sync call's driver spares the move of the whole claim.
    pub fn complete_in_place(&mut self) {
        if !GATE.is_remote() {
            // Completed where it lies, then dropped: not moved out first.
            if let Some(claim) = &self.claim {
                settle_completion(claim, GATE.complete(claim));
                self.claim = None;
            }
            return;
        }
        let Some(claim) = self.claim.take() else {
            return;
        };
        let background = RUNTIME.handle().map(|runtime| {
            runtime.spawn_blocking(move || {
                let completed = GATE.complete(&claim);
                settle_completion(&claim, completed);
            })
        });
        match background {
            Ok(task) => keep_in_flight(task),
            Err(error) => EVENTS.emit(Event::Idempotency {
                name: "idempotency.completion_failed",
                key: String::new(),
                detail: error.to_string(),
            }),
        }
    }

    /// The call ended without success: a later attempt may run. Blocks on
    /// a remote store unless [`HeldClaim::releasing_in_background`].
    pub fn release(mut self) {
        self.release_now(false);
    }

    fn release_now(&mut self, dropped: bool) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let remote = GATE.is_remote();
        // Dropped unsettled (an unused pending claim, a panic): no caller
        // is waiting, and the drop may run where blocking is wrong.
        if remote && (self.background_release || dropped) {
            release_in_background(claim);
            return;
        }
        if let Err(error) = GATE.release(&claim) {
            if remote {
                wal::log_pending(&Pending::IdempotencyRelease {
                    key: claim.key().to_owned(),
                    owner: claim.owner(),
                });
            }
            emit(
                "idempotency.release_failed",
                claim.key(),
                &error.to_string(),
            );
        }
    }
}

/// A claim is never leaked: one not settled by its call is released.
impl Drop for HeldClaim {
    fn drop(&mut self) {
        self.release_now(true);
    }
}

/// A remote release off the caller's thread; logged (and queued in the
/// write-ahead log) if it fails, like a blocking one.
fn release_in_background(claim: Claim) {
    let task = RUNTIME.handle().map(|runtime| {
        runtime.spawn_blocking(move || {
            HeldClaim {
                claim: Some(claim),
                background_release: false,
            }
            .release();
        })
    });
    if let Ok(task) = task {
        keep_in_flight(task);
    }
}

fn keep_in_flight(task: JoinHandle<()>) {
    let mut in_flight = IN_FLIGHT.lock();
    in_flight.retain(|task| !task.is_finished());
    in_flight.push(task);
}

/// Reports what became of a completion that did not simply succeed.
fn settle_completion(claim: &Claim, completed: Result<bool, StoreError>) {
    match completed {
        Ok(true) => {}
        Ok(false) => emit(
            "idempotency.completion_blocked",
            claim.key(),
            "the claim was taken over by a newer owner; its record is left alone",
        ),
        Err(error) => {
            emit(
                "idempotency.completion_failed",
                claim.key(),
                &error.to_string(),
            );
            // Durably queued: replayed when the store is back, so the
            // operation does not become runnable again when its window ends.
            wal::log_pending(&Pending::IdempotencyComplete {
                key: claim.key().to_owned(),
                owner: claim.owner(),
                memory_ttl_ms: u64::try_from(GATE.memory_ttl().as_millis()).unwrap_or(u64::MAX),
            });
        }
    }
}

/// Reports an idempotency event.
pub fn emit(name: &'static str, key: &str, detail: &str) {
    EVENTS.emit(Event::Idempotency {
        name,
        key: key.to_owned(),
        detail: detail.to_owned(),
    });
}
