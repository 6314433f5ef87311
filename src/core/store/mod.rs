//! Stores shared by every worker: the Redis connection and its health.

pub mod caller_connection;
pub mod health;
pub mod incarnation;
pub mod private_file;
pub mod redis;
pub mod sqlite_connection;
pub mod wal;

pub use caller_connection::{CallerConnections, CallerError};
pub use health::{Admission, HealthEvent, HealthListener, StoreHealth};
pub use redis::{RedisStore, RedisTarget};
