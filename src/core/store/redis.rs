//! The Redis connection every shared store goes through: one multiplexed,
//! self-reconnecting connection per process, every operation bounded by a
//! timeout of a few hundred milliseconds (never a client's minute-long
//! default), and a health record that turns failures into DEGRADED.

use crate::core::error::StoreError;
use crate::core::runtime::BackgroundRuntime;
use crate::core::store::caller_connection::CallerConnections;
use crate::core::store::health::{Admission, StoreHealth};
use crate::core::store::incarnation::{self, Incarnation, Seen};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionInfo, IntoConnectionInfo, RedisFuture, RedisResult};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// The longest any one Redis operation may take before it counts as a
/// failure (connect, or answer).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_millis(300);

/// A validated Redis URL.
///
/// ```
/// use baldur::core::store::RedisTarget;
/// assert!(RedisTarget::parse("redis://127.0.0.1:6379/0").is_ok());
/// assert!(RedisTarget::parse("http://example.com").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct RedisTarget {
    url: String,
    kind: TargetKind,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per configured store, not per call
enum TargetKind {
    Single(ConnectionInfo),
    /// `redis+cluster://host:port,host:port/`: the seed nodes.
    Cluster(Vec<ConnectionInfo>),
    /// `redis+sentinel://host:port,host:port/service`: the sentinels, and
    /// the name of the master they watch.
    Sentinel(
        Vec<ConnectionInfo>,
        String,
        Option<redis::RedisConnectionInfo>,
    ),
}

impl RedisTarget {
    /// Parses `url`; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<Self, String> {
        // Only a well-formed scheme is echoed back: the text before a
        // missing or misplaced "://" may be a password.
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme)
            .filter(|scheme| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            })
            .ok_or_else(|| {
                "no scheme: a URL starts with redis://, rediss://, redis+cluster:// \
                 or redis+sentinel://"
                    .to_owned()
            })?;
        let kind = match scheme {
            "redis" | "rediss" | "unix" | "redis+unix" => {
                TargetKind::Single(url.into_connection_info().map_err(|e| e.to_string())?)
            }
            "redis+cluster" => TargetKind::Cluster(cluster_nodes(url)?),
            "redis+sentinel" => sentinel_target(url)?,
            _ => {
                return Err(format!(
                    "unknown scheme {scheme:?}: use redis://host:port/db, rediss:// for TLS, \
                     redis+cluster://host:port,host:port/ or \
                     redis+sentinel://host:port,host:port/service"
                ))
            }
        };
        Ok(Self {
            url: url.to_owned(),
            kind,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection is TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.url.starts_with("rediss://")
    }
}

/// The sentinels and service of `redis+sentinel://host:port,host:port/service`.
/// Credentials before an `@` are the master's (`user:password@` or
/// `:password@`, percent-encoded as in any URL); the sentinels are reached
/// without.
fn sentinel_target(url: &str) -> Result<TargetKind, String> {
    let rest = &url["redis+sentinel://".len()..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (master_auth, rest) = match rest[..authority_end].rfind('@') {
        Some(at) => (Some(master_credentials(&rest[..at])?), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut parts = rest.splitn(3, '/');
    let hosts = parts.next().unwrap_or_default();
    let service = parts.next().unwrap_or_default();
    if hosts.is_empty() || service.is_empty() {
        return Err(
            "a Sentinel URL names its sentinels and the master's service: \
                    redis+sentinel://host:26379,host:26379/mymaster"
                .into(),
        );
    }
    if parts.next().is_some_and(|db| !db.is_empty() && db != "0") {
        return Err("a database other than 0 is not available with Sentinel yet".into());
    }
    let sentinels = hosts
        .split(',')
        .map(|node| {
            format!("redis://{node}")
                .into_connection_info()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    Ok(TargetKind::Sentinel(
        sentinels,
        service.to_owned(),
        master_auth,
    ))
}

/// `user:password` or `:password` (or a bare `password`), percent-decoded.
fn master_credentials(userinfo: &str) -> Result<redis::RedisConnectionInfo, String> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|t| t.into_owned())
            .map_err(|_| "the Sentinel URL's credentials are not valid UTF-8".to_owned())
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (decode(user)?, decode(password)?),
        None => (String::new(), decode(userinfo)?),
    };
    let mut info = redis::RedisConnectionInfo::default();
    if !user.is_empty() {
        info = info.set_username(user);
    }
    if !password.is_empty() {
        info = info.set_password(password);
    }
    Ok(info)
}

/// The seed nodes of `redis+cluster://host:port,host:port/`.
fn cluster_nodes(url: &str) -> Result<Vec<ConnectionInfo>, String> {
    let rest = &url["redis+cluster://".len()..];
    let hosts = rest.split('/').next().unwrap_or_default();
    if hosts.is_empty() {
        return Err("a cluster URL names at least one node: redis+cluster://host:port/".into());
    }
    hosts
        .split(',')
        .map(|node| {
            format!("redis://{node}")
                .into_connection_info()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Makes rustls usable (once per process): it needs a crypto provider.
fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Err only if another library installed one first: theirs serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One connection to a single server or to a cluster; either runs the same
/// scripts (the cluster routes each by its keys' slot).
#[derive(Clone)]
pub enum Connection {
    /// A single server (or a TLS one).
    Single(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connection::Single(_) => "Connection::Single",
            Connection::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

#[allow(clippy::large_enum_variant)] // one per configured store, not per call
enum Client {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    /// Asked for the current master on every (re)connect: a failover is
    /// followed by the next operation after the old master's connection fails.
    Sentinel(tokio::sync::Mutex<redis::sentinel::SentinelClient>),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Client::Single(_) => "Client::Single",
            Client::Cluster(_) => "Client::Cluster",
            Client::Sentinel(_) => "Client::Sentinel",
        })
    }
}

/// The background prober's role on a store, handed back when dropped.
struct ProbingRole(Weak<RedisStore>);

impl Drop for ProbingRole {
    fn drop(&mut self) {
        if let Some(store) = self.0.upgrade() {
            store.recovering.store(false, Ordering::Release);
        }
    }
}

/// A Redis connection with bounded operations and a health record.
#[derive(Debug)]
pub struct RedisStore {
    client: Client,
    connection: tokio::sync::Mutex<Option<Connection>>,
    health: Arc<StoreHealth>,
    runtime: &'static BackgroundRuntime,
    timeout: Duration,
    recovering: AtomicBool,
    /// Which Redis data this worker relies on (see [`incarnation`]).
    incarnation: Incarnation,
    /// Counts what the store holds, so a loss can say what was lost; and
    /// what it holds in words, for a loss before the first count.
    census: OnceLock<(Option<Census>, &'static str)>,
    /// The store itself, for the watcher task it starts on first use.
    me: OnceLock<Weak<Self>>,
    /// Operations run through the runtime's connection (the census's
    /// cue that the store's content may have changed).
    operations: AtomicU64,
}

/// Counts what a store holds, in words (`"12 dead-letter entries in 3
/// domains"`).
pub type Census = fn(Connection) -> Pin<Box<dyn Future<Output = RedisResult<String>> + Send>>;

impl RedisStore {
    /// A store for `target`, connecting lazily on `runtime`. For
    /// `rediss://`, `ca_pem` (a PEM bundle) replaces the system's roots.
    pub fn new(
        target: &RedisTarget,
        ca_pem: Option<Vec<u8>>,
        runtime: &'static BackgroundRuntime,
        health: Arc<StoreHealth>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let client = match &target.kind {
            TargetKind::Single(info) if target.is_tls() => {
                install_crypto_provider();
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: ca_pem,
                };
                redis::Client::build_with_tls(info.clone(), certificates).map(Client::Single)
            }
            TargetKind::Single(info) => redis::Client::open(info.clone()).map(Client::Single),
            TargetKind::Sentinel(sentinels, service, auth) => {
                redis::sentinel::SentinelClient::build(
                    sentinels.clone(),
                    service.clone(),
                    auth.clone().map(|auth| {
                        redis::sentinel::SentinelNodeConnectionInfo::default()
                            .set_redis_connection_info(auth)
                    }),
                    redis::sentinel::SentinelServerType::Master,
                )
            }
            .map(|client| Client::Sentinel(tokio::sync::Mutex::new(client))),
            TargetKind::Cluster(nodes) => redis::cluster::ClusterClientBuilder::new(nodes.clone())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1)
                .build()
                .map(Client::Cluster),
        }
        .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            health,
            runtime,
            timeout,
            recovering: AtomicBool::new(false),
            incarnation: Incarnation::default(),
            census: OnceLock::new(),
            me: OnceLock::new(),
            operations: AtomicU64::new(0),
        })
    }

    /// Watches for the loss of this store's data from its first operation
    /// on (never before: nothing connects at import or configuration), and
    /// counts what it holds with `census` now and then, so a loss can say
    /// what was lost.
    pub fn watch_for_data_loss(self: &Arc<Self>, census: Option<Census>, holds: &'static str) {
        let _ = self.census.set((census, holds));
        let _ = self.me.set(Arc::downgrade(self));
    }

    /// Starts the data-loss watcher on the running runtime if it has none
    /// (a forked child's new runtime gets its own). Every operation calls
    /// it, including those on callers' own connections.
    pub fn ensure_watching(&self) {
        let Some(me) = self.me.get() else { return };
        if self.incarnation.claim_watcher(self.runtime.starts()) {
            let _ = self.runtime.spawn(Self::watch(me.clone()));
        }
    }

    async fn watch(store: Weak<Self>) {
        loop {
            if let Some(live) = store.upgrade() {
                if !live.health.is_degraded() {
                    live.check_incarnation().await;
                }
            } else {
                return;
            }
            tokio::time::sleep(incarnation::CHECK_INTERVAL).await;
        }
    }

    /// One look at the marker: a changed incarnation is reported with what
    /// the store held when last counted.
    async fn check_incarnation(&self) {
        // The watcher's own operations are no change to the content.
        let others = self.operations.load(Ordering::Relaxed);
        let fresh = format!("{:016x}", fastrand::u64(..));
        let looked = self
            .run_async(|mut connection| async move {
                incarnation::CHECK
                    .key(incarnation::KEY)
                    .arg(fresh)
                    .invoke_async::<(String, i64)>(&mut connection)
                    .await
            })
            .await;
        self.operations.fetch_sub(1, Ordering::Relaxed);
        let Ok((id, _written)) = looked else { return };
        let Some(&(census, holds)) = self.census.get() else {
            return;
        };
        if let Seen::Changed { .. } = self.incarnation.observe(&id) {
            let lost = self.incarnation.take_census().map_or_else(
                || holds.to_owned(),
                |counted| format!("{counted} (when last counted)"),
            );
            self.health
                .data_lost(&format!("redis came back without its data: lost {lost}"));
        }
        if let Some(census) = census {
            // Counted again only when something else used the store since
            // the last count: an idle worker's look stays one script.
            if self.incarnation.census_due(others) {
                if let Ok(counted) = self.run_async(census).await {
                    self.incarnation.set_census(counted);
                }
                self.operations.fetch_sub(1, Ordering::Relaxed);
                self.incarnation.census_taken(others);
            }
        }
    }

    /// Blocking connections, one per calling thread, to the same server
    /// with the same bounds and health: for a single node (plain or TLS).
    /// A Sentinel's master can move and a cluster routes by key, so those
    /// keep to the runtime's connection: `None`.
    pub fn caller_connections(&self) -> Option<CallerConnections> {
        match &self.client {
            Client::Single(client) => Some(CallerConnections::new(
                client.clone(),
                self.health.clone(),
                self.timeout,
            )),
            Client::Sentinel(_) | Client::Cluster(_) => None,
        }
    }

    /// The store's health record.
    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    /// Runs one operation to completion from a thread outside the runtime
    /// (the caller releases the GIL first). Fails fast while degraded,
    /// but for one probe per interval.
    pub fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut + Send,
        Fut: Future<Output = RedisResult<T>> + Send,
        T: Send,
    {
        self.runtime
            .block_on(self.run_async(op))
            .map_err(|e| StoreError(format!("background runtime unavailable: {e}")))
            .and_then(|result| result)
    }

    /// [`RedisStore::run`] for a task already on the runtime.
    pub async fn run_async<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.health.admit() == Admission::FailFast {
            return Err(StoreError("redis is unreachable (degraded)".into()));
        }
        self.ensure_watching();
        self.operations.fetch_add(1, Ordering::Relaxed);
        match self.bounded(op).await {
            Ok(value) => {
                self.health.succeeded();
                Ok(value)
            }
            Err(error) => {
                self.health.failed(&error);
                Err(StoreError(error))
            }
        }
    }

    /// Pings the store every probe interval while it is degraded, so that
    /// it leaves DEGRADED when Redis answers again even if no traffic needs
    /// it (a store only idempotent calls use would otherwise report
    /// DEGRADED until the next such call). Returns when the store is
    /// healthy or dropped (a reconfigured process must not ping a store it
    /// no longer uses); a second caller meanwhile returns at once.
    pub async fn recover(store: Weak<Self>) {
        // Each round: take the probing role, probe until healthy, hand it
        // back, and look again (degraded again in between: a caller who
        // saw the role taken has returned, so this one goes on).
        loop {
            let Some(live) = store
                .upgrade()
                .filter(|s| s.health.is_degraded() && !s.recovering.swap(true, Ordering::AcqRel))
            else {
                return;
            };
            // Handed back however the round ends, even if the task is
            // dropped mid-probe (the runtime shutting down).
            let _role = ProbingRole(Arc::downgrade(&live));
            let interval = live.health.probe_interval();
            drop(live);
            loop {
                tokio::time::sleep(interval).await;
                let Some(live) = store.upgrade() else { return };
                if !live.health.is_degraded() {
                    break;
                }
                let ping = |mut connection: Connection| async move {
                    redis::cmd("PING").query_async::<()>(&mut connection).await
                };
                // A failure is recorded by the health; the loop tries again.
                let _ = live.run_async(ping).await;
            }
        }
    }

    /// Calls `on_message` for every message on `channel`, reconnecting
    /// after a failure, until the task is aborted. A cluster has no plain
    /// subscription here: its workers rely on their poll.
    pub async fn subscribe(&self, channel: &'static str, on_message: impl Fn(&[u8]) + Send) {
        use futures_util::StreamExt;
        loop {
            let client = match &self.client {
                Client::Single(client) => Some(client.clone()),
                Client::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await.ok(),
                Client::Cluster(_) => return,
            };
            if let Some(client) = client {
                if let Ok(mut pubsub) = client.get_async_pubsub().await {
                    if pubsub.subscribe(channel).await.is_ok() {
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            on_message(message.get_payload_bytes());
                        }
                    }
                }
            }
            tokio::time::sleep(self.timeout).await;
        }
    }

    /// Whether the store is a Redis Cluster: a script then touches the keys
    /// of one hash slot only.
    pub fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    /// The runtime this store's connection lives on.
    pub fn runtime(&self) -> &'static BackgroundRuntime {
        self.runtime
    }

    async fn bounded<T, F, Fut>(&self, op: F) -> Result<T, String>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let work = async {
            let connection = self.connection().await?;
            op(connection).await.map_err(|e| format!("redis: {e}"))
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(format!("redis did not answer within {:?}", self.timeout)),
        };
        if result.is_err() && matches!(self.client, Client::Sentinel(_)) {
            // The master may have changed: ask the sentinels again next time.
            *self.connection.lock().await = None;
        }
        result
    }

    /// The shared connection, made on first use. A failed first connect
    /// leaves nothing behind, so the next operation tries again.
    async fn connection(&self) -> Result<Connection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        let connection = match &self.client {
            Client::Single(client) => client
                .get_connection_manager_with_config(config)
                .await
                .map(Connection::Single),
            Client::Cluster(client) => client.get_async_connection().await.map(Connection::Cluster),
            Client::Sentinel(sentinel) => match sentinel.lock().await.async_get_client().await {
                Ok(master) => master
                    .get_connection_manager_with_config(config)
                    .await
                    .map(Connection::Single),
                Err(error) => Err(error),
            },
        }
        .map_err(|e| format!("redis: cannot connect: {e}"))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }
}
