//! OpenAPI 3.0 schema dialect → JSON Schema (draft 7), for `jsonschema`.
//!
//! The differences that matter for this API:
//! - `$ref: #/components/schemas/X` becomes `#/definitions/X`, and every
//!   compiled schema carries the translated components as `definitions`.
//! - `nullable: true` becomes a `null` alternative of the type (and enum).
//! - OpenAPI-only formats (`unix-time`, `int64`, …) are dropped: they are
//!   annotations, and the `type` already says "integer".
//! - **Closed objects [mock decision]:** an object schema that lists
//!   `properties` and says nothing of `additionalProperties` is closed. Stripe
//!   rejects unknown parameters at any depth (`scope[foo]`), and the mock must
//!   never emit a field the spec does not name.
//!
//! Stripe's list convention is applied where the spec leaves it implicit (see
//! [`apply_list_convention`]).

use serde_json::{json, Map, Value};

/// Formats that only OpenAPI defines; JSON Schema has no meaning for them.
const OPENAPI_ONLY_FORMATS: &[&str] = &[
    "unix-time",
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "password",
    "decimal",
];

/// Translates one OpenAPI schema (as JSON) to JSON Schema.
pub(crate) fn translate(schema: &Value) -> Value {
    translate_in(schema, false)
}

fn translate_in(schema: &Value, inside_all_of: bool) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(Value::String(r)) = obj.get("$ref") {
        let target = r.replacen("#/components/schemas/", "#/definitions/", 1);
        return json!({ "$ref": target });
    }
    let mut out = Map::new();
    for (key, value) in obj {
        let translated = match key.as_str() {
            "properties" | "definitions" => Value::Object(
                value
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .map(|(k, v)| (k.clone(), translate_in(v, false)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "not" => translate_in(value, false),
            "additionalProperties" if value.is_object() => translate_in(value, false),
            "anyOf" | "oneOf" => list(value, false),
            "allOf" => list(value, true),
            "nullable" => continue,
            "format"
                if value
                    .as_str()
                    .is_some_and(|f| OPENAPI_ONLY_FORMATS.contains(&f)) =>
            {
                continue
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), translated);
    }
    let declares_properties = out.contains_key("properties");
    if declares_properties && !inside_all_of && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        return make_nullable(out);
    }
    Value::Object(out)
}

fn list(value: &Value, inside_all_of: bool) -> Value {
    match value.as_array() {
        Some(items) => items
            .iter()
            .map(|s| translate_in(s, inside_all_of))
            .collect(),
        None => value.clone(),
    }
}

fn make_nullable(mut out: Map<String, Value>) -> Value {
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(options)) = out.get_mut("enum") {
                if !options.contains(&Value::Null) {
                    options.push(Value::Null);
                }
            }
            Value::Object(out)
        }
        _ => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
    }
}

/// Stripe's list convention [documented in Stripe's API reference for every
/// list endpoint, though not in the spec's schema]: `limit` is an integer
/// from 1 to 100 defaulting to 10. Applied only to an operation that has the
/// cursor parameters, and only where the spec's own `limit` schema says
/// nothing: a spec that sets `minimum`, `maximum` or `default` wins.
pub(crate) fn apply_list_convention(properties: &mut Map<String, Value>) {
    let is_list =
        properties.contains_key("starting_after") && properties.contains_key("ending_before");
    if !is_list {
        return;
    }
    if let Some(Value::Object(limit)) = properties.get_mut("limit") {
        limit.entry("minimum").or_insert(json!(1));
        limit.entry("maximum").or_insert(json!(100));
        limit.entry("default").or_insert(json!(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_point_into_definitions() {
        assert_eq!(
            translate(&json!({"$ref": "#/components/schemas/error"})),
            json!({"$ref": "#/definitions/error"})
        );
    }

    #[test]
    fn nullable_adds_null_to_type_and_enum() {
        let t = translate(&json!({"type": "string", "nullable": true, "enum": ["a"]}));
        assert_eq!(t, json!({"type": ["string", "null"], "enum": ["a", null]}));
    }

    #[test]
    fn unix_time_format_is_dropped_and_objects_are_closed() {
        let t = translate(&json!({
            "type": "object",
            "properties": {"at": {"type": "integer", "format": "unix-time"}}
        }));
        assert_eq!(
            t,
            json!({
                "type": "object",
                "properties": {"at": {"type": "integer"}},
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn explicit_additional_properties_are_kept() {
        let t = translate(&json!({
            "type": "object", "properties": {}, "additionalProperties": {"type": "string"}
        }));
        assert_eq!(t["additionalProperties"], json!({"type": "string"}));
    }

    #[test]
    fn list_convention_fills_only_what_the_spec_leaves_out() {
        let mut props = json!({
            "starting_after": {}, "ending_before": {},
            "limit": {"type": "integer", "maximum": 50}
        });
        apply_list_convention(props.as_object_mut().unwrap());
        assert_eq!(
            props["limit"],
            json!({"type": "integer", "maximum": 50, "minimum": 1, "default": 10})
        );
    }
}
