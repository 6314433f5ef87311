//! An operator's look at a breaker by name, which this process may never
//! have used: its own breaker, else the fleet's record in Redis (one
//! another worker created). A look creates nothing, here or in Redis.

use crate::core::breaker::fleet::record::{self, FleetRecord};
use crate::core::breaker::CircuitState;
use crate::core::error::StoreError;
use crate::core::process::breakers::REGISTRY;
use crate::core::process::stores;

/// The fleet's record of `name` when breaker state is shared in Redis
/// (`None`: no record, or no Redis configured). Reads only; bounded by the
/// store's timeout (an error then, or at once while the store is
/// DEGRADED). Blocks: release the GIL.
pub fn fleet_record(name: &str) -> Result<Option<FleetRecord>, StoreError> {
    let Some(redis) = stores::breaker_store() else {
        return Ok(None);
    };
    let config = REGISTRY.defaults();
    let reply = redis
        .run(|mut connection| async move { record::read(&mut connection, name, config).await })?;
    record::parse(&reply)
}

/// The state of `name` as this process would act on it: its breaker's, or
/// for a name it has none for, the fleet's record's, else closed (as a
/// first call would start). A store that does not answer leaves the local
/// answer, closed.
pub fn state_of(name: &str) -> CircuitState {
    if let Some(breaker) = REGISTRY.get(name) {
        return breaker.observed_state();
    }
    match fleet_record(name) {
        Ok(Some(record)) => record.state,
        Ok(None) | Err(_) => CircuitState::Closed,
    }
}
