//! The last step of every request: the result rendered as Stripe renders it,
//! and checked against the spec's schema for its operation and status. In
//! strict mode a response that breaks the spec becomes a 500 `api_error`
//! naming the violation (the caller then undoes the request's change).

use hyper::StatusCode;

use crate::body::Body;
use crate::error::ApiError;
use crate::openapi::spec::{Operation, Spec};

/// A result, rendered and checked.
pub(crate) struct Checked {
    /// The status to send.
    pub status: StatusCode,
    /// The body to send.
    pub body: Body,
    /// How the rendered result broke the spec, if it did (logged).
    pub violation: Option<String>,
    /// Whether the violation replaced the result with a 500 (strict mode):
    /// the request's change must be undone and nothing saved.
    pub replaced: bool,
}

/// Renders `result` (an operation's object or an error) and checks it
/// against `spec`: the operation's schema for the status, or the document's
/// error schema when no operation was routed.
pub(crate) fn finish(
    spec: &Spec,
    strict: bool,
    op: Option<&Operation>,
    result: Result<Body, ApiError>,
    request_id: &str,
    livemode: bool,
    now: i64,
) -> Checked {
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => (e.status, Body::Value(e.body(request_id, livemode, now))),
    };
    let check = match (op, &body) {
        (Some(op), Body::Tree(tree)) => op.validate_response(status.as_u16(), tree),
        (Some(op), Body::Value(value)) => op.validate_response(status.as_u16(), value),
        (None, Body::Tree(tree)) => spec.validate_error(tree),
        (None, Body::Value(value)) => spec.validate_error(value),
    };
    let Err(violation) = check else {
        return Checked {
            status,
            body,
            violation: None,
            replaced: false,
        };
    };
    let what = op.map_or("error", |o| o.id.as_str());
    let message = format!(
        "The mock's response does not match the OpenAPI spec ({what}, status {}): {violation}",
        status.as_u16()
    );
    if !strict {
        return Checked {
            status,
            body,
            violation: Some(message),
            replaced: false,
        };
    }
    Checked {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: Body::Value(ApiError::internal(message.clone()).body(request_id, livemode, now)),
        violation: Some(message),
        replaced: true,
    }
}

/// Longest log line about one response, in characters: a hostile request
/// must not turn into a flood on stderr.
const MAX_LOG_CHARS: usize = 300;

/// Writes one short line about a spec violation to stderr, through the
/// logger that never blocks. Called with no lock held.
pub(crate) fn log_violation(request_id: &str, message: &str) {
    let line = match message.char_indices().nth(MAX_LOG_CHARS) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    };
    crate::log::line(format!("stripe-secrets-mock: {request_id}: {line}"));
}
