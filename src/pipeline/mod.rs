//! The request pipeline, free of HTTP plumbing: an owned [`MockRequest`] in,
//! an owned [`MockResponse`] out (or `None`: close the connection).
//!
//! A request on a Stripe path goes through named steps:
//! 1. [`plan`] (before any wait): the injected fault that applies, and the
//!    `Idempotency-Key` marked in flight while a delay runs;
//! 2. [`Prepared::new`], with no lock held: route, authenticate, decode,
//!    validate, fingerprint, the journal's copy of the parameters, the
//!    request half of its transcript interaction, and the parameters as
//!    coverage names them;
//! 3. [`run`], under the request's own partition lock only: expiry, the
//!    request id, the idempotency lookup, faults, the operation, the
//!    response check (undoing the change if it fails), the idempotency save,
//!    the journal entry (with the answer's parts, its body shared with the
//!    response) and the coverage count (the journal and the counts each
//!    behind their own short lock);
//! 4. after every lock is released: log lines, and forgetting partitions
//!    that no longer hold anything.
//!
//! The order of the checks is the contract of docs/behaviour.md §5–6:
//! route, authentication, idempotency (a replay comes before any fault),
//! a fault injected before execution, parameters, the operation.
//!
//! Control paths (`/_mock/`) are validated against the control spec and
//! dispatched to `control::endpoints`, without authentication or journal.

pub(crate) mod check;
mod exchange;
mod input;
pub(crate) mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::contract::coverage;
use crate::control::endpoints::{self, Reply, PREFIX};
use crate::control::faults::{Fault, FaultKind};
use crate::control::journal::{params_json, shorten, Answered, Exchange, Record};
use crate::error::ApiError;
use crate::openapi::spec::Operation;
use crate::openapi::validate;
use crate::secrets::api::{self, Ctx, Done};
use crate::secrets::auth::{self, App};
use crate::secrets::idempotency::{fingerprint, Saved};
use crate::secrets::store::{Partition, PartitionKey};
use crate::state::{lock, State};

use input::{bad_header, body_text, control_input, decode};
pub(crate) use request::{BodyError, MockRequest, MockResponse, Streamed};

/// What to do before serving a request: from [`plan`].
#[derive(Default)]
pub(crate) struct Plan {
    /// The injected fault that applies, if any.
    pub fault: Option<Fault>,
    /// How long to wait first.
    pub delay: Duration,
    /// Marks the request's idempotency key in flight while it lives.
    in_flight: Option<InFlight>,
}

/// Holds an (app, `Idempotency-Key`) in flight; dropping it (the request
/// finished, or its client went away) releases it.
struct InFlight {
    /// Where the in-flight set lives.
    state: Arc<State>,
    /// The partition of the request.
    key: PartitionKey,
    /// The key it holds.
    idem: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.state.idempotency).release(&self.key, &self.idem);
    }
}

/// Decides, before a request is served, whether an injected fault applies
/// and how long to wait. A delayed POST with an `Idempotency-Key` is marked
/// in flight until the returned plan drops.
pub(crate) fn plan(state: &Arc<State>, req: &MockRequest) -> Plan {
    // Faults are for API requests: never spent on a control request or a
    // browser's preflight.
    if req.path.starts_with(PREFIX) || req.method == "OPTIONS" {
        return Plan::default();
    }
    let op = state
        .spec
        .route(&req.method, &req.path)
        .map(|o| o.id.as_str());
    let app = auth::authenticate(req.authorization.as_deref(), &state.config.api_keys).ok();
    let key = app.as_ref().map(|a| a.key.as_str());
    let Some(fault) = lock(&state.faults).take(op, key) else {
        return Plan::default();
    };
    let mut in_flight = None;
    if let (Some(app), Some(idem), true) = (&app, &req.idempotency_key, fault.delay_ms > 0) {
        let key = PartitionKey::new(&app.key, req.stripe_account.as_deref());
        if req.method == "POST" && lock(&state.idempotency).hold(&key, idem) {
            in_flight = Some(InFlight {
                state: state.clone(),
                key,
                idem: idem.clone(),
            });
        }
    }
    Plan {
        delay: Duration::from_millis(fault.delay_ms),
        fault: Some(fault),
        in_flight,
    }
}

/// [`serve`], but a panic anywhere in it (a bug: none is known) answers that
/// request with a 500 `api_error` instead of dropping the connection, and
/// the server goes on serving: locks left poisoned are taken over as they
/// are (see `state::lock`).
pub(crate) fn serve_guarded(state: &State, req: &MockRequest, plan: &Plan) -> Option<MockResponse> {
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(state, req, plan)));
    served.unwrap_or_else(|_| {
        let request_id = state.anonymous_request_id();
        let error = ApiError::internal(
            "The mock failed while serving this request (a bug in the mock; its stderr has the \
             details). It goes on serving other requests.",
        );
        let body = check::render(&error.body(&request_id, false, state.clock.now()));
        Some(respond(state, req, 500, body, request_id, Vec::new()))
    })
}

/// Serves one request as `plan` says (its delay already waited out).
/// `None`: close the connection without answering.
pub(crate) fn serve(state: &State, req: &MockRequest, plan: &Plan) -> Option<MockResponse> {
    if req.method == "OPTIONS" {
        return Some(preflight(state, req));
    }
    if req.path.starts_with(PREFIX) {
        return Some(control(state, req));
    }
    let prepared = Prepared::new(state, req);
    let gate = state.enter();
    let served = match &prepared.partition {
        Some(key) => {
            let cell = state.partition(key);
            state.change(&cell, |partition| {
                run(state, prepared, plan, Some(partition))
            })
        }
        None => run(state, prepared, plan, None),
    };
    drop(gate);
    if let Some(v) = &served.violation {
        check::log_violation(&served.request_id, v);
    }
    state.forget_idle(served.released);
    let (status, body, headers) = served.answer?;
    Some(respond(
        state,
        req,
        status,
        body,
        served.request_id,
        headers,
    ))
}

/// A request's inputs, worked out before any lock is taken.
struct Prepared<'a> {
    /// The request.
    req: &'a MockRequest,
    /// The operation the spec routes it to.
    op: Option<&'a Operation>,
    /// The caller, or the 401 it gets.
    app: Result<App, ApiError>,
    /// The caller's partition.
    partition: Option<PartitionKey>,
    /// From the API key.
    livemode: bool,
    /// Decoded, coerced and validated input, or the first error.
    input: Result<Value, ApiError>,
    /// `Idempotency-Key` of a POST.
    idempotency_key: Option<&'a str>,
    /// Fingerprint of method, path and parameters, for a keyed POST.
    fingerprint: u64,
    /// The parameters as the journal keeps them.
    params: Option<Box<RawValue>>,
    /// The request half of its transcript interaction, as JSON text.
    request_half: Box<str>,
    /// The parameters as coverage names them (valid input only).
    covered: Vec<String>,
}

impl<'a> Prepared<'a> {
    fn new(state: &'a State, req: &'a MockRequest) -> Self {
        let op = state.spec.route(&req.method, &req.path);
        let app = auth::authenticate(req.authorization.as_deref(), &state.config.api_keys);
        let partition = app
            .as_ref()
            .ok()
            .filter(|_| !account_too_long(req))
            .map(|a| PartitionKey::new(&a.key, req.stripe_account.as_deref()));
        let livemode = app.as_ref().is_ok_and(|a| a.livemode);
        let idempotency_key = req
            .idempotency_key
            .as_deref()
            .filter(|_| req.method == "POST");
        let decoded = body_text(req).and_then(|body| decode(&req.query, body));
        let fingerprint = match idempotency_key {
            Some(_) => fingerprint(&req.method, &req.path, decoded.as_ref().ok()),
            None => 0,
        };
        let params = decoded.as_ref().ok().map(params_json);
        let sent = decoded
            .as_ref()
            .ok()
            .and_then(|v| serde_json::value::to_raw_value(v).ok());
        let request_half = exchange::request_text(req, op.map(|o| o.id.as_str()), sent.as_deref());
        let input = match op {
            Some(op) => decoded.and_then(|mut v| validate::check(op, &mut v).map(|()| v)),
            None => decoded,
        };
        let covered = match (op, &input) {
            (Some(op), Ok(v)) => coverage::sent_parameters(op, v),
            _ => Vec::new(),
        };
        Prepared {
            req,
            op,
            app,
            partition,
            livemode,
            input,
            idempotency_key,
            fingerprint,
            params,
            request_half,
            covered,
        }
    }
}

/// Status, body and extra headers.
type Answer = (u16, Bytes, Vec<(&'static str, String)>);

/// What [`run`] came to.
struct Served {
    /// What to send; `None` to close the connection.
    answer: Option<Answer>,
    /// The request's id.
    request_id: String,
    /// A spec violation of the response, to log.
    violation: Option<String>,
    /// Partitions that lost their last saved answer or journal entry.
    released: Vec<PartitionKey>,
}

/// How far a request got before it was answered.
enum Execution {
    /// A saved answer to replay.
    Replay(Saved),
    /// Refused before the operation started (nothing changed, nothing saved).
    Refused(ApiError),
    /// The operation ran.
    Ran(Result<Done, ApiError>),
}

/// The locked part of a request: everything between the lookup and the
/// journal entry. `partition` is the caller's, locked (`None` without a
/// valid key).
fn run(
    state: &State,
    mut prepared: Prepared<'_>,
    plan: &Plan,
    mut partition: Option<&mut Partition>,
) -> Served {
    #[cfg(test)]
    if prepared.req.path == tests::PANIC_PATH {
        panic!("test-only trigger: a panic with the partition lock held");
    }
    let now = state.clock.now();
    let through = state.clock.high_water();
    let request_id = match partition.as_deref_mut() {
        Some(p) => {
            p.purge(through);
            p.ids.request_id()
        }
        None => state.anonymous_request_id(),
    };
    let req = prepared.req;
    let fault = plan.fault.as_ref();
    let mut released = Vec::new();
    let mut entry = Record {
        object: "mock.request",
        at: now,
        request_id: &request_id,
        method: shorten(&req.method),
        path: shorten(&req.path),
        operation: prepared.op.map(|o| o.id.as_str()),
        app: prepared.app.as_ref().ok().map(|a| auth::mask(&a.key)),
        account: req
            .stripe_account
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(shorten),
        params: prepared.params.take(),
        status: None,
        object_id: None,
        fault: fault.map(Fault::describe),
        replayed: false,
        partition: prepared.partition.clone(),
        exchange: None,
    };
    let request_half = std::mem::take(&mut prepared.request_half);
    let unanswered = |request: Box<str>, fault: &Option<String>| Exchange {
        request,
        response: None,
        fault: fault.clone(),
    };
    let closes =
        |after: bool| fault.is_some_and(|f| f.kind == FaultKind::Close && f.after == after);
    let record = |entry: Record<'_>, outcome: String, released: &mut Vec<PartitionKey>| {
        let op = entry.operation;
        {
            let mut journal = lock(&state.journal);
            journal.record(entry);
            released.extend(journal.take_released());
        }
        lock(&state.coverage).count(op, outcome, &prepared.covered);
    };
    if closes(false) {
        entry.exchange = Some(unanswered(request_half, &entry.fault));
        record(entry, INJECTED_CLOSE.into(), &mut released);
        return Served {
            answer: None,
            request_id,
            violation: None,
            released,
        };
    }

    let execution = execute(
        state,
        &prepared,
        plan,
        partition.as_deref_mut(),
        now,
        through,
    );
    let finish = |result| {
        let strict = state.config.strict;
        check::finish(
            &state.spec,
            strict,
            prepared.op,
            result,
            &request_id,
            prepared.livemode,
            now,
        )
    };
    let mut headers = Vec::new();
    let mut violation = None;
    // A keyed POST echoes its key and names the request that first executed
    // it: itself, or on a replay the first (docs/behaviour.md §6).
    if let Some(idem) = prepared.idempotency_key {
        headers.push(("idempotency-key", idem.to_string()));
        let original = match &execution {
            Execution::Replay(saved) => saved.request_id.clone(),
            _ => request_id.clone(),
        };
        headers.push(("original-request", original));
    }
    let mut outcome;
    let (mut status, mut body) = match execution {
        Execution::Replay(saved) => {
            headers.push(("idempotent-replayed", "true".to_string()));
            entry.replayed = true;
            entry.object_id = saved.object_id.clone();
            outcome = format!("{} replayed", saved.status);
            (saved.status, saved.body.to_string())
        }
        Execution::Refused(e) => {
            outcome = e.outcome_key();
            let checked = finish(Err(e));
            violation = checked.violation;
            (checked.status, check::render(&checked.body))
        }
        Execution::Ran(result) => {
            let (result, undo) = match result {
                Ok(done) => (Ok(done.body), Some(done.undo)),
                Err(e) => (Err(e), None),
            };
            outcome = match &result {
                Ok(body) if body.get("has_more") == Some(&Value::Bool(true)) => {
                    "200 has_more".into()
                }
                Ok(_) => "200".into(),
                Err(e) => e.outcome_key(),
            };
            let checked = finish(result);
            if checked.replaced {
                outcome = "500 spec_violation".into();
            }
            if let (true, Some(undo), Some(p)) = (checked.replaced, undo, &mut partition) {
                p.undo(undo);
            }
            let text = check::render(&checked.body);
            entry.object_id = object_id(checked.status, &checked.body);
            // Stripe saves the answer of any request that started executing;
            // parameter errors (400) are not saved.
            if let (Some(idem), Some(key), false, false) = (
                prepared.idempotency_key,
                &prepared.partition,
                checked.replaced,
                checked.status == 400,
            ) {
                let saved = Saved {
                    fingerprint: prepared.fingerprint,
                    status: checked.status,
                    body: text.as_str().into(),
                    object_id: entry.object_id.clone(),
                    request_id: request_id.clone(),
                    at: now,
                };
                let mut store = lock(&state.idempotency);
                store.save(key, idem, saved);
                released.extend(store.take_released());
            }
            violation = checked.violation;
            (checked.status, text)
        }
    };
    if closes(true) {
        entry.exchange = Some(unanswered(request_half, &entry.fault));
        record(entry, INJECTED_CLOSE.into(), &mut released);
        return Served {
            answer: None,
            request_id,
            violation,
            released,
        };
    }
    if let Some(f) = fault {
        if let (FaultKind::Status(injected), true) = (&f.kind, f.after) {
            let error = f.error(*injected);
            outcome = error.outcome_key();
            let checked = finish(Err(error));
            (status, body) = (checked.status, check::render(&checked.body));
            violation = violation.or(checked.violation);
        }
        if let (FaultKind::Status(_), Some(retry)) = (&f.kind, f.should_retry) {
            headers.push(("stripe-should-retry", retry.to_string()));
        }
    }
    entry.status = Some(status);
    if status != 200 {
        entry.object_id = None;
    }
    let body = Bytes::from(body);
    let stripe_version = req.stripe_version.as_ref().unwrap_or(&state.spec.version);
    let mut kept = Vec::with_capacity(headers.len() + 2);
    kept.push(("request-id", request_id.clone()));
    kept.push(("stripe-version", stripe_version.clone()));
    kept.extend(headers.iter().cloned());
    entry.exchange = Some(Exchange {
        request: request_half,
        response: Some(Answered {
            status,
            headers: kept,
            body: body.clone(),
        }),
        fault: entry.fault.clone(),
    });
    record(entry, outcome, &mut released);
    Served {
        answer: Some((status, body, headers)),
        request_id,
        violation,
        released,
    }
}

/// Route, authentication, idempotency, a fault before execution,
/// parameters, then the operation: the first that stops the request wins.
fn execute(
    state: &State,
    prepared: &Prepared<'_>,
    plan: &Plan,
    partition: Option<&mut Partition>,
    now: i64,
    through: i64,
) -> Execution {
    let req = prepared.req;
    let Some(op) = prepared.op else {
        return Execution::Refused(ApiError::unrecognized_url(&req.method, &req.path));
    };
    if let Some(name) = req.bad_header {
        return Execution::Refused(bad_header(name));
    }
    if account_too_long(req) {
        return Execution::Refused(ApiError::invalid(
            format!(
                "Invalid Stripe-Account header: an account id is at most {MAX_ACCOUNT_CHARS} \
                 characters."
            ),
            None,
        ));
    }
    if let Err(e) = &prepared.app {
        return Execution::Refused(e.clone());
    }
    let (Some(key), Some(partition)) = (&prepared.partition, partition) else {
        return Execution::Refused(ApiError::internal(
            "An authenticated request has no partition.",
        ));
    };
    if let Some(idem) = prepared.idempotency_key {
        let mut store = lock(&state.idempotency);
        store.purge(through);
        let held = plan
            .in_flight
            .as_ref()
            .is_some_and(|f| &f.key == key && f.idem == idem);
        match store.check(key, idem, prepared.fingerprint, held) {
            Err(e) => return Execution::Refused(e),
            Ok(Some(saved)) => return Execution::Replay(saved),
            Ok(None) => {}
        }
    }
    if let Some(f) = plan.fault.as_ref().filter(|f| !f.after) {
        if let FaultKind::Status(status) = f.kind {
            return Execution::Refused(f.error(status));
        }
    }
    let input = match &prepared.input {
        Ok(v) => v,
        Err(e) => return Execution::Refused(e.clone()),
    };
    let ctx = Ctx {
        partition,
        now,
        livemode: prepared.livemode,
        max_per_scope: state.config.max_secrets_per_scope,
        totals: &state.totals,
    };
    Execution::Ran(api::dispatch(op, input, ctx))
}

/// The longest `Stripe-Account` accepted. Stripe's account ids are `acct_`
/// and 16 characters; the bound keeps a header from naming a partition
/// with kilobytes (it is written into every export of that partition).
const MAX_ACCOUNT_CHARS: usize = 255;

fn account_too_long(req: &MockRequest) -> bool {
    req.stripe_account
        .as_ref()
        .is_some_and(|a| a.len() > MAX_ACCOUNT_CHARS)
}

/// The coverage outcome of a connection closed by an injected fault.
const INJECTED_CLOSE: &str = "closed injected_fault";

/// The `id` of a 200 response's object, for the journal.
fn object_id(status: u16, body: &Value) -> Option<String> {
    (status == 200)
        .then(|| body.get("id").and_then(Value::as_str).map(String::from))
        .flatten()
}

/// With `--control-token`, a control request must carry `Authorization:
/// Bearer <token>`.
fn check_control_token(state: &State, req: &MockRequest) -> Result<(), ApiError> {
    let Some(token) = &state.config.control_token else {
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
    .with_status(401))
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
    respond(state, req, 200, "{}\n", request_id, headers)
}

/// A control request: validated against the control spec and dispatched;
/// its answer checked against the control spec (a listing item by item, as
/// it is written).
fn control(state: &State, req: &MockRequest) -> MockResponse {
    let op = state.control.route(&req.method, &req.path);
    let request_id = state.control_request_id();
    let result = (|| {
        if let Some(name) = req.bad_header {
            return Err(bad_header(name));
        }
        check_control_token(state, req)?;
        let op = op.ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
        let mut input = control_input(op, req)?;
        validate::check(op, &mut input)?;
        endpoints::dispatch(state, op, &input)
    })();
    let finish = |result| {
        check::finish(
            &state.control,
            state.config.strict,
            op,
            result,
            &request_id,
            false,
            state.clock.now(),
        )
    };
    let (listing, result) = match result {
        Ok(Reply::Listing(listing)) => {
            let envelope = listing.envelope.clone();
            (Some(listing), Ok(envelope))
        }
        Ok(Reply::Object(v)) => (None, Ok(v)),
        Err(e) => (None, Err(e)),
    };
    let mut checked = finish(result);
    let mut streamed = None;
    if let (Some(listing), false) = (listing, checked.replaced) {
        let item_schema = listing.item_schema;
        let strict = state.config.strict;
        let mut lenient_violation = None;
        let measured = check::measure(&listing, |item| {
            let Some(v) = state
                .control
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
            lenient_violation.get_or_insert(v);
            Ok(())
        });
        let violation = match measured {
            Ok((len, count)) => {
                streamed = Some(Streamed {
                    len,
                    pieces: Box::new(check::chunks(listing, count)),
                });
                lenient_violation
            }
            Err(v) => Some(v),
        };
        if let Some(v) = violation {
            let message = format!(
                "The mock's response does not match the OpenAPI spec ({}, an item of \
                 {item_schema}): {v}",
                op.map_or("control", |o| o.id.as_str())
            );
            if strict {
                streamed = None;
                checked = finish(Err(ApiError::internal(message.clone())));
            }
            checked.violation = Some(message);
        }
    }
    if let Some(v) = &checked.violation {
        check::log_violation(&request_id, v);
    }
    let body = match streamed {
        Some(_) => String::new(),
        None => check::render(&checked.body),
    };
    let mut response = respond(state, req, checked.status, body, request_id, Vec::new());
    response.streamed = streamed;
    response
}

fn respond(
    state: &State,
    req: &MockRequest,
    status: u16,
    body: impl Into<Bytes>,
    request_id: String,
    headers: Vec<(&'static str, String)>,
) -> MockResponse {
    MockResponse {
        status,
        request_id,
        headers,
        stripe_version: req
            .stripe_version
            .clone()
            .unwrap_or_else(|| state.spec.version.clone()),
        body: body.into(),
        streamed: None,
    }
}
