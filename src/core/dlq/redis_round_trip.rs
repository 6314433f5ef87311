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

use crate::core::dlq::redis_keys::{DomainKeys, DOMAINS_KEY};
use crate::core::dlq::redis_streams::{with_keys, RedisDlq, KEYS};
use crate::core::dlq::store::DlqError;
use redis::{ErrorKind, Script, ServerErrorKind};
use std::sync::LazyLock;

/// The record script: the helpers that make room go inside the branch that
/// needs them, so a record within its cap does not define them.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    let body =
        include_str!("lua/record.lua").replace("-- {helpers}", include_str!("lua/common.lua"));
    Script::new(&format!("{KEYS}\n{body}"))
});

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
    /// Sends the record of an entry of `zone` (`argv`: `record.lua`'s
    /// arguments up to the token's), with the domain index; answers the
    /// number of domains and the script's reply.
    pub(super) fn send_record(
        &self,
        keys: &DomainKeys,
        zone: &str,
        argv: &[&str],
        token: TokenUse,
    ) -> Result<(u64, ScriptReply), DlqError> {
        if let Some(callers) = self.callers().filter(|_| token.repeatable) {
            let mut first = token.new_token;
            return callers
                .run(|connection| {
                    // EVALSHA spelt out, in one buffer: a script invocation
                    // would build its arguments, then copy them into one.
                    let known = if std::mem::take(&mut first) { "" } else { "1" };
                    let mut command = redis::cmd("EVALSHA");
                    command.arg(RECORD.get_hash()).arg(7);
                    for key in keys.all() {
                        command.arg(key);
                    }
                    command.arg(DOMAINS_KEY);
                    for value in argv {
                        command.arg(*value);
                    }
                    command.arg(known).arg(zone);
                    let answered: redis::RedisResult<FullReply> = match command.query(connection) {
                        // A Redis that restarted has forgotten the script
                        // (nothing of it ran): loaded, then sent again.
                        Err(error)
                            if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
                        {
                            RECORD.prepare_invoke().load(connection)?;
                            command.query(connection)
                        }
                        answered => answered,
                    };
                    answered.map(|(status, id, evicted, compressed, domains)| {
                        (domains, (status, id, evicted, compressed))
                    })
                })
                .map_err(|error| self.failure(error.to_string()));
        }
        // The runtime's connection (whose client may retry on its own):
        // the token is looked up.
        let mut invocation = with_keys(&RECORD, keys);
        for value in argv {
            invocation.arg(*value);
        }
        invocation.arg("1");
        let zone = zone.to_owned();
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
