//! Baldur's core: pure Rust, no pyo3. Every state machine here reads time
//! from an injected [`clock::Clock`], so `cargo test` drives it without
//! sleeping.

pub mod admin;
pub mod audit;
pub mod breaker;
pub mod bulkhead;
pub mod clock;
pub mod control;
pub mod dlq;
pub mod error;
pub mod events;
pub mod fork_cell;
pub mod idempotency;
pub mod leader;
pub mod metrics;
pub mod names;
pub mod notify;
pub mod process;
pub mod protect;
pub mod random;
pub mod retry;
pub mod runtime;
pub mod schedule;
pub mod store;
pub mod tally;
pub mod watchdog;
pub mod window;
