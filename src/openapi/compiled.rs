//! Compiling the spec's schemas: each validator compiled on first use, by
//! the mock's own rules ([`crate::openapi::rules`]) where they cover the
//! schema, else by the `jsonschema` library, from one registry of the
//! translated components per document, built when first needed.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, JsonType, Registry, ValidationError, Validator};
use serde_json::Value;

use crate::openapi::rules::{self, Failure, Instance, Kind, Rules, Ty};
use crate::openapi::schema;

/// What compiling needs, shared by every validator of one document.
pub(crate) struct Compiler {
    /// The translated components as `{"definitions": {...}}`.
    definitions: Arc<Value>,
    /// `definitions` registered under [`schema::DEFINITIONS`], for the
    /// library: built by the first schema the rules do not cover.
    registry: OnceLock<Result<Registry<'static>, String>>,
}

impl Compiler {
    pub fn new(definitions: Arc<Value>) -> Compiler {
        Compiler {
            definitions,
            registry: OnceLock::new(),
        }
    }

    /// The rules, when they cover `schema`; else the library, under draft
    /// 4, the JSON Schema dialect OpenAPI 3.0's schema object derives from.
    pub fn compile(&self, schema: &Value, what: &str) -> Result<Checker, String> {
        if let Ok(rules) = rules::compile(schema, &self.definitions) {
            return Ok(Checker::Rules(rules));
        }
        self.library(schema, what)
    }

    /// `schema` compiled by the library.
    pub fn library(&self, schema: &Value, what: &str) -> Result<Checker, String> {
        let registry = self
            .registry
            .get_or_init(|| {
                Registry::new()
                    .draft(Draft::Draft4)
                    .add(schema::DEFINITIONS, Arc::clone(&self.definitions))
                    .and_then(|builder| builder.prepare())
                    .map_err(|e| format!("components do not compile: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_registry(registry)
            .build(schema)
            .map(Checker::Library)
            .map_err(|e| format!("{what}: schema does not compile: {e}"))
    }
}

/// A compiled schema.
pub(crate) enum Checker {
    Rules(Rules),
    Library(Validator),
}

impl Checker {
    /// Whether `value` conforms (allocates nothing when it does and the
    /// rules check it).
    pub fn is_valid(&self, value: &impl Instance) -> bool {
        match self {
            Checker::Rules(r) => r.is_valid(value),
            Checker::Library(v) => v.is_valid(&value.value()),
        }
    }

    /// Every way `value` breaks the schema (none when it conforms), in an
    /// order of their own, whichever engine found them: by the pointer of
    /// the value at fault (so a missing field of the whole answer comes
    /// before a bad value inside it), then by wording.
    pub fn failures(&self, value: &Value) -> Vec<Failure> {
        let mut found = match self {
            Checker::Rules(r) => r.failures(value),
            Checker::Library(v) => v.iter_errors(value).map(|e| failure(&e)).collect(),
        };
        found.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.message.cmp(&b.message)));
        found
    }

    /// Whether the mock's own rules check this schema.
    #[cfg(test)]
    pub fn is_rules(&self) -> bool {
        matches!(self, Checker::Rules(_))
    }
}

/// The library's error as a [`Failure`].
fn failure(e: &ValidationError<'_>) -> Failure {
    let ty = |t: JsonType| match t {
        JsonType::Null => Ty::Null,
        JsonType::Boolean => Ty::Boolean,
        JsonType::Integer => Ty::Integer,
        JsonType::Number => Ty::Number,
        JsonType::String => Ty::String,
        JsonType::Array => Ty::Array,
        JsonType::Object => Ty::Object,
    };
    let kind = match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            Kind::Unknown(unexpected.clone())
        }
        ValidationErrorKind::Required { property } => {
            Kind::Missing(property.as_str().unwrap_or_default().to_owned())
        }
        ValidationErrorKind::Type { kind } => Kind::Type(match kind {
            TypeKind::Single(t) => vec![ty(*t)],
            TypeKind::Multiple(set) => set.iter().map(ty).collect(),
        }),
        ValidationErrorKind::Enum { options } => {
            Kind::Enum(options.as_array().cloned().unwrap_or_default())
        }
        ValidationErrorKind::MaxLength { limit } => Kind::MaxLength(*limit),
        ValidationErrorKind::MinLength { limit } => Kind::MinLength(*limit),
        ValidationErrorKind::Minimum { limit } => Kind::Minimum(limit.clone()),
        ValidationErrorKind::Maximum { limit } => Kind::Maximum(limit.clone()),
        ValidationErrorKind::Pattern { pattern } => Kind::Pattern(pattern.clone()),
        _ => Kind::Other,
    };
    Failure {
        at: e.instance_path().as_str().to_owned(),
        kind,
        instance: e.instance().as_ref().clone(),
        message: e.to_string(),
    }
}

/// A schema compiled on first use (a server that never sees an operation
/// never pays for its validators), then shared: by every operation that
/// answers with the same `$ref` too ([`Validators`]).
pub(crate) struct Lazy {
    /// What it checks, for messages.
    what: String,
    /// The translated schema.
    schema: Value,
    /// Shared by every validator of the document.
    compiler: Arc<Compiler>,
    /// The validator, or why it does not compile.
    compiled: OnceLock<Result<Checker, String>>,
}

impl Lazy {
    pub fn new(compiler: &Arc<Compiler>, schema: Value, what: String) -> Lazy {
        Lazy {
            what,
            schema,
            compiler: compiler.clone(),
            compiled: OnceLock::new(),
        }
    }

    /// The translated schema it checks.
    #[cfg(test)]
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// What it checks, as messages name it (`getAppsSecretsFind 200`).
    #[cfg(test)]
    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn get(&self) -> Result<&Checker, String> {
        self.compiled
            .get_or_init(|| self.compiler.compile(&self.schema, &self.what))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The validators of one document, one per `$ref` target: the `200`
/// answers of several operations, their `default` answers and the `error`
/// component are each a lone `$ref`, compiled (and held) once. Any other
/// schema gets a validator of its own.
pub(crate) struct Validators {
    compiler: Arc<Compiler>,
    /// By the target of the lone `$ref` they check.
    by_ref: HashMap<String, Arc<Lazy>>,
}

impl Validators {
    pub fn new(compiler: Compiler) -> Validators {
        Validators {
            compiler: Arc::new(compiler),
            by_ref: HashMap::new(),
        }
    }

    /// The validator of `schema`: the one already made for the same lone
    /// `$ref` (`what` then names the first), else a new one. One lookup
    /// per schema, however large the document.
    pub fn of(&mut self, schema: Value, what: String) -> Arc<Lazy> {
        let target = lone_ref(&schema).map(str::to_owned);
        if let Some(made) = target.as_ref().and_then(|t| self.by_ref.get(t)) {
            return made.clone();
        }
        let lazy = Arc::new(Lazy::new(&self.compiler, schema, what));
        if let Some(t) = target {
            self.by_ref.insert(t, lazy.clone());
        }
        lazy
    }
}

/// `{"$ref": X}` and nothing else: `X`.
fn lone_ref(schema: &Value) -> Option<&str> {
    let fields = schema.as_object().filter(|o| o.len() == 1)?;
    fields.get("$ref")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_lone_ref_is_shared_by_its_target() {
        assert_eq!(lone_ref(&json!({"$ref": "#/a"})), Some("#/a"));
        assert_eq!(lone_ref(&json!({"$ref": "#/a", "type": "object"})), None);
        assert_eq!(lone_ref(&json!({"type": "object"})), None);
        assert_eq!(lone_ref(&json!({"$ref": 1})), None);
        assert_eq!(lone_ref(&json!(true)), None);
    }
}
