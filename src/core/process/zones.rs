//! What every zone of this process shares: the defaults `init()` sets.

use crate::core::protect::ZoneDefaults;
use std::sync::{Arc, LazyLock};

/// Defaults for every zone of this process (`init()` sets them).
pub static ZONE_DEFAULTS: LazyLock<Arc<ZoneDefaults>> = LazyLock::new(Default::default);
