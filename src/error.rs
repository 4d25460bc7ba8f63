//! The one API error type, and the one place it becomes a Stripe error body.
//!
//! Every failure a client can see is an [`ApiError`]: a status, Stripe's error
//! `type`, an optional `code` and `param`, and the client-facing message.
//! [`ApiError::body`] renders it as Stripe does (`doc_url` derived from the
//! code, `request_log_url` from the request id and mode), so no handler writes
//! an error body by hand.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::clock::ClockError;
use crate::outcome::{Outcome, Reason};

/// Stripe's error `type` values that the mock produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorType {
    /// Something about the request is wrong (the vast majority of errors).
    InvalidRequest,
    /// The mock itself failed, e.g. a response that does not match the spec.
    Api,
    /// An `Idempotency-Key` was reused with other parameters, or is in use.
    Idempotency,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Api => "api_error",
            ErrorType::Idempotency => "idempotency_error",
        }
    }
}

/// A client-visible failure, rendered by [`ApiError::body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// Stripe's error `type`.
    pub kind: ErrorType,
    /// Stripe's machine-readable `code`, when Stripe gives one.
    pub code: Option<&'static str>,
    /// The human-readable message, Stripe's wording where it is known.
    pub message: String,
    /// The request parameter at fault, in bracket notation (`scope[type]`).
    pub param: Option<String>,
    /// Why, as coverage names it; never sent. Without one, coverage names
    /// the error by its code or type ([`ApiError::outcome`]).
    pub reason: Option<Reason>,
}

/// Stripe shows long strings as their first and last ten characters; the
/// mock does the same for every piece of client input it echoes, so an error
/// body never outgrows the spec's limits.
pub(crate) fn abbreviate(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 20 {
        return s.to_string();
    }
    let head: String = chars[..10].iter().collect();
    let tail: String = chars[chars.len() - 10..].iter().collect();
    format!("{head}...{tail}")
}

/// Client input echoed in a message: whole up to 500 characters, else
/// abbreviated, so no input can push a message past the spec's limits.
pub(crate) fn echo(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= 500 {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(abbreviate(s))
    }
}

/// A parameter name as echoed back: whole unless absurdly long.
pub(crate) fn param_label(name: &str) -> String {
    if name.chars().count() <= 200 {
        name.to_string()
    } else {
        abbreviate(name)
    }
}

impl ApiError {
    /// A 400 `invalid_request_error` with no code.
    pub fn invalid(message: impl Into<String>, param: Option<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: ErrorType::InvalidRequest,
            code: None,
            message: message.into(),
            param,
            reason: None,
        }
    }

    /// Names why (builder style); a reason that always has one status sets
    /// it, so the two cannot disagree.
    pub fn because(mut self, reason: Reason) -> Self {
        if let Some(status) = reason.status() {
            self.status = status;
        }
        self.reason = Some(reason);
        self
    }

    /// What the request came to, for coverage: the reason given, else one
    /// named by the code or type.
    pub fn outcome(&self) -> Outcome {
        let reason = self
            .reason
            .clone()
            .unwrap_or(Reason::Other(self.code.unwrap_or(self.kind.as_str())));
        Outcome::Refused(self.status, reason)
    }

    /// Sets the code (builder style).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Sets the status (builder style), for an error whose reason does not
    /// fix one.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// `Missing required param: X.`
    pub fn missing(param: &str) -> Self {
        let param = &param_label(param);
        Self::invalid(
            format!("Missing required param: {param}."),
            Some(param.into()),
        )
        .with_code("parameter_missing")
        .because(Reason::ParameterMissing(param.into()))
    }

    /// `Received unknown parameter: X`
    pub fn unknown(param: &str) -> Self {
        let param = &param_label(param);
        Self::invalid(
            format!("Received unknown parameter: {param}"),
            Some(param.into()),
        )
        .with_code("parameter_unknown")
        .because(Reason::ParameterUnknown)
    }

    /// `No such secret: 'X'`: `reason` says which (a 404 on find and
    /// delete, a 400 for a list cursor).
    pub fn no_such_secret(what: &str, param: &str, reason: Reason) -> Self {
        Self::invalid(format!("No such secret: '{what}'"), Some(param.into()))
            .with_code("resource_missing")
            .because(reason)
    }

    /// A 500 `api_error`: the mock broke its own contract.
    pub fn internal(message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.len() > 2_000 {
            let cut = (0..=2_000)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push_str("...");
        }
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: ErrorType::Api,
            code: None,
            message,
            param: None,
            reason: None,
        }
    }

    /// An `idempotency_error`, its status from `reason`.
    pub fn idempotency(reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: ErrorType::Idempotency,
            code: None,
            message: message.into(),
            param: None,
            reason: None,
        }
        .because(reason)
    }

    /// `You may only specify one of these parameters: a, b.` (names sorted).
    pub fn only_one_of(params: &[&str]) -> Self {
        let mut names = params.to_vec();
        names.sort_unstable();
        Self::invalid(
            format!(
                "You may only specify one of these parameters: {}.",
                names.join(", ")
            ),
            None,
        )
    }

    /// The 404 for any method and path the spec does not define; a path
    /// with a trailing slash gets Stripe's longer variant.
    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        let hint = if path.len() > 1 && path.ends_with('/') {
            " If you are trying to list objects, remove the trailing slash. If you are trying \
             to retrieve an object, make sure you passed a valid (non-empty) identifier in \
             your code."
        } else {
            ""
        };
        Self::invalid(
            format!(
                "Unrecognized request URL ({}: {}).{hint} Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/.",
                echo(method),
                echo(path)
            ),
            None,
        )
        .with_status(StatusCode::NOT_FOUND)
    }

    /// Renders Stripe's `{"error": {...}}` body, fields in alphabetical
    /// order; `now` (mock clock) ends the request log URL.
    pub fn body(&self, request_id: &str, livemode: bool, now: i64) -> Value {
        let mut error = Map::new();
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        let mode = if livemode { "" } else { "/test" };
        error.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com{mode}/logs/{request_id}?t={now}"
            )),
        );
        error.insert("type".into(), json!(self.kind.as_str()));
        json!({ "error": error })
    }
}

/// Why a mock could not be built or started.
///
/// ```
/// use stripe_secrets_mock::{BuildError, Config, Mock};
///
/// let config = Config { now: Some(-1), ..Config::default() };
/// let Err(BuildError::Clock { start, .. }) = Mock::new(config) else { panic!() };
/// assert_eq!(start, -1);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The OpenAPI document is not JSON, not OpenAPI 3.0, or does not compile.
    Spec(SpecError),
    /// A fixture is unreadable or invalid.
    Fixture(FixtureError),
    /// The listening socket could not be bound.
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The clock's start is outside 1970-01-01 to 9999-12-31.
    Clock {
        /// The start asked for.
        start: i64,
    },
    /// A Stripe App manifest is unreadable or not a manifest.
    Manifest {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Spec(e) => write!(f, "the OpenAPI document cannot be served: {e}"),
            BuildError::Fixture(e) => e.fmt(f),
            BuildError::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
            BuildError::Clock { start } => write!(
                f,
                "the clock cannot start at {start}: {}",
                ClockError::OutOfRange
            ),
            BuildError::Manifest { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spec(e) => Some(e),
            BuildError::Fixture(e) => Some(e),
            BuildError::Bind { source, .. } => Some(source),
            BuildError::Clock { .. } | BuildError::Manifest { .. } => None,
        }
    }
}

/// Why an OpenAPI document cannot be served: not JSON, not OpenAPI 3.0, a
/// construct the mock does not support, or a schema that does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(pub(crate) String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// Why a contract check (reading a transcript, `verify`, the proxy) could
/// not run. A step that fails is not an error: it is in the report.
#[derive(Debug)]
#[non_exhaustive]
pub enum ContractError {
    /// The text is not a transcript this build reads (not JSON of that
    /// shape, another `object`, another version).
    Transcript(String),
    /// A `--ca-cert` file could not be read, or holds no usable certificate.
    CaCert {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// TLS could not be set up.
    Tls(String),
    /// A `--target` or `--upstream` that is not an `http://` or `https://`
    /// base URL.
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The proxy's record file could not be written.
    Record {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContractError::Transcript(e) => write!(f, "not a usable transcript: {e}"),
            ContractError::CaCert { path, reason } => {
                write!(f, "--ca-cert {}: {reason}", path.display())
            }
            ContractError::Tls(e) => write!(f, "TLS setup: {e}"),
            ContractError::Url { url, reason } => write!(f, "{url:?} is not a base URL: {reason}"),
            ContractError::Record { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for ContractError {}

impl From<FixtureError> for BuildError {
    fn from(e: FixtureError) -> Self {
        BuildError::Fixture(e)
    }
}

/// A fixture problem, as `SOURCE: POINTER: RULE`
/// (`fixtures/a.json: /secrets/3/scope/type: must be one of account, user`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureError(pub(crate) String);

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_input_is_abbreviated() {
        assert_eq!(abbreviate("short"), "short");
        let s = format!("{}{}", "é".repeat(15), "z".repeat(15));
        assert_eq!(
            abbreviate(&s),
            format!("{}...{}", "é".repeat(10), "z".repeat(10))
        );
        let e = ApiError::unknown(&"k".repeat(100_000));
        assert_eq!(
            e.message,
            "Received unknown parameter: kkkkkkkkkk...kkkkkkkkkk"
        );
        assert!(ApiError::internal("x".repeat(50_000)).message.len() < 2_010);
    }

    #[test]
    fn doc_url_uses_dashes_and_log_url_follows_mode() {
        let body = ApiError::missing("name").body("req_1", false, 1_700_000_000);
        assert_eq!(
            body["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/parameter-missing"
        );
        assert_eq!(
            body["error"]["request_log_url"],
            "https://dashboard.stripe.com/test/logs/req_1?t=1700000000"
        );
        let live = ApiError::invalid("x", None).body("req_2", true, 5);
        assert_eq!(
            live["error"]["request_log_url"],
            "https://dashboard.stripe.com/logs/req_2?t=5"
        );
        assert!(live["error"].get("doc_url").is_none());
        assert!(live["error"].get("code").is_none());
    }
}
