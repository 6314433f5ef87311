//! A sync round on the wire: the script's keys and arguments for the
//! breakers it syncs and checks, and its answer parsed back.

use crate::core::breaker::machine::RETRY_BUDGET_SPAN;
use crate::core::breaker::shared::{Inbox, Outbox};
use crate::core::breaker::state::OPERATOR_ACTIONS;
use crate::core::breaker::{Cause, CircuitBreaker, CircuitState};
use crate::core::error::StoreError;
use crate::core::window::{Totals, BUCKETS};
use redis::{Script, ScriptInvocation, Value};
use std::sync::LazyLock;
use std::time::Duration;

static ROUND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("round.lua")));

/// The change log's counter and zset, in one hash slot of their own: a
/// single server's round script keeps it with the breakers; a cluster's
/// round ends with a script of its own for it.
pub const LOG_KEYS: [&str; 2] = ["{baldur:cb:log}:position", "{baldur:cb:log}:changed"];

/// The retry budget's span in the fleet's record, in one-second buckets.
const BUDGET_SPAN: Duration = RETRY_BUDGET_SPAN;
const BUDGET_BUCKETS: u64 = 10;

/// What every breaker of one round shares.
#[derive(Debug, Clone, Copy)]
pub struct RoundHeader<'a> {
    /// The worker's id, naming its probe leases.
    pub worker: &'a str,
    /// Whether this script keeps the change log (a single server).
    pub log: bool,
    /// The last log position the worker read.
    pub log_position: u64,
    /// How long a running probe's slot stays reserved.
    pub probe_lease: Duration,
    /// How long a granted, unused slot stays reserved.
    pub unused_probe_lease: Duration,
    /// Breakers changed by other scripts, for this one's log to name.
    pub also_changed: &'a [String],
}

/// One script call of a round.
pub struct RoundRequest {
    invocation: ScriptInvocation<'static>,
}

impl std::fmt::Debug for RoundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundRequest")
    }
}

/// What one script call answered.
#[derive(Debug, Default)]
pub struct RoundReply {
    /// The change log's position now (0 without a log).
    pub log_position: u64,
    /// Breakers changed since the position sent.
    pub changed: Changed,
    /// One answer per synced breaker, in order, and whether its record
    /// changed (or was created) in this script.
    pub inboxes: Vec<(Inbox, bool)>,
    /// `(version, incarnation)` per checked breaker, in order.
    pub versions: Vec<(u64, u64)>,
}

/// What the change log says changed since a worker last read it.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Changed {
    /// These breakers (none, often).
    #[default]
    Nothing,
    /// These breakers, by name.
    Named(Vec<String>),
    /// The log went back (the store lost or rolled back its data): any of
    /// them may have.
    Everything,
}

impl RoundRequest {
    /// A script call syncing `synced` (each with the outbox drained for it)
    /// and checking the versions of `checked`.
    pub fn new(
        header: RoundHeader<'_>,
        synced: &[(&CircuitBreaker, &Outbox)],
        checked: &[&CircuitBreaker],
    ) -> Self {
        let mut invocation = ROUND.prepare_invoke();
        if header.log {
            for key in LOG_KEYS {
                invocation.key(key);
            }
        }
        invocation
            .arg(u8::from(header.log))
            .arg(header.log_position)
            .arg(synced.len())
            .arg(checked.len())
            .arg(header.worker)
            .arg(header.probe_lease.as_millis() as u64)
            .arg(header.unused_probe_lease.as_millis() as u64)
            .arg(BUDGET_SPAN.as_millis() as u64 / BUDGET_BUCKETS)
            .arg(BUDGET_BUCKETS)
            .arg(header.also_changed.len());
        for (breaker, outbox) in synced {
            for key in keys(breaker.name()) {
                invocation.key(key);
            }
            push_zone(&mut invocation, breaker, outbox);
        }
        for name in header.also_changed {
            invocation.arg(name.as_str());
        }
        for breaker in checked {
            invocation.key(keys(breaker.name())[0].clone());
        }
        Self { invocation }
    }

    /// Sends it on `connection`.
    pub async fn send(
        self,
        connection: &mut crate::core::store::redis::Connection,
    ) -> redis::RedisResult<Value> {
        self.invocation.invoke_async(connection).await
    }
}

/// One breaker's arguments, in the order `round.lua`'s `sync` reads them.
fn push_zone(
    invocation: &mut ScriptInvocation<'static>,
    breaker: &CircuitBreaker,
    outbox: &Outbox,
) {
    let config = breaker.config();
    let bucket_ms = (config.window.as_millis() / BUCKETS as u128).max(1) as u64;
    let (merge_state, merge_ms, decided_at) = match outbox.merge {
        Some(m) => (m.state.as_str(), m.open_remaining_ms, m.decided_at_ms),
        None => ("", 0, 0),
    };
    let (operator, epoch, late) = match outbox.operator {
        Some(action) => (
            operator_name(action.cause),
            action.epoch,
            u8::from(action.late),
        ),
        None => ("", 0, 0),
    };
    invocation
        .arg(&**breaker.name())
        .arg(outbox.counts.calls)
        .arg(outbox.counts.failures)
        .arg(match (outbox.trip, outbox.trip_before_operator()) {
            (false, _) => "0",
            (true, false) => "1",
            (true, true) => "before",
        })
        .arg(outbox.probe_successes)
        .arg(outbox.probe_failures)
        .arg(u8::from(outbox.wants_probe))
        .arg(operator)
        .arg(epoch)
        .arg(merge_state)
        .arg(merge_ms)
        .arg(bucket_ms)
        .arg(BUCKETS)
        .arg(config.minimum_calls)
        .arg(config.failure_threshold)
        .arg(config.recovery_timeout.as_millis() as u64)
        .arg(config.half_open_max_calls)
        .arg(decided_at)
        .arg(outbox.probes_in_flight)
        .arg(late)
        .arg(config.failure_rate_threshold)
        .arg(outbox.budget.calls)
        .arg(outbox.budget.failures);
}

/// The keys of one breaker. The hash tag keeps them in one cluster slot,
/// since the script touches all of them.
pub fn keys(name: &str) -> [String; 4] {
    let tag = format!("{{baldur:cb:{name}}}");
    [
        format!("{tag}:state"),
        format!("{tag}:window"),
        format!("{tag}:leases"),
        format!("{tag}:budget"),
    ]
}

/// The Redis Cluster hash slot of a breaker's keys (CRC16/XMODEM of their
/// hash tag, modulo 16384): breakers of one slot share a script.
pub fn slot(name: &str) -> u16 {
    let tag = format!("baldur:cb:{name}");
    let mut crc: u16 = 0;
    for byte in tag.bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// The verb an operator's action is logged under in the fleet's record
/// (`OPERATOR_ACTIONS`, the one table of them); any other cause is a reset.
pub fn operator_name(cause: Cause) -> &'static str {
    OPERATOR_ACTIONS
        .iter()
        .find(|(action, _)| *action == cause)
        .map_or("reset", |(_, verb)| verb)
}

/// The action a logged verb names, if it names one.
pub fn operator_cause(verb: &str) -> Option<Cause> {
    OPERATOR_ACTIONS
        .iter()
        .find(|(_, name)| *name == verb)
        .map(|(cause, _)| *cause)
}

/// Parses a round's answer.
pub fn parse_round(reply: &Value) -> Result<RoundReply, StoreError> {
    let parsed = (|| {
        let [position, changed, inboxes, versions] = array(Some(reply))? else {
            return None;
        };
        let changed = match array(Some(changed))? {
            [] => Changed::Nothing,
            [Value::BulkString(star)] if star == b"*" => Changed::Everything,
            names => Changed::Named(
                names
                    .iter()
                    .map(|name| text(Some(name)).map(str::to_owned))
                    .collect::<Option<_>>()?,
            ),
        };
        let inboxes = array(Some(inboxes))?
            .iter()
            .map(|zone| {
                let zone = array(Some(zone))?;
                Some((parse_inbox(zone)?, number(zone.get(9))? == 1))
            })
            .collect::<Option<_>>()?;
        let versions = array(Some(versions))?
            .chunks(2)
            .map(|pair| Some((number(pair.first())?, number(pair.get(1))?)))
            .collect::<Option<_>>()?;
        Some(RoundReply {
            log_position: number(Some(position))?,
            changed,
            inboxes,
            versions,
        })
    })();
    parsed.ok_or_else(|| StoreError(format!("unexpected answer to a breaker sync: {reply:?}")))
}

fn parse_inbox(reply: &[Value]) -> Option<Inbox> {
    let budget = match (signed(reply.get(7))?, signed(reply.get(8))?) {
        (calls, retries) if calls >= 0 && retries >= 0 => Some(Totals {
            calls: calls as u64,
            failures: retries as u64,
        }),
        _ => None,
    };
    Some(Inbox {
        state: state_named(reply.first())?,
        version: number(reply.get(1))?,
        open_remaining_ms: number(reply.get(2))?,
        fleet: Totals {
            calls: number(reply.get(3))?,
            failures: number(reply.get(4))?,
        },
        held_probes: u32::try_from(number(reply.get(5))?).ok()?,
        incarnation: number(reply.get(6))?,
        budget,
    })
}

fn array(value: Option<&Value>) -> Option<&[Value]> {
    match value? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

fn signed(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Int(i) => Some(*i),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

pub(super) fn number(value: Option<&Value>) -> Option<u64> {
    u64::try_from(signed(value)?).ok()
}

pub(super) fn state_named(value: Option<&Value>) -> Option<CircuitState> {
    let name = text(value)?;
    CircuitState::ALL.into_iter().find(|s| s.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_redis_clusters_for_the_keys_hash_tag() {
        // Redis's CRC16 (XMODEM; its check value for "123456789" is 0x31C3),
        // as Python's binascii.crc_hqx(b"baldur:cb:charge", 0) % 16384 gives it.
        assert_eq!(slot("charge"), 10_608);
        assert_eq!(slot("payments"), 15_729);
    }
}
