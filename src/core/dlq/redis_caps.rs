//! The Redis queue's overall cap: it spans domains, and so Cluster slots,
//! so it is counted domain by domain (only once the domains could together
//! exceed it) and enforced by evicting the fleet's oldest entries, one
//! domain's script at a time.

use crate::core::dlq::entry::{Caps, Eviction};
use crate::core::dlq::redis_keys::DomainKeys;
use crate::core::dlq::redis_record::stream_order;
use crate::core::dlq::redis_streams::{with_keys, RedisDlq, COMMON};
use crate::core::dlq::store::DlqError;
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static EVICT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{COMMON}\n{}", include_str!("lua/evict.lua"))));

impl RedisDlq {
    /// Entries in all, summed over the domains.
    pub(super) fn total(&self) -> Result<u64, DlqError> {
        let streams: Vec<String> = self
            .domains()?
            .iter()
            .map(|z| DomainKeys::new(z).stream)
            .collect();
        self.run(|mut c| async move {
            let mut total = 0u64;
            for stream in streams {
                total += c.xlen::<_, u64>(stream).await?;
            }
            Ok(total)
        })
    }

    /// Whether the overall cap needs counting: only once the domains could
    /// together hold more than it.
    pub(super) fn overall_cap_in_reach(caps: Caps, domains: u64) -> bool {
        domains.saturating_mul(caps.max_per_zone) > caps.max_size
    }

    /// How far past the overall cap the queue is, counted.
    pub(super) fn past_overall_cap(&self, caps: Caps) -> Result<u64, DlqError> {
        Ok(self.total()?.saturating_sub(caps.max_size))
    }

    /// Evicts the `count` oldest entries of the whole fleet's queue, one
    /// domain's script at a time.
    pub(super) fn evict_oldest(
        &self,
        count: u64,
        compress: bool,
        eviction: &mut Eviction,
    ) -> Result<(), DlqError> {
        let zones = self.domains()?;
        for _ in 0..count {
            let streams: Vec<String> = zones.iter().map(|z| DomainKeys::new(z).stream).collect();
            let heads: Vec<Option<String>> = self.run(|mut c| async move {
                let mut heads = Vec::with_capacity(streams.len());
                for stream in streams {
                    let head: redis::streams::StreamRangeReply =
                        c.xrange_count(stream, "-", "+", 1).await?;
                    heads.push(head.ids.into_iter().next().map(|e| e.id));
                }
                Ok(heads)
            })?;
            let oldest = zones
                .iter()
                .zip(heads)
                .filter_map(|(zone, head)| head.map(|id| (stream_order(&id), zone)))
                .min();
            let Some((_, zone)) = oldest else {
                return Ok(());
            };
            let keys = DomainKeys::new(zone);
            let evicted: u64 = self.run(|mut c| async move {
                with_keys(&EVICT, &keys)
                    .arg(1)
                    .arg(if compress { "1" } else { "0" })
                    .invoke_async(&mut c)
                    .await
            })?;
            eviction.evicted += evicted;
            if compress {
                eviction.compressed += evicted;
            }
        }
        Ok(())
    }
}
