//! A blocking Redis connection per calling thread, for the operations a
//! caller waits on (an idempotency claim, a release).
//!
//! Through the runtime's shared connection, a caller's round trip crosses
//! threads twice (the caller hands the command to the connection's task and
//! is woken with the answer), and on a small VM those two wake-ups cost
//! more than the round trip itself. On the caller's own socket the
//! operation is one write and one read: about a bare round trip. Every
//! operation stays bounded in total, reconnects and resends included (one
//! deadline for connect, read and write), and counted in the store's
//! health like the shared connection's.

use crate::core::store::health::{Admission, StoreHealth};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tells stores apart, so a thread's connection to one store is never used
/// for another (a reconfigured process).
static NEXT_STORE: AtomicU64 = AtomicU64::new(1);

/// Bumped in a forked child: a connection made before the fork shares its
/// socket with the parent and must never be used (or closed politely: a
/// TLS goodbye would end the parent's session) by the child.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// This thread's connection: (store, fork generation, connection), and
/// the bound its socket's reads and writes have now.
struct Held {
    store: u64,
    forks: u64,
    connection: redis::Connection,
    bounded: Duration,
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
    /// Reads a new connection's setup may wait on, each for as long as the
    /// client was given (a socket timeout bounds one read, not a sequence):
    /// the connect timeout is what is left divided by them.
    setup_reads: u32,
    id: u64,
}

impl CallerConnections {
    /// Connections made with `client`, each operation bounded by `timeout`,
    /// failures and successes recorded in `health` (the store's own).
    pub fn new(client: redis::Client, health: Arc<StoreHealth>, timeout: Duration) -> Self {
        let (client, setup_reads) = lean_setup(client);
        Self {
            client,
            health,
            timeout,
            setup_reads,
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
        // One deadline for the whole operation: a caller waits at most the
        // store's timeout, however many connects and resends it takes (a
        // silent kept connection then a silent new one cost twice that).
        let deadline = Instant::now() + self.timeout;
        let Ok(result) = HELD.try_with(|held| self.run_on(&mut held.borrow_mut(), deadline, op))
        else {
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
        deadline: Instant,
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
            let unsent = |error: String| match tried {
                true => CallerError::MaybeSent(error),
                false => CallerError::NotSent(error),
            };
            let Some(left) = remaining(deadline) else {
                return Err(unsent(self.out_of_time()));
            };
            let connection = match held {
                Some(mine) => {
                    mine.bound(left).map_err(unsent)?;
                    &mut mine.connection
                }
                None => {
                    let connection = self.connect(left).map_err(unsent)?;
                    let store = self.id;
                    &mut held
                        .insert(Held {
                            store,
                            forks,
                            connection,
                            bounded: left,
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
                    // which then times out): one more try on a new one,
                    // within what is left of the deadline.
                    if reused
                        && (error.is_connection_dropped() || error.is_timeout())
                        && remaining(deadline).is_some()
                    {
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
            self.out_of_time()
        } else {
            format!("redis: {error}")
        }
    }

    fn out_of_time(&self) -> String {
        format!("redis did not answer within {:?}", self.timeout)
    }

    /// A new connection within `left` (its setup commands included), its
    /// reads and writes bounded by `left` too.
    fn connect(&self, left: Duration) -> Result<redis::Connection, String> {
        let connection = self
            .client
            .get_connection_with_timeout(left / self.setup_reads)
            .map_err(|e| format!("redis: cannot connect: {e}"))?;
        bound(&connection, left)?;
        Ok(connection)
    }
}

/// The client without the cosmetic `CLIENT SETINFO` pair a new connection
/// sends and waits on (two reads of a silent server), and how many reads
/// its setup still needs: a TLS handshake, AUTH or HELLO, SELECT.
fn lean_setup(client: redis::Client) -> (redis::Client, u32) {
    let info = client.get_connection_info().clone();
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
    let hello = settings.protocol().supports_resp3() || settings.password().is_some();
    let reads = 2 * u32::from(tls) + u32::from(hello) + u32::from(settings.db() != 0);
    match redis::Client::open(info.set_redis_settings(settings)) {
        Ok(lean) => (lean, reads.max(1)),
        // Kept as it was: its two SETINFO reads count as well.
        Err(_) => (client, reads + 2),
    }
}

/// Time left before `deadline`; `None` once it has passed (or too little is
/// left for a round trip to mean anything).
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| *left >= MIN_STEP)
}

/// Below this, an attempt could only time out.
const MIN_STEP: Duration = Duration::from_millis(1);

impl Held {
    /// Bounds the connection's next reads and writes by `left`. A kept
    /// connection's next operation usually finds them bounded by the last
    /// one's full timeout, a few microseconds under `left`: that bound is
    /// kept (two system calls saved per operation). A read may then end up
    /// to `SLACK` before the deadline, never after it.
    fn bound(&mut self, left: Duration) -> Result<(), String> {
        if self.bounded > left || left - self.bounded > SLACK {
            bound(&self.connection, left)?;
            self.bounded = left;
        }
        Ok(())
    }
}

/// How much sooner than its deadline an operation on a kept connection may
/// time out.
const SLACK: Duration = Duration::from_micros(500);

/// Bounds the connection's next read and write by `left`.
fn bound(connection: &redis::Connection, left: Duration) -> Result<(), String> {
    connection
        .set_read_timeout(Some(left))
        .and_then(|()| connection.set_write_timeout(Some(left)))
        .map_err(|e| format!("redis: {e}"))
}

/// In a forked child: every connection made before the fork is left to the
/// parent (forgotten on its thread's next use, never closed).
pub fn forget_after_fork() {
    FORKS.fetch_add(1, Ordering::AcqRel);
}
