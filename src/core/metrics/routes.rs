//! HTTP endpoint series for the adapters' request metrics, kept bounded:
//! per-id path segments become `{id}`, unmatched routes share one series,
//! and at most [`MAX_ENDPOINTS`] endpoints are kept, the least recently seen
//! evicted first. Not on the protected-call path (an adapter records one
//! request at a time), so one short lock is fine here.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

/// Distinct endpoints kept (seed 003: 500 by default).
pub const MAX_ENDPOINTS: usize = 500;

/// The one series every request no route matched is counted under.
pub const UNMATCHED_ROUTE: &str = "UNMATCHED_ROUTE";

/// Status classes counted per endpoint: 1xx to 5xx.
const CLASSES: usize = 5;

/// The path with every per-id segment replaced by `{id}`: numbers, UUIDs,
/// long hex strings, and long tokens mixing letters and digits.
///
/// ```
/// use baldur::core::metrics::normalise_path;
/// assert_eq!(normalise_path("/orders/42/items"), "/orders/{id}/items");
/// assert_eq!(
///     normalise_path("/u/3f2b8c1e-9d4a-4f6b-8a2e-1c3d5e7f9a0b"),
///     "/u/{id}"
/// );
/// ```
pub fn normalise_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| if is_id(segment) { "{id}" } else { segment })
        .collect();
    let joined = segments.join("/");
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

fn is_id(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    if digits == segment.len() {
        return true; // 42
    }
    let hex_or_dash = segment.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if hex_or_dash && segment.len() >= 16 && digits > 0 {
        return true; // a UUID, a hash
    }
    // A long opaque token (a slug id like "a8Fz93kLq0"): letters and digits
    // mixed, at least 8 characters, more than a quarter digits.
    segment.len() >= 8
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && digits * 4 > segment.len()
}

/// One endpoint's counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointStats {
    /// Requests by status class, 1xx at index 0 to 5xx at index 4.
    pub by_class: [u64; CLASSES],
    /// Seconds spent answering, summed.
    pub duration_sum: f64,
    last_seen: u64,
}

impl EndpointStats {
    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.by_class.iter().sum()
    }
}

/// `(method, route)` → counts, at most `capacity` of them.
#[derive(Debug)]
pub struct EndpointTable {
    inner: Mutex<Table>,
    capacity: AtomicUsize,
}

#[derive(Debug, Default)]
struct Table {
    endpoints: HashMap<(String, String), EndpointStats>,
    tick: u64,
    evicted: u64,
}

impl Default for EndpointTable {
    fn default() -> Self {
        Self::with_capacity(MAX_ENDPOINTS)
    }
}

impl EndpointTable {
    /// A table keeping at most `capacity` endpoints.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Table::default()),
            capacity: AtomicUsize::new(capacity.max(1)),
        }
    }

    /// Counts one request. `route` is the matched route's pattern or the raw
    /// path (normalised here); `None` when no route matched.
    pub fn record(&self, method: &str, route: Option<&str>, status: u16, seconds: f64) {
        let route = match route {
            Some(route) => normalise_path(route),
            None => UNMATCHED_ROUTE.to_owned(),
        };
        let key = (method.to_ascii_uppercase(), route);
        let mut table = self.inner.lock();
        table.tick += 1;
        let tick = table.tick;
        let capacity = self.capacity.load(Ordering::Relaxed);
        while !table.endpoints.contains_key(&key) && table.endpoints.len() >= capacity {
            let oldest = table
                .endpoints
                .iter()
                .min_by_key(|(_, stats)| stats.last_seen)
                .map(|(key, _)| key.clone());
            let Some(oldest) = oldest else { break };
            table.endpoints.remove(&oldest);
            table.evicted += 1;
        }
        let stats = table.endpoints.entry(key).or_default();
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        stats.by_class[class] += 1;
        stats.duration_sum += seconds.max(0.0);
        stats.last_seen = tick;
    }

    /// Changes the cap; a smaller one evicts at the next new endpoint.
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
    }

    /// Every endpoint's counts, sorted by method and route.
    pub fn snapshot(&self) -> Vec<((String, String), EndpointStats)> {
        let table = self.inner.lock();
        let mut rows: Vec<_> = table
            .endpoints
            .iter()
            .map(|(key, stats)| (key.clone(), stats.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// Forgets every endpoint and the eviction count (a test's reset).
    pub fn clear(&self) {
        *self.inner.lock() = Table::default();
    }

    /// Endpoints evicted to keep the cap.
    pub fn evicted(&self) -> u64 {
        self.inner.lock().evicted
    }
}

/// The process's endpoint table, which the adapters record into.
pub static ENDPOINTS: LazyLock<EndpointTable> = LazyLock::new(EndpointTable::default);
