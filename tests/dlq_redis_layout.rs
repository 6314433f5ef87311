//! The Redis dead-letter queue's pure parts: where a domain's keys live (one
//! hash tag, so one Cluster slot), what its ids look like, and how an entry
//! is read back from a stream entry and its state.

use baldur::core::dlq::redis_keys::{DOMAINS_KEY, GROUP};
use baldur::core::dlq::redis_record::{entry, stream_fields, stream_order};
use baldur::core::dlq::{DomainKeys, NewEntry, RedisEntryId};

/// Redis Cluster hashes only what is between the first `{` and the next `}`.
fn hash_tag(key: &str) -> &str {
    let open = key.find('{').expect("a hash tag");
    let close = open + 1 + key[open + 1..].find('}').expect("a closed tag");
    &key[open + 1..close]
}

fn recorded() -> NewEntry {
    NewEntry {
        zone: "pay".into(),
        function: "shop.billing:charge".into(),
        arguments: r#"{"args": [1], "kwargs": {}}"#.into(),
        replayable: false,
        error_type: "builtins.ConnectionError".into(),
        error_message: "gateway down".into(),
        attempts: 3,
        reason: "timeout".into(),
    }
}

/// The flat field list a stream entry comes back as.
fn as_stream_entry(new: &NewEntry) -> Vec<String> {
    let names = [
        "function",
        "arguments",
        "replayable",
        "error_type",
        "error_message",
        "attempts",
        "reason",
    ];
    names
        .iter()
        .zip(stream_fields(new))
        .flat_map(|(name, value)| [name.to_string(), value])
        .collect()
}

#[test]
fn every_key_of_a_domain_shares_its_hash_tag() {
    for zone in ["billing", "a:b", "x}y", "with space"] {
        let keys = DomainKeys::new(zone);
        let tag = hash_tag(&keys.stream);
        let all = keys.all();
        assert_eq!(all[..2], [keys.stream.as_str(), keys.states.as_str()]);
        for key in all {
            assert_eq!(hash_tag(key), tag, "{key} for zone {zone:?}");
        }
        assert_eq!(
            all.iter().collect::<std::collections::HashSet<_>>().len(),
            6
        );
    }
    assert_ne!(
        hash_tag(&DomainKeys::new("a").stream),
        hash_tag(&DomainKeys::new("b").stream)
    );
    assert!(!DOMAINS_KEY.contains('{'));
    assert_eq!(GROUP, "replayers");
}

#[test]
fn an_id_names_its_zone_and_stream_entry_and_nothing_else_parses() {
    let id = RedisEntryId::parse("charge:customer:1795433169798-12").unwrap();
    assert_eq!(id.zone, "charge:customer");
    assert_eq!(id.stream_id, "1795433169798-12");
    assert_eq!(id.to_string(), "charge:customer:1795433169798-12");
    for not_redis in [
        "42", "local:42", ":1-0", "zone:1-", "zone:-1", "zone:a-1", "zone",
    ] {
        assert!(RedisEntryId::parse(not_redis).is_none(), "{not_redis}");
    }
}

#[test]
fn an_entry_reads_back_as_it_was_recorded() {
    let new = recorded();
    let state = r#"{"s":"needs_review","l":0,"e":"ConnectionError: down","c":1700000000123,"u":1700000009999}"#;
    let read = entry("pay", "1700000000123-0", &as_stream_entry(&new), state).unwrap();
    assert_eq!(read.id, "pay:1700000000123-0");
    assert_eq!(read.recorded, new);
    assert_eq!(read.state, "needs_review");
    assert_eq!(read.replays_left, 0);
    assert_eq!(
        read.last_replay_error.as_deref(),
        Some("ConnectionError: down")
    );
    assert_eq!(
        (read.created_ms, read.updated_ms),
        (1700000000123, 1700000009999)
    );
}

#[test]
fn lua_number_spellings_parse_and_a_missing_field_is_an_error() {
    let fields = as_stream_entry(&recorded());
    let floats = r#"{"s":"pending","l":3.0,"c":1.700000000123e12,"u":1700000000123}"#;
    let read = entry("pay", "1-0", &fields, floats).unwrap();
    assert_eq!((read.replays_left, read.created_ms), (3, 1700000000123));
    assert!(read.last_replay_error.is_none());
    let error = entry("pay", "1-0", &fields[2..], floats).unwrap_err();
    assert!(error.contains("has no function"), "{error}");
    assert!(entry("pay", "1-0", &fields, "{").is_err());
}

#[test]
fn stream_ids_order_by_time_then_sequence() {
    let mut ids = vec!["10-0", "9-5", "9-10", "100-0"];
    ids.sort_by_key(|id| stream_order(id));
    assert_eq!(ids, ["9-5", "9-10", "10-0", "100-0"]);
}
