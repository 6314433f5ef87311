//! The chain in SQLite (`BALDUR_DATA_DIR/audit.sqlite3`, table
//! `baldur_audit`, one column per field). An append reads the head and
//! writes after it inside one IMMEDIATE transaction, so processes sharing
//! the file take turns and the chain never forks; `synchronous=FULL`, so an
//! acknowledged record survives `kill -9`. Every [`CHECKPOINT_EVERY`]
//! records the head is checkpointed in `baldur_audit_checkpoints`.

use crate::core::audit::record::{AuditRecord, NewRecord};
use crate::core::audit::verify::{verify, Checkpoint, Verdict};
use crate::core::store::sqlite_connection::{open_durable, SqliteConnection};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Records between two checkpoints of the head.
pub const CHECKPOINT_EVERY: u64 = 1_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS baldur_audit (
    seq INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, reason TEXT, details TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baldur_audit_checkpoints (
    seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, signature TEXT
);";

const COLUMNS: &str = "seq, at, actor, action, target, reason, details, prev_hash, hash";

/// An error of the audit store, for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditError(pub String);

fn store(error: impl std::fmt::Display) -> AuditError {
    AuditError(format!("audit store: {error}"))
}

/// The chain in one SQLite file.
#[derive(Debug)]
pub struct SqliteAudit {
    connection: SqliteConnection,
    /// Signs checkpoints (`BALDUR_AUDIT_SIGNING_KEY`).
    signing_key: Option<Vec<u8>>,
}

impl SqliteAudit {
    /// Opens (creating) the chain at `path`, a private file (0600).
    pub fn open(path: &Path, signing_key: Option<Vec<u8>>) -> Result<Self, AuditError> {
        // Processes appending together wait their turn, a bounded while.
        let connection = open_durable(path, Duration::from_secs(10), SCHEMA).map_err(store)?;
        Ok(Self {
            connection: SqliteConnection::new(connection),
            signing_key,
        })
    }

    /// Appends `records` after the head, in order, in one transaction;
    /// their seqs. A checkpoint is written as the chain passes each
    /// multiple of [`CHECKPOINT_EVERY`].
    pub fn append(&self, records: Vec<NewRecord>) -> Result<Vec<u64>, AuditError> {
        let mut connection = self.connection.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store)?;
        let head: Option<(u64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM baldur_audit ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(store)?;
        let (mut seq, mut previous) =
            head.unwrap_or_else(|| (0, crate::core::audit::record::GENESIS.to_owned()));
        let mut seqs = Vec::with_capacity(records.len());
        for record in records {
            seq += 1;
            let chained = AuditRecord::chain(seq, record, &previous);
            insert(&transaction, &chained)?;
            if seq % CHECKPOINT_EVERY == 0 {
                write_checkpoint(
                    &transaction,
                    seq,
                    &chained.hash,
                    self.signing_key.as_deref(),
                )?;
            }
            previous = chained.hash;
            seqs.push(seq);
        }
        transaction.commit().map_err(store)?;
        Ok(seqs)
    }

    /// Checkpoints the head now (at a clean exit). Nothing to do on an
    /// empty chain.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let connection = self.connection.lock();
        let head: Option<(u64, String)> = connection
            .query_row(
                "SELECT seq, hash FROM baldur_audit ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(store)?;
        match head {
            Some((seq, hash)) => {
                write_checkpoint(&connection, seq, &hash, self.signing_key.as_deref())
            }
            None => Ok(()),
        }
    }

    /// Up to `limit` records with `seq > after`, ascending.
    pub fn list(&self, limit: u64, after: u64) -> Result<Vec<AuditRecord>, AuditError> {
        let connection = self.connection.lock();
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM baldur_audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(store)?;
        let rows = statement
            .query_map(params![after, limit], read_record)
            .map_err(store)?;
        rows.collect::<Result<_, _>>().map_err(store)
    }

    /// Walks the whole chain against its checkpoints.
    pub fn verify(&self) -> Result<Verdict, AuditError> {
        let connection = self.connection.lock();
        let checkpoints = {
            let mut statement = connection
                .prepare("SELECT seq, hash, signature FROM baldur_audit_checkpoints ORDER BY seq")
                .map_err(store)?;
            let rows = statement
                .query_map([], |row| {
                    Ok(Checkpoint {
                        seq: row.get(0)?,
                        hash: row.get(1)?,
                        signature: row.get(2)?,
                    })
                })
                .map_err(store)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(store)?
        };
        let mut statement = connection
            .prepare(&format!("SELECT {COLUMNS} FROM baldur_audit ORDER BY seq"))
            .map_err(store)?;
        let mut failure = None;
        let rows = statement.query_map([], read_record).map_err(store)?;
        let records = rows.map_while(|row| match row {
            Ok(record) => Some(record),
            Err(error) => {
                failure = Some(store(error));
                None
            }
        });
        let verdict = verify(records, &checkpoints, self.signing_key.as_deref());
        match failure {
            Some(error) => Err(error),
            None => Ok(verdict),
        }
    }
}

fn insert(connection: &Connection, record: &AuditRecord) -> Result<(), AuditError> {
    let details = crate::core::audit::canonical::canonical(&serde_json::Value::Object(
        record.record.details.clone(),
    ));
    connection
        .prepare_cached(&format!(
            "INSERT INTO baldur_audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))
        .and_then(|mut statement| {
            statement.execute(params![
                record.seq,
                record.record.at,
                record.record.actor,
                record.record.action,
                record.record.target,
                record.record.reason,
                details,
                record.prev_hash,
                record.hash,
            ])
        })
        .map(drop)
        .map_err(store)
}

fn write_checkpoint(
    connection: &Connection,
    seq: u64,
    hash: &str,
    key: Option<&[u8]>,
) -> Result<(), AuditError> {
    let checkpoint = Checkpoint::new(seq, hash, key);
    connection
        .execute(
            "INSERT OR REPLACE INTO baldur_audit_checkpoints (seq, hash, signature) \
             VALUES (?1, ?2, ?3)",
            params![checkpoint.seq, checkpoint.hash, checkpoint.signature],
        )
        .map(drop)
        .map_err(store)
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let details: String = row.get(6)?;
    // A details column edited into something that is not a JSON object
    // reads as a record whose hash no longer holds, not as an error.
    let details = match serde_json::from_str(&details) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => {
            let mut map = serde_json::Map::new();
            map.insert("unreadable".into(), serde_json::Value::String(details));
            map
        }
    };
    Ok(AuditRecord {
        seq: row.get(0)?,
        record: NewRecord {
            at: row.get(1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            target: row.get(4)?,
            reason: row.get(5)?,
            details,
        },
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}
