//! Step 2 of an API request: everything worked out from the request alone,
//! before any lock is taken.

use serde_json::Value;

use crate::error::ApiError;
use crate::openapi::form;
use crate::openapi::shape::Shape;
use crate::openapi::spec::Operation;
use crate::openapi::validate;
use crate::record::coverage;
use crate::record::journal::Sent;
use crate::secrets::auth::App;
use crate::secrets::context::Caller;
use crate::secrets::idempotency::fingerprint;
use crate::secrets::store::PartitionKey;

use super::exchange;
use super::input::{body_text, decode};
use super::request::MockRequest;
use super::Route;

/// An API request's inputs, ready for the locked steps.
pub(super) struct Call<'a> {
    /// The request.
    pub req: &'a MockRequest,
    /// The operation the spec routes it to.
    pub op: Option<&'a Operation>,
    /// The caller, or the 401 it gets.
    pub app: &'a Result<App, ApiError>,
    /// The account it acts in, or why its headers name none.
    pub account: &'a Result<Option<String>, ApiError>,
    /// The caller's partition.
    pub partition: Option<&'a PartitionKey>,
    /// A backend, or a UI extension for a Dashboard user.
    pub caller: Caller,
    /// From the API key.
    pub livemode: bool,
    /// Decoded, coerced and validated input, or the first error.
    pub input: Result<Value, ApiError>,
    /// `Idempotency-Key` of a POST.
    pub idempotency_key: Option<&'a str>,
    /// Fingerprint of method, path and parameters, for a keyed POST.
    pub fingerprint: u64,
    /// The parameters as sent, for the journal.
    pub sent: Sent,
    /// The parameters as coverage names them (valid input only).
    pub covered: coverage::Sent,
}

impl<'a> Call<'a> {
    /// Decodes and validates `req`, routed by `route`.
    pub fn new(req: &'a MockRequest, route: &'a Route<'a>) -> Self {
        let op = route.op;
        let idempotency_key = req
            .idempotency_key
            .as_deref()
            .filter(|_| req.method == "POST");
        let mut decoded = body_text(req).and_then(|body| decode(&req.query, body));
        // One shape for both array encodings, before anything records it.
        if let (Some(op), Ok(v)) = (op, decoded.as_mut()) {
            form::shape_arrays(v, op.shape(), Shape::ROOT);
        }
        let fingerprint = match idempotency_key {
            Some(_) => fingerprint(&req.method, &req.path, decoded.as_ref().ok()),
            None => 0,
        };
        // As sent, before validation coerces them.
        let sent = exchange::sent(req, decoded.as_ref().ok());
        let input = match op {
            Some(op) => decoded.and_then(|mut v| validate::check(op, &mut v).map(|()| v)),
            None => decoded,
        };
        let covered = match (op, &input) {
            (Some(op), Ok(v)) => coverage::sent_parameters(op, v),
            _ => coverage::Sent::default(),
        };
        Call {
            req,
            op,
            app: &route.app,
            account: &route.account,
            partition: route.partition.as_ref(),
            caller: match &req.ui_extension_user {
                Some(user) => Caller::UiExtension(user.clone()),
                None => Caller::Backend,
            },
            livemode: route.app.as_ref().is_ok_and(|a| a.livemode),
            input,
            idempotency_key,
            fingerprint,
            sent,
            covered,
        }
    }
}
