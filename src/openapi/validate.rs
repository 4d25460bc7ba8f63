//! Request validation: decoded, coerced input checked against the operation's
//! compiled schema, and every violation mapped to the Stripe error a client
//! would get. When a request has several problems, one is reported, chosen by
//! a fixed rank and then by parameter name, so the same request always gets
//! the same error.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use crate::error::{abbreviate, param_label, ApiError};
use crate::openapi::form;
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

fn to_api_errors(error: &ValidationError<'_>) -> Vec<(u8, ApiError)> {
    let param = param_label(&param_name(error.instance_path().as_str()));
    let instance = error.instance().as_ref();
    let one = |rank, e| vec![(rank, e)];
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| (RANK_UNKNOWN, ApiError::unknown(&join(&param, name))))
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            one(RANK_MISSING, ApiError::missing(&join(&param, name)))
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => *t,
                TypeKind::Multiple(set) => set
                    .iter()
                    .find(|t| *t != JsonType::Null)
                    .unwrap_or(JsonType::Null),
            };
            one(RANK_TYPE, invalid_type(expected, instance, &param))
        }
        ValidationErrorKind::Enum { options } => {
            let names: Vec<String> = options
                .as_array()
                .map(|a| a.iter().filter(|v| !v.is_null()).map(display).collect())
                .unwrap_or_default();
            one(
                RANK_ENUM,
                ApiError::invalid(
                    format!("Invalid {param}: must be one of {}", one_of(&names)),
                    Some(param.clone()),
                ),
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
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
        ValidationErrorKind::Minimum { limit } => one(
            RANK_RANGE,
            range_error(
                format!("This value must be greater than or equal to {limit}."),
                &param,
            ),
        ),
        ValidationErrorKind::Maximum { limit } => one(
            RANK_RANGE,
            range_error(
                format!("This value must be less than or equal to {limit}."),
                &param,
            ),
        ),
        _ => one(
            RANK_OTHER,
            ApiError::invalid(format!("Invalid {param}: {error}"), Some(param.clone())),
        ),
    }
}

fn range_error(message: String, param: &str) -> ApiError {
    ApiError::invalid(message, Some(param.to_string())).with_code("parameter_invalid_integer")
}

fn invalid_type(expected: JsonType, instance: &Value, param: &str) -> ApiError {
    let word = match expected {
        JsonType::Object => "hash",
        JsonType::Array => "array",
        JsonType::Integer => "integer",
        JsonType::Number => "decimal",
        JsonType::Boolean => "boolean",
        JsonType::String => "string",
        JsonType::Null => "null",
    };
    // Stripe echoes a scalar that should have been a scalar of another
    // type, never one that should have been an array.
    let message = match instance {
        Value::String(s) if expected != JsonType::Array => {
            format!("Invalid {word}: {}", abbreviate(s))
        }
        _ => format!("Invalid {word}"),
    };
    let error = ApiError::invalid(message, Some(param.to_string()));
    if expected == JsonType::Integer {
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

    #[test]
    fn enum_lists_read_like_stripe() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(one_of(&names(&["account", "user"])), "account or user");
        assert_eq!(one_of(&names(&["a", "b", "c"])), "a, b, or c");
    }
}
