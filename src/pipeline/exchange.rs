//! One request and its answer written as a transcript interaction (the
//! shape of `contract::transcript::Interaction`), as JSON text for the
//! journal. Borrowed from the request and response: nothing is copied but
//! the text itself.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::contract::transcript::REQUEST_HEADERS;
use crate::pipeline::request::MockRequest;

/// Longest raw query or body kept (bytes) when the parameters could not be
/// decoded; past it the text is cut and a note says how much was left out.
const MAX_RAW_BYTES: usize = 16 << 10;

/// A request whose parameters could not be decoded: its raw text.
#[derive(Serialize)]
struct Raw<'a> {
    query: Cow<'a, str>,
    body: Cow<'a, str>,
}

#[derive(Serialize)]
struct RequestOut<'a> {
    method: &'a str,
    path: &'a str,
    headers: BTreeMap<&'static str, &'a str>,
    params: Option<&'a RawValue>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    raw: Option<Raw<'a>>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    status: u16,
    headers: BTreeMap<&'static str, &'a str>,
    body: &'a RawValue,
}

#[derive(Serialize)]
struct InteractionOut<'a> {
    operation: Option<&'a str>,
    request: RequestOut<'a>,
    response: Option<ResponseOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<&'a str>,
}

/// What was answered, borrowed.
pub(crate) struct Answered<'a> {
    /// Status.
    pub status: u16,
    /// `Request-Id`.
    pub request_id: &'a str,
    /// `Stripe-Version`.
    pub stripe_version: &'a str,
    /// Further headers.
    pub headers: &'a [(&'static str, String)],
    /// JSON text.
    pub body: &'a str,
}

/// The interaction's JSON text. `params` are the decoded parameters as sent
/// (`None`: they could not be decoded, and the raw text is kept instead).
pub(crate) fn text(
    req: &MockRequest,
    operation: Option<&str>,
    params: Option<&RawValue>,
    answered: Option<Answered<'_>>,
    fault: Option<&str>,
) -> Box<str> {
    let mut headers = BTreeMap::new();
    // In the order of REQUEST_HEADERS.
    let sent = [
        &req.authorization,
        &req.content_type,
        &req.idempotency_key,
        &req.stripe_account,
        &req.stripe_version,
    ];
    for (name, value) in REQUEST_HEADERS.into_iter().zip(sent) {
        if let Some(v) = value {
            headers.insert(name, v.as_str());
        }
    }
    let raw = params.is_none().then(|| Raw {
        query: cut(req.query.as_bytes()),
        body: match &req.body {
            Ok(b) => cut(b),
            Err(_) => Cow::Borrowed(""),
        },
    });
    // The body was rendered by the mock and is always JSON; a body that is
    // not (none is known) is written as null rather than lost silently.
    let body_json = answered
        .as_ref()
        .and_then(|a| serde_json::from_str::<&RawValue>(a.body.trim_end()).ok());
    let null = RawValue::NULL;
    let response = answered.as_ref().map(|a| {
        let mut h: BTreeMap<&'static str, &str> = BTreeMap::new();
        h.insert("request-id", a.request_id);
        h.insert("stripe-version", a.stripe_version);
        for (name, value) in a.headers {
            h.insert(name, value.as_str());
        }
        ResponseOut {
            status: a.status,
            headers: h,
            body: body_json.unwrap_or(null),
        }
    });
    let out = InteractionOut {
        operation,
        request: RequestOut {
            method: &req.method,
            path: &req.path,
            headers,
            params,
            raw,
        },
        response,
        fault,
    };
    serde_json::to_string(&out)
        .unwrap_or_else(|_| "null".into())
        .into()
}

/// Bytes as text (lossy), cut at [`MAX_RAW_BYTES`] with a note.
fn cut(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.len() <= MAX_RAW_BYTES {
        return String::from_utf8_lossy(bytes);
    }
    let kept = String::from_utf8_lossy(&bytes[..MAX_RAW_BYTES]);
    Cow::Owned(format!(
        "{kept}...[{} more bytes]",
        bytes.len() - MAX_RAW_BYTES
    ))
}
