//! The cooldown as the fleet shares it in Redis: one script sets the key's
//! cooldown if none runs (`SET NX PX`) or counts a suppression, so exactly
//! one caller of the fleet delivers per key per cooldown, simultaneous
//! calls included, and exactly one sees the burst threshold reached.

use super::cooldown::Verdict;
use crate::core::store::redis::Connection;
use redis::{RedisResult, Script};
use std::sync::LazyLock;
use std::time::Duration;

static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("cooldown.lua")));

/// Where the cooldown of `key` lives: every notification key in one hash
/// slot (the tag comes first, so braces in `key` change nothing).
///
/// ```
/// assert_eq!(baldur::core::notify::wire::cooldown_key("db down"), "{baldur:notify}:cooldown:db down");
/// ```
pub fn cooldown_key(key: &str) -> String {
    format!("{{baldur:notify}}:cooldown:{key}")
}

/// Where the suppressions of `key` within its cooldown are counted.
pub fn suppressed_key(key: &str) -> String {
    format!("{{baldur:notify}}:suppressed:{key}")
}

/// The fleet's verdict on one notification of `key`.
pub async fn claim(
    mut connection: Connection,
    key: &str,
    cooldown: Duration,
    threshold: u32,
) -> RedisResult<Verdict> {
    let millis = u64::try_from(cooldown.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let answer: u8 = CLAIM
        .key(cooldown_key(key))
        .key(suppressed_key(key))
        .arg(millis)
        .arg(threshold)
        .invoke_async(&mut connection)
        .await?;
    Ok(match answer {
        0 => Verdict::Deliver,
        2 => Verdict::Escalate,
        _ => Verdict::Suppress,
    })
}
