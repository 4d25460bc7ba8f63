//! The mock's own schema checks: the translated schemas ([`super::schema`])
//! compiled into a small tree of rules, for the keywords the served
//! documents use. A schema with any other assertion keyword is refused
//! here ([`Unsupported`]) and checked by the `jsonschema` library instead
//! ([`super::compiled`]).
//!
//! Why not the library for everything: compiling one of its validators
//! runs far more code than checking a value (its compile path and the
//! meta-schema check it runs on every schema), and a process pays for
//! those code pages from its first answer on. These rules are the JSON
//! Schema draft 4 semantics the library implements, for this subset; a
//! test (`src/openapi/rules/tests.rs`) holds the two to the same
//! verdicts on generated values for every schema of both bundled
//! documents.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};

mod compile;
mod instance;

pub(crate) use compile::compile;
pub(crate) use instance::Instance;
use instance::Parts;

/// The JSON types, in the order the library lists a set of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ty {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Ty {
    fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "string" => Ty::String,
            "array" => Ty::Array,
            "object" => Ty::Object,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Boolean => "boolean",
            Ty::Integer => "integer",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Array => "array",
            Ty::Object => "object",
        }
    }

    /// The bit of a type in a node's `type_mask`.
    pub fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Whether `value` is of this type. Draft 4: an integer is a number
    /// written without a fraction or exponent (`1.0` is not one).
    fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (Ty::Null, Value::Null)
            | (Ty::Boolean, Value::Bool(_))
            | (Ty::Number, Value::Number(_))
            | (Ty::String, Value::String(_))
            | (Ty::Array, Value::Array(_))
            | (Ty::Object, Value::Object(_)) => true,
            (Ty::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            _ => false,
        }
    }
}

/// One way a value breaks a schema.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    /// JSON pointer to the value at fault.
    pub at: String,
    /// The rule it breaks.
    pub kind: Kind,
    /// The value at fault.
    pub instance: Value,
    /// The library's wording of it (`"x" is not of type "integer"`).
    pub message: String,
}

/// The rule a [`Failure`] breaks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Fields a closed object does not name (`additionalProperties: false`).
    Unknown(Vec<String>),
    /// A required field that is absent.
    Missing(String),
    /// Not one of these types.
    Type(Vec<Ty>),
    /// Not one of these values.
    Enum(Vec<Value>),
    MaxLength(u64),
    MinLength(u64),
    Minimum(Value),
    Maximum(Value),
    Pattern(String),
    /// Any other rule (`anyOf`, `oneOf`, `not`, exclusive bounds, …): the
    /// message says which.
    Other,
}

/// A schema uses a keyword these rules do not implement (named).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsupported(pub String);

/// How deep compiling and checking may nest (subschemas and references
/// followed, counted from 1 at the root; docs/limits.md). The served
/// documents nest a few levels; a schema that refers to itself stops here
/// instead of exhausting the stack, and 64 levels of the recursion stay
/// well inside a thread's 2 MiB even in a debug build (256 did not).
const MAX_DEPTH: u32 = 64;

/// A compiled schema.
pub(crate) struct Rules {
    nodes: Vec<Node>,
}

#[derive(Default)]
struct Node {
    /// `$ref` (draft 4: its siblings are ignored).
    reference: Option<usize>,
    types: Option<Vec<Ty>>,
    /// `types` as bits ([`Instance::bits`]); all set when there is no `type`.
    type_mask: u8,
    enumeration: Option<Vec<Value>>,
    /// In the schema's order, each with whether it is required.
    properties: Vec<(String, usize, bool)>,
    required: Vec<String>,
    /// How many of `required` are among `properties`, and whether any is
    /// not: a value that has that many of the required properties has
    /// them all (its keys are distinct), found without a lookup each.
    required_properties: usize,
    required_elsewhere: bool,
    additional: Additional,
    items: Option<usize>,
    max_length: Option<u64>,
    min_length: Option<u64>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    pattern: Option<Pattern>,
    all_of: Vec<usize>,
    any_of: Vec<usize>,
    one_of: Vec<usize>,
    not: Option<(usize, Value)>,
    /// Whether any of `allOf`, `anyOf`, `oneOf`, `not` is there.
    combined: bool,
}

#[derive(Default)]
enum Additional {
    #[default]
    Any,
    Never,
    Schema(usize),
}

struct Bound {
    limit: Value,
    exclusive: bool,
}

/// `^literal`: a prefix. Any other pattern is left to the library, whose
/// engine reads ECMA 262 syntax as the spec means it.
struct Pattern {
    source: String,
    prefix: String,
}

impl Pattern {
    fn compile(source: &str) -> Result<Pattern, Unsupported> {
        const META: &[char] = &[
            '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
        ];
        source
            .strip_prefix('^')
            .filter(|literal| !literal.contains(META))
            .map(|literal| Pattern {
                source: source.to_owned(),
                prefix: literal.to_owned(),
            })
            .ok_or_else(|| Unsupported(format!("pattern {source}")))
    }

    fn matches(&self, text: &str) -> bool {
        text.starts_with(self.prefix.as_str())
    }
}

/// JSON equality, numbers by value (`1` equals `1.0`), as the library
/// compares `enum` options.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

/// `value` against `limit`: below (`Less`), equal, above. Integers are
/// compared exactly; anything else as `f64`.
fn compare(value: &serde_json::Number, limit: &Value) -> Option<std::cmp::Ordering> {
    let limit = limit.as_number()?;
    if let (Some(v), Some(l)) = (value.as_i64(), limit.as_i64()) {
        return Some(v.cmp(&l));
    }
    if let (Some(v), Some(l)) = (value.as_u64(), limit.as_u64()) {
        return Some(v.cmp(&l));
    }
    value.as_f64()?.partial_cmp(&limit.as_f64()?)
}

/// The failures found so far, and where the check is in the value (for
/// their JSON pointers).
struct Walk<'v> {
    found: Vec<Failure>,
    path: Vec<Step<'v>>,
}

enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

impl<'v> Walk<'v> {
    fn pointer(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            out.push('/');
            match step {
                Step::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Step::Index(i) => {
                    let _ = write!(out, "{i}");
                }
            }
        }
        out
    }

    fn fail(&mut self, instance: &Value, kind: Kind, message: String) {
        self.found.push(Failure {
            at: self.pointer(),
            kind,
            instance: instance.clone(),
            message,
        });
    }
}

impl Rules {
    /// Whether `value` conforms: a verdict only, which stops at the first
    /// rule broken and allocates nothing (every answer the mock sends is
    /// checked so).
    pub fn is_valid(&self, value: &impl Instance) -> bool {
        self.valid(0, value, 0)
    }

    /// Every failure of `value` (none when it conforms).
    pub fn failures(&self, value: &Value) -> Vec<Failure> {
        let mut walk = Walk {
            found: Vec::new(),
            path: Vec::new(),
        };
        self.collect(0, value, &mut walk, 0);
        walk.found
    }

    /// Whether `value` conforms to node `index`, entered from a node at
    /// `parent` levels (the first node is at level 1).
    fn valid<I: Instance>(&self, index: usize, value: &I, parent: u32) -> bool {
        let depth = parent + 1;
        if depth > MAX_DEPTH {
            return false;
        }
        let node = &self.nodes[index];
        if let Some(target) = node.reference {
            return self.valid(target, value, depth);
        }
        if node.type_mask & value.bits() == 0
            || node
                .enumeration
                .as_ref()
                .is_some_and(|o| !o.iter().any(|option| value.is(option)))
        {
            return false;
        }
        let own = match value.parts() {
            Parts::String(text) => string_ok(node, text),
            Parts::Number(n) => node
                .bounds()
                .all(|(bound, beyond)| within(n, bound, beyond)),
            Parts::Object => self.object_valid(node, value, depth),
            Parts::Array(items) => node
                .items
                .is_none_or(|item| items.iter().all(|v| self.valid(item, v, depth))),
            Parts::Null | Parts::Bool => true,
        };
        if !own {
            return false;
        }
        !node.combined
            || node.all_of.iter().all(|&s| self.valid(s, value, depth))
                && (node.any_of.is_empty()
                    || node.any_of.iter().any(|&s| self.valid(s, value, depth)))
                && (node.one_of.is_empty() || self.one_of_valid(node, value, depth) == 1)
                && node
                    .not
                    .as_ref()
                    .is_none_or(|(s, _)| !self.valid(*s, value, depth))
    }

    /// How many of `oneOf`'s schemas `value` conforms to, counted to two.
    fn one_of_valid<I: Instance>(&self, node: &Node, value: &I, depth: u32) -> usize {
        let valid = node.one_of.iter().filter(|&&s| self.valid(s, value, depth));
        valid.take(2).count()
    }

    fn object_valid<I: Instance>(&self, node: &Node, object: &I, depth: u32) -> bool {
        let mut required_seen = 0;
        let mut next = 0;
        let fields_ok = object.all_fields(|key, field| {
            let schema = match node.property(key, &mut next) {
                Some((index, required)) => {
                    required_seen += usize::from(required);
                    index
                }
                None => match node.additional {
                    Additional::Any => return true,
                    Additional::Never => return false,
                    Additional::Schema(index) => index,
                },
            };
            self.valid(schema, field, depth)
        });
        fields_ok
            && required_seen == node.required_properties
            && (!node.required_elsewhere || node.required.iter().all(|n| object.has_field(n)))
    }

    /// Records every failure of `value` against node `index`.
    fn collect<'v>(&self, index: usize, value: &'v Value, walk: &mut Walk<'v>, parent: u32) {
        let depth = parent + 1;
        if depth > MAX_DEPTH {
            let message = format!("the schema nests deeper than {MAX_DEPTH} levels here");
            return walk.fail(value, Kind::Other, message);
        }
        if self.valid(index, value, parent) {
            return;
        }
        let node = &self.nodes[index];
        if let Some(target) = node.reference {
            return self.collect(target, value, walk, depth);
        }
        if let Some(types) = node.types.as_ref().filter(|t| !admitted(t, value)) {
            walk.fail(value, Kind::Type(types.clone()), type_message(value, types));
        }
        if let Some(options) = node
            .enumeration
            .as_ref()
            .filter(|o| !o.iter().any(|option| value.is(option)))
        {
            let message = enum_message(value, options);
            walk.fail(value, Kind::Enum(options.clone()), message);
        }
        match value {
            Value::String(text) => string_failures(node, value, text, walk),
            Value::Number(n) => number_failures(node, value, n, walk),
            Value::Object(fields) => self.object_failures(node, value, fields, walk, depth),
            Value::Array(items) => {
                if let Some(item) = node.items {
                    for (i, v) in items.iter().enumerate() {
                        walk.path.push(Step::Index(i));
                        self.collect(item, v, walk, depth);
                        walk.path.pop();
                    }
                }
            }
            _ => {}
        }
        for &sub in &node.all_of {
            self.collect(sub, value, walk, depth);
        }
        let any = |list: &[usize]| list.iter().any(|&s| self.valid(s, value, depth));
        if !node.any_of.is_empty() && !any(&node.any_of) {
            let message = format!(
                "{value} is not valid under any of the schemas listed in the 'anyOf' keyword"
            );
            walk.fail(value, Kind::Other, message);
        }
        if !node.one_of.is_empty() {
            match self.one_of_valid(node, value, depth) {
                1 => {}
                0 => walk.fail(value, Kind::Other, format!(
                    "{value} is not valid under any of the schemas listed in the 'oneOf' keyword"
                )),
                _ => walk.fail(value, Kind::Other, format!(
                    "{value} is valid under more than one of the schemas listed in the 'oneOf' keyword"
                )),
            }
        }
        if let Some((sub, schema)) = &node.not {
            if self.valid(*sub, value, depth) {
                walk.fail(
                    value,
                    Kind::Other,
                    format!("{schema} is not allowed for {value}"),
                );
            }
        }
    }

    fn object_failures<'v>(
        &self,
        node: &Node,
        value: &'v Value,
        fields: &'v Map<String, Value>,
        walk: &mut Walk<'v>,
        depth: u32,
    ) {
        let mut unexpected = Vec::new();
        let mut next = 0;
        for (key, field) in fields {
            let schema = match node.property(key, &mut next) {
                Some((index, _)) => index,
                None => match node.additional {
                    Additional::Any => continue,
                    Additional::Schema(index) => index,
                    Additional::Never => {
                        unexpected.push(key.clone());
                        continue;
                    }
                },
            };
            walk.path.push(Step::Key(key));
            self.collect(schema, field, walk, depth);
            walk.path.pop();
        }
        for name in node.required.iter().filter(|n| !fields.contains_key(*n)) {
            let message = format!("{} is a required property", Value::String(name.clone()));
            walk.fail(value, Kind::Missing(name.clone()), message);
        }
        if !unexpected.is_empty() {
            let list: Vec<String> = unexpected.iter().map(|u| format!("'{u}'")).collect();
            let verb = if unexpected.len() == 1 { "was" } else { "were" };
            let message = format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                list.join(", ")
            );
            walk.fail(value, Kind::Unknown(unexpected), message);
        }
    }
}

impl Node {
    /// The schema of the field `key` and whether it is required, if the
    /// node names it. Fields usually come in the schema's order: each is
    /// looked for where the last one was found first (`next`).
    fn property(&self, key: &str, next: &mut usize) -> Option<(usize, bool)> {
        let i = match self.properties.get(*next) {
            Some((name, _, _)) if name == key => *next,
            _ => self.properties.iter().position(|(n, _, _)| n == key)?,
        };
        *next = i + 1;
        let (_, index, required) = &self.properties[i];
        Some((*index, *required))
    }

    /// `minimum` and `maximum`, each with the side a value must not pass.
    fn bounds(&self) -> impl Iterator<Item = (&Bound, Ordering)> {
        let minimum = self.minimum.as_ref().map(|b| (b, Ordering::Less));
        let maximum = self.maximum.as_ref().map(|b| (b, Ordering::Greater));
        minimum.into_iter().chain(maximum)
    }

    /// The string's length in characters, when a bound may hold it at
    /// fault: a UTF-8 character is 1 to 4 bytes, so the byte length
    /// decides most checks without counting.
    fn counted_length(&self, text: &str) -> Option<u64> {
        let bytes = text.len() as u64;
        let undecided = self.max_length.is_some_and(|l| bytes > l)
            || self.min_length.is_some_and(|l| bytes.div_ceil(4) < l);
        undecided.then(|| text.chars().count() as u64)
    }
}

fn admitted(types: &[Ty], value: &Value) -> bool {
    types.iter().any(|t| t.admits(value))
}

fn string_ok(node: &Node, text: &str) -> bool {
    let length_ok = node.counted_length(text).is_none_or(|chars| {
        node.max_length.is_none_or(|l| chars <= l) && node.min_length.is_none_or(|l| chars >= l)
    });
    length_ok && node.pattern.as_ref().is_none_or(|p| p.matches(text))
}

fn string_failures(node: &Node, value: &Value, text: &str, walk: &mut Walk<'_>) {
    if let Some(chars) = node.counted_length(text) {
        if let Some(limit) = node.max_length.filter(|&l| chars > l) {
            let message = format!("{value} is longer than {limit} character{}", plural(limit));
            walk.fail(value, Kind::MaxLength(limit), message);
        }
        if let Some(limit) = node.min_length.filter(|&l| chars < l) {
            let message = format!("{value} is shorter than {limit} character{}", plural(limit));
            walk.fail(value, Kind::MinLength(limit), message);
        }
    }
    if let Some(pattern) = node.pattern.as_ref().filter(|p| !p.matches(text)) {
        let source = &pattern.source;
        let message = format!(r#"{value} does not match "{source}""#);
        walk.fail(value, Kind::Pattern(source.clone()), message);
    }
}

/// Whether `n` keeps to `bound`: not `beyond` it, nor on it when it is
/// exclusive.
fn within(n: &serde_json::Number, bound: &Bound, beyond: Ordering) -> bool {
    compare(n, &bound.limit).is_some_and(|o| o != beyond && !(bound.exclusive && o.is_eq()))
}

fn number_failures(node: &Node, value: &Value, n: &serde_json::Number, walk: &mut Walk<'_>) {
    for (bound, beyond) in node.bounds() {
        if within(n, bound, beyond) {
            continue;
        }
        let (word, name) = match beyond {
            Ordering::Less => ("less", "minimum"),
            _ => ("greater", "maximum"),
        };
        let limit = &bound.limit;
        if bound.exclusive {
            let message = format!("{value} is {word} than or equal to the {name} of {limit}");
            walk.fail(value, Kind::Other, message);
        } else {
            let kind = match beyond {
                Ordering::Less => Kind::Minimum(limit.clone()),
                _ => Kind::Maximum(limit.clone()),
            };
            walk.fail(
                value,
                kind,
                format!("{value} is {word} than the {name} of {limit}"),
            );
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn type_message(value: &Value, types: &[Ty]) -> String {
    match types {
        [one] => format!(r#"{value} is not of type "{}""#, one.name()),
        many => {
            let names: Vec<String> = many.iter().map(|t| format!("\"{}\"", t.name())).collect();
            format!("{value} is not of types {}", names.join(", "))
        }
    }
}

/// The library's enum wording: all options up to three, else two and a
/// count of the others.
fn enum_message(value: &Value, options: &[Value]) -> String {
    let shown: Vec<String> = options.iter().map(Value::to_string).collect();
    let list = match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        all if all.len() <= 3 => {
            let (last, init) = all.split_last().expect("not empty");
            format!("{} or {last}", init.join(", "))
        }
        all => format!(
            "{} or {} other candidates",
            all[..2].join(", "),
            all.len() - 2
        ),
    };
    format!("{value} is not one of {list}")
}

#[cfg(test)]
mod tests;
