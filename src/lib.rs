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
//!   failures; `idempotency`: Idempotency-Key rules.
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
mod idempotency;
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

/// A mock built from a [`Config`] (spec compiled, fixtures loaded) and not
/// yet serving: what the binary runs. Building it first means a bad fixture
/// is reported before anything listens.
pub struct Mock {
    /// The shared state the server will serve.
    core: Arc<mock::Core>,
}

impl Mock {
    /// Compiles the spec and loads the fixtures; the error names what failed
    /// (`FILE: POINTER: RULE` for a fixture).
    pub fn new(config: Config) -> Result<Mock, String> {
        Ok(Mock {
            core: Arc::new(mock::Core::new(config)?),
        })
    }

    /// How many secrets the store holds (after loading: the fixtures').
    pub fn secret_count(&self) -> usize {
        self.core.store().secret_count(|_| true)
    }

    /// Serves on an already bound `listener` until `shutdown` completes, then
    /// gives open connections a few seconds to finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) {
        server::serve(listener, self.core, shutdown).await;
    }
}
