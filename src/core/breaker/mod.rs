//! The circuit breaker: states, thresholds, the state machine, and the
//! registry of breakers by name.

pub mod config;
pub mod fleet;
pub mod machine;
pub mod observer;
pub mod policy;
pub mod registry;
pub mod shared;
pub mod state;

pub use config::BreakerConfig;
pub use fleet::BreakerSync;
pub use machine::{CircuitBreaker, Permit, Rejection, Snapshot};
pub use observer::{BreakerObserver, Transition};
pub use policy::{LocalPolicy, ProbeBudget, TripPolicy};
pub use registry::Registry;
pub use state::{Cause, CircuitState};
