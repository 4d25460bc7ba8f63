//! A request's inputs as the pipeline reads them: the body (or why it could
//! not be read), the form-encoded parameters of the query and body, a
//! control request's JSON body, and the errors for each (docs/behaviour.md
//! §1).

use hyper::StatusCode;
use serde_json::Value;

use crate::error::{echo, ApiError};
use crate::openapi::form;
use crate::openapi::spec::Operation;
use crate::outcome::Reason;
use crate::pipeline::request::{
    BodyError, MockRequest, Over, CONNECTION_BODY_BYTES, MAX_BODY, SERVER_BODY_BYTES,
};

/// Query string and form body decoded into one object.
pub(super) fn decode(query: &str, body: &str) -> Result<Value, ApiError> {
    form::decode(&[query, body]).map(Value::Object)
}

/// A control request's input: the query string, plus a JSON object body for
/// operations whose spec takes one, or a form body otherwise.
pub(super) fn control_input(op: &Operation, req: &MockRequest) -> Result<Value, ApiError> {
    if !op.json_body {
        return decode(&req.query, body_text(req)?);
    }
    let mut map = form::decode(&[&req.query])?;
    let body = body_bytes(req)?;
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            format!("Invalid request: the body is not valid JSON ({e})."),
            None,
        )
    })?;
    let Value::Object(fields) = parsed else {
        return Err(ApiError::invalid(
            "Invalid request: the body must be a JSON object.",
            None,
        ));
    };
    map.extend(fields);
    Ok(Value::Object(map))
}

/// A header whose value is not visible ASCII.
pub(super) fn bad_header(name: &str) -> ApiError {
    ApiError::invalid(
        format!("Invalid {name} header: its value must be visible ASCII characters."),
        None,
    )
}

/// The body, or the error for why it could not be read.
fn body_bytes(req: &MockRequest) -> Result<&[u8], ApiError> {
    req.body.as_deref().map_err(BodyError::api_error)
}

impl BodyError {
    /// The answer to a request whose body could not be read: the one
    /// mapping, for the mock and the proxy alike.
    pub(crate) fn api_error(&self) -> ApiError {
        match self {
            BodyError::TooLarge => ApiError::invalid(
                format!(
                    "Request body too large: the mock accepts at most {} MiB.",
                    MAX_BODY >> 20
                ),
                None,
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE),
            BodyError::TimedOut => ApiError::invalid(
                "Invalid request: the request body did not arrive within 10 seconds.",
                None,
            )
            .with_status(StatusCode::REQUEST_TIMEOUT),
            BodyError::Broken(why) => ApiError::invalid(
                format!(
                    "Invalid request: the request body could not be read ({}); it may be \
                     shorter than its Content-Length or malformed.",
                    echo(why)
                ),
                None,
            ),
            BodyError::Busy(over) => ApiError::invalid(
                format!(
                    "Too many requests hit the API too quickly: the mock holds at most {} MiB of \
                     request bodies at once {}. We recommend an exponential backoff of your \
                     requests.",
                    match over {
                        Over::Connection => CONNECTION_BODY_BYTES >> 20,
                        Over::Server => SERVER_BODY_BYTES >> 20,
                    },
                    match over {
                        Over::Connection => "per connection",
                        Over::Server => "in all",
                    },
                ),
                None,
            )
            .with_code("rate_limit")
            .because(Reason::RateLimit),
        }
    }
}

/// The body as form text, refusing other content types (with Stripe's
/// messages: one for JSON, one naming any other type as sent) and oversize
/// bodies.
pub(super) fn body_text(req: &MockRequest) -> Result<&str, ApiError> {
    let body = body_bytes(req)?;
    if body.is_empty() {
        return Ok("");
    }
    if let Some(sent) = req.content_type.as_deref() {
        let media = sent.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::invalid(
                "Invalid request (check that your POST content type is \
                 application/x-www-form-urlencoded). If you have any questions, we can help at \
                 https://support.stripe.com/.",
                None,
            ));
        }
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::invalid(
                format!(
                    "Invalid request: unsupported Content-Type {}. If error persists and you \
                     need assistance, please contact support@stripe.com.",
                    echo(sent)
                ),
                None,
            ));
        }
    }
    std::str::from_utf8(body).map_err(|_| {
        ApiError::invalid(
            "Invalid request: the request body is not valid UTF-8.",
            None,
        )
    })
}
