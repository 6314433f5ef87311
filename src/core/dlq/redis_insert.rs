//! Recording into the Redis queue: a new entry, or one the local queue
//! carries over after an outage, each once per record token, within the
//! domain's cap (exact, inside the script) and the overall one (see
//! `redis_streams`).

use crate::core::dlq::entry::{Entry, Eviction, NewEntry, Overflow};
use crate::core::dlq::redis_keys::{DomainKeys, RedisEntryId};
use crate::core::dlq::redis_record::stream_fields;
use crate::core::dlq::redis_round_trip::TokenUse;
use crate::core::dlq::redis_streams::RedisDlq;
use crate::core::dlq::store::{DlqError, DlqStore};
use std::sync::atomic::Ordering;

/// An entry that came from another store, kept as it was.
#[derive(Debug, Clone, Copy)]
struct Carried<'a> {
    state: &'a str,
    replays_left: u32,
    last_error: Option<&'a str>,
    created_ms: Option<i64>,
    /// The record's token: a second record with it is not added.
    token: Option<&'a str>,
    /// The token was made for this record and never sent: its first send
    /// skips looking it up (two of the script's calls).
    new_token: bool,
}

impl<'a> Carried<'a> {
    /// A new record: pending, with a full budget, stamped now.
    fn fresh(replay_budget: u32, token: Option<&'a str>) -> Self {
        Self {
            state: "pending",
            replays_left: replay_budget,
            last_error: None,
            created_ms: None,
            token,
            new_token: token.is_some(),
        }
    }
}

impl RedisDlq {
    /// Records `new` once: a second record with the same `token` (made
    /// again because the first one's answer was lost) is not added, and
    /// answers the first one's id, for as long as that entry lives.
    /// `token` is new, made for this record: its first send does not look
    /// it up (a copy of it can only follow).
    pub fn record_once(
        &self,
        new: &NewEntry,
        replay_budget: u32,
        token: &str,
    ) -> Result<(String, Eviction), DlqError> {
        self.record_fresh(new, replay_budget, Some(token))
    }

    /// Records `new`, pending with a full budget, once per `token` if any.
    pub(super) fn record_fresh(
        &self,
        new: &NewEntry,
        replay_budget: u32,
        token: Option<&str>,
    ) -> Result<(String, Eviction), DlqError> {
        self.insert(new, Carried::fresh(replay_budget, token))
    }

    /// Records `entry`, which another store held (the local queue during an
    /// outage), keeping its state, budget and time, once per `token`.
    pub fn forward(&self, entry: &Entry, token: &str) -> Result<(String, Eviction), DlqError> {
        let state = match entry.state.as_str() {
            "needs_review" => "needs_review",
            _ => "pending", // a local replay that died mid-way is pending again
        };
        self.insert(
            &entry.recorded,
            Carried {
                state,
                replays_left: entry.replays_left,
                last_error: entry.last_replay_error.as_deref(),
                created_ms: Some(entry.created_ms),
                token: Some(token),
                new_token: false,
            },
        )
    }

    fn insert(&self, new: &NewEntry, carried: Carried<'_>) -> Result<(String, Eviction), DlqError> {
        let caps = *self.caps.lock();
        let keys = DomainKeys::new(&new.zone);
        // The overall cap, checked before the record while it is in reach
        // (so `reject` refuses before writing).
        let domains_before = self.domains_seen.load(Ordering::Relaxed);
        let mut over = 0;
        if Self::overall_cap_in_reach(caps, domains_before) {
            let total = self.total()?;
            if total >= caps.max_size {
                if caps.overflow == Overflow::Reject {
                    return Err(DlqError::Full {
                        cap: "max_size",
                        limit: caps.max_size,
                    });
                }
                over = total + 1 - caps.max_size;
            }
        }
        let fields = stream_fields(new);
        let created = carried
            .created_ms
            .map(|c| c.to_string())
            .unwrap_or_default();
        let (cap, replays_left) = (
            caps.max_per_zone.to_string(),
            carried.replays_left.to_string(),
        );
        let [function, arguments, replayable, error_type, message, attempts, reason] = &fields;
        // `record.lua`'s ARGV up to the token (the sends add the rest).
        let argv: [&str; 14] = [
            &cap,
            caps.overflow.as_str(),
            carried.state,
            &replays_left,
            carried.last_error.unwrap_or(""),
            &created,
            function,
            arguments,
            replayable,
            error_type,
            message,
            attempts,
            reason,
            carried.token.unwrap_or(""),
        ];
        let token_use = TokenUse {
            repeatable: carried.token.is_some(),
            new_token: carried.new_token,
        };
        let (domains, (status, stream_id, evicted, compressed)) =
            self.send_record(&keys, &new.zone, &argv, token_use)?;
        self.domains_seen.store(domains, Ordering::Relaxed);
        if status == "full" {
            return Err(DlqError::Full {
                cap: "max_per_zone",
                limit: caps.max_per_zone,
            });
        }
        let id = RedisEntryId {
            zone: new.zone.clone(),
            stream_id,
        };
        let mut eviction = Eviction {
            evicted,
            compressed,
        };
        if status != "ok" {
            return Ok((id.to_string(), eviction)); // forwarded before: nothing new
        }
        // The entry is in: from here a failure must not fail the record (the
        // caller would keep a second copy locally). A cap left unenforced is
        // enforced by the next record, which counts again.
        if !Self::overall_cap_in_reach(caps, domains_before)
            && Self::overall_cap_in_reach(caps, domains)
        {
            // This record brought the cap in reach: counted after the fact.
            over = self.past_overall_cap(caps).unwrap_or(0);
            if over > 0
                && caps.overflow == Overflow::Reject
                && self.succeeded(&id.to_string()).is_ok()
            {
                return Err(DlqError::Full {
                    cap: "max_size",
                    limit: caps.max_size,
                });
            }
        } else {
            over = over.saturating_sub(evicted);
        }
        if over > 0 && caps.overflow != Overflow::Reject {
            let compress = caps.overflow == Overflow::CompressOldest;
            let _ = self.evict_oldest(over, compress, &mut eviction);
        }
        Ok((id.to_string(), eviction))
    }
}
