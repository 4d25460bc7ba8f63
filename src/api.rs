//! The four Secret Store operations, as plain functions from validated input
//! to a response object. Schema rules (required, types, lengths, enums) were
//! already enforced from the spec; what is here is the behaviour the spec
//! cannot express (BEHAVIOUR.md §3–4).

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::spec::{Operation, HIDDEN_UNLESS_EXPANDED};
use crate::store::{Cursor, Partition, Scope, ScopeError, Secret, SetError};

/// How far ahead `expires_at` may be: 100 years of 365.25 days.
const MAX_EXPIRY_AHEAD: i64 = 36_525 * 86_400;

/// What an operation needs besides its input.
pub(crate) struct Ctx<'a> {
    /// The caller's partition.
    pub partition: &'a mut Partition,
    /// The mock clock's current second.
    pub now: i64,
    /// From the API key.
    pub livemode: bool,
    /// The per-scope secret limit.
    pub max_per_scope: usize,
}

/// Runs the operation `op` on validated `input`.
pub(crate) fn dispatch(op: &Operation, input: &Value, ctx: Ctx<'_>) -> Result<Value, ApiError> {
    let expand = expansions(op, input)?;
    match op.id.as_str() {
        "postAppsSecrets" => set(input, &expand, ctx),
        "getAppsSecretsFind" => find(input, &expand, ctx),
        "postAppsSecretsDelete" => delete(input, &expand, ctx),
        "getAppsSecrets" => list(op, input, &expand, ctx),
        other => Err(ApiError::internal(format!(
            "The mock does not implement the operation {other}."
        ))),
    }
}

/// The validated `expand[]` values; each must be expandable on this
/// operation's result.
fn expansions(op: &Operation, input: &Value) -> Result<Vec<String>, ApiError> {
    let values: Vec<String> = input
        .get("expand")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = values.iter().find(|v| !op.expandable.contains(*v)) {
        return Err(ApiError::invalid(
            format!("This property cannot be expanded ({bad})."),
            Some("expand".into()),
        ));
    }
    Ok(values)
}

fn str_of<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `scope[type]` and `scope[user]` as a [`Scope`].
fn scope(input: &Value) -> Result<Scope, ApiError> {
    let scope = &input["scope"];
    Scope::parse(
        scope["type"].as_str(),
        scope.get("user").and_then(Value::as_str),
    )
    .map_err(|e| match e {
        ScopeError::MissingUser => ApiError::missing("scope[user]"),
        ScopeError::UnexpectedUser => ApiError::invalid(
            "You cannot specify `scope[user]` unless `scope[type]` is `user`.",
            Some("scope[user]".into()),
        ),
    })
}

fn set(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Value, ApiError> {
    let scope = scope(input)?;
    let expires_at = input.get("expires_at").and_then(Value::as_i64);
    if let Some(at) = expires_at {
        if at <= ctx.now {
            return Err(ApiError::invalid(
                format!(
                    "The parameter `expires_at` expects a unix timestamp representing a date \
                     and time in the future. You specified the value `{at}` which is in the past."
                ),
                Some("expires_at".into()),
            ));
        }
        if at - ctx.now > MAX_EXPIRY_AHEAD {
            return Err(ApiError::invalid(
                format!(
                    "The parameter `expires_at` must be at most 100 years in the future. You \
                     specified the value `{at}`."
                ),
                Some("expires_at".into()),
            ));
        }
    }
    let name = str_of(input, "name").to_string();
    let payload = str_of(input, "payload").to_string();
    let secret = ctx
        .partition
        .set(scope, name, payload, expires_at, ctx.now, ctx.max_per_scope)
        .map_err(|SetError::ScopeFull(max)| {
            ApiError::invalid(
                format!(
                    "You have reached the maximum of {max} secrets for this scope. Delete a \
                     secret or replace an existing name instead."
                ),
                Some("name".into()),
            )
        })?;
    Ok(render(&secret, ctx.livemode, &show(expand, ""), false))
}

fn find(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Value, ApiError> {
    let scope = scope(input)?;
    let name = str_of(input, "name");
    let secret = ctx
        .partition
        .find(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", 404))?;
    Ok(render(secret, ctx.livemode, &show(expand, ""), false))
}

fn delete(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Value, ApiError> {
    let scope = scope(input)?;
    let name = str_of(input, "name");
    let secret = ctx
        .partition
        .delete(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", 404))?;
    Ok(render(&secret, ctx.livemode, &show(expand, ""), true))
}

fn list(op: &Operation, input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Value, ApiError> {
    let scope = scope(input)?;
    let after = input.get("starting_after").and_then(Value::as_str);
    let before = input.get("ending_before").and_then(Value::as_str);
    let cursor = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
                None,
            ))
        }
        (Some(id), None) => Some(Cursor::StartingAfter(id)),
        (None, Some(id)) => Some(Cursor::EndingBefore(id)),
        (None, None) => None,
    };
    let param = if after.is_some() {
        "starting_after"
    } else {
        "ending_before"
    };
    let default_limit = op.request_schema["properties"]["limit"]["default"]
        .as_u64()
        .unwrap_or(10);
    let limit = input
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(default_limit) as usize;
    let (page, has_more) = ctx
        .partition
        .page(&scope, limit, cursor)
        .map_err(|id| ApiError::no_such_secret(id, param, 400))?;
    let shown = show(expand, "data.");
    let data: Vec<Value> = page
        .into_iter()
        .map(|s| render(s, ctx.livemode, &shown, false))
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "has_more": has_more,
        "url": op.path,
    }))
}

/// The hidden fields that `expand` asks to show, for objects at `prefix`.
fn show<'a>(expand: &'a [String], prefix: &str) -> Vec<&'a str> {
    expand
        .iter()
        .filter_map(|e| e.strip_prefix(prefix))
        .filter(|f| HIDDEN_UNLESS_EXPANDED.contains(f))
        .collect()
}

/// A secret as Stripe returns it, in Stripe's field order.
fn render(s: &Secret, livemode: bool, show: &[&str], deleted: bool) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(s.id));
    obj.insert("object".into(), json!("apps.secret"));
    obj.insert("created".into(), json!(s.created));
    if deleted {
        obj.insert("deleted".into(), json!(true));
    }
    obj.insert("expires_at".into(), json!(s.expires_at));
    obj.insert("livemode".into(), json!(livemode));
    obj.insert("name".into(), json!(s.name));
    if show.contains(&"payload") {
        obj.insert("payload".into(), json!(s.payload));
    }
    obj.insert("scope".into(), s.scope.to_json());
    Value::Object(obj)
}
