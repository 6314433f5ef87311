//! The bulkhead: compartments that bound how many calls run at once.
//!
//! A compartment is one semaphore with a bounded, first-in-first-out wait
//! queue. It is shared by every sync and async callsite of the process
//! naming it (one kind of bulkhead, not a thread-pool kind and a semaphore
//! kind to choose between), so sync and async calls draw from one capacity.
//!
//! ```
//! use baldur::core::bulkhead::{Acquire, Compartment, Settings};
//! use baldur::core::clock::ManualClock;
//! use std::time::Duration;
//! let (_, clock) = ManualClock::shared();
//! let settings = Settings::new(1, 0, Duration::ZERO).unwrap();
//! let db = Compartment::new("db", settings, clock);
//! let Acquire::Permit(permit) = db.acquire() else { panic!() };
//! assert!(matches!(db.acquire(), Acquire::Full(_)));
//! drop(permit); // returned on every path: it is a guard
//! assert!(matches!(db.acquire(), Acquire::Permit(_)));
//! ```

mod acquire;
mod compartment;
mod permit;
mod registry;
mod settings;
#[cfg(test)]
mod tests;

pub use acquire::Acquire;
pub use compartment::{Compartment, Occupancy, Snapshot};
pub use permit::{Permit, Ticket};
pub use registry::{Compartments, NotFound, BUILT_IN};
pub use settings::{Settings, DEFAULT_WAIT_TIMEOUT};
