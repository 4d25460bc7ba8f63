//! The request half of a transcript interaction (the shape of
//! `record::transcript::Interaction`), written as JSON text before any
//! lock is taken. Under the lock the journal only stores it beside the
//! answer's parts (`record::journal::Exchange`); the whole interaction is
//! put together when a transcript is asked for.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::pipeline::request::MockRequest;
use crate::record::pretty::{self, Written};
use crate::record::transcript::REQUEST_HEADERS;

/// Longest raw query or body kept (bytes) when the parameters could not be
/// decoded; past it the text is cut and a note says how much was left out.
const MAX_RAW_BYTES: usize = 16 << 10;

#[derive(Serialize)]
struct RequestOut<'a> {
    method: &'a str,
    path: &'a str,
    headers: BTreeMap<&'static str, &'a str>,
    params: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct Half<'a> {
    operation: Option<&'a str>,
    request: RequestOut<'a>,
}

/// `{"operation": …, "request": {…}}` as JSON text, with its length as a
/// transcript writes it. `params` are the
/// decoded parameters as sent (`None`: they could not be decoded, and the
/// raw query and body are kept instead).
pub(crate) fn request_text(
    req: &MockRequest,
    operation: Option<&str>,
    params: Option<&Value>,
) -> Written {
    let mut headers = BTreeMap::new();
    // In the order of REQUEST_HEADERS.
    let sent = [
        &req.authorization,
        &req.content_type,
        &req.idempotency_key,
        &req.stripe_account,
        &req.stripe_context,
        &req.ui_extension_user,
        &req.stripe_version,
    ];
    for (name, value) in REQUEST_HEADERS.into_iter().zip(sent) {
        if let Some(v) = value {
            headers.insert(name, v.as_str());
        }
    }
    let raw = params.is_none();
    let half = Half {
        operation,
        request: RequestOut {
            method: &req.method,
            path: &req.path,
            headers,
            params,
            query: raw.then(|| cut(req.query.as_bytes())),
            body: raw.then(|| match &req.body {
                Ok(b) => cut(b),
                Err(_) => Cow::Borrowed(""),
            }),
        },
    };
    // Two levels deep in a transcript (`interactions`, then the interaction).
    pretty::to_string(&half, 2)
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
