//! The bundled OpenAPI document, parsed once and compiled into what the server
//! needs: a route table, one request validator per operation (query parameters
//! and form body as one object), one response validator per operation and
//! status, and the expandable fields of each operation's result.
//!
//! Nothing here knows about secrets: swap the document and routing,
//! parameter rules and response checks follow it.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use openapiv3::{Info, Parameter, Paths, ReferenceOr, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::openapi::compiled::{Compiler, Lazy};
use crate::openapi::schema;
use crate::ops::OpKind;

/// The OpenAPI document embedded in the binary.
pub const BUNDLED_SPEC: &str = include_str!("../../spec/apps_secrets.openapi.json");

/// The OpenAPI document of the mock's own control endpoints (`/_mock/…`).
pub const CONTROL_SPEC: &str = include_str!("../../spec/mock_control.openapi.json");

/// Response fields that Stripe leaves out unless the request expands them
/// (docs/behaviour.md §3: `payload`), although the spec's `x-expandableFields` does
/// not list them. They count as expandable wherever the result has them.
pub(crate) const HIDDEN_UNLESS_EXPANDED: &[&str] = &["payload"];

/// A document a mock serves: one of the bundled ones (shared by every mock
/// in the process, parsed when first needed) or one given as text.
pub(crate) enum SpecRef {
    /// `Spec::bundled` or `Spec::control`.
    Bundled(fn() -> &'static Spec),
    /// A document given with `spec_json`.
    Custom(Arc<Spec>),
}

impl std::ops::Deref for SpecRef {
    type Target = Spec;

    fn deref(&self) -> &Spec {
        match self {
            SpecRef::Bundled(get) => get(),
            SpecRef::Custom(spec) => spec,
        }
    }
}

/// A compiled OpenAPI document.
pub(crate) struct Spec {
    /// `info.version`, returned as `Stripe-Version` when the client sends none.
    pub version: String,
    /// Every operation in `paths`, in document order.
    pub operations: Vec<Operation>,
    /// `components.schemas.error`, for errors raised before an operation is
    /// known (unknown URL, bad credentials on an unknown URL).
    error_validator: Option<Lazy>,
    /// Every component schema, for checking data that is not a request or
    /// response (fixtures).
    components: Vec<(String, Lazy)>,
}

/// One way a value breaks a schema, for messages outside the HTTP API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// JSON pointer to the offending value.
    pub pointer: String,
    /// What rule it breaks, in plain words (`must be one of account, user`).
    pub rule: String,
}

/// One operation of the document, compiled.
pub(crate) struct Operation {
    /// `operationId`.
    pub id: String,
    /// What the mock does for it, resolved from `id` once, at load
    /// (`None`: an operation the mock does not implement).
    pub kind: Option<OpKind>,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template (this API has no path parameters).
    pub path: String,
    /// The translated JSON Schema of all inputs as one object, kept for
    /// schema-guided coercion of form strings.
    pub request_schema: Value,
    /// The translated components `request_schema` refers to.
    pub definitions: Arc<Value>,
    /// `request_schema`, compiled on first use.
    request_validator: Lazy,
    /// Response validators by status (`"200"`, …, `"default"`).
    responses: Vec<(String, Lazy)>,
    /// Values `expand[]` accepts for this operation.
    pub expandable: BTreeSet<String>,
    /// Whether the body is JSON (`application/json`) rather than a form.
    pub json_body: bool,
}

impl Spec {
    /// The bundled document, parsed once per process (its validators
    /// compile on first use) and shared.
    pub fn bundled() -> &'static Spec {
        static BUNDLED: OnceLock<Spec> = OnceLock::new();
        BUNDLED.get_or_init(|| Spec::parse(BUNDLED_SPEC).expect("the bundled spec parses"))
    }

    /// The control document, parsed once per process and shared.
    pub fn control() -> &'static Spec {
        static CONTROL: OnceLock<Spec> = OnceLock::new();
        CONTROL.get_or_init(|| Spec::parse(CONTROL_SPEC).expect("the control spec parses"))
    }

    /// Starts parsing both bundled documents and compiling all their
    /// validators on a thread of its own, once per process, so that a
    /// freshly started mock answers its first requests without paying for
    /// them on the way (whoever needs one first waits for it, nothing is
    /// done twice).
    pub fn warm_up() {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("spec-warm-up".into())
                .spawn(|| {
                    let _ = Spec::control().compile_all();
                    let _ = Spec::bundled().compile_all();
                });
            // Without a thread, everything still compiles on first use.
            drop(spawned);
        });
    }

    /// Parses an OpenAPI 3.0 document given as JSON text and compiles every
    /// validator now, so a document that cannot be served is refused at
    /// start.
    pub fn from_json(text: &str) -> Result<Spec, String> {
        let spec = Spec::parse(text)?;
        spec.compile_all()?;
        Ok(spec)
    }

    /// Compiles every validator (the bundled documents' are compiled on
    /// first use instead; a unit test compiles them all).
    pub fn compile_all(&self) -> Result<(), String> {
        let ops = self.operations.iter().flat_map(|op| {
            std::iter::once(&op.request_validator).chain(op.responses.iter().map(|(_, v)| v))
        });
        let others = self
            .components
            .iter()
            .map(|(_, v)| v)
            .chain(&self.error_validator);
        for lazy in ops.chain(others) {
            lazy.get()?;
        }
        Ok(())
    }

    /// Parses the document and prepares (without compiling) its validators.
    fn parse(text: &str) -> Result<Spec, String> {
        let raw: Value =
            serde_json::from_str(text).map_err(|e| format!("spec is not JSON: {e}"))?;
        // Only `info` and `paths` are read as OpenAPI objects: components are
        // translated from the JSON directly, and deserialising them too would
        // double the start-up cost for nothing.
        let part = |name: &str| raw.get(name).unwrap_or(&Value::Null);
        let not_openapi = |e: serde_json::Error| format!("spec is not OpenAPI 3.0: {e}");
        let info = Info::deserialize(part("info")).map_err(not_openapi)?;
        let paths = Paths::deserialize(part("paths")).map_err(not_openapi)?;
        let definitions = Arc::new(definitions(&raw));
        let resource = Draft::Draft4.create_resource(definitions.as_ref().clone());
        let registry = Registry::try_new(schema::DEFINITIONS, resource)
            .map_err(|e| format!("components do not compile: {e}"))?;
        let compiler = Arc::new(Compiler { registry });

        let mut operations = Vec::new();
        for (path, item) in paths.iter() {
            let ReferenceOr::Item(item) = item else {
                return Err(format!("{path}: path $refs are not supported"));
            };
            for (method, op) in item.iter() {
                let id = op
                    .operation_id
                    .clone()
                    .ok_or_else(|| format!("{method} {path}: missing operationId"))?;
                let json_body = accepts_json(op);
                let request_schema = request_schema(&raw, op, &id)?;
                let request_validator = Lazy::new(&compiler, request_schema.clone(), id.clone());
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
                    let what = format!("{id} {status}");
                    responses.push((status, Lazy::new(&compiler, schema::translate(&s), what)));
                }
                let expandable = success_schema
                    .map(|s| expandable_fields(&raw, &s))
                    .unwrap_or_default();
                operations.push(Operation {
                    kind: OpKind::resolve(&id),
                    id,
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    request_schema,
                    definitions: definitions.clone(),
                    request_validator,
                    responses,
                    expandable,
                    json_body,
                });
            }
        }
        let reference =
            |name: &str| json!({ "$ref": format!("{}#/definitions/{name}", schema::DEFINITIONS) });
        let error_validator = raw.pointer("/components/schemas/error").map(|_| {
            Lazy::new(
                &compiler,
                reference("error"),
                "components.schemas.error".into(),
            )
        });
        let mut components = Vec::new();
        if let Some(Value::Object(schemas)) = raw.pointer("/components/schemas") {
            for name in schemas.keys() {
                components.push((
                    name.clone(),
                    Lazy::new(&compiler, reference(name), name.clone()),
                ));
            }
        }
        Ok(Spec {
            version: info.version,
            operations,
            error_validator,
            components,
        })
    }

    /// The operation for a method and path, if the document defines one.
    pub fn route(&self, method: &str, path: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.method == method && op.path == path)
    }

    /// How `value` breaks the component schema `name`, in a stable order
    /// (by pointer). Empty when it conforms.
    pub fn violations(&self, name: &str, value: &Value) -> Vec<Violation> {
        let Some((_, lazy)) = self.components.iter().find(|(n, _)| n == name) else {
            return vec![Violation {
                pointer: String::new(),
                rule: format!("the spec defines no schema {name}"),
            }];
        };
        let validator = match lazy.get() {
            Ok(v) => v,
            Err(e) => {
                return vec![Violation {
                    pointer: String::new(),
                    rule: e,
                }]
            }
        };
        let mut found: Vec<Violation> =
            validator.iter_errors(value).map(|e| describe(&e)).collect();
        found.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.rule.cmp(&b.rule)));
        found
    }

    /// Checks an error body raised outside any operation.
    pub fn validate_error(&self, body: &Value) -> Result<(), String> {
        match &self.error_validator {
            Some(v) => first_violation(v.get()?, body),
            None => Ok(()),
        }
    }
}

impl Operation {
    /// All schema violations of the (already coerced) request (none when it
    /// conforms, found without allocating); a validator that does not
    /// compile is reported as an error.
    pub fn request_errors<'a>(
        &'a self,
        input: &'a Value,
    ) -> Result<Vec<jsonschema::ValidationError<'a>>, String> {
        let validator = self.request_validator.get()?;
        if validator.is_valid(input) {
            return Ok(Vec::new());
        }
        Ok(validator.iter_errors(input).collect())
    }

    /// Checks a response body against the schema for its status (or
    /// `default`). A status the document does not describe is a violation.
    pub fn validate_response(&self, status: u16, body: &Value) -> Result<(), String> {
        let code = status.to_string();
        let validator = self
            .responses
            .iter()
            .find(|(s, _)| *s == code)
            .or_else(|| self.responses.iter().find(|(s, _)| s == "default"))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the spec defines no {code} response for {}", self.id))?;
        first_violation(validator.get()?, body)
    }
}

fn first_violation(validator: &Validator, body: &Value) -> Result<(), String> {
    // The fast check allocates nothing; errors are collected only when
    // there is one.
    if validator.is_valid(body) {
        return Ok(());
    }
    match validator.iter_errors(body).next() {
        None => Ok(()),
        Some(e) => {
            let at = e.instance_path.as_str();
            let at = if at.is_empty() { "/" } else { at };
            Err(format!("{at}: {e}"))
        }
    }
}

/// A schema violation in plain words, pointing at the value at fault (for an
/// unknown or missing field: at the field).
fn describe(e: &jsonschema::ValidationError<'_>) -> Violation {
    use jsonschema::error::ValidationErrorKind as K;
    let at = e.instance_path.as_str().to_string();
    let field = |name: &str| format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
    let (pointer, rule) = match &e.kind {
        K::Enum { options } => {
            let names: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|v| !v.is_null())
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
                        .collect()
                })
                .unwrap_or_default();
            (at, format!("must be one of {}", names.join(", ")))
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            (field(name), "is required".to_string())
        }
        K::AdditionalProperties { unexpected } => (
            field(unexpected.first().map(String::as_str).unwrap_or_default()),
            "is not a known field".to_string(),
        ),
        K::Type { kind } => {
            let expected = match kind {
                jsonschema::error::TypeKind::Single(t) => t.to_string(),
                jsonschema::error::TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            (at, format!("must be of type {expected}"))
        }
        K::MaxLength { limit } => (at, format!("must be at most {limit} characters")),
        K::MinLength { limit } => (at, format!("must be at least {limit} characters")),
        K::Pattern { pattern } => (at, format!("must match the pattern {pattern}")),
        K::Minimum { limit } => (at, format!("must be at least {limit}")),
        K::Maximum { limit } => (at, format!("must be at most {limit}")),
        _ => (at, e.to_string()),
    };
    Violation { pointer, rule }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation of both bundled documents is one the mock
    /// implements, and every row of the table names one of them.
    #[test]
    fn the_operation_table_and_the_bundled_documents_agree() {
        let ops: Vec<&Operation> = [Spec::bundled(), Spec::control()]
            .into_iter()
            .flat_map(|s| &s.operations)
            .collect();
        for op in &ops {
            assert!(op.kind.is_some(), "{} is not implemented", op.id);
        }
        for (id, _) in crate::ops::TABLE {
            assert!(ops.iter().any(|o| o.id == id), "{id} is in no document");
        }
        assert_eq!(ops.len(), crate::ops::TABLE.len());
    }

    #[test]
    fn every_validator_of_both_bundled_documents_compiles() {
        Spec::bundled().compile_all().unwrap();
        Spec::control().compile_all().unwrap();
    }

    #[test]
    fn bundled_spec_has_the_four_operations() {
        let spec = Spec::bundled();
        let ids: Vec<_> = spec.operations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "getAppsSecrets",
                "postAppsSecrets",
                "postAppsSecretsDelete",
                "getAppsSecretsFind"
            ]
        );
        assert_eq!(spec.version, "2023-10-16");
    }

    #[test]
    fn expandable_fields_come_from_the_spec_plus_payload() {
        let spec = Spec::bundled();
        let list = spec.route("GET", "/v1/apps/secrets").unwrap();
        let want: BTreeSet<String> = ["data", "data.payload", "data.scope"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(list.expandable, want);
        let find = spec.route("GET", "/v1/apps/secrets/find").unwrap();
        assert!(find.expandable.contains("payload") && find.expandable.contains("scope"));
    }

    #[test]
    fn list_limit_gets_stripe_list_bounds() {
        let spec = Spec::bundled();
        let list = spec.route("GET", "/v1/apps/secrets").unwrap();
        let limit = &list.request_schema["properties"]["limit"];
        assert_eq!(
            (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
            (Some(1), Some(100))
        );
    }

    #[test]
    fn the_control_spec_compiles_and_takes_a_json_fixture() {
        let control = Spec::control();
        let import = control.route("POST", "/_mock/state").unwrap();
        assert!(import.json_body);
        assert!(import.request_schema["properties"].get("secrets").is_some());
        let v = control.violations("fixture", &json!({"secrets": [{"app": 1}]}));
        assert_eq!(v[0].pointer, "/secrets/0/app");
        assert_eq!(v[0].rule, "must be of type string");
        assert!(v
            .iter()
            .any(|x| x.pointer == "/secrets/0/name" && x.rule == "is required"));
    }

    #[test]
    fn component_violations_name_the_rule() {
        let spec = Spec::bundled();
        let v = spec.violations("secret_service_resource_scope", &json!({"type": "team"}));
        assert_eq!(
            v,
            [Violation {
                pointer: "/type".into(),
                rule: "must be one of account, user".into()
            }]
        );
    }

    #[test]
    fn responses_are_checked_against_the_status_schema() {
        let spec = Spec::bundled();
        let find = spec.route("GET", "/v1/apps/secrets/find").unwrap();
        let err = find
            .validate_response(200, &json!({"id": "x", "object": "apps.secret"}))
            .unwrap_err();
        assert!(err.contains("required"), "{err}");
        let unknown_field = json!({"error": {"type": "api_error", "extra": 1}});
        assert!(find.validate_response(500, &unknown_field).is_err());
    }
}
