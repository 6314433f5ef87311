//! The cooldown per key, in one process: the first notification of a key
//! is delivered and opens its cooldown; repeats within it are suppressed,
//! and the `burst_threshold`-th of them is delivered one level higher,
//! once. `wire` keeps the same rule for the fleet in Redis.

use crate::core::clock::Nanos;
use std::collections::HashMap;
use std::time::Duration;

/// What the cooldown says of one notification of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No cooldown was running: deliver, and the cooldown starts.
    Deliver,
    /// A repeat within the cooldown.
    Suppress,
    /// The repeat that reached the burst threshold: deliver one level higher.
    Escalate,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    until: Nanos,
    suppressed: u32,
}

/// Keys in cooldown, with their suppressions.
#[derive(Debug, Default)]
pub struct Cooldowns {
    keys: HashMap<String, Running>,
}

/// Keys held before the expired ones are swept out.
const SWEEP_AT: usize = 1024;

impl Cooldowns {
    /// The verdict on `key` at `now`, counting it.
    pub fn claim(&mut self, key: &str, now: Nanos, cooldown: Duration, threshold: u32) -> Verdict {
        if self.keys.len() >= SWEEP_AT {
            self.keys.retain(|_, running| running.until > now);
        }
        match self.keys.get_mut(key) {
            Some(running) if running.until > now => {
                running.suppressed += 1;
                if running.suppressed == threshold {
                    Verdict::Escalate
                } else {
                    Verdict::Suppress
                }
            }
            _ => {
                let until =
                    now.saturating_add(u64::try_from(cooldown.as_nanos()).unwrap_or(u64::MAX));
                self.keys.insert(
                    key.to_owned(),
                    Running {
                        until,
                        suppressed: 0,
                    },
                );
                Verdict::Deliver
            }
        }
    }

    /// Forgets every key (tests, reconfiguration).
    pub fn clear(&mut self) {
        self.keys.clear();
    }
}
