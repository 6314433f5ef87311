//! The process's breaker registry: every zone's breaker, by name.

use crate::core::breaker::Registry;
use crate::core::clock::SystemClock;
use std::sync::LazyLock;

/// Every breaker of this process.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::new(SystemClock::shared()));
