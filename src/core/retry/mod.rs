//! Retry: the attempt budget, the backoff schedule between attempts, and
//! the zone's retry budget.

pub mod backoff;
pub mod budget;
pub mod policy;
pub mod waits;

pub use backoff::{Backoff, Jitter};
pub use budget::{RetryBudget, RETRY_BUDGET};
pub use policy::RetryPolicy;
