//! Compiling a translated schema into [`Rules`]: each keyword read once,
//! each reference target compiled once, and anything the rules do not
//! implement, or that the draft 4 meta-schema would refuse, refused as
//! [`Unsupported`] (the library then compiles it, or reports why not).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{same, Additional, Bound, Node, Pattern, Rules, Ty, Unsupported, MAX_DEPTH};
use crate::openapi::schema::DEFINITIONS;

/// Keywords no rule reads: they never change a verdict.
const ANNOTATIONS: &[&str] = &[
    "default",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "discriminator",
    "externalDocs",
    "xml",
    "$comment",
];

/// Compiles `schema`, whose references point into `definitions` (the
/// translated components, `{"definitions": {...}}`).
pub(crate) fn compile(schema: &Value, definitions: &Value) -> Result<Rules, Unsupported> {
    let mut compiler = Compiler {
        definitions,
        nodes: Vec::new(),
        by_ref: HashMap::new(),
    };
    compiler.node(schema, 0)?;
    Ok(Rules {
        nodes: compiler.nodes,
    })
}

struct Compiler<'d> {
    definitions: &'d Value,
    nodes: Vec<Node>,
    /// Each reference target compiled once (which also ends cycles).
    by_ref: HashMap<String, usize>,
}

impl Compiler<'_> {
    /// Compiles `schema`, nested in a schema at `parent` levels.
    fn node(&mut self, schema: &Value, parent: u32) -> Result<usize, Unsupported> {
        let depth = parent + 1;
        if depth > MAX_DEPTH {
            return Err(Unsupported("a schema nested too deep".into()));
        }
        let index = self.nodes.len();
        self.nodes.push(Node::default());
        // Draft 4 has no boolean schemas (only `additionalProperties`
        // takes a boolean).
        let node = match schema {
            Value::Object(fields) => self.fields(fields, depth)?,
            _ => return Err(Unsupported("a schema that is not an object".into())),
        };
        self.nodes[index] = node;
        Ok(index)
    }

    fn target(&mut self, reference: &str, depth: u32) -> Result<usize, Unsupported> {
        if let Some(&made) = self.by_ref.get(reference) {
            return Ok(made);
        }
        let unsupported = || Unsupported(format!("$ref {reference}"));
        let pointer = reference
            .strip_prefix(DEFINITIONS)
            .and_then(|r| r.strip_prefix('#'))
            .ok_or_else(unsupported)?;
        let definitions = self.definitions;
        let schema = definitions.pointer(pointer).ok_or_else(unsupported)?;
        // Registered before compiling, so that a reference to itself finds it.
        self.by_ref.insert(reference.to_owned(), self.nodes.len());
        self.node(schema, depth)
    }

    fn fields(&mut self, fields: &Map<String, Value>, depth: u32) -> Result<Node, Unsupported> {
        let mut node = Node::default();
        if let Some(reference) = fields.get("$ref") {
            let reference = reference
                .as_str()
                .ok_or_else(|| Unsupported("a $ref that is not a string".into()))?;
            node.reference = Some(self.target(reference, depth)?);
            return Ok(node);
        }
        let unsupported = |key: &str| Unsupported(key.to_owned());
        // Draft 4: `exclusiveMinimum: true` makes `minimum` exclusive.
        let bound = |key: &str, exclusive: &str, value: &Value| -> Result<Bound, Unsupported> {
            let exclusive = match fields.get(exclusive) {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(unsupported(exclusive)),
            };
            value
                .is_number()
                .then(|| Bound {
                    limit: value.clone(),
                    exclusive,
                })
                .ok_or_else(|| unsupported(key))
        };
        let length = |key: &str, value: &Value| value.as_u64().ok_or_else(|| unsupported(key));
        for (key, value) in fields {
            match key.as_str() {
                "type" => node.types = Some(types(value).ok_or_else(|| unsupported(key))?),
                "enum" => {
                    let options = value
                        .as_array()
                        .filter(|o| distinct(o))
                        .ok_or_else(|| unsupported(key))?;
                    node.enumeration = Some(options.clone());
                }
                "properties" => {
                    let properties = value.as_object().ok_or_else(|| unsupported(key))?;
                    for (name, schema) in properties {
                        let index = self.node(schema, depth)?;
                        node.properties.push((name.clone(), index, false));
                    }
                }
                "required" => {
                    let names = value
                        .as_array()
                        .filter(|n| distinct(n))
                        .ok_or_else(|| unsupported(key))?;
                    for name in names {
                        let name = name.as_str().ok_or_else(|| unsupported(key))?;
                        node.required.push(name.to_owned());
                    }
                }
                "additionalProperties" => {
                    node.additional = match value {
                        Value::Bool(true) => Additional::Any,
                        Value::Bool(false) => Additional::Never,
                        schema => Additional::Schema(self.node(schema, depth)?),
                    }
                }
                "items" if value.is_object() => {
                    node.items = Some(self.node(value, depth)?);
                }
                "maxLength" => node.max_length = Some(length(key, value)?),
                "minLength" => node.min_length = Some(length(key, value)?),
                "minimum" => node.minimum = Some(bound(key, "exclusiveMinimum", value)?),
                "maximum" => node.maximum = Some(bound(key, "exclusiveMaximum", value)?),
                // Read with the bound they qualify (draft 4: booleans, and
                // only beside it).
                "exclusiveMinimum" if value.is_boolean() && fields.contains_key("minimum") => {}
                "exclusiveMaximum" if value.is_boolean() && fields.contains_key("maximum") => {}
                "title" | "description" if value.is_string() => {}
                "pattern" => {
                    let source = value.as_str().ok_or_else(|| unsupported(key))?;
                    node.pattern = Some(Pattern::compile(source)?);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let list = value
                        .as_array()
                        .filter(|l| !l.is_empty())
                        .ok_or_else(|| unsupported(key))?;
                    let mut indices = Vec::with_capacity(list.len());
                    for schema in list {
                        indices.push(self.node(schema, depth)?);
                    }
                    match key.as_str() {
                        "allOf" => node.all_of = indices,
                        "anyOf" => node.any_of = indices,
                        _ => node.one_of = indices,
                    }
                }
                "not" => node.not = Some((self.node(value, depth)?, value.clone())),
                annotation if ANNOTATIONS.contains(&annotation) => {}
                other => return Err(unsupported(other)),
            }
        }
        node.type_mask = node
            .types
            .as_ref()
            .map_or(u8::MAX, |t| t.iter().fold(0, |m, t| m | t.bit()));
        node.combined = !node.all_of.is_empty()
            || !node.any_of.is_empty()
            || !node.one_of.is_empty()
            || node.not.is_some();
        for name in &node.required {
            match node.properties.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, _, required)) => {
                    *required = true;
                    node.required_properties += 1;
                }
                None => node.required_elsewhere = true,
            }
        }
        Ok(node)
    }
}

/// A list the meta-schema accepts where it asks for a set: not empty, no
/// value twice.
fn distinct(list: &[Value]) -> bool {
    !list.is_empty()
        && list
            .iter()
            .enumerate()
            .all(|(i, a)| list[..i].iter().all(|b| !same(a, b)))
}

/// `"string"` or `["string", "null"]`, as a set in the library's order.
fn types(value: &Value) -> Option<Vec<Ty>> {
    let mut set = match value {
        Value::String(name) => vec![Ty::parse(name)?],
        Value::Array(names) if !names.is_empty() => names
            .iter()
            .map(|n| n.as_str().and_then(Ty::parse))
            .collect::<Option<Vec<Ty>>>()?,
        _ => return None,
    };
    set.sort();
    let before = set.len();
    set.dedup();
    (set.len() == before).then_some(set)
}
