//! Listing the queue a page at a time. A queue of any size can be walked:
//! each store answers one bounded page after a position (an entry's id), and
//! a [`Cursor`] carries where a walk over both queues (Redis and the local
//! one) stands from one page to the next.

use crate::core::dlq::entry::Entry;
use crate::core::dlq::redis_keys::RedisEntryId;
use crate::core::dlq::redis_record::stream_order;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Which entries a listing wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListQuery<'a> {
    /// One domain, or every domain.
    pub zone: Option<&'a str>,
    /// `pending`, `replaying` or `needs_review`; any when `None`.
    pub state: Option<&'a str>,
    /// The error's `module.Name`; any when `None`.
    pub error_type: Option<&'a str>,
}

/// One store's page: its entries in the store's order, and whether more may
/// follow the last of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Oldest first, at most the limit asked for.
    pub entries: Vec<Entry>,
    /// Whether entries may follow (a store that cannot tell says yes: the
    /// next page is then empty and ends the walk).
    pub more: bool,
}

/// Where a walk over both queues stands: after which entry of each, and
/// whether each is done. Opaque to users (hex of a small JSON document).
///
/// ```
/// use baldur::core::dlq::listing::Cursor;
/// let cursor = Cursor::default();
/// assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
/// assert!(Cursor::decode("not a cursor").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last Redis entry handed out.
    #[serde(rename = "r", default)]
    pub remote_after: Option<String>,
    /// Redis has nothing more for this walk.
    #[serde(rename = "rd", default)]
    pub remote_done: bool,
    /// The last local entry handed out (its row id).
    #[serde(rename = "l", default)]
    pub local_after: Option<String>,
    /// The local queue has nothing more for this walk.
    #[serde(rename = "ld", default)]
    pub local_done: bool,
}

impl Cursor {
    /// The cursor as text a caller hands back for the next page.
    pub fn encode(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        json.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// Reads back what [`Cursor::encode`] wrote.
    pub fn decode(text: &str) -> Result<Self, String> {
        let bad = || format!("not a cursor a listing returned: {:.40}", text);
        if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// Where an entry of a source sits in time: a Redis entry by its stream id
/// (the stream's own order), a local one by when it was recorded.
fn order(entry: &Entry, remote: bool) -> (u64, u64) {
    match RedisEntryId::parse(&entry.id).filter(|_| remote) {
        Some(id) => stream_order(&id.stream_id),
        None => (u64::try_from(entry.created_ms).unwrap_or(0), 0),
    }
}

/// One page of a walk over both queues: the two stores' pages merged oldest
/// first, cut at `limit`, and the cursor for the next page (`None`: the walk
/// is over). `remote` is `None` when Redis could not answer: the walk goes
/// on over the local queue and ends with it (the pages say they are partial).
/// Each entry is paired with whether it came from Redis.
pub fn merge_pages(
    cursor: &Cursor,
    remote: Option<Page>,
    local: Page,
    limit: usize,
) -> (Vec<(Entry, bool)>, Option<Cursor>) {
    let remote_answered = remote.is_some();
    let remote = remote.unwrap_or_default();
    let (remote_more, local_more) = (remote.more, local.more);
    let (remote_fetched, local_fetched) = (remote.entries.len(), local.entries.len());
    let mut remote_items = remote.entries.into_iter().peekable();
    let mut local_items = local.entries.into_iter().peekable();
    let mut next = cursor.clone();
    let (mut remote_taken, mut local_taken) = (0, 0);
    let mut out = Vec::new();
    while out.len() < limit {
        let take_remote = match (remote_items.peek(), local_items.peek()) {
            (Some(r), Some(l)) => order(r, true).cmp(&order(l, false)) != Ordering::Greater,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_remote {
            let entry = remote_items.next().expect("peeked");
            next.remote_after = Some(entry.id.clone());
            remote_taken += 1;
            out.push((entry, true));
        } else {
            let entry = local_items.next().expect("peeked");
            next.local_after = Some(entry.id.clone());
            local_taken += 1;
            out.push((entry, false));
        }
    }
    if remote_answered && remote_taken == remote_fetched && !remote_more {
        next.remote_done = true;
    }
    if local_taken == local_fetched && !local_more {
        next.local_done = true;
    }
    let remote_left = !next.remote_done && remote_answered;
    let over = !remote_left && next.local_done;
    (out, (!over).then_some(next))
}
