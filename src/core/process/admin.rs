//! The process's admin server: at most one, started by `init()`, stopped
//! at exit with the runtime. A forked child of the serving process skips
//! (the parent serves); a child of one that skipped tries to bind again.

use crate::core::admin::{serve, AdminHandler, Gate, GateConfig, Serving};
use crate::core::fork_cell::ForkCell;
use crate::core::process::RUNTIME;
use arc_swap::ArcSwapOption;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// What a start asks for.
#[derive(Clone)]
pub struct AdminConfig {
    /// The address to listen on (`127.0.0.1` by default).
    pub host: String,
    /// The port (never 0 here: 0 means the embedder starts no server).
    pub port: u16,
    /// The gate's keys, lists and lock.
    pub gate: GateConfig,
    /// Answers what the gate lets in.
    pub handler: Arc<dyn AdminHandler>,
    /// `{"pid": ..., "store": ...}` for the gate's own refusals.
    pub served_by: serde_json::Value,
}

/// How a start went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Listening here.
    Serving(SocketAddr),
    /// The address is taken (another process of a pre-forking server
    /// serves): this process carries on without a server.
    Skipped(String),
}

/// The process's one admin server.
pub struct AdminService {
    /// The server running, if one does. Behind a [`ForkCell`]: a thread
    /// starting or stopping the server as another forks must not leave the
    /// child a lock no thread of its will ever release.
    serving: ForkCell<Option<Serving>>,
    /// Where it listens, readable without the lock (a forked child asks
    /// whether its parent served).
    address: ArcSwapOption<SocketAddr>,
    /// The last start's configuration, for a forked child's try (`None`:
    /// the server is off).
    config: ArcSwapOption<AdminConfig>,
}

/// The admin server of this process.
pub static ADMIN: LazyLock<AdminService> = LazyLock::new(|| AdminService {
    serving: ForkCell::new(None),
    address: ArcSwapOption::empty(),
    config: ArcSwapOption::empty(),
});

impl AdminService {
    /// Starts (or restarts, with a new configuration) the server. An error
    /// is a configuration the server cannot take (a bad list entry, an
    /// address that does not parse) or a socket error other than the
    /// address being taken.
    pub fn start(&self, config: AdminConfig) -> Result<Started, String> {
        self.stop();
        let mut serving = self.serving.lock();
        self.config.store(Some(Arc::new(config.clone())));
        let started = bind_and_serve(&config)?;
        if let (Started::Serving(address), Some(server)) = started {
            *serving = Some(server);
            self.address.store(Some(Arc::new(address)));
        }
        Ok(started.0)
    }

    /// Stops the server, if one runs (its loop ends within a moment).
    pub fn stop(&self) {
        let serving = self.serving.lock().take();
        self.address.store(None);
        if let Some(serving) = serving {
            let task = serving.stop();
            let _ = RUNTIME.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
            });
        }
    }

    /// Forgets the configuration too: `init()` with the server off.
    pub fn turn_off(&self) {
        self.stop();
        self.config.store(None);
    }

    /// Where the server listens, if it does.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address.load().as_deref().copied()
    }

    /// A forked child's side. A child of the serving process skips: it
    /// holds a copy of the parent's listening socket, which it cannot
    /// close without unsafe code (its runtime, which owns it, is gone), and
    /// the parent keeps serving. A child of a process that skipped tries
    /// once (the process that served may have gone). The parent's server
    /// is forgotten with its cell, never dropped (dropping would deregister
    /// the socket from the parent's poller).
    pub fn after_fork(&self) -> Option<Result<Started, String>> {
        self.serving.replace_after_fork(None);
        if let Some(address) = self.address.swap(None) {
            return Some(Ok(Started::Skipped(format!(
                "{address} is served by the parent process"
            ))));
        }
        let config = self.config.load_full()?;
        Some(bind_and_serve(&config).map(|(started, server)| {
            if let (Started::Serving(address), Some(server)) = (&started, server) {
                *self.serving.lock() = Some(server);
                self.address.store(Some(Arc::new(*address)));
            }
            started
        }))
    }
}

fn bind_and_serve(config: &AdminConfig) -> Result<(Started, Option<Serving>), String> {
    let address = format!("{}:{}", config.host, config.port);
    let listener = match std::net::TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            return Ok((Started::Skipped(format!("{address} is in use")), None));
        }
        Err(error) => return Err(format!("cannot listen on {address}: {error}")),
    };
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let gate = Gate::new(config.gate.clone(), port)?;
    let runtime = RUNTIME.handle().map_err(|e| e.to_string())?;
    let serving = serve(
        &runtime,
        listener,
        gate,
        config.handler.clone(),
        config.served_by.clone(),
    )
    .map_err(|e| format!("cannot serve on {address}: {e}"))?;
    Ok((Started::Serving(serving.address()), Some(serving)))
}
