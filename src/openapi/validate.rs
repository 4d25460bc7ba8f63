//! Request validation: decoded, coerced input checked against the operation's
//! compiled schema, and every violation mapped to the Stripe error a client
//! would get. When a request has several problems, one is reported, chosen by
//! a fixed rank and then by parameter name, so the same request always gets
//! the same error.

use serde_json::Value;

use crate::error::{abbreviate, param_label, ApiError};
use crate::openapi::form;
use crate::openapi::rules::{Failure, Kind, Ty};
use crate::openapi::shape::Shape;
use crate::openapi::spec::Operation;
use crate::outcome::Reason;

/// Coerces decoded input by the operation's schema, in place, and validates
/// it; the first error by rank is the one reported.
pub(crate) fn check(op: &Operation, input: &mut Value) -> Result<(), ApiError> {
    let mut found = Vec::new();
    form::coerce(input, op.shape(), Shape::ROOT, "", &mut found);
    let mut ranked: Vec<(u8, ApiError)> = found.into_iter().map(|e| (RANK_TYPE, e)).collect();
    for error in op.request_errors(input).map_err(ApiError::internal)? {
        ranked.extend(to_api_errors(&error));
    }
    // Stable sort: a coercion error outranks the schema's type error for the
    // same parameter because it was pushed first.
    ranked.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| a.param.cmp(&b.param)));
    match ranked.into_iter().next() {
        Some((_, e))
            if e.code == Some("parameter_missing") || e.code == Some("parameter_unknown") =>
        {
            Err(e)
        }
        Some((_, e)) => Err(e.because(Reason::ParameterInvalid)),
        None => Ok(()),
    }
}

const RANK_UNKNOWN: u8 = 0;
const RANK_MISSING: u8 = 1;
const RANK_TYPE: u8 = 2;
const RANK_ENUM: u8 = 3;
const RANK_RANGE: u8 = 4;
const RANK_OTHER: u8 = 5;

/// `/scope/type` → `scope[type]`.
fn param_name(pointer: &str) -> String {
    let mut out = String::new();
    for (i, seg) in pointer.split('/').skip(1).enumerate() {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if i == 0 {
            out.push_str(&seg);
        } else {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        }
    }
    out
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}[{child}]")
    }
}

fn to_api_errors(error: &Failure) -> Vec<(u8, ApiError)> {
    let param = param_label(&param_name(&error.at));
    let instance = &error.instance;
    let one = |rank, e| vec![(rank, e)];
    match &error.kind {
        Kind::Unknown(unexpected) => unexpected
            .iter()
            .map(|name| (RANK_UNKNOWN, ApiError::unknown(&join(&param, name))))
            .collect(),
        Kind::Missing(name) => one(RANK_MISSING, ApiError::missing(&join(&param, name))),
        Kind::Type(types) => {
            let expected = types
                .iter()
                .copied()
                .find(|t| *t != Ty::Null)
                .unwrap_or(Ty::Null);
            one(RANK_TYPE, invalid_type(expected, instance, &param))
        }
        Kind::Enum(options) => {
            let names: Vec<String> = options
                .iter()
                .filter(|v| !v.is_null())
                .map(display)
                .collect();
            one(
                RANK_ENUM,
                ApiError::invalid(
                    format!("Invalid {param}: must be one of {}", one_of(&names)),
                    Some(param.clone()),
                ),
            )
        }
        Kind::MaxLength(limit) => {
            let s = instance.as_str().unwrap_or_default();
            one(
                RANK_RANGE,
                ApiError::invalid(
                    format!(
                        "Invalid string: {}; must be at most {limit} characters",
                        abbreviate(s)
                    ),
                    Some(param.clone()),
                ),
            )
        }
        Kind::Minimum(limit) => one(
            RANK_RANGE,
            range_error(
                format!("This value must be greater than or equal to {limit}."),
                &param,
            ),
        ),
        Kind::Maximum(limit) => one(
            RANK_RANGE,
            range_error(
                format!("This value must be less than or equal to {limit}."),
                &param,
            ),
        ),
        _ => one(
            RANK_OTHER,
            ApiError::invalid(
                format!("Invalid {param}: {}", error.message),
                Some(param.clone()),
            ),
        ),
    }
}

fn range_error(message: String, param: &str) -> ApiError {
    ApiError::invalid(message, Some(param.to_string())).with_code("parameter_invalid_integer")
}

fn invalid_type(expected: Ty, instance: &Value, param: &str) -> ApiError {
    let word = match expected {
        Ty::Object => "hash",
        Ty::Array => "array",
        Ty::Integer => "integer",
        Ty::Number => "decimal",
        Ty::Boolean => "boolean",
        Ty::String => "string",
        Ty::Null => "null",
    };
    // Stripe echoes a scalar that should have been a scalar of another
    // type, never one that should have been an array.
    let message = match instance {
        Value::String(s) if expected != Ty::Array => {
            format!("Invalid {word}: {}", abbreviate(s))
        }
        _ => format!("Invalid {word}"),
    };
    let error = ApiError::invalid(message, Some(param.to_string()));
    if expected == Ty::Integer {
        error.with_code("parameter_invalid_integer")
    } else {
        error
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `a or b`; `a, b, or c` (Stripe's enum wording).
fn one_of(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_bracket_params() {
        assert_eq!(param_name("/scope/type"), "scope[type]");
        assert_eq!(param_name("/expand/0"), "expand[0]");
        assert_eq!(param_name("/a~1b"), "a/b");
        assert_eq!(param_name(""), "");
    }

    use serde_json::json;

    use crate::openapi::spec::Spec;

    /// What `check` refuses `input` to the bundled operation `id` with:
    /// (message, param, code, reason).
    fn refusal(id: &str, input: Value) -> (String, Option<String>, Option<&'static str>, Reason) {
        refusal_in(Spec::bundled(), id, input)
    }

    fn refusal_in(
        spec: &Spec,
        id: &str,
        mut input: Value,
    ) -> (String, Option<String>, Option<&'static str>, Reason) {
        let op = spec.operations.iter().find(|o| o.id == id).unwrap();
        let e = check(op, &mut input).expect_err("refused");
        assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
        (e.message, e.param, e.code, e.reason.expect("a reason"))
    }

    fn param(p: &str) -> Option<String> {
        Some(p.to_string())
    }

    #[test]
    fn a_conforming_request_passes_and_is_coerced() {
        let op = Spec::bundled()
            .operations
            .iter()
            .find(|o| o.id == "getAppsSecrets")
            .unwrap();
        let mut input = json!({"scope": {"type": "account"}, "limit": "3"});
        check(op, &mut input).unwrap();
        assert_eq!(input["limit"], json!(3));
    }

    /// Each kind of violation becomes Stripe's error, to the byte, and
    /// keeps its own reason: a missing or unknown parameter is named as
    /// such, every other violation is `ParameterInvalid`.
    #[test]
    fn each_violation_becomes_stripes_error() {
        let scope = json!({"type": "account"});
        assert_eq!(
            refusal("getAppsSecretsFind", json!({"scope": scope})),
            (
                "Missing required param: name.".into(),
                param("name"),
                Some("parameter_missing"),
                Reason::ParameterMissing("name".into())
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": {"user": "u"}})
            ),
            (
                "Missing required param: scope[type].".into(),
                param("scope[type]"),
                Some("parameter_missing"),
                Reason::ParameterMissing("scope[type]".into())
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": scope, "x": "1"})
            ),
            (
                "Received unknown parameter: x".into(),
                param("x"),
                Some("parameter_unknown"),
                Reason::ParameterUnknown
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": {"type": "account", "y": "1"}})
            ),
            (
                "Received unknown parameter: scope[y]".into(),
                param("scope[y]"),
                Some("parameter_unknown"),
                Reason::ParameterUnknown
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": {"type": "team"}})
            ),
            (
                "Invalid scope[type]: must be one of account or user".into(),
                param("scope[type]"),
                None,
                Reason::ParameterInvalid
            )
        );
        // A string where a hash belongs is echoed; one where an array
        // belongs is not.
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": "account"})
            ),
            (
                "Invalid hash: account".into(),
                param("scope"),
                None,
                Reason::ParameterInvalid
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k", "scope": scope, "expand": "payload"})
            ),
            (
                "Invalid array".into(),
                param("expand"),
                None,
                Reason::ParameterInvalid
            )
        );
        // An integer's type error (here a hash where it belongs) carries
        // the integer code.
        assert_eq!(
            refusal(
                "postAppsSecrets",
                json!({"name": "k", "payload": "v", "scope": scope, "expires_at": {"a": "1"}})
            ),
            (
                "Invalid integer".into(),
                param("expires_at"),
                Some("parameter_invalid_integer"),
                Reason::ParameterInvalid
            )
        );
        assert_eq!(
            refusal(
                "getAppsSecretsFind",
                json!({"name": "k".repeat(5001), "scope": scope})
            ),
            (
                "Invalid string: kkkkkkkkkk...kkkkkkkkkk; must be at most 5000 characters".into(),
                param("name"),
                None,
                Reason::ParameterInvalid
            )
        );
        assert_eq!(
            refusal("getAppsSecrets", json!({"scope": scope, "limit": "0"})),
            (
                "This value must be greater than or equal to 1.".into(),
                param("limit"),
                Some("parameter_invalid_integer"),
                Reason::ParameterInvalid
            )
        );
        assert_eq!(
            refusal("getAppsSecrets", json!({"scope": scope, "limit": "101"})),
            (
                "This value must be less than or equal to 100.".into(),
                param("limit"),
                Some("parameter_invalid_integer"),
                Reason::ParameterInvalid
            )
        );
        // What no arm names (a pattern here) is reported in the library's
        // words.
        let spec = nullable_spec();
        assert_eq!(
            refusal_in(&spec, "make", json!({"code": "abc"})),
            (
                "Invalid code: \"abc\" does not match \"^[0-9]+$\"".into(),
                param("code"),
                None,
                Reason::ParameterInvalid
            )
        );
    }

    /// A request with several problems gets the one of the lowest rank:
    /// unknown, then missing, then type, enum, range.
    #[test]
    fn the_lowest_ranked_violation_is_reported() {
        let (message, ..) = refusal(
            "getAppsSecretsFind",
            json!({"scope": {"type": "team"}, "x": "1"}),
        );
        assert_eq!(message, "Received unknown parameter: x");
        let (message, ..) = refusal("getAppsSecretsFind", json!({"scope": {"type": "team"}}));
        assert_eq!(message, "Missing required param: name.");
    }

    /// A document whose parameters are nullable: a type error names the
    /// type that is not `null`, and an enum's `null` is not listed.
    fn nullable_spec() -> Spec {
        let text = json!({
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "v"},
            "paths": {"/v1/things": {"post": {
                "operationId": "make",
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "properties": {
                        "size": {"type": "integer", "nullable": true},
                        "mode": {"type": "string", "enum": ["fast", "slow"], "nullable": true},
                        "code": {"type": "string", "pattern": "^[0-9]+$"}
                    },
                    "additionalProperties": false
                }}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"type": "object"}
                }}}}
            }}}
        });
        Spec::from_json(&text.to_string()).unwrap()
    }

    #[test]
    fn nullable_parameters_are_named_by_their_type() {
        let spec = nullable_spec();
        assert_eq!(
            refusal_in(&spec, "make", json!({"size": {"a": "1"}})),
            (
                "Invalid integer".into(),
                param("size"),
                Some("parameter_invalid_integer"),
                Reason::ParameterInvalid
            )
        );
        assert_eq!(
            refusal_in(&spec, "make", json!({"mode": "medium"})),
            (
                "Invalid mode: must be one of fast or slow".into(),
                param("mode"),
                None,
                Reason::ParameterInvalid
            )
        );
    }

    #[test]
    fn enum_lists_read_like_stripe() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(one_of(&names(&["account", "user"])), "account or user");
        assert_eq!(one_of(&names(&["a", "b", "c"])), "a, b, or c");
    }
}
