//! The process's admin server: at most one, started by `init()`, stopped
//! at exit with the runtime. A forked child of the serving process skips
//! (the parent serves); a child of one that skipped tries to bind again.

use crate::core::admin::{serve, AdminHandler, Gate, GateConfig, Serving};
use crate::core::process::RUNTIME;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
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

#[derive(Default)]
struct State {
    serving: Option<Serving>,
    /// The last start's configuration, for a forked child's try.
    config: Option<AdminConfig>,
}

/// The process's one admin server.
pub struct AdminService {
    state: Mutex<Option<State>>,
}

/// The admin server of this process.
pub static ADMIN: AdminService = AdminService {
    state: Mutex::new(None),
};

impl AdminService {
    /// Starts (or restarts, with a new configuration) the server. An error
    /// is a configuration the server cannot take (a bad list entry, an
    /// address that does not parse) or a socket error other than the
    /// address being taken.
    pub fn start(&self, config: AdminConfig) -> Result<Started, String> {
        self.stop();
        let mut state = self.state.lock();
        let state = state.get_or_insert_with(State::default);
        state.config = Some(config.clone());
        let started = bind_and_serve(&config)?;
        if let (Started::Serving(_), Some(serving)) = started {
            state.serving = Some(serving);
        }
        Ok(started.0)
    }

    /// Stops the server, if one runs (its loop ends within a moment).
    pub fn stop(&self) {
        let serving = self.state.lock().as_mut().and_then(|s| s.serving.take());
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
        if let Some(state) = self.state.lock().as_mut() {
            state.config = None;
        }
    }

    /// Where the server listens, if it does.
    pub fn address(&self) -> Option<SocketAddr> {
        self.state
            .lock()
            .as_ref()
            .and_then(|s| s.serving.as_ref().map(Serving::address))
    }

    /// A forked child's side. A child of the serving process skips: it
    /// holds a copy of the parent's listening socket, which it cannot
    /// close without unsafe code (its runtime, which owns it, is gone), and
    /// the parent keeps serving. A child of a process that skipped tries
    /// once (the process that served may have gone).
    pub fn after_fork(&self) -> Option<Result<Started, String>> {
        let mut slot = self.state.lock();
        let state = slot.as_mut()?;
        if let Some(serving) = state.serving.take() {
            // Its task and runtime are the parent's: forgotten, not dropped
            // (dropping would deregister the socket from the parent's poller).
            let address = serving.address();
            std::mem::forget(serving);
            return Some(Ok(Started::Skipped(format!(
                "{address} is served by the parent process"
            ))));
        }
        let config = state.config.clone()?;
        Some(bind_and_serve(&config).map(|(started, serving)| {
            state.serving = serving;
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
