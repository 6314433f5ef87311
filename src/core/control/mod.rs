//! Process-wide controls an operator drives: the kill switch, and the
//! shutdown drain. The call path reads each with one relaxed atomic.

pub mod drain;
pub mod kill_switch;
pub mod remote;

pub use drain::{Drain, DrainProgress, InFlight, DRAIN};
pub use kill_switch::{Disabled, KillSwitch, KILL_SWITCH};
