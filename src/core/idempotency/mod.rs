//! Idempotency: a repeated operation runs its side effect once. Claims with
//! owner tokens over a store trait; the memory store lives here, the Redis
//! store implements the same three operations atomically.

mod claim_key;
pub mod gate;
pub mod memory;
mod memory_table;
pub mod redis;
pub mod store;

pub use claim_key::ClaimKey;
pub use gate::{Claim, IdempotencyGate, Refusal};
pub use memory::MemoryStore;
pub use redis::RedisIdempotencyStore;
pub use store::{
    ClaimFuture, ClaimOutcome, IdempotencyStore, Owner, RecordState, StoreError, UnreachableStore,
};
