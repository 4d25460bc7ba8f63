//! A deterministic, stateful mock of Stripe's Apps Secret Store API, driven by
//! the bundled OpenAPI document: every request and every response is validated
//! against it.
//!
//! - [`MockServer`]: a mock on `127.0.0.1` for a Rust test, with its clock,
//!   faults, journal and coverage at hand.
//! - [`Mock`] and [`Config`]: what the binary builds and serves.
//! - [`contract`]: transcripts, `verify`, the recording proxy, coverage and
//!   expectations.
//!
//! The behaviour it implements is described in `docs/behaviour.md`; how
//! the crate is laid out (and the check that keeps it so) in
//! `docs/architecture.md`.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = stripe_secrets_mock::MockServer::start().await;
//! println!("point the Stripe SDK at {}", server.url());
//! # }
//! ```

mod body;
mod clock;
mod config;
pub mod contract;
mod control;
mod error;
mod harness;
mod http;
mod ids;
mod log;
mod openapi;
mod ops;
mod outcome;
mod pipeline;
#[cfg(test)]
mod properties;
mod record;
mod secrets;
mod state;
mod sync;

use std::future::Future;
use std::sync::Arc;

pub use clock::DEFAULT_NOW;
pub use config::{Config, FixtureSource};
pub use config::{JOURNAL_BYTES, JOURNAL_ENTRIES};
pub use error::{BuildError, FixtureError, SpecError};
pub use harness::{MockClock, MockServer, MockServerBuilder};
pub use openapi::spec::{BUNDLED_SPEC, CONTROL_SPEC};
pub use record::journal::RecordedRequest;
pub use state::faults::{Fault, FaultKind};
pub use state::Stats;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The Rust examples of docs/library.md, run as doctests.
#[doc = include_str!("../docs/library.md")]
#[cfg(doctest)]
pub struct LibraryDoctests;

/// The Rust examples of docs/contract-checks.md, run as doctests.
#[doc = include_str!("../docs/contract-checks.md")]
#[cfg(doctest)]
pub struct ContractChecksDoctests;

/// A mock built from a [`Config`] (spec compiled, fixtures loaded) and not
/// yet serving: what the binary runs. Building it first means a bad fixture
/// is reported before anything listens.
///
/// ```
/// use stripe_secrets_mock::{Config, Mock};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = Mock::new(Config { seed: 7, ..Config::default() }).expect("it builds");
/// assert_eq!(mock.secret_count(), 0);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// // Serves until the future completes (here at once), then drains.
/// mock.serve(listener, async {}).await;
/// # }
/// ```
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
