//! The compartments a process knows by name: the built-in ones and those
//! registered in code.

use super::compartment::{Compartment, Snapshot};
use super::settings::Settings;
use crate::core::clock::SharedClock;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The built-in compartments (CONTRACT: Bulkhead): name, capacity, places
/// in line, longest wait. Only `external_api` waits; the others fail fast
/// rather than pile up.
pub const BUILT_IN: [(&str, u32, u32, Duration); 4] = [
    ("database", 10, 0, Duration::ZERO),
    ("cache", 20, 0, Duration::ZERO),
    ("external_api", 5, 10, Duration::from_secs(5)),
    ("message_queue", 15, 0, Duration::ZERO),
];

/// A callsite named a compartment nobody registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// The name asked for.
    pub name: String,
    /// Every registered name, sorted.
    pub registered: Vec<String>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "compartment not found: '{}'; registered: {}",
            self.name,
            self.registered.join(", ")
        )
    }
}

/// Compartments by name. A name, once registered, is always the same
/// compartment: registering it again changes its limits in place, so the
/// callsites already holding it keep sharing one capacity.
#[derive(Debug)]
pub struct Compartments {
    clock: SharedClock,
    by_name: RwLock<BTreeMap<String, Arc<Compartment>>>,
}

impl Compartments {
    /// The built-in compartments, waiting on `clock`.
    pub fn with_built_ins(clock: SharedClock) -> Self {
        let this = Self {
            clock,
            by_name: RwLock::new(BTreeMap::new()),
        };
        for (name, capacity, max_waiting, wait) in BUILT_IN {
            let settings = Settings {
                capacity,
                max_waiting,
                wait_timeout: wait,
            };
            this.register(name, settings);
        }
        this
    }

    /// Registers `name` with `settings`, or changes a registered one's.
    pub fn register(&self, name: &str, settings: Settings) -> Arc<Compartment> {
        let mut by_name = self.by_name.write();
        if let Some(existing) = by_name.get(name) {
            existing.reconfigure(settings);
            return existing.clone();
        }
        let compartment = Compartment::new(name, settings, self.clock.clone());
        by_name.insert(name.to_owned(), compartment.clone());
        compartment
    }

    /// The compartment called `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Compartment>, NotFound> {
        let by_name = self.by_name.read();
        by_name.get(name).cloned().ok_or_else(|| NotFound {
            name: name.to_owned(),
            registered: by_name.keys().cloned().collect(),
        })
    }

    /// In a forked child: every compartment fresh ([`Compartment::after_fork`]).
    /// A registry a vanished thread was writing is left as it is.
    pub fn after_fork(&self) {
        if let Some(by_name) = self.by_name.try_read() {
            by_name
                .values()
                .for_each(|compartment| compartment.after_fork());
        }
    }

    /// Every compartment's snapshot, by name.
    pub fn snapshots(&self) -> Vec<(String, Snapshot)> {
        let by_name = self.by_name.read();
        by_name
            .iter()
            .map(|(name, compartment)| (name.clone(), compartment.snapshot()))
            .collect()
    }
}
