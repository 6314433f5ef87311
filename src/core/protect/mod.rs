//! The protected call: a zone's policies and the per-call state machine.

pub mod defaults;
pub mod pipeline;
pub mod verdict;
pub mod zone;

pub use defaults::ZoneDefaults;
pub use verdict::{GiveUp, Next, Verdict};
pub use zone::{CallState, Zone};
