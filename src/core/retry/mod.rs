//! Retry: the attempt budget and the backoff schedule between attempts.

pub mod backoff;
pub mod policy;
pub mod waits;

pub use backoff::{Backoff, Jitter};
pub use policy::RetryPolicy;
