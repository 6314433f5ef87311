//! The scheduled tasks of a process: when each is due, which are running,
//! and what their runs came to.

use crate::core::clock::Nanos;
use crate::core::error::ConfigError;
use crate::core::schedule::Cadence;

/// What one run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The task returned.
    Ran,
    /// The task raised: its type and a message fit to log.
    Failed(String),
    /// A leader-only task on a process that does not lead: not run.
    NotLeader,
}

/// One task as an operator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStatus {
    /// The task's name.
    pub name: String,
    /// How often it runs.
    pub cadence: Cadence,
    /// Whether only the fleet's leader runs it.
    pub leader_only: bool,
    /// Runs that returned.
    pub runs: u64,
    /// Runs that raised.
    pub failures: u64,
    /// Ticks skipped because a run overran its interval.
    pub skipped: u64,
    /// Ticks passed over because this process did not lead.
    pub not_leader: u64,
    /// The last failure's type and message, until a run returns.
    pub last_error: Option<String>,
    /// Whether a run is under way.
    pub running: bool,
    /// Monotonic time the next run is due (or, running, was due).
    pub due: Nanos,
}

#[derive(Debug)]
struct Task {
    id: u64,
    status: TaskStatus,
}

/// A task the caller should run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Names this registration (a task removed and added again under the
    /// same name is another).
    pub id: u64,
    /// The task's name.
    pub name: String,
    /// Whether only the leader may run it.
    pub leader_only: bool,
}

/// Every task of the process, in the order they were added.
#[derive(Debug, Default)]
pub struct Table {
    tasks: Vec<Task>,
    next_id: u64,
}

impl Table {
    /// No tasks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a task first due per [`Cadence::first_due`]. A name already
    /// taken is refused.
    pub fn add(
        &mut self,
        name: &str,
        cadence: Cadence,
        leader_only: bool,
        now: Nanos,
        wall_millis: u64,
        utc_offset_seconds: i32,
    ) -> Result<u64, ConfigError> {
        if name.is_empty() || self.tasks.iter().any(|t| t.status.name == name) {
            return Err(ConfigError::new(
                "name",
                format!("{name:?}"),
                "a non-empty name no other scheduled task of this process has",
            ));
        }
        self.next_id += 1;
        self.tasks.push(Task {
            id: self.next_id,
            status: TaskStatus {
                name: name.to_owned(),
                cadence,
                leader_only,
                runs: 0,
                failures: 0,
                skipped: 0,
                not_leader: 0,
                last_error: None,
                running: false,
                due: cadence.first_due(now, wall_millis, utc_offset_seconds),
            },
        });
        Ok(self.next_id)
    }

    /// Removes a task (a run under way finishes, and is forgotten): its
    /// id, or `None` when no task has that name.
    pub fn remove(&mut self, name: &str) -> Option<u64> {
        let index = self.tasks.iter().position(|t| t.status.name == name)?;
        Some(self.tasks.remove(index).id)
    }

    /// The cadence of task `id`, if it is still here.
    pub fn cadence_of(&self, id: u64) -> Option<Cadence> {
        self.tasks
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.status.cadence)
    }

    /// Whether there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks due at `now`, marked running (a running task is never due
    /// again until its run is reported to [`Table::finish`]).
    pub fn due(&mut self, now: Nanos) -> Vec<Due> {
        self.tasks
            .iter_mut()
            .filter(|t| !t.status.running && t.status.due <= now)
            .map(|t| {
                t.status.running = true;
                Due {
                    id: t.id,
                    name: t.status.name.clone(),
                    leader_only: t.status.leader_only,
                }
            })
            .collect()
    }

    /// Records what the run of task `id` came to at `now`, and when it is
    /// due next. A task removed meanwhile is ignored.
    pub fn finish(
        &mut self,
        id: u64,
        outcome: Outcome,
        now: Nanos,
        wall_millis: u64,
        utc_offset_seconds: i32,
    ) {
        let Some(task) = self.tasks.iter_mut().find(|t| t.id == id) else {
            return;
        };
        let status = &mut task.status;
        match outcome {
            Outcome::Ran => {
                status.runs += 1;
                status.last_error = None;
            }
            Outcome::Failed(error) => {
                status.failures += 1;
                status.last_error = Some(error);
            }
            Outcome::NotLeader => status.not_leader += 1,
        }
        let (due, skipped) =
            status
                .cadence
                .next_due(status.due, now, wall_millis, utc_offset_seconds);
        status.due = due;
        status.skipped += skipped;
        status.running = false;
    }

    /// When the earliest task not running is due, if any.
    pub fn next_due(&self) -> Option<Nanos> {
        self.tasks
            .iter()
            .filter(|t| !t.status.running)
            .map(|t| t.status.due)
            .min()
    }

    /// Every task, in the order they were added.
    pub fn status(&self) -> Vec<TaskStatus> {
        self.tasks.iter().map(|t| t.status.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;
    const WALL: u64 = 1_700_000_000_000;

    fn every(seconds: f64) -> Cadence {
        Cadence::every(seconds).unwrap()
    }

    fn names(due: &[Due]) -> Vec<&str> {
        due.iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn a_name_is_taken_once() {
        let mut table = Table::new();
        table.add("a", every(1.0), false, 0, WALL, 0).unwrap();
        let error = table.add("a", every(2.0), true, 0, WALL, 0).unwrap_err();
        assert_eq!(error.key, "name");
        assert!(table.add("", every(1.0), false, 0, WALL, 0).is_err());
        assert_eq!(table.remove("a"), Some(1));
        assert_eq!(table.remove("a"), None);
        table.add("a", every(2.0), false, 0, WALL, 0).unwrap();
    }

    #[test]
    fn tasks_fall_due_in_turn_and_a_running_one_is_not_due_again() {
        let mut table = Table::new();
        table.add("fast", every(1.0), false, 0, WALL, 0).unwrap();
        table.add("slow", every(3.0), true, 0, WALL, 0).unwrap();
        assert_eq!(table.next_due(), Some(S));
        assert!(table.due(S - 1).is_empty());
        let due = table.due(S);
        assert_eq!(names(&due), ["fast"]);
        // Still running at 3 s: only slow is due.
        assert_eq!(table.next_due(), Some(3 * S));
        let slow = table.due(3 * S);
        assert_eq!(names(&slow), ["slow"]);
        assert!(slow[0].leader_only);
        table.finish(due[0].id, Outcome::Ran, 3 * S + 1, WALL, 0);
        let status = table.status();
        assert_eq!(
            (status[0].runs, status[0].skipped, status[0].due),
            (1, 2, 4 * S)
        );
        assert!(status[1].running);
    }

    #[test]
    fn failures_are_counted_and_the_last_error_kept_until_a_run_returns() {
        let mut table = Table::new();
        let id = table.add("flaky", every(1.0), false, 0, WALL, 0).unwrap();
        for tick in 1..=3 {
            assert_eq!(table.due(tick * S).len(), 1);
            table.finish(
                id,
                Outcome::Failed(format!("ValueError: {tick}")),
                tick * S,
                WALL,
                0,
            );
        }
        let status = &table.status()[0];
        assert_eq!((status.runs, status.failures), (0, 3));
        assert_eq!(status.last_error.as_deref(), Some("ValueError: 3"));
        // Retried on the next tick, not later.
        assert_eq!(status.due, 4 * S);
        table.due(4 * S);
        table.finish(id, Outcome::Ran, 4 * S, WALL, 0);
        assert_eq!(table.status()[0].last_error, None);
        assert_eq!(table.status()[0].runs, 1);
    }

    #[test]
    fn a_process_that_does_not_lead_counts_the_ticks_it_passed_over() {
        let mut table = Table::new();
        let id = table.add("report", every(1.0), true, 0, WALL, 0).unwrap();
        table.due(S);
        table.finish(id, Outcome::NotLeader, S, WALL, 0);
        let status = &table.status()[0];
        assert_eq!((status.runs, status.not_leader, status.due), (0, 1, 2 * S));
    }

    #[test]
    fn a_task_removed_mid_run_is_forgotten_and_its_name_is_free() {
        let mut table = Table::new();
        let old = table.add("t", every(1.0), false, 0, WALL, 0).unwrap();
        table.due(S);
        table.remove("t");
        table.add("t", every(5.0), false, S, WALL, 0).unwrap();
        table.finish(old, Outcome::Ran, S, WALL, 0);
        let status = &table.status()[0];
        assert_eq!((status.runs, status.due, status.running), (0, 6 * S, false));
    }
}
