//! The request pipeline, free of HTTP plumbing: an owned [`MockRequest`] in,
//! an owned [`MockResponse`] out (or `None`: close the connection).
//!
//! A request on a Stripe path goes through these steps, each a function:
//! 1. [`plan`], before any wait: the route and the caller, decided once; the
//!    injected fault that applies; the `Idempotency-Key` held in flight
//!    while a delay runs.
//! 2. [`call::Call::new`], with no lock held: decode, validate, fingerprint,
//!    and the parts of the journal entry that come from the request.
//! 3. [`steps::run`], under the request's own partition lock: the order of
//!    docs/behaviour.md §5–6 (route, authentication, idempotency, a fault
//!    before execution, parameters, the operation), the response check,
//!    the idempotency save, a fault after execution; one
//!    [`steps::Answer`] is carried through, and the journal entry and the
//!    coverage count are made once, from it, in the request's turn.
//! 4. With the partition unlocked: the journal entry written (in its turn's
//!    place) and counted; then log lines, and forgetting partitions that no
//!    longer hold anything.
//!
//! Control paths (`/_mock/`) and CORS preflights take [`control`] instead:
//! validated against the control spec, no authentication, no journal.

mod call;
pub(crate) mod check;
mod control;
mod exchange;
mod input;
pub(crate) mod request;
mod steps;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use hyper::StatusCode;

use crate::control::endpoints::PREFIX;
use crate::error::ApiError;
use crate::openapi::spec::Operation;
use crate::secrets::auth::{self, App};
use crate::secrets::context;
use crate::secrets::store::PartitionKey;
use crate::state::faults::{Fault, FaultKind};
use crate::state::State;

pub(crate) use request::{BodyError, MockRequest, MockResponse, Over, Streamed};

/// What to do before serving a request, from [`plan`].
pub(crate) struct Plan<'s> {
    /// Where an API request goes and who sent it (`None` for a control
    /// request or a preflight).
    route: Option<Route<'s>>,
    /// The injected fault that applies, if any.
    pub fault: Option<Fault>,
    /// How long to wait first.
    pub delay: Duration,
    /// Marks the request's idempotency key in flight while it lives.
    in_flight: Option<InFlight>,
}

/// An API request's operation, caller and account, decided once.
struct Route<'s> {
    /// The operation the spec routes it to.
    op: Option<&'s Operation>,
    /// The caller, or the 401 it gets.
    app: Result<App, ApiError>,
    /// The account it acts in (`Stripe-Context` or `Stripe-Account`), or
    /// why its headers name none.
    account: Result<Option<String>, ApiError>,
    /// The caller's partition (`None` without a valid key or account).
    partition: Option<PartitionKey>,
}

impl Plan<'_> {
    /// Whether an injected fault closes the connection, before the
    /// operation runs (`after == false`) or after.
    fn closes(&self, after: bool) -> bool {
        self.fault
            .as_ref()
            .is_some_and(|f| f.kind == FaultKind::Close && f.after == after)
    }

    /// Whether this request holds its `Idempotency-Key` in flight: the only
    /// key a plan ever holds is its own request's, in its own partition
    /// ([`plan`] takes both from that request).
    fn holds_its_key(&self) -> bool {
        self.in_flight.is_some()
    }
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
        self.state.release_in_flight(&self.key, &self.idem);
    }
}

/// Decides, before a request is served, where it goes, whether an injected
/// fault applies and how long to wait. A delayed POST with an
/// `Idempotency-Key` is marked in flight until the returned plan drops.
pub(crate) fn plan<'s>(state: &'s Arc<State>, req: &MockRequest) -> Plan<'s> {
    let mut plan = Plan {
        route: None,
        fault: None,
        delay: Duration::ZERO,
        in_flight: None,
    };
    // Faults are for API requests: never spent on a control request or a
    // browser's preflight.
    if req.path.starts_with(PREFIX) || req.method == "OPTIONS" {
        return plan;
    }
    let app = auth::authenticate(req.authorization.as_deref(), &state.config().api_keys);
    let account = context::account(req.stripe_account.as_deref(), req.stripe_context.as_deref())
        .map(|a| a.map(String::from));
    let partition = match (&app, &account) {
        (Ok(app), Ok(account)) => Some(PartitionKey::new(&app.key, account.as_deref())),
        _ => None,
    };
    let op = state.spec().route(&req.method, &req.path);
    let key = app.as_ref().ok().map(|a| a.key.as_str());
    plan.fault = state.take_fault(op.map(|o| o.id.as_str()), key);
    if let Some(fault) = &plan.fault {
        plan.delay = Duration::from_millis(fault.delay_ms);
        let idem = req
            .idempotency_key
            .as_ref()
            .filter(|_| req.method == "POST");
        if let (Some(key), Some(idem), false) = (&partition, idem, plan.delay.is_zero()) {
            if state.hold_in_flight(key, idem) {
                plan.in_flight = Some(InFlight {
                    state: state.clone(),
                    key: key.clone(),
                    idem: idem.clone(),
                });
            }
        }
    }
    plan.route = Some(Route {
        op,
        app,
        account,
        partition,
    });
    plan
}

/// [`serve`], but a panic anywhere in it (a bug: none is known) answers that
/// request with a 500 `api_error` instead of dropping the connection, and
/// the server goes on serving: locks left poisoned are taken over as they
/// are (see `sync::lock`).
pub(crate) fn serve_guarded(state: &State, req: &MockRequest, plan: &Plan) -> Option<MockResponse> {
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(state, req, plan)));
    served.unwrap_or_else(|_| {
        let request_id = state.anonymous_request_id();
        let error = ApiError::internal(
            "The mock failed while serving this request (a bug in the mock; its stderr has the \
             details). It goes on serving other requests.",
        );
        let body = crate::body::render(&error.body(&request_id, false, state.clock().now()));
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        Some(respond(state, req, status, body, request_id, Vec::new()))
    })
}

/// Serves one request as `plan` says (its delay already waited out).
/// `None`: close the connection without answering.
pub(crate) fn serve(state: &State, req: &MockRequest, plan: &Plan) -> Option<MockResponse> {
    let Some(route) = &plan.route else {
        return Some(control::serve(state, req));
    };
    let call = call::Call::new(req, route);
    let served = {
        let _gate = state.enter();
        let (mut served, recorded) = match &route.partition {
            Some(key) => state.in_partition(key, |p| steps::run(state, call, plan, Some(p))),
            None => steps::run(state, call, plan, None),
        };
        // Written with the partition unlocked (its place was taken under
        // the lock), before the answer goes out, so a client that reads the
        // journal after its answer finds its request there.
        served.released.extend(recorded.write(state));
        served
    };
    if let Some(v) = &served.answer.violation {
        check::log_violation(&served.request_id, v);
    }
    state.forget_idle(served.released);
    let answer = served.answer;
    let status = answer.status?;
    Some(respond(
        state,
        req,
        status,
        answer.body,
        served.request_id,
        answer.headers,
    ))
}

/// The response to send: the edge adds what every response carries.
fn respond(
    state: &State,
    req: &MockRequest,
    status: StatusCode,
    body: impl Into<Bytes>,
    request_id: String,
    headers: Vec<(&'static str, String)>,
) -> MockResponse {
    MockResponse {
        status,
        request_id,
        headers,
        stripe_version: stripe_version(state, req).to_string(),
        body: body.into(),
        streamed: None,
        content_type: request::JSON,
    }
}

/// The `Stripe-Version` a response carries: the request's if the mock
/// serves it, else the spec's.
fn stripe_version<'a>(state: &'a State, req: &'a MockRequest) -> &'a str {
    let spec = &state.spec().version;
    let strict = state.config().strict_version_check;
    req.stripe_version
        .as_deref()
        .filter(|v| context::version_accepted(v, spec, strict))
        .unwrap_or(spec)
}
