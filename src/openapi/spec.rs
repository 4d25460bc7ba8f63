//! The bundled OpenAPI document, parsed once and compiled into what the server
//! needs: a route table, one request validator per operation (query parameters
//! and form body as one object), one response validator per operation and
//! status, and the expandable fields of each operation's result.
//!
//! Nothing here knows about secrets: swap the document and routing,
//! parameter rules and response checks follow it.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use crate::openapi::compiled::{Checker, Compiler, Lazy, Validators};
use crate::openapi::prepare::{prepare, Prepared, PreparedOp};
use crate::openapi::rules::{Failure, Instance, Kind};
use crate::openapi::schema;
use crate::openapi::shape::Shape;
use crate::ops::OpKind;

/// The OpenAPI document embedded in the binary.
pub const BUNDLED_SPEC: &str = include_str!("../../spec/apps_secrets.openapi.json");

/// The OpenAPI document of the mock's own control endpoints (`/_mock/…`).
pub const CONTROL_SPEC: &str = include_str!("../../spec/mock_control.openapi.json");

/// [`BUNDLED_SPEC`] and [`CONTROL_SPEC`] as `build.rs` prepared them
/// ([`crate::openapi::prepare`]).
const BUNDLED_PREPARED: &str =
    include_str!(concat!(env!("OUT_DIR"), "/apps_secrets.prepared.json"));
const CONTROL_PREPARED: &str =
    include_str!(concat!(env!("OUT_DIR"), "/mock_control.prepared.json"));

pub(crate) use crate::openapi::prepare::HIDDEN_UNLESS_EXPANDED;

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
    error_validator: Option<Arc<Lazy>>,
    /// Every component schema, for checking data that is not a request or
    /// response (fixtures).
    components: Vec<(String, Arc<Lazy>)>,
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
    request_validator: Arc<Lazy>,
    /// `request_schema`'s shape for coercion and coverage, on first use.
    shape: OnceLock<Shape>,
    /// Response validators by status (`"200"`, …, `"default"`).
    responses: Vec<(String, Arc<Lazy>)>,
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
        BUNDLED.get_or_init(|| Spec::embedded(BUNDLED_PREPARED))
    }

    /// The control document, parsed once per process and shared.
    pub fn control() -> &'static Spec {
        static CONTROL: OnceLock<Spec> = OnceLock::new();
        CONTROL.get_or_init(|| Spec::embedded(CONTROL_PREPARED))
    }

    /// Parses an OpenAPI 3.0 document given as JSON text and compiles every
    /// validator now, so a document that cannot be served is refused at
    /// start.
    pub fn from_json(text: &str) -> Result<Spec, String> {
        let spec = Spec::build(prepare(text)?);
        spec.compile_all()?;
        Ok(spec)
    }

    /// Compiles every validator (the bundled documents' are compiled on
    /// first use instead; a unit test compiles them all).
    pub fn compile_all(&self) -> Result<(), String> {
        for lazy in self.validators() {
            lazy.get()?;
        }
        Ok(())
    }

    /// Every validator of the document.
    pub(crate) fn validators(&self) -> impl Iterator<Item = &Arc<Lazy>> {
        let ops = self.operations.iter().flat_map(|op| {
            std::iter::once(&op.request_validator).chain(op.responses.iter().map(|(_, v)| v))
        });
        let components = self.components.iter().map(|(_, v)| v);
        ops.chain(components).chain(&self.error_validator)
    }

    /// A bundled document, prepared by the build script.
    fn embedded(prepared: &str) -> Spec {
        let prepared = serde_json::from_str(prepared).expect("the build script wrote it");
        Spec::build(prepared)
    }

    /// Builds a spec from a prepared document, compiling nothing yet (so
    /// nothing here can fail: a schema that does not compile says so when
    /// first used, or in `compile_all`).
    fn build(prepared: Prepared) -> Spec {
        let Prepared {
            version,
            operations,
            definitions,
        } = prepared;
        // Shared with the compiler, not copied: a deep copy of the
        // components was a fifth of a process's first answer.
        let definitions = Arc::new(definitions);
        let mut validators = Validators::new(Compiler::new(Arc::clone(&definitions)));
        let reference =
            |name: &str| json!({ "$ref": format!("{}#/definitions/{name}", schema::DEFINITIONS) });
        let components: Vec<(String, Arc<Lazy>)> = definitions["definitions"]
            .as_object()
            .into_iter()
            .flat_map(|defs| defs.keys())
            .map(|name| (name.clone(), validators.of(reference(name), name.clone())))
            .collect();
        let error_validator = components
            .iter()
            .any(|(name, _)| name == "error")
            .then(|| validators.of(reference("error"), "components.schemas.error".into()));
        let operations = operations
            .into_iter()
            .map(|op| Operation::build(op, &mut validators, &definitions))
            .collect();
        Spec {
            version,
            operations,
            error_validator,
            components,
        }
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
        let mut found: Vec<Violation> = validator.failures(value).iter().map(describe).collect();
        found.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.rule.cmp(&b.rule)));
        found
    }

    /// Checks an error body raised outside any operation.
    pub fn validate_error(&self, body: &impl Instance) -> Result<(), String> {
        match &self.error_validator {
            Some(v) => first_violation(v.get()?, body),
            None => Ok(()),
        }
    }
}

impl Operation {
    fn build(op: PreparedOp, validators: &mut Validators, definitions: &Arc<Value>) -> Operation {
        let request_validator = validators.of(op.request_schema.clone(), op.id.clone());
        let responses = op
            .responses
            .into_iter()
            .map(|(status, s)| {
                let what = format!("{} {status}", op.id);
                (status, validators.of(s, what))
            })
            .collect();
        Operation {
            kind: OpKind::resolve(&op.id),
            id: op.id,
            method: op.method,
            path: op.path,
            request_schema: op.request_schema,
            definitions: definitions.clone(),
            request_validator,
            shape: OnceLock::new(),
            responses,
            expandable: op.expandable,
            json_body: op.json_body,
        }
    }

    /// The shape of the request's parameters (compiled on first use).
    pub fn shape(&self) -> &Shape {
        self.shape
            .get_or_init(|| Shape::compile(&self.request_schema, &self.definitions))
    }

    /// All schema violations of the (already coerced) request (none when it
    /// conforms, found without allocating); a validator that does not
    /// compile is reported as an error.
    pub fn request_errors(&self, input: &Value) -> Result<Vec<Failure>, String> {
        let validator = self.request_validator.get()?;
        if validator.is_valid(input) {
            return Ok(Vec::new());
        }
        Ok(validator.failures(input))
    }

    /// Checks a response body against the schema for its status (or
    /// `default`). A status the document does not describe is a violation.
    pub fn validate_response(&self, status: u16, body: &impl Instance) -> Result<(), String> {
        // A key of three digits names a status (HTTP's are 100 to 999):
        // read as a number, no text is made for the status.
        let validator = self
            .responses
            .iter()
            .find(|(s, _)| s.len() == 3 && s.parse() == Ok(status))
            .or_else(|| self.responses.iter().find(|(s, _)| s == "default"))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the spec defines no {status} response for {}", self.id))?;
        first_violation(validator.get()?, body)
    }
}

fn first_violation(validator: &Checker, body: &impl Instance) -> Result<(), String> {
    // The fast check allocates nothing; failures are collected only when
    // there is one.
    if validator.is_valid(body) {
        return Ok(());
    }
    match validator.failures(&body.value()).into_iter().next() {
        None => Ok(()),
        Some(f) => {
            let at = if f.at.is_empty() { "/" } else { &f.at };
            Err(format!("{at}: {}", f.message))
        }
    }
}

/// A schema violation in plain words, pointing at the value at fault (for an
/// unknown or missing field: at the field).
fn describe(f: &Failure) -> Violation {
    let at = f.at.clone();
    let field = |name: &str| format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
    let (pointer, rule) = match &f.kind {
        Kind::Enum(options) => {
            let names: Vec<String> = options
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
                .collect();
            (at, format!("must be one of {}", names.join(", ")))
        }
        Kind::Missing(name) => (field(name), "is required".to_string()),
        Kind::Unknown(unexpected) => (
            field(unexpected.first().map(String::as_str).unwrap_or_default()),
            "is not a known field".to_string(),
        ),
        Kind::Type(types) => {
            let expected: Vec<&str> = types.iter().map(|t| t.name()).collect();
            (at, format!("must be of type {}", expected.join(" or ")))
        }
        Kind::MaxLength(limit) => (at, format!("must be at most {limit} characters")),
        Kind::MinLength(limit) => (at, format!("must be at least {limit} characters")),
        Kind::Pattern(pattern) => (at, format!("must match the pattern {pattern}")),
        Kind::Minimum(limit) => (at, format!("must be at least {limit}")),
        Kind::Maximum(limit) => (at, format!("must be at most {limit}")),
        Kind::Other => (at, f.message.clone()),
    };
    Violation { pointer, rule }
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

    /// The bundled documents never need the library's compiler (see
    /// `crate::openapi::rules`): every schema is one the rules cover.
    #[test]
    fn the_rules_check_every_schema_of_both_bundled_documents() {
        for spec in [Spec::bundled(), Spec::control()] {
            for lazy in spec.validators() {
                assert!(lazy.get().unwrap().is_rules(), "{}", lazy.what());
            }
        }
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

    /// A document of one JSON operation whose only component is `thing`
    /// (no `error`), answered by `responses`.
    fn thing_spec(responses: Value) -> Result<Spec, String> {
        let text = json!({
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "v"},
            "paths": {"/v1/things": {"post": {
                "operationId": "make",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": responses
            }}},
            "components": {"schemas": {"thing": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "minLength": 2, "pattern": "^[a-z]+$"},
                    "n": {"type": "integer", "minimum": 1, "maximum": 9},
                    "payload": {"type": "string"}
                }
            }}}
        });
        Spec::from_json(&text.to_string())
    }

    fn answers(schema: Value) -> Value {
        json!({"description": "d", "content": {"application/json": {"schema": schema}}})
    }

    #[test]
    fn component_violations_name_each_bound() {
        let spec = thing_spec(json!({"200": answers(json!({"type": "object"}))})).unwrap();
        let rules = |v: Value| -> Vec<String> {
            spec.violations("thing", &v)
                .into_iter()
                .map(|v| format!("{} {}", v.pointer, v.rule))
                .collect()
        };
        assert_eq!(
            rules(json!({"code": "A"})),
            [
                "/code must be at least 2 characters",
                "/code must match the pattern ^[a-z]+$"
            ]
        );
        assert_eq!(rules(json!({"n": 0})), ["/n must be at least 1"]);
        assert_eq!(rules(json!({"n": 10})), ["/n must be at most 9"]);
        assert!(rules(json!({"code": "ab", "n": 9})).is_empty());
    }

    #[test]
    fn a_document_without_an_error_schema_checks_no_error_body() {
        let spec = thing_spec(json!({"200": answers(json!({"type": "object"}))})).unwrap();
        spec.validate_error(&json!({"anything": 1})).unwrap();
        // The bundled one does.
        assert!(Spec::bundled()
            .validate_error(&json!({"anything": 1}))
            .is_err());
        Spec::bundled()
            .validate_error(&json!({"error": {"type": "api_error", "message": "m"}}))
            .unwrap();
    }

    #[test]
    fn a_json_body_is_told_from_a_form() {
        let spec = thing_spec(json!({"200": answers(json!({"type": "object"}))})).unwrap();
        assert!(spec.operations[0].json_body);
        assert!(Spec::bundled().operations.iter().all(|op| !op.json_body));
    }

    /// Expandable fields come from the first 2xx answer, whatever comes
    /// before or after it.
    #[test]
    fn expandable_fields_come_from_the_first_success() {
        let thing = json!({"$ref": "#/components/schemas/thing"});
        let spec = thing_spec(json!({
            "400": answers(json!({"type": "object", "properties": {"payload": {}}})),
            "200": answers(json!({"type": "object"})),
            "201": answers(thing.clone())
        }))
        .unwrap();
        assert!(spec.operations[0].expandable.is_empty());
        let spec = thing_spec(json!({"201": answers(thing)})).unwrap();
        assert_eq!(
            spec.operations[0].expandable,
            BTreeSet::from(["payload".to_string()])
        );
    }

    #[test]
    fn a_document_whose_schema_does_not_compile_is_refused() {
        let e = thing_spec(json!({"200": answers(json!({"type": "string", "pattern": "("}))}))
            .err()
            .expect("refused");
        assert!(e.contains("does not compile"), "{e}");
    }

    /// Operations answering with one schema share its validator, and so
    /// compile it once; different schemas keep their own.
    #[test]
    fn one_schema_is_one_validator() {
        let spec = Spec::bundled();
        let answer = |id: &str, status: &str| {
            let op = spec.operations.iter().find(|o| o.id == id).unwrap();
            op.responses
                .iter()
                .find(|(s, _)| s == status)
                .unwrap()
                .1
                .clone()
        };
        let find = answer("getAppsSecretsFind", "200");
        assert!(Arc::ptr_eq(&find, &answer("postAppsSecrets", "200")));
        assert!(Arc::ptr_eq(&find, &answer("postAppsSecretsDelete", "200")));
        assert!(!Arc::ptr_eq(&find, &answer("getAppsSecrets", "200")));
        let error = spec.error_validator.as_ref().unwrap();
        assert!(Arc::ptr_eq(error, &answer("getAppsSecretsFind", "default")));
        let (_, component) = spec
            .components
            .iter()
            .find(|(n, _)| n == "apps.secret")
            .unwrap();
        assert!(Arc::ptr_eq(component, &find));
    }
}
