//! What the election says to Redis: its keys (one hash tag, so a cluster
//! runs every script on one node) and its three scripts.

use crate::core::leader::Observed;
use crate::core::store::redis::Connection;
use redis::{RedisResult, Script};
use std::sync::LazyLock;
use std::time::Duration;

/// The lease's holder: its id, expiring with the lease.
pub const HOLDER_KEY: &str = "{baldur:leader}:holder";

/// The fencing token's counter: never expires.
pub const TOKEN_KEY: &str = "{baldur:leader}:token";

static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("acquire.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("release.lua")));
static FENCED: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("fenced.lua")));

/// Where a fenced write of `name` lands: beside the token, in its slot.
///
/// ```
/// assert_eq!(baldur::core::leader::wire::fenced_key("report"), "{baldur:leader}:fenced:report");
/// ```
pub fn fenced_key(name: &str) -> String {
    format!("{{baldur:leader}}:fenced:{name}")
}

/// Acquires the lease for `id`, or renews it if `id` holds it; answers
/// who holds it after the script.
pub async fn acquire(
    mut connection: Connection,
    id: &str,
    lease: Duration,
) -> RedisResult<Observed> {
    let millis = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let (holder, token, left): (String, u64, u64) = ACQUIRE
        .key(HOLDER_KEY)
        .key(TOKEN_KEY)
        .arg(id)
        .arg(millis)
        .invoke_async(&mut connection)
        .await?;
    Ok(Observed {
        holder,
        token,
        ttl: Duration::from_millis(left),
    })
}

/// Releases the lease if `id` holds it: whether it did.
pub async fn release(mut connection: Connection, id: &str) -> RedisResult<bool> {
    RELEASE
        .key(HOLDER_KEY)
        .arg(id)
        .invoke_async(&mut connection)
        .await
}

/// Writes `value` under the fenced key `name` if `token` is the newest
/// token handed out: whether it was written.
pub async fn fenced_set(
    mut connection: Connection,
    name: &str,
    value: &str,
    token: u64,
) -> RedisResult<bool> {
    FENCED
        .key(TOKEN_KEY)
        .key(fenced_key(name))
        .arg(token)
        .arg(value)
        .invoke_async(&mut connection)
        .await
}

/// Reads what the fenced key `name` holds.
pub async fn fenced_get(mut connection: Connection, name: &str) -> RedisResult<Option<String>> {
    redis::cmd("GET")
        .arg(fenced_key(name))
        .query_async(&mut connection)
        .await
}
