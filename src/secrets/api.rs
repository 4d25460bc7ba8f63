//! The four Secret Store operations, as plain functions from validated input
//! to a response object. Schema rules (required, types, lengths, enums) were
//! already enforced from the spec; what is here is the behaviour the spec
//! cannot express (docs/behaviour.md §3–4).

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::openapi::spec::{Operation, HIDDEN_UNLESS_EXPANDED};
use crate::secrets::store::{
    Cursor, Limits, Partition, Scope, ScopeError, Secret, SetError, Totals, Undo, MAX_SECRETS,
    MAX_STORED_BYTES,
};

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
    /// What the whole store holds, for its bound.
    pub totals: &'a Totals,
}

/// An operation's answer, and how to take back the change it made.
pub(crate) struct Done {
    /// The response object.
    pub body: Value,
    /// The change, to undo if the response breaks the spec.
    pub undo: Undo,
}

impl From<Value> for Done {
    fn from(body: Value) -> Self {
        Done {
            body,
            undo: Undo::default(),
        }
    }
}

/// Runs the operation `op` on validated `input`.
pub(crate) fn dispatch(op: &Operation, input: &Value, ctx: Ctx<'_>) -> Result<Done, ApiError> {
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
        )
        .outcome("expand_invalid"));
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
        ScopeError::MissingUser => ApiError::missing("scope[user]").outcome("scope_user_missing"),
        ScopeError::UnexpectedUser => ApiError::invalid(
            "You cannot specify `scope[user]` unless `scope[type]` is `user`.",
            Some("scope[user]".into()),
        )
        .outcome("scope_user_unexpected"),
    })
}

fn set(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
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
            )
            .outcome("expires_at_past"));
        }
        if at.saturating_sub(ctx.now) > MAX_EXPIRY_AHEAD {
            return Err(ApiError::invalid(
                "Invalid timestamp: can be no more than 100 years in the future.",
                Some("expires_at".into()),
            )
            .outcome("expires_at_too_far"));
        }
    }
    let name = str_of(input, "name").to_string();
    let payload = str_of(input, "payload").to_string();
    let (secret, undo) = ctx
        .partition
        .set(
            scope,
            name,
            payload,
            expires_at,
            ctx.now,
            Limits {
                per_scope: ctx.max_per_scope,
                store: ctx.totals,
            },
        )
        .map_err(|e| match e {
            SetError::ScopeFull(max) => ApiError::invalid(
                format!(
                    "You have reached the maximum of {max} secrets for this scope. Delete a \
                     secret or replace an existing name instead."
                ),
                Some("name".into()),
            )
            .outcome("scope_full"),
            SetError::StoreFull => ApiError::invalid(
                format!(
                    "The mock's store is full: it holds at most {MAX_SECRETS} secrets and \
                     {} MiB of names, payloads and users in all (every app and account \
                     together). Delete secrets or reset the mock.",
                    MAX_STORED_BYTES >> 20
                ),
                None,
            )
            .outcome("store_full"),
        })?;
    Ok(Done {
        body: render(&secret, ctx.livemode, &show(expand, ""), false),
        undo,
    })
}

fn find(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(input)?;
    let name = str_of(input, "name");
    let secret = ctx
        .partition
        .find(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", 404).outcome("secret_not_found"))?;
    Ok(render(secret, ctx.livemode, &show(expand, ""), false).into())
}

fn delete(input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(input)?;
    let name = str_of(input, "name");
    let (secret, undo) = ctx
        .partition
        .delete(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", 404).outcome("secret_not_found"))?;
    Ok(Done {
        body: render(&secret, ctx.livemode, &show(expand, ""), true),
        undo,
    })
}

fn list(op: &Operation, input: &Value, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(input)?;
    let after = input.get("starting_after").and_then(Value::as_str);
    let before = input.get("ending_before").and_then(Value::as_str);
    let cursor = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::only_one_of(&["ending_before", "starting_after"])
                .outcome("cursors_conflict"))
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
        .map_err(|id| ApiError::no_such_secret(id, param, 400).outcome("cursor_not_found"))?;
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
    })
    .into())
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
    let payload = json!(s.payload);
    let mut v = render_parts(
        &s.id,
        s.created,
        s.expires_at,
        livemode,
        &json!(s.name),
        show.contains(&"payload").then_some(&payload),
        s.scope.to_json(),
    );
    if deleted {
        if let Value::Object(obj) = &mut v {
            // After `created`, as Stripe orders it.
            obj.shift_insert(3, "deleted".into(), json!(true));
        }
    }
    v
}

/// An `apps.secret` from its parts, in Stripe's field order (alphabetical
/// after `id` and `object`); `payload` only when given. The fixture loader
/// checks fixture secrets in exactly this shape.
pub(crate) fn render_parts(
    id: &str,
    created: i64,
    expires_at: Option<i64>,
    livemode: bool,
    name: &Value,
    payload: Option<&Value>,
    scope: Value,
) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(id));
    obj.insert("object".into(), json!("apps.secret"));
    obj.insert("created".into(), json!(created));
    obj.insert("expires_at".into(), json!(expires_at));
    obj.insert("livemode".into(), json!(livemode));
    obj.insert("name".into(), name.clone());
    if let Some(p) = payload {
        obj.insert("payload".into(), p.clone());
    }
    obj.insert("scope".into(), scope);
    Value::Object(obj)
}
