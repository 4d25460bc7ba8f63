//! The owned request and response the pipeline works on, converted once at
//! the HTTP edge (`http::server`).

/// A request as the pipeline sees it.
#[derive(Clone, Debug)]
pub(crate) struct MockRequest {
    /// Upper-case method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `Stripe-Account` header.
    pub stripe_account: Option<String>,
    /// `Stripe-Context` header.
    pub stripe_context: Option<String>,
    /// The mock-only `Stripe-Mock-UI-Extension-User` header: the request
    /// comes from a UI extension, for this Dashboard user.
    pub ui_extension_user: Option<String>,
    /// `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// `Access-Control-Request-Headers` of a CORS preflight.
    pub cors_request_headers: Option<String>,
    /// The body, or why it could not be read.
    pub body: Result<Vec<u8>, BodyError>,
    /// The first header of those the mock reads (`Authorization`,
    /// `Stripe-Account`, `Stripe-Context`, …) present with a value that is
    /// not visible ASCII
    /// (refused, never taken as absent).
    pub bad_header: Option<&'static str>,
}

/// Why a request body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Declared or found to be over the limit (413).
    TooLarge,
    /// Not sent within the body timeout (408).
    TimedOut,
    /// Cut short or malformed: what the HTTP layer said (400).
    Broken(String),
    /// Holding it would break a bound on body bytes held at once (429).
    Busy(Over),
}

/// Bodies larger than this get a 413.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Request body bytes one connection may hold at once (an HTTP/2
/// connection's streams together), counted by `http::conn`.
pub(crate) const CONNECTION_BODY_BYTES: usize = 4 << 20;

/// Request body bytes the whole server may hold at once.
pub(crate) const SERVER_BODY_BYTES: usize = 64 << 20;

/// Which bound on held body bytes a request would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    /// One connection's ([`CONNECTION_BODY_BYTES`]).
    Connection,
    /// The server's ([`SERVER_BODY_BYTES`]).
    Server,
}

/// A response ready to be written.
pub(crate) struct MockResponse {
    /// HTTP status.
    pub status: hyper::StatusCode,
    /// `Request-Id` header.
    pub request_id: String,
    /// `Stripe-Version` header.
    pub stripe_version: String,
    /// Further headers (`Idempotent-Replayed`, `Original-Request`,
    /// `Stripe-Should-Retry`).
    pub headers: Vec<(&'static str, String)>,
    /// JSON text (shared with the journal's copy); empty when `streamed`.
    pub body: hyper::body::Bytes,
    /// A body written in pieces as the client takes them (a listing), and
    /// its length.
    pub streamed: Option<Streamed>,
    /// `Content-Type`: JSON but for the inspector's page.
    pub content_type: &'static str,
}

/// The `Content-Type` of every answer but the inspector page.
pub(crate) const JSON: &str = "application/json";

/// A body made piece by piece as it is written.
pub(crate) struct Streamed {
    /// Its length in bytes, known beforehand.
    pub len: usize,
    /// The pieces.
    pub pieces: Box<dyn Iterator<Item = hyper::body::Bytes> + Send>,
}

impl Default for MockRequest {
    fn default() -> Self {
        MockRequest {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            authorization: None,
            stripe_account: None,
            stripe_context: None,
            ui_extension_user: None,
            stripe_version: None,
            content_type: None,
            idempotency_key: None,
            cors_request_headers: None,
            body: Ok(Vec::new()),
            bad_header: None,
        }
    }
}
