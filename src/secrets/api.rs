//! The four Secret Store operations, as plain functions from validated input
//! to a response object. Schema rules (required, types, lengths, enums) were
//! already enforced from the spec; what is here is the behaviour the spec
//! cannot express (docs/behaviour.md §3–4).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::body::Json;
use crate::error::ApiError;
use crate::openapi::spec::{Operation, HIDDEN_UNLESS_EXPANDED};
use crate::ops::ApiOp;
use crate::outcome::{Outcome, Reason};
use crate::secrets::context::{self, Caller};
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
    /// Who sends the request (a UI extension reaches fewer scopes).
    pub caller: &'a Caller,
}

/// An operation's answer, what it came to, and how to take back the change
/// it made.
pub(crate) struct Done {
    /// The response object.
    pub body: Json,
    /// [`Outcome::Success`], or [`Outcome::HasMore`] for a page with more.
    pub outcome: Outcome,
    /// The change, to undo if the response breaks the spec.
    pub undo: Undo,
}

impl From<Json> for Done {
    fn from(body: Json) -> Self {
        Done {
            body,
            outcome: Outcome::Success,
            undo: Undo::default(),
        }
    }
}

/// The outcomes operation `op` can come to of its own (besides those every
/// operation shares), in the order the coverage report lists them.
pub(crate) fn outcomes(op: ApiOp) -> Vec<Outcome> {
    let reasons = match op {
        ApiOp::Set => vec![
            Reason::ScopeFull,
            Reason::ExpiresAtPast,
            Reason::ExpiresAtTooFar,
        ],
        ApiOp::Find | ApiOp::Delete => vec![Reason::SecretNotFound],
        ApiOp::List => vec![Reason::CursorNotFound, Reason::CursorsConflict],
    };
    let pages = (op == ApiOp::List).then_some(Outcome::HasMore);
    pages
        .into_iter()
        .chain(reasons.into_iter().filter_map(Outcome::refused))
        .collect()
}

/// Runs operation `op` (the spec's `spec`) on validated `input`.
pub(crate) fn dispatch(
    op: ApiOp,
    spec: &Operation,
    input: &Value,
    ctx: Ctx<'_>,
) -> Result<Done, ApiError> {
    let expand = expansions(spec, input)?;
    match op {
        ApiOp::Set => set(params(input)?, &expand, ctx),
        ApiOp::Find => find(params(input)?, &expand, ctx),
        ApiOp::Delete => delete(params(input)?, &expand, ctx),
        ApiOp::List => list(spec, params(input)?, &expand, ctx),
    }
}

/// `scope[type]` and `scope[user]`, as sent.
#[derive(Deserialize)]
struct ScopeIn {
    #[serde(rename = "type")]
    kind: Option<String>,
    user: Option<String>,
}

/// The parameters of a set.
#[derive(Deserialize)]
struct SetIn {
    name: String,
    payload: String,
    scope: ScopeIn,
    expires_at: Option<i64>,
}

/// The parameters of a find or a delete.
#[derive(Deserialize)]
struct NamedIn {
    name: String,
    scope: ScopeIn,
}

/// The parameters of a list.
#[derive(Deserialize)]
struct ListIn {
    scope: ScopeIn,
    limit: Option<u64>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

/// The operation's parameters, from input the spec has already validated
/// (every length, enum and required field was checked there).
fn params<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    T::deserialize(input).map_err(|e| {
        ApiError::internal(format!(
            "The validated parameters do not fit the operation ({e}): the spec and the mock \
             disagree."
        ))
    })
}

/// The validated `expand[]` values; each must be expandable on this
/// operation's result.
fn expansions(op: &Operation, input: &Value) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct ExpandIn {
        #[serde(default)]
        expand: Vec<String>,
    }
    let values = params::<ExpandIn>(input)?.expand;
    if let Some(bad) = values.iter().find(|v| !op.expandable.contains(*v)) {
        return Err(ApiError::invalid(
            format!("This property cannot be expanded ({bad})."),
            Some("expand".into()),
        )
        .because(Reason::ExpandInvalid));
    }
    Ok(values)
}

/// The sent scope as a [`Scope`], if `caller` may reach it.
fn scope(scope: &ScopeIn, caller: &Caller) -> Result<Scope, ApiError> {
    let parsed =
        Scope::parse(scope.kind.as_deref(), scope.user.as_deref()).map_err(|e| match e {
            ScopeError::MissingUser => {
                ApiError::missing("scope[user]").because(Reason::ScopeUserMissing)
            }
            ScopeError::UnexpectedUser => ApiError::invalid(
                "You cannot specify `scope[user]` unless `scope[type]` is `user`.",
                Some("scope[user]".into()),
            )
            .because(Reason::ScopeUserUnexpected),
        })?;
    context::check_scope(caller, &parsed)?;
    Ok(parsed)
}

fn set(input: SetIn, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(&input.scope, ctx.caller)?;
    if let Some(at) = input.expires_at {
        if at <= ctx.now {
            return Err(ApiError::invalid(
                format!(
                    "The parameter `expires_at` expects a unix timestamp representing a date \
                     and time in the future. You specified the value `{at}` which is in the past."
                ),
                Some("expires_at".into()),
            )
            .because(Reason::ExpiresAtPast));
        }
        if at.saturating_sub(ctx.now) > MAX_EXPIRY_AHEAD {
            return Err(ApiError::invalid(
                "Invalid timestamp: can be no more than 100 years in the future.",
                Some("expires_at".into()),
            )
            .because(Reason::ExpiresAtTooFar));
        }
    }
    let limits = Limits {
        per_scope: ctx.max_per_scope,
        store: ctx.totals,
    };
    let (secret, undo) = ctx
        .partition
        .set(
            scope,
            input.name,
            input.payload,
            input.expires_at,
            ctx.now,
            limits,
        )
        .map_err(|e| match e {
            SetError::ScopeFull(max) => ApiError::invalid(
                format!(
                    "You have reached the maximum of {max} secrets for this scope. Delete a \
                     secret or replace an existing name instead."
                ),
                Some("name".into()),
            )
            .because(Reason::ScopeFull),
            SetError::StoreFull => ApiError::invalid(
                format!(
                    "The mock's store is full: it holds at most {MAX_SECRETS} secrets and \
                     {} MiB of names, payloads and users in all (every app and account \
                     together). Delete secrets or reset the mock.",
                    MAX_STORED_BYTES >> 20
                ),
                None,
            )
            .because(Reason::StoreFull),
        })?;
    Ok(Done {
        body: render(secret, ctx.livemode, &show(expand, ""), false),
        outcome: Outcome::Success,
        undo,
    })
}

fn find(input: NamedIn, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(&input.scope, ctx.caller)?;
    let name = &input.name;
    let secret = ctx
        .partition
        .find(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", Reason::SecretNotFound))?;
    Ok(render(secret, ctx.livemode, &show(expand, ""), false).into())
}

fn delete(input: NamedIn, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(&input.scope, ctx.caller)?;
    let name = &input.name;
    let (secret, undo) = ctx
        .partition
        .delete(&scope, name)
        .ok_or_else(|| ApiError::no_such_secret(name, "name", Reason::SecretNotFound))?;
    Ok(Done {
        body: render(&secret, ctx.livemode, &show(expand, ""), true),
        outcome: Outcome::Success,
        undo,
    })
}

fn list(op: &Operation, input: ListIn, expand: &[String], ctx: Ctx<'_>) -> Result<Done, ApiError> {
    let scope = scope(&input.scope, ctx.caller)?;
    let (after, before) = (
        input.starting_after.as_deref(),
        input.ending_before.as_deref(),
    );
    let (cursor, param) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::only_one_of(&["ending_before", "starting_after"])
                .because(Reason::CursorsConflict))
        }
        (Some(id), None) => (Some(Cursor::StartingAfter(id)), "starting_after"),
        (None, Some(id)) => (Some(Cursor::EndingBefore(id)), "ending_before"),
        (None, None) => (None, "ending_before"),
    };
    let default_limit = op.request_schema["properties"]["limit"]["default"]
        .as_u64()
        .unwrap_or(10);
    let limit = input.limit.unwrap_or(default_limit) as usize;
    let (page, has_more) = ctx
        .partition
        .page(&scope, limit, cursor)
        .map_err(|id| ApiError::no_such_secret(id, param, Reason::CursorNotFound))?;
    let shown = show(expand, "data.");
    let data = page
        .into_iter()
        .map(|s| render(s, ctx.livemode, &shown, false))
        .collect();
    Ok(Done {
        body: Json::Object(vec![
            ("object", Json::Static("list")),
            ("data", Json::Array(data)),
            ("has_more", Json::Bool(has_more)),
            ("url", Json::String(op.path.clone())),
        ]),
        outcome: if has_more {
            Outcome::HasMore
        } else {
            Outcome::Success
        },
        undo: Undo::default(),
    })
}

/// The hidden fields that `expand` asks to show, for objects at `prefix`.
fn show<'a>(expand: &'a [String], prefix: &str) -> Vec<&'a str> {
    expand
        .iter()
        .filter_map(|e| e.strip_prefix(prefix))
        .filter(|f| HIDDEN_UNLESS_EXPANDED.contains(f))
        .collect()
}

/// A secret as Stripe returns it, in Stripe's field order (alphabetical
/// after `id` and `object`; [`render_parts`] is the same shape for the
/// fixture loader, and a test holds the two together).
fn render(s: &Secret, livemode: bool, show: &[&str], deleted: bool) -> Json {
    let mut fields = Vec::with_capacity(9);
    fields.push(("id", Json::String(s.id.clone())));
    fields.push(("object", Json::Static("apps.secret")));
    fields.push(("created", s.created.into()));
    if deleted {
        fields.push(("deleted", Json::Bool(true)));
    }
    fields.push(("expires_at", s.expires_at.into()));
    fields.push(("livemode", Json::Bool(livemode)));
    fields.push(("name", Json::String(s.name.clone())));
    if show.contains(&"payload") {
        fields.push(("payload", Json::String(s.payload.clone())));
    }
    fields.push(("scope", s.scope.to_tree()));
    Json::Object(fields)
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
    // The fixture loader's entries may hold anything, so this shape is
    // built as a `Value` (`render` builds the same for stored secrets).
    let mut obj = Map::with_capacity(8);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use crate::secrets::store::Scope;

    #[test]
    fn a_stored_secret_is_answered_in_the_shape_the_fixture_loader_checks() {
        for scope in [Scope::Account, Scope::User("u".into())] {
            for expires_at in [None, Some(9)] {
                let s = Secret {
                    id: "appsecret_1".into(),
                    name: "n\"".into(),
                    payload: "p".into(),
                    scope: scope.clone(),
                    created: 5,
                    expires_at,
                };
                for (livemode, show) in [(false, vec!["payload"]), (true, vec![])] {
                    let payload = json!(s.payload);
                    let parts = render_parts(
                        &s.id,
                        s.created,
                        s.expires_at,
                        livemode,
                        &json!(s.name),
                        show.contains(&"payload").then_some(&payload),
                        s.scope.to_tree().to_value(),
                    );
                    let tree = render(&s, livemode, &show, false);
                    assert_eq!(tree.render(), body::render(&parts));
                }
            }
        }
    }

    #[test]
    fn a_deleted_secret_says_so_after_created() {
        let s = Secret {
            id: "appsecret_1".into(),
            name: "n".into(),
            payload: "p".into(),
            scope: Scope::Account,
            created: 5,
            expires_at: None,
        };
        let Json::Object(fields) = render(&s, false, &[], true) else {
            panic!("a secret is an object");
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "id",
                "object",
                "created",
                "deleted",
                "expires_at",
                "livemode",
                "name",
                "scope"
            ]
        );
        assert_eq!(fields[3].1, Json::Bool(true));
    }

    #[test]
    fn only_a_list_can_come_to_a_page_with_more() {
        assert_eq!(outcomes(ApiOp::List)[0], Outcome::HasMore);
        for op in [ApiOp::Set, ApiOp::Find, ApiOp::Delete] {
            assert!(!outcomes(op).contains(&Outcome::HasMore), "{op:?}");
        }
        assert_eq!(
            outcomes(ApiOp::Find),
            [Outcome::refused(Reason::SecretNotFound).unwrap()]
        );
    }
}
