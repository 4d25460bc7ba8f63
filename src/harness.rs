//! [`MockServer`]: the mock as a library, for tests written in Rust. It binds
//! a free port on 127.0.0.1, serves in the background on the current tokio
//! runtime, and shuts down when dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use serde_json::Value;

use crate::config::Config;
use crate::config::FixtureSource;
use crate::contract::{Expectation, Unmet};
use crate::error::{BuildError, FixtureError};
use crate::http::server;
use crate::record::coverage::Coverage;
use crate::record::journal::{Filter, RecordedRequest};
use crate::record::transcript::Transcript;
use crate::state::faults::Fault;
use crate::state::{State, Stats};

/// A running mock server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::MockServer;
///
/// let server = MockServer::builder().seed(7).max_secrets_per_scope(3).start().await;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// // Point your Stripe client's API base at `server.url()` and use any
/// // well-formed key, e.g. `sk_test_123`.
/// server.clock().advance(60);
/// assert_eq!(server.clock().now(), 1_700_000_060);
/// # }
/// ```
pub struct MockServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Shared with the serving task, for clock control.
    core: Arc<State>,
    /// Dropping this tells the serving task to stop.
    _shutdown: watch::Sender<()>,
}

impl MockServer {
    /// Starts a server with default options on `127.0.0.1:0`.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await
    }

    /// Options for a server; see [`MockServerBuilder`].
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            config: Config::default(),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The server's clock.
    pub fn clock(&self) -> MockClock {
        MockClock {
            core: self.core.clone(),
        }
    }

    /// Every request served on the Stripe paths so far, oldest first (the
    /// most recent 10,000 within 16 MiB: docs/limits.md), with payload
    /// values redacted.
    pub fn received_requests(&self) -> Vec<RecordedRequest> {
        self.core.received_requests()
    }

    /// Every interaction the journal holds, oldest first, as a transcript:
    /// parameters as sent (payloads kept) and answers as given. Stable by
    /// construction (seeded ids, fake clock), so it can be pinned with
    /// `insta::assert_json_snapshot!` or, through its `Display` text,
    /// `insta::assert_snapshot!`.
    pub fn transcript(&self) -> Transcript {
        self.core.transcript(Filter::default())
    }

    /// The interactions of one app (requests made with `api_key`), as a
    /// transcript: what a test that uses its own key pins.
    pub fn transcript_of(&self, api_key: &str) -> Transcript {
        self.core.transcript(Filter {
            app: Some(api_key),
            ..Filter::default()
        })
    }

    /// Checks `expectation` against the requests received so far (as the
    /// journal keeps them): how many matched, or a message naming the
    /// closest requests received.
    pub fn verify_received(&self, expectation: &Expectation) -> Result<usize, Unmet> {
        expectation.check(&self.transcript().interactions)
    }

    /// Like [`MockServer::verify_received`], but panics with the message.
    ///
    /// # Panics
    /// When the expectation does not hold.
    #[track_caller]
    pub fn assert_received(&self, expectation: &Expectation) {
        if let Err(unmet) = self.verify_received(expectation) {
            panic!("{unmet}");
        }
    }

    /// Which outcomes and parameters of each operation the requests so far
    /// exercised and which they never did; its `Display` text is what a
    /// person reads at the end of a test run. Cleared by [`MockServer::reset`].
    pub fn coverage(&self) -> Coverage {
        self.core.coverage()
    }

    /// What the server holds now: partitions, secrets, saved idempotent
    /// answers and journal entries, with the bytes counted against their
    /// bounds.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Restores the startup state: the fixtures' secrets, the clock's start,
    /// fresh id streams, an empty journal, no saved idempotent answers and no
    /// pending faults.
    pub fn reset(&self) {
        self.core.reset(None, None);
    }

    /// Restores one app's partitions (all its accounts) to their startup
    /// state and drops its journal entries and the faults aimed at it; other
    /// apps are untouched.
    pub fn reset_app(&self, api_key: &str) {
        self.core.reset(Some(api_key), None);
    }

    /// Adds a fault after those already pending; see [`Fault`].
    ///
    /// # Panics
    /// If the fault is inconsistent (a non-error status, a zero count), or
    /// 1,000 faults are already pending.
    pub fn inject_fault(&self, fault: Fault) {
        if let Err(e) = fault.check().and_then(|()| self.core.push_fault(fault)) {
            panic!("invalid fault: {e}");
        }
    }

    /// All secrets and the clock, in the fixture format.
    pub fn export_state(&self) -> Value {
        self.core.export()
    }

    /// Replaces all secrets with those of `fixture` (moving the clock if it
    /// names an instant). On error nothing changes.
    pub fn import_state(&self, fixture: &Value) -> Result<usize, FixtureError> {
        self.core.import(fixture)
    }
}

/// Builds a [`MockServer`] with the same options as the CLI.
pub struct MockServerBuilder {
    /// What the server will run with.
    config: Config,
}

impl MockServerBuilder {
    /// Seed of every generated id (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// The fake clock's starting instant (default: the fixtures' `clock.now`,
    /// else 1700000000).
    pub fn now(mut self, unix_seconds: i64) -> Self {
        self.config.now = Some(unix_seconds);
        self
    }

    /// Use the system clock instead of the fake one.
    pub fn system_clock(mut self) -> Self {
        self.config.system_clock = true;
        self
    }

    /// Distinct secret names allowed per scope (default 10, as Stripe).
    pub fn max_secrets_per_scope(mut self, max: usize) -> Self {
        self.config.max_secrets_per_scope = max;
        self
    }

    /// Accept this API key; once any is given, only the given keys work.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_keys.push(key.into());
        self
    }

    /// Seed the store from a fixture file, or every `*.json` in a folder
    /// (repeatable; loaded in order).
    pub fn fixtures(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.fixtures.push(FixtureSource::Path(path.into()));
        self
    }

    /// Seed the store from fixture JSON text; `name` appears in errors.
    pub fn fixture_json(mut self, name: impl Into<String>, json: impl Into<String>) -> Self {
        self.config.fixtures.push(FixtureSource::Inline {
            name: name.into(),
            json: json.into(),
        });
        self
    }

    /// Whether a response that violates the spec becomes a 500 (default true).
    pub fn strict(mut self, strict: bool) -> Self {
        self.config.strict = strict;
        self
    }

    /// Refuse any `Stripe-Version` but the spec's (stripe-mock's
    /// `-strict-version-check`).
    pub fn strict_version_check(mut self) -> Self {
        self.config.strict_version_check = true;
        self
    }

    /// Apply the permissions of a Stripe App manifest (`stripe-app.json`)
    /// to every API key without a manifest of its own: without
    /// `secret_write`, every Secret Store operation is refused with
    /// Stripe's 403.
    pub fn app_manifest(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.app_manifests.push((None, path.into()));
        self
    }

    /// Apply a manifest's permissions to the app with `api_key` only.
    pub fn app_manifest_for(
        mut self,
        api_key: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.config
            .app_manifests
            .push((Some(api_key.into()), path.into()));
        self
    }

    /// Require `Authorization: Bearer <token>` on the `/_mock/` endpoints
    /// (the harness's own methods need none).
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.config.control_token = Some(token.into());
        self
    }

    /// How long a connection may take to send a request's headers, or have
    /// nothing in flight (from the moment it is accepted, whatever its
    /// protocol), or leave an answer unread, before it is closed (default
    /// 30 s).
    pub fn header_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// Connections served at once (default 1,000). At the cap, the one
    /// idle longest is closed for each new one; new ones wait only while
    /// every connection has a request in flight.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// How many of the latest requests, and how many bytes of them (counted
    /// as `/_mock/requests` and `/_mock/transcript` write them), the journal
    /// keeps; by default [`crate::JOURNAL_ENTRIES`] and
    /// [`crate::JOURNAL_BYTES`]. Raise them to record a long session.
    pub fn journal_limits(mut self, entries: usize, bytes: usize) -> Self {
        self.config.journal_entries = entries;
        self.config.journal_bytes = bytes;
        self
    }

    /// Serve this OpenAPI document (JSON text) instead of the bundled one.
    pub fn spec_json(mut self, spec: impl Into<String>) -> Self {
        self.config.spec_json = Some(spec.into());
        self
    }

    /// Starts the server, panicking if the spec does not compile, a fixture is
    /// invalid or no port can be bound (this is a test helper; see
    /// [`MockServerBuilder::try_start`]).
    pub async fn start(self) -> MockServer {
        self.try_start().await.expect("mock server starts")
    }

    /// Starts the server on `127.0.0.1:0`; the error names what failed (a
    /// fixture error reads `FILE: POINTER: RULE`).
    pub async fn try_start(self) -> Result<MockServer, BuildError> {
        let core = Arc::new(State::new(self.config)?);
        let bind = |source| BuildError::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let (tx, mut rx) = watch::channel(());
        let shutdown = async move {
            // Resolves when the sender (the MockServer) is dropped.
            while rx.changed().await.is_ok() {}
        };
        tokio::spawn(server::serve(listener, core.clone(), shutdown));
        Ok(MockServer {
            addr,
            core,
            _shutdown: tx,
        })
    }
}

/// Controls a server's clock. Moving it forward expires secrets at once;
/// moving it back is allowed and never revives an expired secret.
pub struct MockClock {
    /// The server it belongs to.
    core: Arc<State>,
}

impl MockClock {
    /// The current instant in Unix seconds.
    pub fn now(&self) -> i64 {
        self.core.clock().now()
    }

    /// Moves the clock to `unix_seconds`.
    ///
    /// # Panics
    /// On a server started with the system clock, which cannot be moved, and
    /// for an instant outside 1970-01-01 to 9999-12-31 (0 to 253402300799).
    pub fn set(&self, unix_seconds: i64) {
        if let Err(e) = self.core.move_clock(unix_seconds) {
            panic!("the clock cannot be set to {unix_seconds}: {e}");
        }
    }

    /// Moves the clock forward by `seconds` (backward if negative).
    pub fn advance(&self, seconds: i64) {
        self.set(self.now().saturating_add(seconds));
    }
}
