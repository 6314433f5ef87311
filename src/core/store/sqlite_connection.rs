//! A SQLite connection whose every use is a section of the process's fork
//! gate (`core::fork_cell::FORK_GATE`). SQLite keeps its locks' bookkeeping
//! in process memory: a child forked while a parent's thread was inside a
//! transaction inherits a lock no connection of its will release, and its
//! own writes to the same file then wait on SQLite's busy handler until they
//! fail. With every use a section, a fork waits (a bounded while) for the
//! one under way.

use crate::core::fork_cell::{Section, FORK_GATE};
use parking_lot::{Mutex, MutexGuard};
use rusqlite::Connection;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

/// Opens (creating) a private (0600, in a 0700 directory), durable SQLite
/// store at `path`: the WAL journal, `synchronous=FULL` (acknowledged means
/// on disk), writers waiting at most `busy` for one another, `schema`
/// applied. What every local store opens with; the error is SQLite's or
/// the file system's own text.
pub fn open_durable(path: &Path, busy: Duration, schema: &str) -> Result<Connection, String> {
    crate::core::store::private_file::prepare(path).map_err(|e| e.to_string())?;
    let connection = Connection::open(path).map_err(|e| e.to_string())?;
    connection
        .busy_timeout(busy)
        .and_then(|()| connection.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
        .and_then(|()| connection.execute_batch(schema))
        .map_err(|e| e.to_string())?;
    Ok(connection)
}

/// The connection, locked per use.
#[derive(Debug)]
pub struct SqliteConnection(Mutex<Connection>);

/// The connection in use; the fork gate's section ends with it.
pub struct InUse<'a> {
    // Dropped first: the connection is free before the section ends.
    connection: MutexGuard<'a, Connection>,
    _section: Section<'static>,
}

impl SqliteConnection {
    /// Wraps an open connection.
    pub fn new(connection: Connection) -> Self {
        Self(Mutex::new(connection))
    }

    /// The connection, for one use (a statement, a transaction).
    pub fn lock(&self) -> InUse<'_> {
        let section = FORK_GATE.enter();
        InUse {
            connection: self.0.lock(),
            _section: section,
        }
    }
}

impl Deref for InUse<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

impl DerefMut for InUse<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }
}
