//! One breaker's record in the fleet, read without syncing: what an
//! operator's look at a name this worker never used finds (a breaker
//! another worker created). The read writes nothing, in Redis or here.

use super::wire::{keys, number, state_named};
use crate::core::breaker::{BreakerConfig, CircuitState};
use crate::core::error::StoreError;
use crate::core::window::{Totals, BUCKETS};
use redis::{Script, Value};
use std::sync::LazyLock;
use std::time::Duration;

static READ: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("record.lua")));

/// A breaker as the fleet's record holds it, on the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetRecord {
    /// Its state; an open one whose recovery is due reads half-open, as a
    /// worker's breaker does.
    pub state: CircuitState,
    /// Changes of state the fleet made (the record's version).
    pub version: u64,
    /// Calls and failures of the fleet's window (counted in buckets of
    /// `config`'s window).
    pub totals: Totals,
    /// How long ago it opened, while open or forced open.
    pub opened_ago: Option<Duration>,
    /// Time until probing resumes, while open.
    pub retry_after: Option<Duration>,
}

/// Reads `name`'s record on `connection`: `None` when the fleet keeps none.
/// `config` gives the window whose buckets are counted.
pub async fn read(
    connection: &mut crate::core::store::redis::Connection,
    name: &str,
    config: BreakerConfig,
) -> redis::RedisResult<Value> {
    let [state, window, ..] = keys(name);
    let bucket_ms = (config.window.as_millis() / BUCKETS as u128).max(1) as u64;
    READ.key(state)
        .key(window)
        .arg(bucket_ms)
        .arg(BUCKETS)
        .invoke_async(connection)
        .await
}

/// Parses [`read`]'s answer.
pub fn parse(reply: &Value) -> Result<Option<FleetRecord>, StoreError> {
    let Value::Array(fields) = reply else {
        return Err(unexpected(reply));
    };
    if fields.is_empty() {
        return Ok(None);
    }
    let parsed = (|| {
        let recorded = state_named(fields.first())?;
        let remaining = Duration::from_millis(number(fields.get(2))?);
        let since = Duration::from_millis(number(fields.get(3))?);
        let state = match recorded {
            CircuitState::Open if remaining.is_zero() => CircuitState::HalfOpen,
            other => other,
        };
        Some(FleetRecord {
            state,
            version: number(fields.get(1))?,
            totals: Totals {
                calls: number(fields.get(4))?,
                failures: number(fields.get(5))?,
            },
            opened_ago: matches!(state, CircuitState::Open | CircuitState::ForcedOpen)
                .then_some(since),
            retry_after: (state == CircuitState::Open).then_some(remaining),
        })
    })();
    parsed.map(Some).ok_or_else(|| unexpected(reply))
}

fn unexpected(reply: &Value) -> StoreError {
    StoreError(format!("unexpected answer to a breaker read: {reply:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(state: &str, remaining_ms: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(state.as_bytes().to_vec()),
            Value::Int(3),
            Value::Int(remaining_ms),
            Value::Int(1_500),
            Value::Int(12),
            Value::Int(7),
        ])
    }

    #[test]
    fn no_record_is_none() {
        assert_eq!(parse(&Value::Array(vec![])).unwrap(), None);
    }

    #[test]
    fn an_open_record_reads_its_wait_and_counts() {
        let record = parse(&reply("open", 2_000)).unwrap().unwrap();
        assert_eq!(record.state, CircuitState::Open);
        assert_eq!(record.version, 3);
        assert_eq!(
            record.totals,
            Totals {
                calls: 12,
                failures: 7
            }
        );
        assert_eq!(record.opened_ago, Some(Duration::from_millis(1_500)));
        assert_eq!(record.retry_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn an_open_record_whose_recovery_is_due_reads_half_open() {
        let record = parse(&reply("open", 0)).unwrap().unwrap();
        assert_eq!(record.state, CircuitState::HalfOpen);
        assert_eq!((record.opened_ago, record.retry_after), (None, None));
    }

    #[test]
    fn a_forced_open_record_has_no_wait() {
        let record = parse(&reply("forced_open", 0)).unwrap().unwrap();
        assert_eq!(record.state, CircuitState::ForcedOpen);
        assert_eq!(record.opened_ago, Some(Duration::from_millis(1_500)));
        assert_eq!(record.retry_after, None);
    }

    #[test]
    fn a_garbled_answer_is_an_error() {
        assert!(parse(&Value::Int(1)).is_err());
        assert!(parse(&reply("sideways", 0)).is_err());
    }
}
