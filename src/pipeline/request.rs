//! The owned request and response the pipeline works on, converted once at
//! the HTTP edge (`http::server`).

/// A request as the pipeline sees it.
#[derive(Clone, Debug, Default)]
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
    /// `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// `Access-Control-Request-Headers` of a CORS preflight.
    pub cors_request_headers: Option<String>,
    /// The body, or `None` when it was larger than the edge accepts.
    pub body: Option<Vec<u8>>,
}

/// A response ready to be written.
#[derive(Clone, Debug)]
pub(crate) struct MockResponse {
    /// HTTP status.
    pub status: u16,
    /// `Request-Id` header.
    pub request_id: String,
    /// `Stripe-Version` header.
    pub stripe_version: String,
    /// Further headers (`Idempotent-Replayed`, `Original-Request`,
    /// `Stripe-Should-Retry`).
    pub headers: Vec<(&'static str, String)>,
    /// JSON text.
    pub body: String,
}
