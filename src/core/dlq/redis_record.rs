//! An entry as the Redis store holds it: the stream entry's fields (what
//! was recorded, never changed) and a small JSON state beside it (what
//! replays change). Converting both ways is pure, so it is tested without
//! a server.

use crate::core::dlq::entry::{Entry, NewEntry};
use crate::core::dlq::redis_keys::RedisEntryId;
use serde::Deserialize;

/// The stream fields of `new`, in the order `record.lua` takes them.
pub fn stream_fields(new: &NewEntry) -> [String; 7] {
    [
        new.function.clone(),
        new.arguments.clone(),
        if new.replayable { "1" } else { "0" }.to_owned(),
        new.error_type.clone(),
        new.error_message.clone(),
        new.attempts.to_string(),
        new.reason.clone(),
    ]
}

/// The replay state kept beside a stream entry. Numbers come back from Lua's
/// cjson as JSON numbers, read as floats so any spelling parses.
#[derive(Debug, Deserialize)]
struct State {
    s: String,
    l: f64,
    #[serde(default)]
    e: Option<String>,
    c: f64,
    u: f64,
}

/// An entry from what a script returned: its stream id, the stream entry's
/// flat field list, and its state JSON.
///
/// ```
/// use baldur::core::dlq::redis_record::entry;
/// let fields: Vec<String> = ["function", "m:f", "arguments", "{}", "replayable", "1",
///     "error_type", "builtins.OSError", "error_message", "down", "attempts", "2",
///     "reason", "exhausted"].map(String::from).to_vec();
/// let e = entry("billing", "17-0", &fields, r#"{"s":"pending","l":3,"c":17,"u":17}"#).unwrap();
/// assert_eq!((e.id.as_str(), e.replays_left, e.recorded.attempts), ("billing:17-0", 3, 2));
/// ```
pub fn entry(zone: &str, stream_id: &str, fields: &[String], state: &str) -> Result<Entry, String> {
    let get = |name: &str| -> Result<String, String> {
        fields
            .chunks_exact(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .ok_or_else(|| format!("dead-letter entry {zone}:{stream_id} has no {name}"))
    };
    let state: State = serde_json::from_str(state)
        .map_err(|e| format!("dead-letter entry {zone}:{stream_id} has a bad state: {e}"))?;
    Ok(Entry {
        id: RedisEntryId {
            zone: zone.to_owned(),
            stream_id: stream_id.to_owned(),
        }
        .to_string(),
        recorded: NewEntry {
            zone: zone.to_owned(),
            function: get("function")?,
            arguments: get("arguments")?,
            replayable: get("replayable")? == "1",
            error_type: get("error_type")?,
            error_message: get("error_message")?,
            attempts: get("attempts")?.parse().map_err(|_| "bad attempts")?,
            reason: get("reason")?,
        },
        state: state.s,
        replays_left: state.l as u32,
        last_replay_error: state.e,
        created_ms: state.c as i64,
        updated_ms: state.u as i64,
    })
}

/// Orders stream ids (`ms-seq`) by time; an unparsable one sorts first.
///
/// ```
/// use baldur::core::dlq::redis_record::stream_order;
/// assert!(stream_order("9-1") < stream_order("10-0"));
/// ```
pub fn stream_order(stream_id: &str) -> (u64, u64) {
    let (ms, seq) = stream_id.split_once('-').unwrap_or((stream_id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}
