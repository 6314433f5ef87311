//! One record, one round trip: the record script and the domain index
//! (`SADD`, and `SCARD` for the overall cap's reach).
//!
//! On a single node, from a thread outside the runtime (a Python caller with
//! the GIL released), the script goes on the thread's own connection with
//! the index as its seventh key: one command, one write and one read, with
//! no hand-off to the runtime's connection task and back (two thread
//! wake-ups that cost more than the round trip on a small machine). A
//! Cluster or Sentinel keeps the runtime's connection: the index lives on
//! its own slot, so there it is a second request (`SADD`, `SCARD`), sent
//! together with the script.

use crate::core::dlq::redis_keys::DOMAINS_KEY;
use crate::core::dlq::redis_streams::RedisDlq;
use crate::core::dlq::store::DlqError;
use redis::ScriptInvocation;

/// What `record.lua` answers: status, stream id, evicted, compressed (and
/// the number of domains, read when the script kept the index).
pub(super) type ScriptReply = (String, String, u64, u64);

/// `record.lua`'s answer in full.
type FullReply = (String, String, u64, u64, u64);

/// What a record's sends may assume about its token.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokenUse {
    /// The record has a token, so a second copy is recognised: a kept
    /// connection found dead may send it again.
    pub repeatable: bool,
    /// The token was made for this record: its first send on the caller's
    /// connection cannot find it in Redis and skips the look-up. A resend
    /// (the first one may have run), or a send through the runtime's
    /// connection (whose client may retry on its own), looks it up.
    pub new_token: bool,
}

impl RedisDlq {
    /// Sends the record of an entry of `zone`, with the domain index;
    /// answers the number of domains and the script's reply. `invocation`
    /// makes the script's call, told whether the token may be in Redis
    /// already.
    pub(super) fn send_record(
        &self,
        zone: String,
        invocation: impl Fn(bool) -> ScriptInvocation<'static>,
        token: TokenUse,
    ) -> Result<(u64, ScriptReply), DlqError> {
        if let Some(callers) = self.callers().filter(|_| token.repeatable) {
            let mut first = token.new_token;
            return callers
                .run(|connection| {
                    let mut invocation = invocation(!std::mem::take(&mut first));
                    invocation.key(DOMAINS_KEY).arg(&zone);
                    // `invoke` loads a script Redis has forgotten (a restart:
                    // nothing of it ran) and sends it again.
                    let answered: redis::RedisResult<FullReply> = invocation.invoke(connection);
                    answered.map(|(status, id, evicted, compressed, domains)| {
                        (domains, (status, id, evicted, compressed))
                    })
                })
                .map_err(|error| self.failure(error.to_string()));
        }
        let invocation = invocation(true);
        self.run(|c| async move {
            let (mut index, mut record) = (c.clone(), c);
            let mut pipe = redis::pipe();
            pipe.sadd(DOMAINS_KEY, zone).ignore().scard(DOMAINS_KEY);
            let (indexed, recorded) = futures_util::future::join(
                pipe.query_async::<(u64,)>(&mut index),
                invocation.invoke_async::<FullReply>(&mut record),
            )
            .await;
            let (status, id, evicted, compressed, _) = recorded?;
            Ok((indexed?.0, (status, id, evicted, compressed)))
        })
    }
}
