//! The rules against the library they stand in for: the same verdict and
//! the same failures (pointer, rule, wording) on generated values, for
//! every schema of both bundled documents and for schemas that use each
//! keyword the rules read.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::*;
use crate::body::Json;
use crate::openapi::compiled::{Checker, Compiler};
use crate::openapi::schema::{follow, translate, DEFINITIONS};
use crate::openapi::spec::Spec;

/// A small deterministic generator (xorshift64*): the same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A value that is not guided by any schema.
fn wild(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.one_in(2)),
        2 => json!(rng.below(200) as i64 - 100),
        3 => json!(1.0),
        4 => json!(2.5),
        5 => json!(u64::MAX),
        6 => Value::String(text(rng, 6)),
        7 => Value::Array((0..rng.below(3)).map(|_| wild(rng, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            m.insert(text(rng, 3), wild(rng, depth + 1));
            Value::Object(m)
        }
    }
}

fn text(rng: &mut Rng, max: u64) -> String {
    const PIECES: &[&str] = &["a", "Z", "é", "😀", "/", "~", "0", " ", "/v1/apps/secrets"];
    (0..rng.below(max + 1))
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

/// A value shaped by `schema` (references into `defs`), broken now and
/// then: a wrong type, a missing or unknown field, a bound crossed.
fn sample(schema: &Value, defs: &Value, rng: &mut Rng, depth: u32) -> Value {
    let schema = follow(defs, schema);
    if depth > 6 || rng.one_in(10) {
        return wild(rng, depth);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = schema[key].as_array().filter(|l| !l.is_empty()) {
            let pick = &list[rng.below(list.len() as u64) as usize];
            return sample(pick, defs, rng, depth + 1);
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.is_empty() && !rng.one_in(6) {
            return options[rng.below(options.len() as u64) as usize].clone();
        }
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) if !ts.is_empty() => ts[rng.below(ts.len() as u64) as usize]
            .as_str()
            .unwrap_or("null")
            .to_owned(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => return wild(rng, depth),
    };
    let near = |rng: &mut Rng, bound: &Value| -> i64 {
        bound.as_i64().unwrap_or(0) + rng.below(3) as i64 - 1
    };
    match ty.as_str() {
        "string" => {
            let max = schema["maxLength"].as_u64().map_or(8, |m| m + 1);
            Value::String(text(rng, max.min(600)))
        }
        "integer" | "number" => match rng.below(5) {
            0 if schema.get("minimum").is_some() => json!(near(rng, &schema["minimum"])),
            1 if schema.get("maximum").is_some() => json!(near(rng, &schema["maximum"])),
            2 => json!(1.0),
            _ => json!(rng.below(20) as i64 - 5),
        },
        "boolean" => json!(rng.one_in(2)),
        "null" => Value::Null,
        "array" => {
            let items = &schema["items"];
            Value::Array(
                (0..rng.below(3))
                    .map(|_| sample(items, defs, rng, depth + 1))
                    .collect(),
            )
        }
        _ => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (name, sub) in props {
                    let keep = if required.contains(&name.as_str()) {
                        !rng.one_in(12)
                    } else {
                        !rng.one_in(3)
                    };
                    if keep {
                        out.insert(name.clone(), sample(sub, defs, rng, depth + 1));
                    }
                }
            }
            if rng.one_in(8) {
                out.insert(["zz", "a/b", "t~x"][rng.below(3) as usize].into(), json!(1));
            }
            if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                out.insert("extra".into(), sample(extra, defs, rng, depth + 1));
            }
            // Now and then out of the schema's order.
            if rng.one_in(4) {
                out = out.into_iter().rev().collect();
            }
            Value::Object(out)
        }
    }
}

/// The failures, in the order `Checker::failures` gives them.
fn listed(checker: &Checker, value: &Value) -> Vec<String> {
    checker
        .failures(value)
        .into_iter()
        .map(|f| format!("{} | {:?} | {}", f.at, f.kind, f.message))
        .collect()
}

/// `value` as the tree the mock builds its answers in (keys interned: a
/// tree's keys are `&'static str`).
fn tree_of(value: &Value) -> Json {
    fn key(k: &str) -> &'static str {
        thread_local! {
            static KEYS: std::cell::RefCell<std::collections::HashSet<&'static str>> =
                Default::default();
        }
        KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            match keys.get(k) {
                Some(interned) => interned,
                None => {
                    let leaked: &'static str = Box::leak(k.to_owned().into_boxed_str());
                    keys.insert(leaked);
                    leaked
                }
            }
        })
    }
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(tree_of).collect()),
        Value::Object(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (key(k), tree_of(v))).collect())
        }
    }
}

/// `cases` values of `schema` give the same verdicts and failures from the
/// rules as from the library, read as a `Value` or as a tree; returns how
/// many were valid and invalid.
fn agree(schema: &Value, defs: &Arc<Value>, cases: u32, seed: u64) -> (u32, u32) {
    let compiler = Compiler::new(Arc::clone(defs));
    let ours = compiler.compile(schema, "ours").unwrap();
    assert!(ours.is_rules(), "{schema}");
    let library = compiler.library(schema, "library").unwrap();
    let mut rng = Rng(seed | 1);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..cases {
        let value = sample(schema, defs, &mut rng, 0);
        let verdict = library.is_valid(&value);
        assert_eq!(ours.is_valid(&value), verdict, "{schema}\n{value}");
        let tree = tree_of(&value);
        assert_eq!(tree.to_value(), value);
        assert_eq!(ours.is_valid(&tree), verdict, "tree: {schema}\n{value}");
        assert_eq!(library.is_valid(&tree), verdict, "tree: {schema}\n{value}");
        // The verdict path and the failure path agree with each other too.
        assert_eq!(
            verdict,
            ours.failures(&value).is_empty(),
            "{schema}\n{value}"
        );
        assert_eq!(
            listed(&ours, &value),
            listed(&library, &value),
            "{schema}\n{value}"
        );
        if verdict {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    (valid, invalid)
}

#[test]
fn the_rules_and_the_library_agree_on_every_bundled_schema() {
    for spec in [Spec::bundled(), Spec::control()] {
        let defs = &spec.operations[0].definitions;
        let (mut valid, mut invalid) = (0, 0);
        for (i, lazy) in spec.validators().enumerate() {
            let (v, n) = agree(lazy.schema(), defs, 400, 7 + i as u64);
            assert!(n > 0, "{}: no generated value was refused", lazy.what());
            valid += v;
            invalid += n;
        }
        // The generator reaches both verdicts across the document.
        assert!(
            valid > 1000 && invalid > 1000,
            "{valid} valid, {invalid} invalid"
        );
    }
}

/// Schemas that use each keyword the rules read, beyond what the bundled
/// documents use.
#[test]
fn the_rules_and_the_library_agree_on_every_keyword() {
    let defs = Arc::new(json!({"definitions": {
        "node": translate(&json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 3},
                "child": {"$ref": "#/components/schemas/node", "nullable": true},
            },
            "required": ["name"]
        })),
    }}));
    let schemas = [
        json!({"$ref": "urn:stripe-secrets-mock:components#/definitions/node"}),
        json!({"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 3}]}),
        json!({"oneOf": [{"type": "integer"}, {"type": "number", "maximum": 4}]}),
        json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"type": "object", "properties": {"a": {"maximum": 3}}}
        ]}),
        json!({"not": {"type": "string"}}),
        // One branch holds, another rule fails: only that rule is named.
        json!({"minimum": 0, "oneOf": [{"type": "integer"}, {"type": "string"}]}),
        json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 3, "exclusiveMaximum": true}),
        json!({"type": ["string", "null", "integer"], "enum": ["a", 1, null, "b"]}),
        json!({"type": "object", "additionalProperties": {"type": "integer", "maximum": 2}}),
        json!({"type": "array", "items": {"type": "string", "pattern": "^/v1/a", "maxLength": 9}}),
        json!({"type": "string", "pattern": "^/v1/apps/secrets"}),
        json!({"type": "string", "minLength": 2, "pattern": "^/v1"}),
        json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {}}, "additionalProperties": false, "required": ["b"]}),
        json!({"enum": [1, 2, 3, 4, 5], "type": "number"}),
        // A required field the schema does not describe.
        json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a", "zz"]}),
    ];
    for (i, schema) in schemas.iter().enumerate() {
        let (valid, invalid) = agree(schema, &defs, 600, 99 + i as u64);
        assert!(
            valid > 0 && invalid > 0,
            "{schema}: {valid} valid, {invalid} invalid"
        );
    }
}

#[test]
fn keywords_the_rules_do_not_read_are_left_to_the_library() {
    let defs = json!({"definitions": {}});
    for schema in [
        json!({"type": "string", "format": "date-time"}),
        json!({"type": "array", "minItems": 1}),
        json!({"type": "string", "pattern": "^\\d+$"}),
        json!({"type": "string", "pattern": "^[a-z]+$"}),
        json!({"type": "string", "pattern": "secrets"}),
        json!({"patternProperties": {"^a": {}}}),
        json!({"$ref": "http://example.com/x"}),
        json!({"$ref": "urn:stripe-secrets-mock:components#/definitions/missing"}),
        json!({"type": "strings"}),
        json!({"items": [{"type": "string"}]}),
        // What the draft 4 meta-schema refuses, the library reports.
        json!({"properties": {"a": false}}),
        json!({"required": []}),
        json!({"enum": ["a", "a"]}),
        json!({"type": ["string", "string"]}),
        json!({"exclusiveMinimum": true}),
        json!({"exclusiveMaximum": true}),
        json!({"maximum": 3, "exclusiveMaximum": 1}),
        json!({"type": []}),
        json!({"maxLength": -1}),
        json!({"description": 5}),
    ] {
        assert!(compile(&schema, &defs).is_err(), "{schema}");
    }
    // Annotations are no obstacle.
    let annotated = json!({"type": "string", "title": "t", "description": "d", "default": "x"});
    assert!(compile(&annotated, &defs).is_ok());
    // What the library then makes of one.
    let compiler = Compiler::new(Arc::new(defs));
    let checker = compiler
        .compile(&json!({"type": "array", "minItems": 1}), "t")
        .unwrap();
    assert!(!checker.is_rules());
    assert!(!checker.is_valid(&json!([])) && checker.is_valid(&json!([1])));
}

#[test]
fn a_schema_that_refers_to_itself_without_descending_stops() {
    let defs = json!({"definitions": {
        "loop": {"allOf": [{"$ref": "urn:stripe-secrets-mock:components#/definitions/loop"}]}
    }});
    let schema = json!({"$ref": "urn:stripe-secrets-mock:components#/definitions/loop"});
    let rules = compile(&schema, &defs).unwrap();
    assert!(!rules.is_valid(&json!(1)));
    let failures = rules.failures(&json!(1));
    assert_eq!(failures.len(), 1);
    assert!(failures[0].message.contains("deeper than"), "{failures:?}");
}

#[test]
fn pointers_escape_keys_and_count_indices() {
    let rules = compile(
        &json!({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}),
        &json!({}),
    )
    .unwrap();
    let failures = rules.failures(&json!({"a/b~c": [1, "x"]}));
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].at, "/a~1b~0c/1");
    assert_eq!(failures[0].kind, Kind::Type(vec![Ty::Integer]));
    assert_eq!(failures[0].message, r#""x" is not of type "integer""#);
}

/// `enum` options and values compare as the library compares them: numbers
/// by value at any depth, integers exactly even beyond `f64`'s precision.
#[test]
fn enum_equality_is_by_value_at_any_depth() {
    let yes = [
        (json!(1), json!(1.0)),
        (json!([1, "a"]), json!([1.0, "a"])),
        (json!({"a": 1}), json!({"a": 1.0})),
        (json!(-3), json!(-3)),
        (json!(u64::MAX), json!(u64::MAX)),
    ];
    for (a, b) in yes {
        assert!(same(&a, &b) && same(&b, &a), "{a} {b}");
    }
    let no = [
        (
            json!(9_007_199_254_740_993_i64),
            json!(9_007_199_254_740_992_i64),
        ),
        (
            json!(-9_007_199_254_740_993_i64),
            json!(-9_007_199_254_740_992_i64),
        ),
        (json!(u64::MAX), json!(u64::MAX - 1)),
        (json!([1, 2]), json!([1])),
        (json!([1, 2]), json!([1, 3])),
        (json!({"a": 1}), json!({"b": 1})),
        (json!({"a": 1}), json!({"a": 2})),
        (json!({"a": 1}), json!({"a": 1, "b": 2})),
        (json!("a"), json!("b")),
        (json!(1), json!("1")),
    ];
    for (a, b) in no {
        assert!(!same(&a, &b) && !same(&b, &a), "{a} {b}");
    }
}

/// A value `levels` objects deep: `{"a": {"a": … {}}}`.
fn nested_value(levels: usize) -> Value {
    (0..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
}

/// Checking follows at most `MAX_DEPTH` nodes down one path, whatever the
/// edges: a reference to itself stops there, and so does a recursive
/// schema on a value deeper than that.
#[test]
fn checking_nests_at_most_max_depth_nodes() {
    let r = |name: &str| json!({ "$ref": format!("{DEFINITIONS}#/definitions/{name}") });
    let defs = json!({"definitions": {
        "self": r("self"),
        "tree": {"type": "object", "properties": {"a": r("tree")}},
    }});
    let itself = compile(&r("self"), &defs).unwrap();
    assert!(!itself.is_valid(&json!(1)));
    let failures = itself.failures(&json!(1));
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].message.contains("deeper than 64"),
        "{failures:?}"
    );

    // The root reference and `tree` are two nodes; each level of the value
    // adds the property's reference and `tree` again.
    let tree = compile(&r("tree"), &defs).unwrap();
    let deepest = (MAX_DEPTH as usize - 2) / 2;
    assert!(tree.is_valid(&nested_value(deepest)));
    assert!(tree.failures(&nested_value(deepest)).is_empty());
    assert!(!tree.is_valid(&nested_value(deepest + 1)));
    let failures = tree.failures(&nested_value(deepest + 1));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].message.contains("deeper than"));
    // At the innermost value: the node one past the bound is the last
    // property's reference.
    assert_eq!(failures[0].at, "/a".repeat(deepest + 1));
}

/// A schema nested deeper than `MAX_DEPTH` is left to the library.
#[test]
fn compiling_nests_at_most_max_depth_schemas() {
    let nested = |levels: u32| {
        (0..levels).fold(
            json!({"type": "integer"}),
            |inner, _| json!({"type": "object", "properties": {"a": inner}}),
        )
    };
    let defs = json!({"definitions": {}});
    assert!(compile(&nested(MAX_DEPTH - 1), &defs).is_ok());
    assert!(compile(&nested(MAX_DEPTH), &defs).is_err());
}
