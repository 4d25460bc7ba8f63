//! Compiling the spec's schemas: one registry of the translated components
//! per document, shared by every validator, and each validator compiled on
//! first use.

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
/// never pays for its validators), then shared.
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
