//! OpenAPI 3.0 schema dialect → JSON Schema (draft 4, which OpenAPI 3.0's
//! schema object derives from), for `jsonschema`.
//!
//! The differences that matter for this API:
//! - `$ref: #/components/schemas/X` becomes `DEFINITIONS#/definitions/X`:
//!   the translated components live once, in one document registered under
//!   [`DEFINITIONS`], which every compiled schema refers to.
//! - `nullable: true` becomes a `null` alternative of the type (and enum).
//! - OpenAPI-only formats (`unix-time`, `int64`, …) are dropped: they are
//!   annotations, and the `type` already says "integer".
//! - Annotations that no rule reads (`description`, `title`, `example`,
//!   `x-…` extensions) are dropped, so that a compiled document is what
//!   validation needs and no more (the expandable fields are read from the
//!   untranslated document).
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

/// The URI of the document that holds every translated component schema
/// under `definitions`.
pub(crate) const DEFINITIONS: &str = "urn:stripe-secrets-mock:components";

/// Follows `$ref`s from `schema` to the schema they name inside `doc`: the
/// raw OpenAPI document (`#/components/schemas/X`) or the translated
/// components (`DEFINITIONS#/definitions/X`). The one place references are
/// resolved by hand; a reference that names nothing resolves to itself.
pub(crate) fn follow<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    // Bounded: a reference cycle must not hang the server.
    for _ in 0..32 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let pointer = r.split_once('#').map_or("", |(_, p)| p);
        match doc.pointer(pointer) {
            Some(target) if !pointer.is_empty() => schema = target,
            _ => break,
        }
    }
    schema
}

/// Translates one OpenAPI schema (as JSON) to JSON Schema.
pub(crate) fn translate(schema: &Value) -> Value {
    translate_in(schema, false)
}

fn translate_in(schema: &Value, inside_all_of: bool) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(Value::String(r)) = obj.get("$ref") {
        let target = r.replacen(
            "#/components/schemas/",
            &format!("{DEFINITIONS}#/definitions/"),
            1,
        );
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
            // (`true` and `false` pass through translate_in unchanged.)
            "additionalProperties" => translate_in(value, false),
            "anyOf" | "oneOf" => list(value, false),
            "allOf" => list(value, true),
            "nullable" | "description" | "title" | "example" => continue,
            extension if extension.starts_with("x-") => continue,
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
            json!({"$ref": "urn:stripe-secrets-mock:components#/definitions/error"})
        );
    }

    #[test]
    fn follow_resolves_raw_and_translated_refs_and_stops_on_cycles() {
        let raw = json!({"components": {"schemas": {"a": {"$ref": "#/components/schemas/b"}, "b": {"type": "string"}}}});
        assert_eq!(
            follow(&raw, &json!({"$ref": "#/components/schemas/a"})),
            &json!({"type": "string"})
        );
        let defs = json!({"definitions": {"x": {"type": "integer"}}});
        let r = json!({"$ref": format!("{DEFINITIONS}#/definitions/x")});
        assert_eq!(follow(&defs, &r), &json!({"type": "integer"}));
        let cycle = json!({"definitions": {"c": {"$ref": "#/definitions/c"}}});
        let start = json!({"$ref": "#/definitions/c"});
        assert_eq!(follow(&cycle, &start), &json!({"$ref": "#/definitions/c"}));
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
    fn annotations_are_dropped_but_properties_of_those_names_are_kept() {
        let t = translate(&json!({
            "type": "object", "description": "d", "title": "t", "x-resourceId": "r",
            "properties": {"description": {"type": "string", "description": "d"}}
        }));
        assert_eq!(
            t,
            json!({
                "type": "object",
                "properties": {"description": {"type": "string"}},
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

    #[test]
    fn a_ref_without_a_pointer_resolves_to_itself() {
        let raw = json!({"components": {"schemas": {"b": {"type": "string"}}}});
        let elsewhere = json!({"$ref": "other.json"});
        assert_eq!(follow(&raw, &elsewhere), &elsewhere);
    }

    #[test]
    fn combinators_and_schema_valued_additional_properties_are_translated() {
        let t = translate(&json!({
            "anyOf": [{"$ref": "#/components/schemas/a"}, {"type": "string", "nullable": true}],
            "oneOf": [{"type": "integer", "description": "d"}],
            "allOf": [{"type": "object", "description": "d", "properties": {"x": {"type": "string"}}}],
            "additionalProperties": {"$ref": "#/components/schemas/b"}
        }));
        assert_eq!(
            t,
            json!({
                "anyOf": [
                    {"$ref": "urn:stripe-secrets-mock:components#/definitions/a"},
                    {"type": ["string", "null"]}
                ],
                "oneOf": [{"type": "integer"}],
                // Inside allOf an object stays open: its siblings add fields.
                "allOf": [{"type": "object", "properties": {"x": {"type": "string"}}}],
                "additionalProperties": {"$ref": "urn:stripe-secrets-mock:components#/definitions/b"}
            })
        );
        // A combinator that is not a list is kept as it is.
        assert_eq!(translate(&json!({"anyOf": true})), json!({"anyOf": true}));
    }

    #[test]
    fn only_openapi_formats_are_dropped() {
        let t = translate(&json!({"type": "string", "format": "email"}));
        assert_eq!(t, json!({"type": "string", "format": "email"}));
    }

    #[test]
    fn the_list_convention_needs_both_cursors() {
        for cursors in [json!({"starting_after": {}}), json!({"ending_before": {}})] {
            let mut props = cursors.clone();
            props["limit"] = json!({"type": "integer"});
            apply_list_convention(props.as_object_mut().unwrap());
            assert_eq!(props["limit"], json!({"type": "integer"}), "{cursors}");
        }
    }
}
