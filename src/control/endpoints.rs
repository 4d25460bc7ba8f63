//! The mock-control endpoints under `/_mock/`: health, reset, clock, state
//! export/import and the request journal. Their inputs and outputs are
//! described by `spec/mock_control.openapi.json` and validated like the
//! Stripe paths; this file is only what they do.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::body::Listing;
use crate::clock::ClockError;
use crate::error::ApiError;
use crate::openapi::spec::Operation;
use crate::ops::{ControlOp, OpKind};
use crate::record::journal::Filter;
use crate::record::transcript::Transcript;
use crate::state::faults::Fault;
use crate::state::State;

/// The path prefix reserved for control endpoints.
pub(crate) const PREFIX: &str = "/_mock/";

/// What a control operation answers: one object, or a listing written an
/// item at a time (see [`Listing`]).
pub(crate) enum Reply {
    /// A whole answer.
    Object(Value),
    /// An envelope and its long array.
    Listing(Listing),
    /// An HTML page, embedded in the binary.
    Page(&'static str),
}

/// The inspector (`GET /_mock/ui`): one page, no external assets.
const INSPECTOR: &str = include_str!("inspector.html");

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Object(v)
    }
}

/// The control paths whose answers grow with what the mock holds: at most
/// [`crate::state::EXPORTS`] of them are written at once.
pub(crate) const EXPORT_PATHS: [&str; 3] = ["/_mock/requests", "/_mock/transcript", "/_mock/state"];

/// Runs control operation `op` on validated `input`.
pub(crate) fn dispatch(core: &State, op: &Operation, input: &Value) -> Result<Reply, ApiError> {
    let str_of = |k: &str| input.get(k).and_then(Value::as_str);
    let filter = || Filter {
        operation: str_of("operation"),
        app: str_of("app"),
        account: str_of("account"),
    };
    let Some(OpKind::Control(kind)) = op.kind else {
        return Err(ApiError::internal(format!(
            "The mock does not implement the control operation {}.",
            op.id
        )));
    };
    Ok(match kind {
        ControlOp::ExportState => Reply::Listing(core.export_listing()),
        ControlOp::ListRequests => Reply::Listing(requests(core, op, filter())),
        ControlOp::GetTranscript => Reply::Listing(transcript(core, filter(), str_of("redact"))),
        ControlOp::Health => Reply::from(json!({
            "object": "mock.health",
            "status": "ok",
            "spec_version": core.spec().version,
        })),
        ControlOp::Reset => {
            let account = str_of("account");
            if account.is_some() && str_of("app").is_none() {
                return Err(ApiError::missing("app"));
            }
            Reply::from(core.reset(str_of("app"), account))
        }
        ControlOp::GetClock => Reply::from(clock(core)),
        ControlOp::SetClock => Reply::from(set_clock(core, input)?),
        ControlOp::ImportState => {
            let count = core
                .import(input)
                .map_err(|e| ApiError::invalid(format!("Invalid fixture: {e}"), None))?;
            Reply::from(json!({ "object": "mock.state_import", "secrets": count }))
        }
        ControlOp::AddFault => {
            let fault = fault_from(input)?;
            let shown = fault.to_json();
            core.push_fault(fault)
                .map_err(|e| ApiError::invalid(format!("Invalid fault: {e}."), None))?;
            Reply::from(shown)
        }
        ControlOp::ListFaults => Reply::from(json!({
            "object": "list",
            "data": core.faults().iter().map(Fault::to_json).collect::<Vec<_>>(),
            "has_more": false,
            "url": op.path,
        })),
        ControlOp::GetCoverage => Reply::from(core.coverage().to_json()),
        ControlOp::Inspector => Reply::Page(INSPECTOR),
    })
}

/// `GET /_mock/requests`: the journal entries `filter` keeps.
fn requests(core: &State, op: &Operation, filter: Filter<'_>) -> Listing {
    let records = Arc::new(core.journal_records(filter).0);
    Listing {
        envelope: json!({
            "object": "list",
            "data": [],
            "has_more": false,
            "url": op.path,
        }),
        field: "data",
        item_schema: "mock.request",
        items: Arc::new(move || {
            let records = records.clone();
            Box::new((0..records.len()).map(move |i| records[i].recorded().to_json()))
        }),
    }
}

/// `GET /_mock/transcript`: the interactions `filter` keeps, redacted as
/// `redact` says.
fn transcript(core: &State, filter: Filter<'_>, redact: Option<&str>) -> Listing {
    let (payloads, keys) = match redact {
        Some("payload") => (true, false),
        Some("keys") => (false, true),
        Some("all") => (true, true),
        _ => (false, false),
    };
    let (records, dropped) = core.journal_records(filter);
    let records = Arc::new(records);
    let mut envelope = Transcript::new(core.spec().version.clone());
    envelope.dropped = dropped;
    Listing {
        envelope: envelope.to_json(),
        field: "interactions",
        item_schema: "mock.interaction",
        items: Arc::new(move || {
            let records = records.clone();
            Box::new((0..records.len()).filter_map(move |n| {
                let mut i = records[n].interaction();
                if payloads {
                    i.redact_payloads();
                }
                if keys {
                    i.mask_keys();
                }
                serde_json::to_value(i).ok()
            }))
        }),
    }
}

/// `POST /_mock/clock`: to `now`, or `advance` seconds on.
fn set_clock(core: &State, input: &Value) -> Result<Value, ApiError> {
    let now = input.get("now").and_then(Value::as_i64);
    let advance = input.get("advance").and_then(Value::as_i64);
    let target = match (now, advance) {
        (Some(t), None) => t,
        (None, Some(d)) => core.clock().now().saturating_add(d),
        (Some(_), Some(_)) => return Err(ApiError::only_one_of(&["advance", "now"])),
        (None, None) => {
            return Err(ApiError::invalid(
                "You must specify one of these parameters: advance, now.",
                None,
            ))
        }
    };
    let param = if now.is_some() { "now" } else { "advance" };
    match core.move_clock(target) {
        Ok(()) => Ok(clock(core)),
        Err(e @ ClockError::System) => Err(ApiError::invalid(
            format!("The clock cannot be moved: {e}."),
            None,
        )),
        Err(e @ ClockError::OutOfRange) => Err(ApiError::invalid(
            format!("Invalid {param}: {e}."),
            Some(param.into()),
        )),
    }
}

/// A fault from the (validated) form of `POST /_mock/faults`.
fn fault_from(input: &Value) -> Result<Fault, ApiError> {
    let int = |k: &str| input.get(k).and_then(Value::as_i64);
    let flag = |k: &str| input.get(k).and_then(Value::as_bool);
    let mut fault = match (int("status"), flag("close").unwrap_or(false)) {
        (Some(_), true) => return Err(ApiError::only_one_of(&["close", "status"])),
        (Some(status), false) => Fault::status(u16::try_from(status).unwrap_or(0)),
        (None, true) => Fault::close(),
        (None, false) => Fault::delay(0),
    };
    fault = fault.with_delay(int("delay_ms").unwrap_or(0).max(0) as u64);
    fault = fault.times(u32::try_from(int("count").unwrap_or(1)).unwrap_or(u32::MAX));
    if let Some(op) = input.get("operation").and_then(Value::as_str) {
        fault = fault.operation(op);
    }
    if let Some(app) = input.get("app").and_then(Value::as_str) {
        fault = fault.app(app);
    }
    if flag("after") == Some(true) {
        fault = fault.after_execution();
    }
    if let Some(retry) = flag("should_retry") {
        fault = fault.should_retry(retry);
    }
    fault
        .check()
        .map_err(|e| ApiError::invalid(format!("Invalid fault: {e}."), None))?;
    Ok(fault)
}

fn clock(core: &State) -> Value {
    json!({
        "object": "mock.clock",
        "now": core.clock().now(),
        "kind": if core.config().system_clock { "system" } else { "fake" },
    })
}
