//! Step 3 of an API request, under its partition lock: one [`Answer`]
//! carried through named steps, in the order of docs/behaviour.md §5–6,
//! and its journal entry made once, in its turn (written after the lock is
//! released).

use hyper::body::Bytes;
use hyper::StatusCode;

use crate::body::Body;
use crate::error::ApiError;
use crate::openapi::spec::Operation;
use crate::ops::OpKind;
use crate::outcome::{Outcome, Reason};
use crate::record::coverage;
use crate::record::journal::{shorten, Answered, Record};
use crate::secrets::api::{self, Ctx, Done};
use crate::secrets::auth;
use crate::secrets::context;
use crate::secrets::idempotency::Saved;
use crate::secrets::store::{Partition, PartitionKey};
use crate::state::faults::{Fault, FaultKind};
use crate::state::State;

use super::call::Call;
use super::input::bad_header;
use super::{check, exchange, stripe_version, Plan};

/// What a request is answered with, as the steps shape it.
pub(super) struct Answer {
    /// The status; `None` closes the connection unanswered.
    pub status: Option<StatusCode>,
    /// The body as sent.
    pub body: Bytes,
    /// Headers besides those every response has (set last, by
    /// [`headers`]).
    pub headers: Vec<(&'static str, String)>,
    /// What the request came to.
    pub outcome: Outcome,
    /// The `id` of the object a 200 answered, for the journal.
    pub object_id: Option<String>,
    /// For a replay: the request that first executed it.
    pub replayed_from: Option<String>,
    /// How the answer broke the spec, if it did (logged).
    pub violation: Option<String>,
}

/// What [`run`] came to.
pub(super) struct Served {
    /// The answer.
    pub answer: Answer,
    /// The request's id.
    pub request_id: String,
    /// Partitions that lost their last saved answer.
    pub released: Vec<PartitionKey>,
}

/// A request's journal entry and coverage count, made under its partition
/// lock, written after.
pub(super) struct Recorded {
    entry: Record,
    outcome: Outcome,
    covered: coverage::Sent,
}

impl Recorded {
    /// Journals the entry and counts the outcome. Returns the partitions
    /// that lost their last journal entry.
    pub fn write(self, state: &State) -> Vec<PartitionKey> {
        state.record(self.entry, self.outcome, &self.covered)
    }
}

/// The request's turn: when it is served, and its id.
struct Turn {
    /// The mock clock's second.
    now: i64,
    /// Everything due by this instant is expired (the clock's high water).
    through: i64,
    /// The `Request-Id`.
    request_id: String,
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

/// The locked part of a request. `partition` is the caller's, locked
/// (`None` without a valid key). Its journal entry comes back beside the
/// answer, to be written once the lock is released ([`Recorded::write`]).
pub(super) fn run<'a>(
    state: &State,
    call: Call<'a>,
    plan: &Plan,
    mut partition: Option<&mut Partition>,
) -> (Served, Recorded) {
    #[cfg(test)]
    super::tests::panic_if_asked(call.req);
    let turn = begin(state, partition.as_deref_mut());
    let mut released = Vec::new();
    let mut answer = if plan.closes(false) {
        closed()
    } else {
        let answer = match execute(state, &call, plan, &turn, partition.as_deref_mut()) {
            Execution::Replay(saved) => replay(saved),
            Execution::Refused(e) => checked(state, &call, &turn, Err(e)),
            Execution::Ran(result) => {
                let answer = ran(state, &call, &turn, result, partition);
                released.extend(save(state, &call, &turn, &answer));
                answer
            }
        };
        after_execution(state, &call, &turn, plan, answer)
    };
    answer.headers = headers(&call, plan, &turn, &answer);
    let recorded = record(state, call, plan, &turn, &answer);
    let served = Served {
        answer,
        request_id: turn.request_id,
        released,
    };
    (served, recorded)
}

/// The clock, expiry in the partition, and the request id (from the
/// partition's stream, or the anonymous one).
fn begin(state: &State, partition: Option<&mut Partition>) -> Turn {
    let now = state.clock().now();
    let through = state.clock().high_water();
    let request_id = match partition {
        Some(p) => {
            p.purge(through);
            p.ids.request_id()
        }
        None => state.anonymous_request_id(),
    };
    Turn {
        now,
        through,
        request_id,
    }
}

/// Route, authentication, idempotency, a fault before execution,
/// parameters, then the operation: the first that stops the request wins.
fn execute(
    state: &State,
    call: &Call<'_>,
    plan: &Plan,
    turn: &Turn,
    partition: Option<&mut Partition>,
) -> Execution {
    let (op, key, partition) = match admit(state, call, partition) {
        Ok(admitted) => admitted,
        Err(e) => return Execution::Refused(e),
    };
    if let Some(idem) = call.idempotency_key {
        let held = plan.holds_its_key();
        match state.check_idempotency(key, idem, call.fingerprint, held, turn.through) {
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
    let input = match &call.input {
        Ok(v) => v,
        Err(e) => return Execution::Refused(e.clone()),
    };
    let Some(OpKind::Api(kind)) = op.kind else {
        return Execution::Refused(ApiError::internal(format!(
            "The mock does not implement the operation {}.",
            op.id
        )));
    };
    let ctx = Ctx {
        partition,
        now: turn.now,
        livemode: call.livemode,
        max_per_scope: state.config().max_secrets_per_scope,
        totals: state.totals(),
        caller: &call.caller,
    };
    Execution::Ran(api::dispatch(kind, op, input, ctx))
}

/// The route, the headers, the caller and its permission: the operation,
/// the caller's partition key and its locked partition, or the error that
/// stops it.
fn admit<'c, 'p>(
    state: &State,
    call: &Call<'c>,
    partition: Option<&'p mut Partition>,
) -> Result<(&'c Operation, &'c PartitionKey, &'p mut Partition), ApiError> {
    let req = call.req;
    let Some(op) = call.op else {
        return Err(ApiError::unrecognized_url(&req.method, &req.path));
    };
    if let Some(name) = req.bad_header {
        return Err(bad_header(name));
    }
    if let Some(version) = &req.stripe_version {
        let strict = state.config().strict_version_check;
        context::check_version(version, &state.spec().version, strict)?;
    }
    let account = call.account.as_ref().map_err(ApiError::clone)?;
    let app = call.app.as_ref().map_err(ApiError::clone)?;
    if !state.permitted(&app.key) {
        return Err(context::permission_missing(account.as_deref()));
    }
    match (call.partition, partition) {
        (Some(key), Some(partition)) => Ok((op, key, partition)),
        _ => Err(ApiError::internal(
            "An authenticated request has no partition.",
        )),
    }
}

/// A saved answer, as it was sent.
fn replay(saved: Saved) -> Answer {
    Answer {
        status: Some(saved.status),
        body: Bytes::from(saved.body.to_string()),
        headers: Vec::new(),
        outcome: Outcome::Replayed(saved.status),
        object_id: saved.object_id,
        replayed_from: Some(saved.request_id),
        violation: None,
    }
}

/// An operation's result, checked; a change it made is undone if its
/// answer was replaced for breaking the spec.
fn ran(
    state: &State,
    call: &Call<'_>,
    turn: &Turn,
    result: Result<Done, ApiError>,
    partition: Option<&mut Partition>,
) -> Answer {
    let (result, undo) = match result {
        Ok(done) => (Ok((done.body.into(), done.outcome)), Some(done.undo)),
        Err(e) => (Err(e), None),
    };
    let answer = checked(state, call, turn, result);
    if let (true, Some(undo), Some(p)) = (replaced(&answer), undo, partition) {
        p.undo(undo);
    }
    answer
}

/// A result rendered as Stripe renders it and checked against the spec
/// (in strict mode, one that breaks it becomes a 500 naming why).
fn checked(
    state: &State,
    call: &Call<'_>,
    turn: &Turn,
    result: Result<(Body, Outcome), ApiError>,
) -> Answer {
    let outcome = match &result {
        Ok((_, outcome)) => outcome.clone(),
        Err(e) => e.outcome(),
    };
    let result = result.map(|(body, _)| body);
    let spec = state.spec();
    let (id, livemode) = (&turn.request_id, call.livemode);
    let c = check::finish(
        spec,
        state.config().strict,
        call.op,
        result,
        id,
        livemode,
        turn.now,
    );
    let outcome = match c.replaced {
        true => Outcome::Refused(StatusCode::INTERNAL_SERVER_ERROR, Reason::SpecViolation),
        false => outcome,
    };
    let object_id = (c.status == StatusCode::OK)
        .then(|| c.body.id().map(String::from))
        .flatten();
    Answer {
        status: Some(c.status),
        body: Bytes::from(c.body.render()),
        headers: Vec::new(),
        outcome,
        object_id,
        replayed_from: None,
        violation: c.violation,
    }
}

/// Whether the answer was replaced for breaking the spec.
fn replaced(answer: &Answer) -> bool {
    matches!(answer.outcome, Outcome::Refused(_, Reason::SpecViolation))
}

/// Saves a keyed POST's answer for replay, if its outcome is one Stripe
/// saves. Returns the partitions that lost their last saved answer.
fn save(state: &State, call: &Call<'_>, turn: &Turn, answer: &Answer) -> Vec<PartitionKey> {
    let (Some(idem), Some(key), Some(status)) =
        (call.idempotency_key, call.partition, answer.status)
    else {
        return Vec::new();
    };
    if !answer.outcome.saved_for_replay() {
        return Vec::new();
    }
    let saved = Saved {
        fingerprint: call.fingerprint,
        status,
        body: String::from_utf8_lossy(&answer.body).into(),
        object_id: answer.object_id.clone(),
        request_id: turn.request_id.clone(),
        at: turn.now,
    };
    state.save_answer(key, idem, saved)
}

/// An injected fault after execution: the connection closed, or the
/// answer replaced by the fault's status.
fn after_execution(
    state: &State,
    call: &Call<'_>,
    turn: &Turn,
    plan: &Plan,
    answer: Answer,
) -> Answer {
    if plan.closes(true) {
        // Without a status nothing sends, saves or records the body.
        return Answer {
            status: None,
            outcome: Outcome::Closed,
            ..answer
        };
    }
    let Some(fault) = plan.fault.as_ref().filter(|f| f.after) else {
        return answer;
    };
    let FaultKind::Status(status) = fault.kind else {
        return answer;
    };
    let injected = checked(state, call, turn, Err(fault.error(status)));
    Answer {
        violation: answer.violation.or(injected.violation),
        replayed_from: answer.replayed_from,
        ..injected
    }
}

/// The connection closed before anything ran.
fn closed() -> Answer {
    Answer {
        status: None,
        body: Bytes::new(),
        headers: Vec::new(),
        outcome: Outcome::Closed,
        object_id: None,
        replayed_from: None,
        violation: None,
    }
}

/// The headers the steps add: a keyed POST echoes its key and names the
/// request that first executed it (itself, or on a replay the first);
/// a status fault may say whether to retry (docs/behaviour.md §6, §9).
fn headers(
    call: &Call<'_>,
    plan: &Plan,
    turn: &Turn,
    answer: &Answer,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(idem) = call.idempotency_key {
        headers.push(("idempotency-key", idem.to_string()));
        let original = answer.replayed_from.as_ref().unwrap_or(&turn.request_id);
        headers.push(("original-request", original.clone()));
    }
    if answer.replayed_from.is_some() {
        headers.push(("idempotent-replayed", "true".to_string()));
    }
    if let Some(fault) = &plan.fault {
        if let (FaultKind::Status(_), Some(retry)) = (&fault.kind, fault.should_retry) {
            headers.push(("stripe-should-retry", retry.to_string()));
        }
    }
    headers
}

/// The journal entry and the coverage count, made once from the call and
/// its answer, in the request's turn.
fn record<'a>(
    state: &State,
    call: Call<'a>,
    plan: &Plan,
    turn: &Turn,
    answer: &Answer,
) -> Recorded {
    let req = call.req;
    let fault = plan.fault.as_ref().map(Fault::describe);
    let response = answer.status.map(|status| {
        let mut headers = vec![
            ("request-id", turn.request_id.clone()),
            ("stripe-version", stripe_version(state, req).to_string()),
        ];
        headers.extend(answer.headers.iter().cloned());
        Answered {
            status: status.as_u16(),
            headers,
            body: answer.body.clone(),
        }
    });
    let entry = Record {
        at: turn.now,
        request_id: turn.request_id.clone(),
        method: req.method.clone(),
        path: req.path.clone(),
        operation: call.op.map(|o| o.id.as_str().into()),
        app: call.app.as_ref().ok().map(|a| auth::mask(&a.key)),
        account: match call.account {
            Ok(account) => account.as_deref(),
            Err(_) => req
                .stripe_context
                .as_deref()
                .or(req.stripe_account.as_deref()),
        }
        .filter(|a| !a.is_empty())
        .map(|a| shorten(a).into_owned()),
        sent: call.sent,
        headers: exchange::headers(req),
        response,
        object_id: answer.object_id.clone(),
        fault,
        replayed: answer.replayed_from.is_some(),
        partition: call.partition.cloned(),
        turn: state.journal_turn(),
    };
    Recorded {
        entry,
        outcome: answer.outcome.clone(),
        covered: call.covered,
    }
}
