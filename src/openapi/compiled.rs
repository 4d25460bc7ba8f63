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
/// never pays for its validators), then shared: by every operation that
/// answers with the same schema too ([`Validators`]).
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

    /// The translated schema it compiles.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    pub fn get(&self) -> Result<&Validator, String> {
        self.compiled
            .get_or_init(|| self.compiler.compile(&self.schema, &self.what))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The validators of one document, one per distinct schema: the `200`
/// answers of several operations, their `default` answers and the `error`
/// component are often one `$ref`, compiled (and held) once.
pub(crate) struct Validators {
    compiler: Arc<Compiler>,
    made: Vec<Arc<Lazy>>,
}

impl Validators {
    pub fn new(compiler: Compiler) -> Validators {
        Validators {
            compiler: Arc::new(compiler),
            made: Vec::new(),
        }
    }

    /// The validator of `schema`, made now unless an equal schema has one
    /// (`what` then names the first). Linear: a document has tens of
    /// schemas, and this runs once per document.
    pub fn of(&mut self, schema: Value, what: String) -> Arc<Lazy> {
        if let Some(made) = self.made.iter().find(|l| *l.schema() == schema) {
            return made.clone();
        }
        let lazy = Arc::new(Lazy::new(&self.compiler, schema, what));
        self.made.push(lazy.clone());
        lazy
    }
}
