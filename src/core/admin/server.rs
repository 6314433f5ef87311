//! The admin server's loop: accepts on the background runtime, reads one
//! request, passes it through the gate, and hands what the gate let in
//! to the embedder's handler on a blocking thread (a handler may run a
//! DLQ replay for seconds; the runtime's workers also carry the breaker
//! sync and must never wait on it).

use crate::core::admin::gate::{Admitted, Asked, Gate, Role};
use crate::core::admin::http::{read_request, write_response, Request, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// A slow client gets this long to send its whole request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 64;
/// Handlers running at once (each holds a blocking thread).
const MAX_HANDLERS: usize = 8;

/// What the gate let in, for the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    /// `GET`, `HEAD` or `POST`.
    pub method: String,
    /// The URL's path.
    pub path: String,
    /// The URL's query, without `?`.
    pub query: String,
    /// The body.
    pub body: Vec<u8>,
    /// The key's role; `None` on a public route read without a key.
    pub role: Option<Role>,
    /// `role` or `role:name`; `None` with no key.
    pub actor: Option<String>,
}

/// Answers what the gate let in. Called on a blocking thread, with no
/// core lock held.
pub trait AdminHandler: Send + Sync {
    /// The response to one request (it must not fail: an error is a 500).
    fn handle(&self, request: AdminRequest) -> Response;
}

/// A running server.
#[derive(Debug)]
pub struct Serving {
    address: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting; requests in progress finish on their own.
    pub fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(true);
        self.task
    }
}

/// Serves `listener` on `runtime` until stopped. `served_by`: the JSON
/// object the gate's own refusals carry, as the handler's answers do.
pub fn serve(
    runtime: &Handle,
    listener: std::net::TcpListener,
    gate: Gate,
    handler: Arc<dyn AdminHandler>,
    served_by: serde_json::Value,
) -> std::io::Result<Serving> {
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let listener = {
        let _entered = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let (stop, mut stopped) = watch::channel(false);
    let shared = Arc::new(Shared {
        gate,
        handler,
        served_by,
        handlers: Semaphore::new(MAX_HANDLERS),
    });
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let task = runtime.spawn(async move {
        loop {
            let Ok(permit) = connections.clone().acquire_owned().await else {
                return;
            };
            let accepted = tokio::select! {
                _ = stopped.changed() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else {
                // Out of descriptors, or the peer gave up: the loop goes on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                shared.connection(stream).await;
                drop(permit);
            });
        }
    });
    Ok(Serving {
        address,
        stop,
        task,
    })
}

struct Shared {
    gate: Gate,
    handler: Arc<dyn AdminHandler>,
    served_by: serde_json::Value,
    handlers: Semaphore,
}

impl Shared {
    async fn connection(&self, mut stream: TcpStream) {
        let read = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await;
        let request = match read {
            Err(_) => self.refusal(
                408,
                "request_timeout",
                "the request took too long to arrive",
            ),
            Ok(Err(_)) | Ok(Ok(Ok(None))) => return,
            Ok(Ok(Err(malformed))) => self.refusal(malformed.status, malformed.error, ""),
            Ok(Ok(Ok(Some(request)))) => {
                let head_only = request.method == "HEAD";
                let response = self.answer(request).await;
                let _ = write_response(&mut stream, &response, head_only).await;
                return;
            }
        };
        let _ = write_response(&mut stream, &request, false).await;
    }

    async fn answer(&self, request: Request) -> Response {
        let asked = Asked {
            method: &request.method,
            path: &request.path,
            host: request.header("host"),
            origin: request.header("origin"),
            key: request.header("x-baldur-key"),
            actor: request.header("x-baldur-actor"),
            body: &request.body,
        };
        let (role, actor) = match self.gate.admit(&asked) {
            Ok(Admitted::Public) => (None, None),
            Ok(Admitted::Holder { role, actor }) => (Some(role), Some(actor)),
            Err(refused) => return self.refusal(refused.status, refused.error, &refused.detail),
        };
        let admitted = AdminRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            body: request.body,
            role,
            actor,
        };
        let Ok(_permit) = self.handlers.acquire().await else {
            return self.refusal(503, "shutting_down", "");
        };
        let handler = self.handler.clone();
        match tokio::task::spawn_blocking(move || handler.handle(admitted)).await {
            Ok(response) => response,
            Err(_) => self.refusal(500, "internal", "the handler panicked"),
        }
    }

    fn refusal(&self, status: u16, error: &str, detail: &str) -> Response {
        let mut body = serde_json::json!({"error": error, "served_by": self.served_by});
        if !detail.is_empty() {
            body["detail"] = detail.into();
        }
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}
