//! Breakers by name: one per name for the whole process.

use crate::core::breaker::config::BreakerConfig;
use crate::core::breaker::machine::CircuitBreaker;
use crate::core::breaker::observer::{BreakerObserver, ObserverSlot};
use crate::core::clock::SharedClock;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every breaker of the process, by name, with the defaults new ones get.
///
/// ```
/// use baldur::core::breaker::registry::Registry;
/// use baldur::core::clock::SystemClock;
/// let registry = Registry::new(SystemClock::shared());
/// let a = registry.get_or_create("payments");
/// let b = registry.get_or_create("payments");
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// ```
#[derive(Debug)]
pub struct Registry {
    breakers: RwLock<BTreeMap<Arc<str>, Arc<CircuitBreaker>>>,
    defaults: RwLock<BreakerConfig>,
    clock: SharedClock,
    observer: Arc<ObserverSlot>,
    /// Whether breakers share their state through a store.
    shared: std::sync::atomic::AtomicBool,
}

impl Registry {
    /// An empty registry whose breakers read `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            breakers: RwLock::new(BTreeMap::new()),
            defaults: RwLock::new(BreakerConfig::default()),
            clock,
            observer: Arc::new(ObserverSlot::default()),
            shared: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The breaker called `name`, created with the defaults if new.
    pub fn get_or_create(&self, name: &str) -> Arc<CircuitBreaker> {
        if let Some(breaker) = self.get(name) {
            return breaker;
        }
        let mut breakers = self.breakers.write();
        breakers
            .entry(Arc::from(name))
            .or_insert_with(|| {
                let breaker = CircuitBreaker::new(
                    name,
                    *self.defaults.read(),
                    self.clock.clone(),
                    self.observer.clone(),
                );
                breaker
                    .link()
                    .set_enabled(self.shared.load(std::sync::atomic::Ordering::Acquire));
                Arc::new(breaker)
            })
            .clone()
    }

    /// The breaker called `name` if this process has one, else one with
    /// the defaults that is not kept: a replay of another process's log
    /// row must not make a breaker appear here that no code of this
    /// process uses.
    pub fn get_or_detached(&self, name: &str) -> Arc<CircuitBreaker> {
        self.get(name).unwrap_or_else(|| {
            Arc::new(CircuitBreaker::new(
                name,
                *self.defaults.read(),
                self.clock.clone(),
                self.observer.clone(),
            ))
        })
    }

    /// The breaker called `name`, if one exists.
    pub fn get(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        self.breakers.read().get(name).cloned()
    }

    /// Every breaker, ordered by name.
    pub fn all(&self) -> Vec<Arc<CircuitBreaker>> {
        self.breakers.read().values().cloned().collect()
    }

    /// A test's reset: forgets every breaker no zone holds (its name starts
    /// afresh on first use) and restarts the rest, which a zone built earlier
    /// (a decorated function) keeps using: closed, as if just made.
    pub fn forget(&self) {
        let held: Vec<Arc<CircuitBreaker>> = {
            let mut breakers = self.breakers.write();
            // Under the write lock no lookup can be cloning one meanwhile.
            breakers.retain(|_, breaker| Arc::strong_count(breaker) > 1);
            breakers.values().cloned().collect()
        };
        for breaker in held {
            breaker.restart();
        }
    }

    /// New defaults, applied to every breaker now and to those made later.
    pub fn set_defaults(&self, config: BreakerConfig) {
        *self.defaults.write() = config;
        for breaker in self.all() {
            breaker.reconfigure(config);
        }
    }

    /// The defaults new breakers get.
    pub fn defaults(&self) -> BreakerConfig {
        *self.defaults.read()
    }

    /// Turns state sharing through a store on or off, for every breaker now
    /// and those made later.
    pub fn set_shared(&self, shared: bool) {
        self.shared
            .store(shared, std::sync::atomic::Ordering::Release);
        for breaker in self.all() {
            breaker.link().set_enabled(shared);
        }
    }

    /// Installs the listener every breaker reports transitions to.
    pub fn set_observer(&self, observer: Option<Arc<dyn BreakerObserver>>) {
        self.observer.set(observer);
    }

    /// The clock the breakers read.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}
