//! A blocking Redis connection per calling thread, for the operations a
//! caller waits on (an idempotency claim, a release).
//!
//! Through the runtime's shared connection, a caller's round trip crosses
//! threads twice (the caller hands the command to the connection's task and
//! is woken with the answer), and on a small VM those two wake-ups cost
//! more than the round trip itself. On the caller's own socket the
//! operation is one write and one read: about a bare round trip. Every
//! operation stays bounded (connect, read and write time out) and counted
//! in the store's health like the shared connection's.

use crate::core::store::health::{Admission, StoreHealth};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Tells stores apart, so a thread's connection to one store is never used
/// for another (a reconfigured process).
static NEXT_STORE: AtomicU64 = AtomicU64::new(1);

/// Bumped in a forked child: a connection made before the fork shares its
/// socket with the parent and must never be used (or closed politely: a
/// TLS goodbye would end the parent's session) by the child.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// This thread's connection: (store, fork generation, connection).
struct Held {
    store: u64,
    forks: u64,
    connection: redis::Connection,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The outcome of one operation on a caller connection.
#[derive(Debug)]
pub enum CallerError {
    /// Degraded: nothing was sent (one probe per interval goes through).
    FailFast,
    /// No connection could be made: nothing was sent.
    NotSent(String),
    /// The connection failed after the command may have been written: it
    /// may have run.
    MaybeSent(String),
}

impl std::fmt::Display for CallerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FailFast => f.write_str("redis is unreachable (degraded)"),
            Self::NotSent(error) | Self::MaybeSent(error) => f.write_str(error),
        }
    }
}

/// Connections to one single-node Redis, one per thread that uses them.
#[derive(Debug)]
pub struct CallerConnections {
    client: redis::Client,
    health: Arc<StoreHealth>,
    timeout: Duration,
    id: u64,
}

impl CallerConnections {
    /// Connections made with `client`, each operation bounded by `timeout`,
    /// failures and successes recorded in `health` (the store's own).
    pub fn new(client: redis::Client, health: Arc<StoreHealth>, timeout: Duration) -> Self {
        Self {
            client,
            health,
            timeout,
            id: NEXT_STORE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Runs `op` on this thread's connection (made on first use), blocking.
    /// A failed operation drops the connection (its state is unknown): the
    /// next one reconnects. A connection kept from an earlier operation
    /// may have died since (Redis restarted, a NAT dropped it): when it
    /// turns out dropped or silent, `op` runs once more on a new one, so
    /// `op` must be safe to repeat (the scripts recognise their own owner
    /// token).
    pub fn run<T>(
        &self,
        op: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, CallerError> {
        if self.health.admit() == Admission::FailFast {
            return Err(CallerError::FailFast);
        }
        let Ok(result) = HELD.try_with(|held| self.run_on(&mut held.borrow_mut(), op)) else {
            // A thread tearing down its locals: no connection to use, and
            // nothing learnt about the store's health.
            return Err(CallerError::NotSent("the calling thread is exiting".into()));
        };
        match &result {
            Ok(_) => self.health.succeeded(),
            Err(error) => self.health.failed(&error.to_string()),
        }
        result
    }

    /// [`CallerConnections::run`] on the thread's slot.
    fn run_on<T>(
        &self,
        held: &mut Option<Held>,
        mut op: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, CallerError> {
        let forks = FORKS.load(Ordering::Acquire);
        match held.take() {
            Some(mine) if mine.store == self.id && mine.forks == forks => *held = Some(mine),
            Some(inherited) if inherited.forks != forks => std::mem::forget(inherited),
            _ => {}
        }
        let mut reused = held.is_some();
        // Once an attempt has written, a later failure to reconnect still
        // leaves the first one possibly run.
        let mut tried = false;
        loop {
            let connection = match held {
                Some(mine) => &mut mine.connection,
                None => {
                    let connection = self.connect().map_err(|error| match tried {
                        true => CallerError::MaybeSent(error),
                        false => CallerError::NotSent(error),
                    })?;
                    let store = self.id;
                    &mut held
                        .insert(Held {
                            store,
                            forks,
                            connection,
                        })
                        .connection
                }
            };
            match op(connection) {
                Ok(value) => return Ok(value),
                Err(error) => {
                    *held = None;
                    // A kept connection may be dead without a word (a
                    // restarted Redis resets it; a NAT forgets an idle one,
                    // which then times out): one more try on a new one.
                    if reused && (error.is_connection_dropped() || error.is_timeout()) {
                        (reused, tried) = (false, true);
                        continue;
                    }
                    return Err(CallerError::MaybeSent(self.describe(&error)));
                }
            }
        }
    }

    fn describe(&self, error: &redis::RedisError) -> String {
        if error.is_timeout() {
            format!("redis did not answer within {:?}", self.timeout)
        } else {
            format!("redis: {error}")
        }
    }

    fn connect(&self) -> Result<redis::Connection, String> {
        let connection = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| format!("redis: cannot connect: {e}"))?;
        connection
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| connection.set_write_timeout(Some(self.timeout)))
            .map_err(|e| format!("redis: {e}"))?;
        Ok(connection)
    }
}

/// In a forked child: every connection made before the fork is left to the
/// parent (forgotten on its thread's next use, never closed).
pub fn forget_after_fork() {
    FORKS.fetch_add(1, Ordering::AcqRel);
}
