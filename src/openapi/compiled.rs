//! Compiling the spec's schemas: one registry of the translated components
//! per document, shared by every validator, and each validator compiled on
//! first use.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

/// What compiling needs, shared by every validator of one document: the
/// translated components, registered once.
pub(crate) struct Compiler {
    /// The translated components as `{"definitions": {...}}`, registered
    /// under [`crate::openapi::schema::DEFINITIONS`].
    pub registry: Registry<'static>,
}

impl Compiler {
    /// Compiles under draft 4, the JSON Schema dialect OpenAPI 3.0's schema
    /// object derives from (and whose meta-schema, which the library checks
    /// every schema against and keeps for the life of the process, costs a
    /// fraction of draft 7's memory).
    pub fn compile(&self, schema: &Value, what: &str) -> Result<Validator, String> {
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_registry(&self.registry)
            .build(schema)
            .map_err(|e| format!("{what}: schema does not compile: {e}"))
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
    compiled: OnceLock<Result<Validator, String>>,
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

    pub fn get(&self) -> Result<&Validator, String> {
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
