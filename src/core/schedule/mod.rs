//! Scheduled tasks' timing, as a sans-I/O state machine: when each task is
//! due, what a run that overran its interval skips, and the counts an
//! operator reads (runs, failures, the last error). Nothing here sleeps or
//! calls a task: the process's scheduler service
//! (`core::process::scheduler`) asks [`Table::due`] and reports each run
//! back, on whatever clock it was given.
//!
//! ```
//! use baldur::core::schedule::{Cadence, Table};
//! let mut table = Table::new();
//! let every = Cadence::every(2.0).unwrap();
//! table.add("sweep", every, false, 0, 0, 0).unwrap();
//! assert!(table.due(1_000_000_000).is_empty());
//! assert_eq!(table.due(2_000_000_000)[0].name, "sweep");
//! ```

mod cadence;
mod table;

pub use cadence::{Cadence, DAY, MAX_EVERY_SECONDS};
pub use table::{Due, Outcome, Table, TaskStatus};
