//! The process's breaker registry: every zone's breaker, by name.

use crate::core::breaker::Registry;
use crate::core::clock::process_clock;
use std::sync::LazyLock;

/// Every breaker of this process, on the process's clock (a test may stop
/// it and move it by hand), as are the zones, which take the registry's.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::new(process_clock()));
