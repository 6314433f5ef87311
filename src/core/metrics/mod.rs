//! Operational counters: plain atomics bumped on the call path (one relaxed
//! `fetch_add` each, no lock, no allocation), read by the metrics endpoints.
//!
//! Label sets are bounded here, where they are created, never at scrape time:
//! a zone beyond [`registry::MAX_DOMAINS`] shares one overflow series, and the
//! HTTP endpoint table ([`routes`]) keeps at most [`routes::MAX_ENDPOINTS`].

pub mod registry;
pub mod routes;
pub mod zone;

pub use crate::core::tally::{Level, Tally};
pub use registry::{GlobalCounters, MetricsRegistry, MAX_DOMAINS, OVERFLOW_DOMAIN};
pub use routes::{normalise_path, EndpointTable, MAX_ENDPOINTS, UNMATCHED_ROUTE};
pub use zone::{CallOutcome, ZoneCounters, ZoneSnapshot};
