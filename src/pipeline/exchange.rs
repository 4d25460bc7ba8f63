//! The request's side of its journal entry, taken before any lock: the
//! headers a transcript keeps and the parameters as sent (the shape of
//! `record::transcript::TranscriptRequest`). The journal holds them beside
//! the answer (`record::journal::Record`) and writes them only when it is
//! read.

use serde_json::Value;

use crate::pipeline::request::MockRequest;
use crate::record::journal::Sent;
use crate::record::transcript::REQUEST_HEADERS;

/// The headers of [`REQUEST_HEADERS`] that `req` sent, in that order.
pub(crate) fn headers(req: &MockRequest) -> Vec<(&'static str, String)> {
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
    REQUEST_HEADERS
        .into_iter()
        .zip(sent)
        .filter_map(|(name, value)| Some((name, value.clone()?)))
        .collect()
}

/// The parameters as sent: `params` decoded (`None`: they could not be, and
/// the raw query and body are kept instead).
pub(crate) fn sent(req: &MockRequest, params: Option<&Value>) -> Sent {
    match params {
        Some(params) => Sent::params(params),
        None => Sent::raw(
            req.query.as_bytes(),
            req.body.as_deref().unwrap_or_default(),
        ),
    }
}
