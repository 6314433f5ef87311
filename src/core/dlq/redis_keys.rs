//! Where the Redis dead-letter queue keeps things, and what its ids look
//! like. Every key of one domain shares the hash tag `{zone}`, so each
//! domain's operation is one Lua script on one Redis Cluster slot.

/// Every key starts with this.
pub const KEY_PREFIX: &str = "baldur:dlq:";

/// The set of domains that ever recorded an entry (a key of its own: the
/// only one a script never touches).
pub const DOMAINS_KEY: &str = "baldur:dlq:domains";

/// The consumer group replayers claim entries through.
pub const GROUP: &str = "replayers";

/// One domain's keys.
///
/// ```
/// use baldur::core::dlq::DomainKeys;
/// let keys = DomainKeys::new("billing");
/// assert_eq!(keys.stream, "baldur:dlq:{billing}:stream");
/// assert_eq!(keys.all()[4], "baldur:dlq:{billing}:tokens");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainKeys {
    /// The stream: one entry per dead letter, time-ordered, holding what
    /// was recorded (never changed after `XADD`).
    pub stream: String,
    /// A hash from stream id to the entry's replay state (JSON: state,
    /// replays left, last error, timestamps, record token).
    pub states: String,
    /// A hash from error type to how many entries `compress_oldest`
    /// folded into it before evicting them.
    pub summary: String,
    /// A hash counting the domain's evictions (`evicted`, `compressed`).
    pub counts: String,
    /// A hash from a live entry's record token to its stream id: a record
    /// made twice (its answer lost, so kept locally too, then flushed) is
    /// added once.
    pub tokens: String,
    /// A sorted set of the tokens of removed entries, by removal time (a
    /// week at most, the newest 100,000 at most): a late copy of an entry
    /// already replayed or purged is refused too.
    pub gone: String,
}

impl DomainKeys {
    /// The keys of `zone`.
    pub fn new(zone: &str) -> Self {
        // Concatenated, not `format!`ted: every record builds these, and
        // seven `format!` calls cost it more than its reply's parsing.
        let key = |name: &str| {
            let mut key = String::with_capacity(KEY_PREFIX.len() + zone.len() + 3 + name.len());
            key.push_str(KEY_PREFIX);
            key.push('{');
            key.push_str(zone);
            key.push_str("}:");
            key.push_str(name);
            key
        };
        Self {
            stream: key("stream"),
            states: key("states"),
            summary: key("summary"),
            counts: key("counts"),
            tokens: key("tokens"),
            gone: key("gone"),
        }
    }

    /// Every key, in the order every script takes them (`lua/keys.lua`).
    pub fn all(&self) -> [&str; 6] {
        [
            &self.stream,
            &self.states,
            &self.summary,
            &self.counts,
            &self.tokens,
            &self.gone,
        ]
    }
}

/// A Redis entry's public id: `zone:stream-id`, so any worker finds its
/// domain's keys from the id alone.
///
/// ```
/// use baldur::core::dlq::RedisEntryId;
/// let id = RedisEntryId::parse("pay:ments:1700000000000-3").unwrap();
/// assert_eq!((id.zone.as_str(), id.stream_id.as_str()), ("pay:ments", "1700000000000-3"));
/// assert_eq!(id.to_string(), "pay:ments:1700000000000-3");
/// assert!(RedisEntryId::parse("42").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisEntryId {
    /// The domain.
    pub zone: String,
    /// The stream entry's id, `milliseconds-sequence`.
    pub stream_id: String,
}

impl RedisEntryId {
    /// Parses `zone:ms-seq`; `None` for anything else (a local row id).
    pub fn parse(id: &str) -> Option<Self> {
        let (zone, stream_id) = id.rsplit_once(':')?;
        let (ms, seq) = stream_id.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if zone.is_empty() || !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self {
            zone: zone.to_owned(),
            stream_id: stream_id.to_owned(),
        })
    }
}

impl std::fmt::Display for RedisEntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.zone, self.stream_id)
    }
}
