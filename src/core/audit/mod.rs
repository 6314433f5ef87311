//! The audit trail: every operator action and every action Baldur takes on
//! its own, one record each, in a hash chain that cannot be quietly edited.
//! A record's hash covers its fields and the previous record's hash; the
//! chain's head is checkpointed (HMAC-signed with a key) so a cut-off tail
//! is caught too. The canonical JSON is what Python's `json.dumps` writes,
//! so an auditor can check a hash with the standard library alone.

pub mod canonical;
pub mod record;
pub mod sqlite;
pub mod verify;

pub use record::{AuditRecord, NewRecord, GENESIS};
pub use sqlite::{AuditError, SqliteAudit, CHECKPOINT_EVERY};
pub use verify::{verify, Checkpoint, Verdict};
