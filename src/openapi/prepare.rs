//! An OpenAPI 3.0 document reduced to what the mock serves from: the route
//! table, each operation's inputs as one translated JSON Schema, its
//! response schemas by status, its expandable fields, and the translated
//! components. Everything here is a pure function of the document's text.
//!
//! The build script (`build.rs`) runs it over the two bundled documents and
//! embeds the result, so a process serves its first request without reading
//! an OpenAPI document at all; a document given at run time
//! (`MockServer::builder().spec_json`) goes through the same function when
//! the mock starts. Either way [`crate::openapi::spec::Spec`] is built from a
//! [`Prepared`].

use std::collections::BTreeSet;

use openapiv3::{Info, Parameter, Paths, ReferenceOr, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::schema;

/// Response fields that Stripe leaves out unless the request expands them
/// (docs/behaviour.md §3: `payload`), although the spec's `x-expandableFields` does
/// not list them. They count as expandable wherever the result has them.
pub(crate) const HIDDEN_UNLESS_EXPANDED: &[&str] = &["payload"];

/// A document, prepared.
#[derive(Serialize, Deserialize)]
pub(crate) struct Prepared {
    /// `info.version`.
    pub version: String,
    /// Every operation in `paths`, in document order.
    pub operations: Vec<PreparedOp>,
    /// `components.schemas`, translated, as `{"definitions": {...}}`.
    pub definitions: Value,
}

/// One operation, prepared.
#[derive(Serialize, Deserialize)]
pub(crate) struct PreparedOp {
    /// `operationId`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template.
    pub path: String,
    /// All inputs (query parameters and body properties) as one closed
    /// object schema, translated.
    pub request_schema: Value,
    /// Translated response schemas by status (`"200"`, `"4XX"`, `"default"`).
    pub responses: Vec<(String, Value)>,
    /// Values `expand[]` accepts.
    pub expandable: BTreeSet<String>,
    /// Whether the body is JSON (`application/json`) rather than a form.
    pub json_body: bool,
}

/// Reads an OpenAPI 3.0 document given as JSON text.
pub(crate) fn prepare(text: &str) -> Result<Prepared, String> {
    let raw: Value = serde_json::from_str(text).map_err(|e| format!("spec is not JSON: {e}"))?;
    // Only `info` and `paths` are read as OpenAPI objects: components are
    // translated from the JSON directly, and deserialising them too would
    // double the cost for nothing.
    let part = |name: &str| raw.get(name).unwrap_or(&Value::Null);
    let not_openapi = |e: serde_json::Error| format!("spec is not OpenAPI 3.0: {e}");
    let info = Info::deserialize(part("info")).map_err(not_openapi)?;
    let paths = Paths::deserialize(part("paths")).map_err(not_openapi)?;
    let mut operations = Vec::new();
    for (path, item) in paths.iter() {
        let ReferenceOr::Item(item) = item else {
            return Err(format!("{path}: path $refs are not supported"));
        };
        for (method, op) in item.iter() {
            operations.push(operation(&raw, path, method, op)?);
        }
    }
    Ok(Prepared {
        version: info.version,
        operations,
        definitions: definitions(&raw),
    })
}

fn operation(
    raw: &Value,
    path: &str,
    method: &str,
    op: &openapiv3::Operation,
) -> Result<PreparedOp, String> {
    let id = op
        .operation_id
        .clone()
        .ok_or_else(|| format!("{method} {path}: missing operationId"))?;
    let mut responses = Vec::new();
    let mut success_schema = None;
    let listed = op
        .responses
        .responses
        .iter()
        .map(|(code, r)| (status_key(code), r))
        .chain(
            op.responses
                .default
                .iter()
                .map(|r| ("default".to_string(), r)),
        );
    for (status, response) in listed {
        let ReferenceOr::Item(response) = response else {
            return Err(format!("{id} {status}: response $refs are not supported"));
        };
        let Some(media) = response.content.get("application/json") else {
            continue;
        };
        let Some(s) = &media.schema else { continue };
        let s = serde_json::to_value(s).map_err(|e| e.to_string())?;
        if status.starts_with('2') && success_schema.is_none() {
            success_schema = Some(s.clone());
        }
        responses.push((status, schema::translate(&s)));
    }
    Ok(PreparedOp {
        request_schema: request_schema(raw, op, &id)?,
        expandable: success_schema
            .map(|s| expandable_fields(raw, &s))
            .unwrap_or_default(),
        json_body: accepts_json(op),
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        responses,
        id,
    })
}

/// Whether the operation's body is `application/json`.
fn accepts_json(op: &openapiv3::Operation) -> bool {
    matches!(&op.request_body, Some(ReferenceOr::Item(body)) if body.content.contains_key("application/json"))
}

fn status_key(code: &StatusCode) -> String {
    match code {
        StatusCode::Code(n) => n.to_string(),
        StatusCode::Range(n) => format!("{n}XX"),
    }
}

/// `components.schemas`, translated, as `{"definitions": {...}}`.
fn definitions(raw: &Value) -> Value {
    let mut defs = Map::new();
    if let Some(Value::Object(schemas)) = raw.pointer("/components/schemas") {
        for (name, s) in schemas {
            defs.insert(name.clone(), schema::translate(s));
        }
    }
    json!({ "definitions": defs })
}

/// The inputs of one operation as one closed object schema: each query
/// parameter is a property, and so is each property of the form body.
fn request_schema(raw: &Value, op: &openapiv3::Operation, id: &str) -> Result<Value, String> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &op.parameters {
        let ReferenceOr::Item(p) = p else {
            return Err(format!("{id}: parameter $refs are not supported"));
        };
        let data = match p {
            Parameter::Query { parameter_data, .. } => parameter_data,
            // Path, header and cookie parameters are not form inputs.
            _ => continue,
        };
        let openapiv3::ParameterSchemaOrContent::Schema(s) = &data.format else {
            return Err(format!("{id}: parameter {} has no schema", data.name));
        };
        let s = serde_json::to_value(s).map_err(|e| e.to_string())?;
        properties.insert(data.name.clone(), schema::translate(&s));
        if data.required {
            required.push(json!(data.name));
        }
    }
    if let Some(ReferenceOr::Item(body)) = &op.request_body {
        let media = body
            .content
            .get("application/x-www-form-urlencoded")
            .or_else(|| body.content.get("application/json"));
        if let Some(media) = media {
            if let Some(s) = &media.schema {
                let s = serde_json::to_value(s).map_err(|e| e.to_string())?;
                let t = schema::translate(schema::follow(raw, &s));
                if let Some(Value::Object(props)) = t.get("properties") {
                    for (k, v) in props {
                        properties.insert(k.clone(), v.clone());
                    }
                }
                if let Some(Value::Array(req)) = t.get("required") {
                    required.extend(req.iter().cloned());
                }
            }
        }
    }
    schema::apply_list_convention(&mut properties);
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    // Draft 4 wants at least one name in `required`, or no `required`.
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    Ok(schema)
}

/// What `expand[]` accepts for a result schema: its `x-expandableFields`,
/// the hidden-unless-expanded fields it has, and for a list (an object whose
/// `data` is an array) the same of each item prefixed with `data.`.
fn expandable_fields(raw: &Value, s: &Value) -> BTreeSet<String> {
    let deref = |s| schema::follow(raw, s);
    let own = |s: &Value| -> BTreeSet<String> {
        let mut set: BTreeSet<String> = s
            .get("x-expandableFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for hidden in HIDDEN_UNLESS_EXPANDED {
            if s.pointer(&format!("/properties/{hidden}")).is_some() {
                set.insert(hidden.to_string());
            }
        }
        set
    };
    let s = deref(s);
    let mut set = own(s);
    if let Some(items) = s.pointer("/properties/data/items") {
        for f in own(deref(items)) {
            set.insert(format!("data.{f}"));
        }
    }
    set
}
