//! Control requests (`/_mock/`) and CORS preflights: validated against the
//! control spec, dispatched to `control::endpoints`, answered without
//! authentication or journal.

use hyper::StatusCode;

use crate::control::endpoints::{self, Reply};
use crate::error::ApiError;
use crate::openapi::spec::Operation;
use crate::openapi::validate;
use crate::ops::{ControlOp, OpKind};
use crate::state::State;

use crate::body::{self, Listing};

use super::check;
use super::input::{bad_header, control_input};
use super::request::{MockRequest, MockResponse, Streamed};
use super::respond;

/// Answers a control request or a preflight.
pub(super) fn serve(state: &State, req: &MockRequest) -> MockResponse {
    if req.method == "OPTIONS" {
        return preflight(state, req);
    }
    let op = state.control().route(&req.method, &req.path);
    let request_id = state.control_request_id();
    let finish = |result| {
        let now = state.clock().now();
        check::finish(
            state.control(),
            state.config().strict,
            op,
            result,
            &request_id,
            false,
            now,
        )
    };
    let (mut checked, listing) = match dispatch(state, op, req) {
        Ok(Reply::Page(html)) => return page(state, req, html, request_id),
        Ok(Reply::Listing(listing)) => (finish(Ok(listing.envelope.clone().into())), Some(listing)),
        Ok(Reply::Object(v)) => (finish(Ok(v.into())), None),
        Err(e) => (finish(Err(e)), None),
    };
    let mut streamed = None;
    if let (Some(listing), false) = (listing, checked.replaced) {
        let name = op.map_or("control", |o| o.id.as_str());
        match stream(state, name, listing) {
            Ok((pieces, violation)) => {
                streamed = Some(pieces);
                checked.violation = violation;
            }
            Err(violation) => {
                checked = finish(Err(ApiError::internal(violation.clone())));
                checked.violation = Some(violation);
            }
        }
    }
    if let Some(v) = &checked.violation {
        check::log_violation(&request_id, v);
    }
    let body = match streamed {
        Some(_) => String::new(),
        None => checked.body.render(),
    };
    let mut response = respond(state, req, checked.status, body, request_id, Vec::new());
    response.streamed = streamed;
    response
}

/// The token, the route, the input, then the endpoint.
fn dispatch(state: &State, op: Option<&Operation>, req: &MockRequest) -> Result<Reply, ApiError> {
    if let Some(name) = req.bad_header {
        return Err(bad_header(name));
    }
    // The inspector's page holds no data: every call it makes sends the
    // token, so the page itself is served without one.
    let page = op.is_some_and(|o| o.kind == Some(OpKind::Control(ControlOp::Inspector)));
    if !page {
        check_control_token(state, req)?;
    }
    let op = op.ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
    let mut input = control_input(op, req)?;
    validate::check(op, &mut input)?;
    endpoints::dispatch(state, op, &input)
}

/// A listing checked item by item against its component schema and
/// measured, ready to be written in pieces; with the first violation found
/// when not strict. In strict mode a violation is the error.
fn stream(state: &State, op: &str, listing: Listing) -> Result<(Streamed, Option<String>), String> {
    let item_schema = listing.item_schema;
    let strict = state.config().strict;
    let mut lenient = None;
    let measured = body::measure(&listing, |item| {
        let Some(v) = state
            .control()
            .violations(item_schema, item)
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        let v = format!("{}: {}", v.pointer, v.rule);
        if strict {
            return Err(v);
        }
        lenient.get_or_insert(v);
        Ok(())
    });
    let say = |v: String| {
        format!(
            "The mock's response does not match the OpenAPI spec ({op}, an item of \
             {item_schema}): {v}"
        )
    };
    let (len, count) = measured.map_err(say)?;
    let pieces = Box::new(body::chunks(listing, count));
    Ok((Streamed { len, pieces }, lenient.map(say)))
}

/// The inspector's page, as HTML (its spec response is `text/html`, a
/// string: there is no JSON to check).
fn page(state: &State, req: &MockRequest, html: &'static str, request_id: String) -> MockResponse {
    let mut response = respond(state, req, StatusCode::OK, html, request_id, Vec::new());
    response.content_type = "text/html; charset=utf-8";
    response
}

/// With `--control-token`, a control request must carry `Authorization:
/// Bearer <token>`.
fn check_control_token(state: &State, req: &MockRequest) -> Result<(), ApiError> {
    let Some(token) = &state.config().control_token else {
        return Ok(());
    };
    let sent = req
        .authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if sent == Some(token.as_str()) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "This mock's control endpoints need its control token: send Authorization: Bearer \
         <token>, with the token it was started with (--control-token).",
        None,
    )
    .with_status(StatusCode::UNAUTHORIZED))
}

/// A CORS preflight, on any path: 200, the CORS headers every response
/// carries (added at the edge), the request headers the browser asked to
/// send allowed, and an empty JSON object. Not journaled.
fn preflight(state: &State, req: &MockRequest) -> MockResponse {
    let mut headers = Vec::new();
    if let Some(asked) = &req.cors_request_headers {
        headers.push(("access-control-allow-headers", asked.clone()));
    }
    let request_id = state.control_request_id();
    respond(state, req, StatusCode::OK, "{}\n", request_id, headers)
}
