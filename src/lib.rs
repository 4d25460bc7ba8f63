//! A deterministic, stateful mock of Stripe's Apps Secret Store API, driven by
//! the bundled OpenAPI document: every request and every response is validated
//! against it.
//!
//! # Layout
//! Dependencies run one way: `http` → `pipeline` → {`openapi`, `secrets`,
//! `control`, `state`} → leaves (`error`, `clock`, `ids`). In `contract`,
//! `transcript` and `coverage` are data the journal and the pipeline fill
//! (they depend only on `openapi` and `secrets::auth`); `verify`, `proxy`
//! and `client` sit beside `http` at the edge and use the pipeline's
//! response check.
//! - [`harness`] (`http::harness`): `MockServer`, the library entry point for
//!   Rust tests; `http::server`: the hyper edge (accept loop, graceful
//!   shutdown, the one conversion to and from owned types).
//! - `pipeline`: the socket-free steps of one request (prepare outside any
//!   lock, run under the request's partition lock, check the response).
//! - `openapi`: the documents compiled once per process, their schema
//!   dialect, Stripe's bracket-notation inputs and their errors.
//! - `secrets`: API keys, the indexed store, the four operations,
//!   `Idempotency-Key`.
//! - `control`: the `/_mock/` endpoints, fixtures, the journal, faults.
//! - `contract`: contract checks: the transcript format, `verify` (replay a
//!   transcript against any server), the recording proxy, coverage,
//!   expectations, and the HTTP(S) client the first two use.
//! - `state`: everything a running mock holds, and its locks.
//! - `clock`: the fake clock; `ids`: seeded ids; `error`: the one error
//!   type, Stripe's error body, and the setup errors; `log`: stderr lines
//!   that never block serving.
//!
//! The behaviour it implements is described in `docs/behaviour.md`.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = stripe_secrets_mock::MockServer::start().await;
//! println!("point the Stripe SDK at {}", server.url());
//! # }
//! ```

mod clock;
pub mod compat;
mod config;
mod contract;
mod control;
mod error;
mod http;
mod ids;
mod log;
mod openapi;
mod ops;
mod outcome;
mod pipeline;
#[cfg(test)]
mod properties;
mod secrets;
mod state;
mod sync;

use std::future::Future;
use std::sync::Arc;

pub use clock::DEFAULT_NOW;
pub use config::Config;
pub use contract::coverage::{Coverage, CoverageItem, OperationCoverage};
pub use contract::expect::{Expectation, Unmet};
pub use contract::proxy::{Proxy, ProxyOptions};
pub use contract::transcript::{Interaction, Transcript, TranscriptRequest, TranscriptResponse};
pub use contract::verify::{verify, Outcome, Step, VerifyOptions, VerifyReport};
pub use control::documents::FixtureSource;
pub use control::faults::{Fault, FaultKind};
pub use control::journal::RecordedRequest;
pub use error::{BuildError, ContractError, FixtureError, SpecError};
pub use http::harness::{self, MockClock, MockServer, MockServerBuilder};
pub use openapi::spec::{BUNDLED_SPEC, CONTROL_SPEC};
pub use state::Stats;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// A mock built from a [`Config`] (spec compiled, fixtures loaded) and not
/// yet serving: what the binary runs. Building it first means a bad fixture
/// is reported before anything listens.
pub struct Mock {
    /// The shared state the server will serve.
    state: Arc<state::State>,
}

impl Mock {
    /// Compiles the spec and loads the fixtures; the error names what failed
    /// (`FILE: POINTER: RULE` for a fixture).
    pub fn new(config: Config) -> Result<Mock, BuildError> {
        Ok(Mock {
            state: Arc::new(state::State::new(config)?),
        })
    }

    /// How many secrets the store holds (after loading: the fixtures').
    pub fn secret_count(&self) -> usize {
        self.state.secret_count(|_| true)
    }

    /// Serves on an already bound `listener` until `shutdown` completes, then
    /// gives open connections a few seconds to finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) {
        http::server::serve(listener, self.state, shutdown).await;
    }
}
