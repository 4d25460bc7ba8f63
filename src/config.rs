//! The options a server runs with, shared by the CLI and the library builder.

use std::path::PathBuf;

/// By default the journal keeps at most this many requests …
pub const JOURNAL_ENTRIES: usize = 2_000;

/// … and at most this many bytes of them, each entry counted as the bytes
/// it adds to `GET /_mock/requests` and to `GET /_mock/transcript`
/// together, as those endpoints write them (pretty-printed, which is more
/// than the entry holds), plus its partition and a fixed overhead: so each
/// of those answers is bounded by this figure too. Chosen so that a mock
/// under a test suite's traffic stays near stripe-mock's footprint
/// (docs/benchmarks.md); a longer recording raises both.
pub const JOURNAL_BYTES: usize = 4 << 20;

/// Everything that shapes a mock server's behaviour (not where it listens).
#[derive(Clone, Debug)]
pub struct Config {
    /// Seed of every id stream: same seed + same requests = same bytes.
    pub seed: u64,
    /// The fake clock's starting instant, in Unix seconds. `None`: the
    /// fixtures' `clock.now`, else 1700000000.
    pub now: Option<i64>,
    /// Read the system clock instead of a fake one (expiry then follows real
    /// time and responses are no longer reproducible).
    pub system_clock: bool,
    /// Distinct secret names allowed per scope (Stripe: 10).
    pub max_secrets_per_scope: usize,
    /// If not empty, the only API keys accepted; otherwise any well-formed key.
    pub api_keys: Vec<String>,
    /// Turn a response that violates the spec into a 500 `api_error`
    /// (otherwise it is only logged and sent as is).
    pub strict: bool,
    /// An OpenAPI document to use instead of the bundled one (JSON text).
    pub spec_json: Option<String>,
    /// Fixtures that seed the store at startup (and on reset), in order.
    pub fixtures: Vec<FixtureSource>,
    /// How long a connection may take to send a request's headers, have
    /// nothing in flight (from its accept on, whatever its protocol), or
    /// leave an answer unread, before it is closed.
    pub header_read_timeout: std::time::Duration,
    /// If set, the `/_mock/` endpoints require `Authorization: Bearer
    /// <token>` (for a mock reachable from other machines).
    pub control_token: Option<String>,
    /// Connections served at once (so no client can exhaust the process's
    /// file descriptors); at the cap the one idle longest gives way to a
    /// new one, and new ones wait only while every one is busy.
    pub max_connections: usize,
    /// Refuse any `Stripe-Version` but the spec's (stripe-mock's
    /// `-strict-version-check`); otherwise any published version is served.
    pub strict_version_check: bool,
    /// Stripe App manifests (`stripe-app.json`) whose permissions apply:
    /// `(Some(key), path)` for one API key, `(None, path)` for every key
    /// without a manifest of its own. An app whose manifest lacks
    /// `secret_write` is refused every Secret Store operation.
    pub app_manifests: Vec<(Option<String>, PathBuf)>,
    /// The journal (`/_mock/requests`, `/_mock/transcript`) keeps at most
    /// this many of the latest requests …
    pub journal_entries: usize,
    /// … within this many bytes, counted as those endpoints write them.
    pub journal_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            now: None,
            system_clock: false,
            max_secrets_per_scope: 10,
            api_keys: Vec::new(),
            strict: true,
            spec_json: None,
            fixtures: Vec::new(),
            control_token: None,
            header_read_timeout: std::time::Duration::from_secs(30),
            max_connections: 1_000,
            journal_entries: JOURNAL_ENTRIES,
            journal_bytes: JOURNAL_BYTES,
            strict_version_check: false,
            app_manifests: Vec::new(),
        }
    }
}

/// Where a fixture comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FixtureSource {
    /// A JSON file, or a folder whose `*.json` files are read in name order.
    Path(PathBuf),
    /// JSON text, named for error messages.
    Inline {
        /// Shown in error messages in place of a file name.
        name: String,
        /// The fixture document.
        json: String,
    },
}
