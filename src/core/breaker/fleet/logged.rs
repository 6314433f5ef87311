//! Decisions that could not reach Redis, logged durably (the write-ahead
//! log) so they outlive this process, and a dead process's logged
//! decisions replayed.

use super::wire::{operator_cause, operator_name};
use super::BreakerSync;
use crate::core::breaker::shared::{LocalDecision, OperatorAction, Outbox};
use crate::core::breaker::{Cause, CircuitBreaker, CircuitState};
use crate::core::error::StoreError;
use crate::core::store::wal::{breaker_slot, LoggedDecision, Pending};

/// What a logged row holds, to skip rewriting it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Logged {
    trip: bool,
    probes: (u32, u32),
    operator: Option<(Cause, u64)>,
    merge: Option<(CircuitState, u64)>,
}

impl Logged {
    fn of(outbox: &Outbox) -> Self {
        Self {
            trip: outbox.trip,
            probes: (outbox.probe_successes, outbox.probe_failures),
            operator: outbox.operator.map(|a| (a.cause, a.epoch)),
            merge: outbox.merge.map(|m| (m.state, m.decided_at_ms)),
        }
    }
}

impl BreakerSync {
    /// A trip, probe outcomes, an operator's action or a state decided
    /// alone that could not reach Redis go to the write-ahead log too:
    /// kept in memory they would die with the process. The outbox that
    /// failed holds everything still undelivered, so it replaces this
    /// process's row for the breaker (one row, however long the outage).
    /// Counts are not logged: after an outage the fleet's window restarts
    /// from what workers send, set semantics, not a sum.
    pub(super) async fn log_decisions(&self, breaker: &CircuitBreaker, outbox: &Outbox) {
        let decided = outbox.trip
            || outbox.probe_successes > 0
            || outbox.probe_failures > 0
            || outbox.operator.is_some()
            || outbox.merge.is_some();
        let Some(wal) = self.wal.clone().filter(|_| decided) else {
            return;
        };
        // The same undelivered decisions as the last failed round: the row
        // already holds them (no disk write every round of an outage).
        let fingerprint = Logged::of(outbox);
        if self.logged.lock().get(&**breaker.name()) == Some(&fingerprint) {
            return;
        }
        let now = self.registry.clock().wall_millis();
        let entry = Pending::Breaker {
            name: breaker.name().to_string(),
            pid: std::process::id(),
            started: start_time(std::process::id()),
            trip: outbox.trip,
            probe_successes: outbox.probe_successes,
            probe_failures: outbox.probe_failures,
            operator: outbox
                .operator
                .map(|a| (operator_name(a.cause).to_owned(), a.epoch)),
            merge: outbox.merge.map(|m| LoggedDecision {
                state: m.state.as_str().to_owned(),
                open_until_ms: now.saturating_add(m.open_remaining_ms),
                decided_at_ms: m.decided_at_ms,
            }),
        };
        self.logged
            .lock()
            .insert(breaker.name().to_string(), fingerprint);
        let appended = tokio::task::spawn_blocking(move || wal.get()?.append(&entry)).await;
        let failure = match appended {
            Ok(Ok(_)) => return,
            Ok(Err(error)) => error,
            Err(error) => error.to_string(),
        };
        if let Some(report) = &self.on_wal_failure {
            report(&failure);
        }
    }

    /// This process delivered its decisions for `name` itself: its logged
    /// row must not be replayed on top of what the fleet did since.
    pub(super) async fn forget_logged(&self, name: &str) {
        if self.logged.lock().remove(name).is_none() {
            return; // the common case: nothing was logged, no disk touched
        }
        let Some(wal) = self.wal.clone() else {
            return;
        };
        let pid = std::process::id();
        let slot = breaker_slot(pid, start_time(pid), name);
        let cleared = tokio::task::spawn_blocking(move || wal.get()?.clear_slot(&slot)).await;
        if !matches!(cleared, Ok(Ok(()))) {
            // Try again after the next successful round.
            self.logged
                .lock()
                .insert(name.to_owned(), Logged::default());
        }
    }

    /// Replays one logged breaker decision of a process that has died: the
    /// same script, merging its state most-restrictive-wins, its operator
    /// action marked late. Returns `Ok(false)` for a row that belongs to a
    /// live process (it delivers its own).
    pub async fn replay(&self, entry: &Pending) -> Result<bool, StoreError> {
        let Pending::Breaker {
            name,
            pid,
            started,
            trip,
            probe_successes,
            probe_failures,
            operator,
            merge,
        } = entry
        else {
            return Ok(true);
        };
        if process_alive(*pid) && (*started == 0 || start_time(*pid) == *started) {
            return Ok(false);
        }
        let breaker = self.registry.get_or_detached(name);
        let operator = operator.as_ref().and_then(|(op, epoch)| {
            let cause = operator_cause(op)?;
            Some(OperatorAction {
                cause,
                epoch: *epoch,
                late: true,
            })
        });
        let now = self.registry.clock().wall_millis();
        let merge = merge.as_ref().and_then(|logged| {
            let state = CircuitState::ALL
                .into_iter()
                .find(|s| s.as_str() == logged.state)?;
            Some(LocalDecision {
                state,
                open_remaining_ms: logged.open_until_ms.saturating_sub(now),
                decided_at_ms: logged.decided_at_ms,
            })
        });
        let outbox = Outbox {
            trip: *trip,
            probe_successes: *probe_successes,
            probe_failures: *probe_failures,
            operator,
            merge,
            ..Outbox::default()
        };
        // Under an id that holds no leases: the dead worker's probe
        // outcomes count, but free none of this worker's slots. The answer
        // is not applied here: the sync loop adopts the fleet's state
        // (the script announces the change), in order.
        let replayer = format!("{}:replay", self.worker);
        self.exchange_one(&breaker, &outbox, &replayer).await?;
        Ok(true)
    }
}

/// Whether process `pid` still runs (its logged rows are its own to
/// deliver): kill(pid, 0) sends nothing; EPERM means it exists.
fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(error) => error == rustix::io::Errno::PERM,
    }
}

/// When process `pid` started, in clock ticks since boot (Linux's
/// `/proc/<pid>/stat`, field 22): with the pid, it names one process even
/// when pids are reused (a container restarting its workers). 0 where it
/// cannot be read.
fn start_time(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces and parens: fields are
            // counted after its closing one (field 3 comes first).
            let rest = stat.get(stat.rfind(')')? + 2..)?;
            rest.split(' ').nth(19)?.parse().ok()
        })
        .unwrap_or(0)
}
