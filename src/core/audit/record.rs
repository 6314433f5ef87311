//! One audit record and its place in the chain: `hash` is the SHA-256 of
//! the record's canonical JSON with `prev_hash` inside, so changing,
//! removing, inserting or reordering a record breaks every link after it.

use crate::core::audit::canonical::canonical;
use ring::digest::{digest, SHA256};
use serde_json::{json, Map, Value};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an action asks to have recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// When it happened: seconds since the epoch.
    pub at: f64,
    /// Who: `role:name` through the admin server, `user@host` in code,
    /// `baldur` for what Baldur did on its own.
    pub actor: String,
    /// What: `cb.force_open`, `dlq.replay`, ... (the contract's list).
    pub action: String,
    /// On what: a zone, an entry id, a config type.
    pub target: String,
    /// Why, if the actor said.
    pub reason: Option<String>,
    /// Anything else worth keeping (a JSON object).
    pub details: Map<String, Value>,
}

/// A record in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Its place: 1, 2, 3, ... with no gap.
    pub seq: u64,
    /// What was recorded.
    pub record: NewRecord,
    /// The hash of the record before it ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

impl AuditRecord {
    /// `new` as record `seq`, linked after `prev_hash`.
    pub fn chain(seq: u64, record: NewRecord, prev_hash: &str) -> Self {
        let hash = hash_of(seq, &record, prev_hash);
        Self {
            seq,
            record,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// Whether `hash` is what the record's fields hash to.
    pub fn hash_holds(&self) -> bool {
        hash_of(self.seq, &self.record, &self.prev_hash) == self.hash
    }

    /// Every field, `hash` included, as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut object = fields(self.seq, &self.record, &self.prev_hash);
        object.insert("hash".into(), Value::String(self.hash.clone()));
        Value::Object(object)
    }
}

/// The lowercase hex SHA-256 of the record's canonical JSON (every field
/// but `hash`, `prev_hash` included).
pub fn hash_of(seq: u64, record: &NewRecord, prev_hash: &str) -> String {
    let text = canonical(&Value::Object(fields(seq, record, prev_hash)));
    hex(digest(&SHA256, text.as_bytes()).as_ref())
}

fn fields(seq: u64, record: &NewRecord, prev_hash: &str) -> Map<String, Value> {
    let at = serde_json::Number::from_f64(record.at).map_or(Value::Null, Value::Number);
    let Value::Object(object) = json!({
        "seq": seq,
        "at": at,
        "actor": record.actor,
        "action": record.action,
        "target": record.target,
        "reason": record.reason,
        "details": record.details,
        "prev_hash": prev_hash,
    }) else {
        unreachable!("json! of braces is an object")
    };
    object
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(action: &str) -> NewRecord {
        let mut details = Map::new();
        details.insert("from".into(), json!("closed"));
        NewRecord {
            at: 1_733_300_000.25,
            actor: "admin:alice".into(),
            action: action.into(),
            target: "payments".into(),
            reason: Some("drill".into()),
            details,
        }
    }

    #[test]
    fn the_hash_is_pythons_sha256_of_the_sorted_compact_json() {
        // hashlib.sha256(json.dumps({...every field but hash...},
        //     sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        let record = AuditRecord::chain(1, sample("cb.force_open"), GENESIS);
        let text = canonical(&Value::Object(fields(1, &record.record, GENESIS)));
        assert_eq!(
            text,
            format!(
                "{{\"action\":\"cb.force_open\",\"actor\":\"admin:alice\",\"at\":1733300000.25,\
                 \"details\":{{\"from\":\"closed\"}},\"prev_hash\":\"{GENESIS}\",\
                 \"reason\":\"drill\",\"seq\":1,\"target\":\"payments\"}}"
            )
        );
        assert_eq!(record.hash.len(), 64);
        assert!(record.hash_holds());
    }

    #[test]
    fn any_change_to_a_field_or_a_link_breaks_the_hash() {
        let record = AuditRecord::chain(3, sample("cb.reset"), GENESIS);
        let mut edited = record.clone();
        edited.record.target = "orders".into();
        assert!(!edited.hash_holds());
        let mut relinked = record.clone();
        relinked.prev_hash = "f".repeat(64);
        assert!(!relinked.hash_holds());
        let mut moved = record;
        moved.seq = 4;
        assert!(!moved.hash_holds());
    }
}
