//! The shape of an operation's parameters, compiled once from its request
//! schema: the type of each node, whether it admits null or names an enum,
//! its items and properties. What form coercion, array shaping and coverage
//! read for every request, with no `Value` lookup (a hash of the key, and
//! `$ref`s followed by pointer) per node they visit.

use std::collections::HashMap;

use serde_json::Value;

use crate::openapi::schema;

/// A node's index in [`Shape::nodes`]; the root is [`Shape::ROOT`].
pub(crate) type NodeId = usize;

/// The compiled tree (a graph where references recur).
#[derive(Debug)]
pub(crate) struct Shape {
    nodes: Vec<Node>,
}

/// What a schema's `type` names, as coercion reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Integer,
    Number,
    Boolean,
    Array,
    /// `"object"`, or no type at all.
    Object,
    /// Any other type (`string`): nothing to coerce or shape.
    Other,
}

/// One schema, its `$ref`s followed.
#[derive(Debug)]
pub(crate) struct Node {
    /// The non-null type.
    pub kind: Kind,
    /// Whether the type admits null.
    pub nullable: bool,
    /// Whether the schema has an `enum`.
    pub has_enum: bool,
    /// `items`, if present.
    pub items: Option<NodeId>,
    /// `additionalProperties`, where it is a schema.
    pub extra: Option<NodeId>,
    /// `properties`, sorted by name.
    properties: Vec<(String, NodeId)>,
}

impl Node {
    /// The schema of property `name`, if `properties` names it.
    pub fn property(&self, name: &str) -> Option<NodeId> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.properties[i].1)
    }
}

impl Shape {
    /// The node of the schema compiled.
    pub const ROOT: NodeId = 0;

    /// Compiles `schema`, whose `$ref`s point into `root`. A schema reached
    /// twice (a reference used twice, or a cycle) is one node.
    pub fn compile(schema: &Value, root: &Value) -> Shape {
        let mut shape = Shape { nodes: Vec::new() };
        shape.node(schema, root, &mut HashMap::new());
        shape
    }

    /// Node `id`.
    pub fn get(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    fn node<'a>(
        &mut self,
        schema: &'a Value,
        root: &'a Value,
        seen: &mut HashMap<*const Value, NodeId>,
    ) -> NodeId {
        let schema = schema::follow(root, schema);
        if let Some(&id) = seen.get(&(schema as *const Value)) {
            return id;
        }
        let id = self.nodes.len();
        seen.insert(schema, id);
        let (kind, nullable) = schema_type(schema);
        self.nodes.push(Node {
            kind,
            nullable,
            has_enum: schema.get("enum").is_some(),
            items: None,
            extra: None,
            properties: Vec::new(),
        });
        let items = schema.get("items").map(|s| self.node(s, root, seen));
        let extra = schema
            .get("additionalProperties")
            .filter(|s| s.is_object())
            .map(|s| self.node(s, root, seen));
        let mut properties: Vec<(String, NodeId)> = match schema.get("properties") {
            Some(Value::Object(props)) => props
                .iter()
                .map(|(k, s)| (k.clone(), self.node(s, root, seen)))
                .collect(),
            _ => Vec::new(),
        };
        properties.sort_by(|a, b| a.0.cmp(&b.0));
        let node = &mut self.nodes[id];
        node.items = items;
        node.extra = extra;
        node.properties = properties;
        id
    }
}

/// The schema's non-null type and whether it admits null.
fn schema_type(schema: &Value) -> (Kind, bool) {
    let (name, nullable) = match schema.get("type") {
        Some(Value::String(t)) => (Some(t.as_str()), false),
        Some(Value::Array(ts)) => (
            ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            ts.iter().any(|t| t == "null"),
        ),
        _ => (None, false),
    };
    let kind = match name {
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") => Kind::Array,
        Some("object") | None => Kind::Object,
        Some(_) => Kind::Other,
    };
    (kind, nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_references_and_properties_are_compiled_once() {
        let root = json!({"definitions": {
            "scope": {"type": "object", "properties": {
                "type": {"type": "string", "enum": ["account", "user"]},
                "user": {"type": "string"}
            }},
            "tree": {"type": "object", "properties": {"child": {"$ref": "#/definitions/tree"}}}
        }});
        let schema = json!({"type": "object", "properties": {
            "scope": {"$ref": "#/definitions/scope"},
            "again": {"$ref": "#/definitions/scope"},
            "limit": {"type": ["integer", "null"]},
            "count": {"type": ["integer"]},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "expand": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
            "loose": {"additionalProperties": true},
            "tree": {"$ref": "#/definitions/tree"}
        }});
        let shape = Shape::compile(&schema, &root);
        let top = shape.get(Shape::ROOT);
        assert_eq!(top.kind, Kind::Object);
        let prop = |name| shape.get(top.property(name).unwrap());
        assert_eq!(top.property("scope"), top.property("again"));
        let scope = prop("scope");
        let ty = shape.get(scope.property("type").unwrap());
        assert_eq!(
            (ty.kind, ty.nullable, ty.has_enum),
            (Kind::Other, false, true)
        );
        assert!(!shape.get(scope.property("user").unwrap()).has_enum);
        assert_eq!(
            (prop("limit").kind, prop("limit").nullable),
            (Kind::Integer, true)
        );
        assert_eq!(
            (prop("count").kind, prop("count").nullable),
            (Kind::Integer, false)
        );
        assert_eq!(prop("ratio").kind, Kind::Number);
        assert_eq!(prop("flag").kind, Kind::Boolean);
        let expand = prop("expand");
        assert_eq!(expand.kind, Kind::Array);
        assert_eq!(shape.get(expand.items.unwrap()).kind, Kind::Other);
        assert_eq!(shape.get(prop("meta").extra.unwrap()).kind, Kind::Integer);
        assert_eq!(prop("loose").extra, None, "only a schema counts");
        let tree = top.property("tree").unwrap();
        assert_eq!(
            shape.get(tree).property("child"),
            Some(tree),
            "a cycle is one node"
        );
        assert_eq!(top.property("nothing"), None);
        assert_eq!(top.items, None);
    }
}
