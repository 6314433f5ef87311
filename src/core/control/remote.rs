//! The kill switch's record in Redis, so every worker of a fleet (and every
//! restart) sees one state. The record is opaque text (the Python side
//! writes JSON); absent means enabled.

use crate::core::error::StoreError;
use crate::core::store::RedisStore;
use std::sync::Arc;

/// The key the record lives under.
pub const KILL_SWITCH_KEY: &str = "baldur:kill_switch";

/// Reads and writes the record through a configured Redis store.
#[derive(Debug, Clone)]
pub struct RemoteKillSwitch {
    redis: Arc<RedisStore>,
}

impl RemoteKillSwitch {
    /// The record in `redis`.
    pub fn new(redis: Arc<RedisStore>) -> Self {
        Self { redis }
    }

    /// The stored record; `None` when Baldur is enabled. Blocks: call with
    /// the GIL released.
    pub fn load(&self) -> Result<Option<String>, StoreError> {
        self.redis.run(|mut connection| async move {
            redis::cmd("GET")
                .arg(KILL_SWITCH_KEY)
                .query_async(&mut connection)
                .await
        })
    }

    /// Stores `record`, or deletes it (`None`: enabled). Blocks.
    pub fn save(&self, record: Option<String>) -> Result<(), StoreError> {
        self.redis.run(|mut connection| async move {
            match record {
                Some(text) => {
                    redis::cmd("SET")
                        .arg(KILL_SWITCH_KEY)
                        .arg(text)
                        .query_async::<()>(&mut connection)
                        .await
                }
                None => {
                    redis::cmd("DEL")
                        .arg(KILL_SWITCH_KEY)
                        .query_async::<()>(&mut connection)
                        .await
                }
            }
        })
    }
}
