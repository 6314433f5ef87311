//! One record, one round trip: the record script and the domain index
//! (`SADD`, and `SCARD` for the overall cap's reach) sent as one pipeline.
//!
//! On a single node, from a thread outside the runtime (a Python caller with
//! the GIL released), the pipeline goes on the thread's own connection: one
//! write and one read, with no hand-off to the runtime's connection task
//! and back (two thread wake-ups that cost more than the round trip on a
//! small machine). A Cluster or Sentinel keeps the runtime's connection:
//! the index lives on its own slot, so there it is a second request, sent
//! together with the script.

use crate::core::dlq::redis_keys::DOMAINS_KEY;
use crate::core::dlq::redis_streams::RedisDlq;
use crate::core::dlq::store::DlqError;
use redis::{ErrorKind, ScriptInvocation, ServerErrorKind};

/// What `record.lua` answers: status, stream id, evicted, compressed.
pub(super) type ScriptReply = (String, String, u64, u64);

impl RedisDlq {
    /// Sends the record `invocation` of an entry of `zone`, with the domain
    /// index; answers the number of domains and the script's reply.
    /// `repeatable`: a second copy of the record is recognised (it has a
    /// token), so a kept connection found dead may send it again.
    pub(super) fn send_record(
        &self,
        zone: String,
        invocation: ScriptInvocation<'static>,
        repeatable: bool,
    ) -> Result<(u64, ScriptReply), DlqError> {
        if let Some(callers) = self.callers().filter(|_| repeatable) {
            let mut pipe = redis::pipe();
            pipe.sadd(DOMAINS_KEY, &zone)
                .ignore()
                .scard(DOMAINS_KEY)
                .invoke_script(&invocation);
            return callers
                .run(|connection| match pipe.query(connection) {
                    // A Redis that restarted has forgotten the script: loaded,
                    // then the whole pipeline again (the index is idempotent).
                    Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                        invocation.load(connection)?;
                        pipe.query(connection)
                    }
                    answered => answered,
                })
                .map_err(|error| self.failure(error.to_string()));
        }
        self.run(|c| async move {
            let (mut index, mut record) = (c.clone(), c);
            let mut pipe = redis::pipe();
            pipe.sadd(DOMAINS_KEY, zone).ignore().scard(DOMAINS_KEY);
            let (indexed, recorded) = futures_util::future::join(
                pipe.query_async::<(u64,)>(&mut index),
                invocation.invoke_async(&mut record),
            )
            .await;
            Ok((indexed?.0, recorded?))
        })
    }
}
