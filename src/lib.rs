//! A deterministic, stateful mock of Stripe's Apps Secret Store API, driven by
//! the bundled OpenAPI document: every request and every response is validated
//! against it.
//!
//! # Layout
//! - [`harness`]: `MockServer`, the library entry point for Rust tests.
//! - `server`: the hyper edge (accept loop, graceful shutdown, conversion).
//! - `mock`: the socket-free request pipeline (auth → route → validate →
//!   operate → validate the response).
//! - `spec` and `schema`: the OpenAPI document, compiled once per process.
//! - `form` and `validate`: Stripe's bracket-notation inputs and their errors.
//! - `api`: the four operations; `store`: partitions, scopes, pagination,
//!   expiry; `auth`: API keys; `clock`: the fake clock; `ids`: seeded ids;
//!   `error`: the one error type and Stripe's error body.
//! - `control`: the `/_mock/` endpoints; `fixtures`: seeding, export and
//!   import; `journal`: the record of requests served; `faults`: injected
//!   failures.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = stripe_secrets_mock::MockServer::start().await;
//! println!("point the Stripe SDK at {}", server.url());
//! # }
//! ```

mod api;
mod auth;
mod clock;
pub mod compat;
mod config;
mod control;
mod error;
mod faults;
mod fixtures;
mod form;
pub mod harness;
mod ids;
mod journal;
mod mock;
mod schema;
mod server;
mod spec;
mod store;
mod validate;

use std::future::Future;
use std::sync::Arc;

pub use clock::DEFAULT_NOW;
pub use config::Config;
pub use faults::{Fault, FaultKind};
pub use fixtures::FixtureSource;
pub use harness::{MockClock, MockServer, MockServerBuilder};
pub use journal::RecordedRequest;
pub use spec::{BUNDLED_SPEC, CONTROL_SPEC};

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Loads `config`'s fixtures exactly as a server would and returns how many
/// secrets they hold; the error reads `FILE: POINTER: RULE`.
pub fn check_fixtures(config: &Config) -> Result<usize, String> {
    let core = mock::Core::new(config.clone())?;
    let store = core.store();
    Ok(store.partitions().map(|(_, p)| p.secrets().len()).sum())
}

/// Serves a mock with `config` on an already bound `listener` until
/// `shutdown` completes. This is what the binary runs.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let core = Arc::new(mock::Core::new(config)?);
    server::serve(listener, core, shutdown).await;
    Ok(())
}
