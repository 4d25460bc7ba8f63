//! The mock-control endpoints under `/_mock/`: health, reset, clock, state
//! export/import and the request journal. Their inputs and outputs are
//! described by `spec/mock_control.openapi.json` and validated like the
//! Stripe paths; this file is only what they do.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::fixtures;
use crate::mock::Core;
use crate::spec::Operation;
use crate::store::Store;

/// The path prefix reserved for control endpoints.
pub(crate) const PREFIX: &str = "/_mock/";

/// Runs control operation `op` on validated `input`, with the store locked.
pub(crate) fn dispatch(
    core: &Core,
    store: &mut Store,
    op: &Operation,
    input: &Value,
) -> Result<Value, ApiError> {
    let str_of = |k: &str| input.get(k).and_then(Value::as_str);
    match op.id.as_str() {
        "mockHealth" => Ok(json!({
            "object": "mock.health",
            "status": "ok",
            "spec_version": core.spec.version,
        })),
        "mockReset" => {
            let account = str_of("account");
            if account.is_some() && str_of("app").is_none() {
                return Err(ApiError::missing("app"));
            }
            Ok(core.reset(store, str_of("app"), account))
        }
        "mockGetClock" => Ok(clock(core)),
        "mockSetClock" => {
            let now = input.get("now").and_then(Value::as_i64);
            let advance = input.get("advance").and_then(Value::as_i64);
            let target = match (now, advance) {
                (Some(t), None) => t,
                (None, Some(d)) => core.clock.now().saturating_add(d),
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid(
                        "You may only specify one of these parameters: advance, now.",
                        None,
                    ))
                }
                (None, None) => {
                    return Err(ApiError::invalid(
                        "You must specify one of these parameters: advance, now.",
                        None,
                    ))
                }
            };
            if !core.move_clock(store, target) {
                return Err(ApiError::invalid(
                    "The mock runs on the system clock, which cannot be moved. Start it \
                     without --system-clock to control time.",
                    None,
                ));
            }
            Ok(clock(core))
        }
        "mockExportState" => Ok(fixtures::export(store, core.clock.now())),
        "mockImportState" => {
            let count = core
                .import(store, input)
                .map_err(|e| ApiError::invalid(format!("Invalid fixture: {e}"), None))?;
            Ok(json!({ "object": "mock.state_import", "secrets": count }))
        }
        "mockListRequests" => {
            let operation = str_of("operation");
            let app = str_of("app");
            let data: Vec<Value> = store
                .journal
                .iter()
                .filter(|r| operation.is_none_or(|o| r.operation.as_deref() == Some(o)))
                .filter(|r| app.is_none_or(|k| r.made_with(k)))
                .map(|r| r.to_json())
                .collect();
            Ok(json!({
                "object": "list",
                "data": data,
                "has_more": false,
                "url": op.path,
            }))
        }
        other => Err(ApiError::internal(format!(
            "The mock does not implement the control operation {other}."
        ))),
    }
}

fn clock(core: &Core) -> Value {
    json!({
        "object": "mock.clock",
        "now": core.clock.now(),
        "kind": if core.config.system_clock { "system" } else { "fake" },
    })
}
