//! Walking the chain: the first record that is missing, out of place,
//! edited or unlinked is named, and so is a chain shorter than a
//! checkpoint said it was (the tail was cut off). A checkpoint is the
//! chain's head at some moment, `seq` and `hash`, signed with
//! HMAC-SHA-256 when a signing key is configured: without the key, a
//! forger who rewrote the table could not write a checkpoint to match.

use crate::core::audit::record::{hex, AuditRecord, GENESIS};
use ring::hmac;
use std::collections::BTreeMap;

/// The chain's head at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record's seq then.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Lowercase hex HMAC-SHA-256 of `"{seq}:{hash}"`, if a key was set.
    pub signature: Option<String>,
}

impl Checkpoint {
    /// The head `seq`/`hash`, signed with `key` if there is one.
    pub fn new(seq: u64, hash: &str, key: Option<&[u8]>) -> Self {
        Self {
            seq,
            hash: hash.to_owned(),
            signature: key.map(|key| sign(key, seq, hash)),
        }
    }

    fn signed_by(&self, key: &[u8]) -> bool {
        self.signature
            .as_deref()
            .is_some_and(|signature| signature == sign(key, self.seq, &self.hash))
    }
}

fn sign(key: &[u8], seq: u64, hash: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hex(hmac::sign(&key, format!("{seq}:{hash}").as_bytes()).as_ref())
}

/// What a walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The whole chain holds.
    pub ok: bool,
    /// Records found sound before the first bad one (all of them if ok).
    pub checked: u64,
    /// The first seq missing or failing.
    pub first_bad_seq: Option<u64>,
    /// What is wrong there, for a human.
    pub problem: Option<String>,
}

impl Verdict {
    fn bad(checked: u64, seq: u64, problem: String) -> Self {
        Self {
            ok: false,
            checked,
            first_bad_seq: Some(seq),
            problem: Some(problem),
        }
    }
}

/// Walks `records` (in seq order, as stored) against `checkpoints`. With
/// `key`, a checkpoint whose signature does not hold is itself a problem
/// (someone wrote it without the key).
pub fn verify(
    records: impl IntoIterator<Item = AuditRecord>,
    checkpoints: &[Checkpoint],
    key: Option<&[u8]>,
) -> Verdict {
    let mut heads = BTreeMap::new();
    for checkpoint in checkpoints {
        if let Some(key) = key {
            if !checkpoint.signed_by(key) {
                return Verdict::bad(
                    0,
                    checkpoint.seq,
                    format!(
                        "the checkpoint at seq {} is not signed with the signing key",
                        checkpoint.seq
                    ),
                );
            }
        }
        heads.insert(checkpoint.seq, checkpoint.hash.as_str());
    }
    let mut expected = 1;
    let mut previous = GENESIS.to_owned();
    for record in records {
        let seq = record.seq;
        if seq != expected {
            let problem = if seq > expected {
                format!("record {expected} is missing (the next one is {seq})")
            } else {
                format!("record {seq} is out of place (record {expected} was expected)")
            };
            return Verdict::bad(expected - 1, expected, problem);
        }
        if record.prev_hash != previous {
            return Verdict::bad(
                seq - 1,
                seq,
                format!(
                    "record {seq} does not link to record {} (removed, inserted or reordered)",
                    seq - 1
                ),
            );
        }
        if !record.hash_holds() {
            return Verdict::bad(
                seq - 1,
                seq,
                format!("record {seq} does not match its hash (edited)"),
            );
        }
        if heads.get(&seq).is_some_and(|hash| *hash != record.hash) {
            return Verdict::bad(
                seq - 1,
                seq,
                format!("record {seq} is not the one its checkpoint saw (the chain was rewritten)"),
            );
        }
        previous = record.hash;
        expected += 1;
    }
    let last = expected - 1;
    if let Some((&head, _)) = heads.range(expected..).next_back() {
        return Verdict::bad(
            last,
            expected,
            format!(
                "the chain ends at record {last}, but a checkpoint saw record {head} (truncated)"
            ),
        );
    }
    Verdict {
        ok: true,
        checked: last,
        first_bad_seq: None,
        problem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::record::NewRecord;

    fn chain(length: u64) -> Vec<AuditRecord> {
        let mut previous = GENESIS.to_owned();
        (1..=length)
            .map(|seq| {
                let record = AuditRecord::chain(
                    seq,
                    NewRecord {
                        at: 1_733_300_000.0 + seq as f64,
                        actor: "baldur".into(),
                        action: "cb.transition".into(),
                        target: format!("zone-{seq}"),
                        reason: None,
                        details: serde_json::Map::new(),
                    },
                    &previous,
                );
                previous = record.hash.clone();
                record
            })
            .collect()
    }

    fn first_bad(records: Vec<AuditRecord>, checkpoints: &[Checkpoint]) -> Option<u64> {
        verify(records, checkpoints, None).first_bad_seq
    }

    #[test]
    fn a_sound_chain_holds_whole() {
        let verdict = verify(chain(50), &[], None);
        assert_eq!(
            (verdict.ok, verdict.checked, verdict.first_bad_seq),
            (true, 50, None)
        );
        assert!(verify(Vec::new(), &[], None).ok);
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_record() {
        let mut edited = chain(10);
        edited[4].record.actor = "admin:mallory".into();
        assert_eq!(first_bad(edited, &[]), Some(5));

        let mut deleted = chain(10);
        deleted.remove(6);
        assert_eq!(first_bad(deleted, &[]), Some(7));

        // Inserted: a record put in the middle, the rest renumbered to hide it.
        let mut inserted = chain(10);
        let mut extra = inserted[3].clone();
        extra.record.target = "forged".into();
        inserted.insert(4, extra);
        for (i, record) in inserted.iter_mut().enumerate() {
            record.seq = i as u64 + 1;
        }
        assert_eq!(first_bad(inserted, &[]), Some(5));

        let mut reordered = chain(10);
        reordered.swap(2, 3);
        let (a, b) = (reordered[2].seq, reordered[3].seq);
        reordered[2].seq = b;
        reordered[3].seq = a;
        assert_eq!(first_bad(reordered, &[]), Some(3));
    }

    #[test]
    fn a_cut_tail_is_caught_by_a_checkpoint_and_not_without_one() {
        let full = chain(20);
        let checkpoint = Checkpoint::new(15, &full[14].hash, None);
        let cut: Vec<_> = full.into_iter().take(12).collect();
        assert!(
            verify(cut.clone(), &[], None).ok,
            "a prefix is a sound chain"
        );
        let verdict = verify(cut, &[checkpoint], None);
        assert_eq!(
            (verdict.ok, verdict.checked, verdict.first_bad_seq),
            (false, 12, Some(13))
        );
        assert!(verdict.problem.unwrap().contains("truncated"));
    }

    #[test]
    fn a_rewritten_chain_fails_its_signed_checkpoint_and_a_forged_checkpoint_fails_the_key() {
        let key = b"the operator's signing key";
        let original = chain(8);
        let checkpoint = Checkpoint::new(8, &original[7].hash, Some(key));
        assert!(
            verify(
                original.clone(),
                std::slice::from_ref(&checkpoint),
                Some(key)
            )
            .ok
        );
        // A forger rebuilds a consistent chain with one record changed ...
        let mut forged = chain(8);
        forged[2].record.actor = "admin:mallory".into();
        let mut previous = GENESIS.to_owned();
        for record in &mut forged {
            *record = AuditRecord::chain(record.seq, record.record.clone(), &previous);
            previous = record.hash.clone();
        }
        assert!(
            verify(forged.clone(), &[], Some(key)).ok,
            "links alone cannot tell"
        );
        assert_eq!(
            verify(forged.clone(), &[checkpoint], Some(key)).first_bad_seq,
            Some(8)
        );
        // ... and cannot sign a checkpoint to match without the key.
        let unsigned = Checkpoint::new(8, &forged[7].hash, Some(b"a guess"));
        let verdict = verify(forged, &[unsigned], Some(key));
        assert!(!verdict.ok && verdict.problem.unwrap().contains("not signed"));
    }
}
