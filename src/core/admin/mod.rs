//! The admin server: a small HTTP/1.1 listener for the operator's
//! console, control API and CLI. The core owns the socket, the parsing
//! and the gate (keys, roles, Host and Origin checks, the unlock gate and
//! the confirmation), so no request reaches the embedder's handler
//! without passing them; the handler answers what passed.

pub mod address;
pub mod gate;
pub mod http;
pub mod server;

pub use gate::{Gate, GateConfig, Role};
pub use http::Response;
pub use server::{serve, AdminHandler, AdminRequest, Serving};
