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

use std::fmt::Write as _;

use serde_json::{Map, Value};

mod compile;

pub(crate) use compile::compile;

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

/// How deep checking may nest (subschemas and references followed). A
/// value the HTTP layer accepts is far shallower; a schema that refers to
/// itself without descending into the value stops here instead of
/// exhausting the stack.
const MAX_DEPTH: u32 = 256;

/// A compiled schema.
pub(crate) struct Rules {
    nodes: Vec<Node>,
}

#[derive(Default)]
struct Node {
    /// `$ref` (draft 4: its siblings are ignored).
    reference: Option<usize>,
    types: Option<Vec<Ty>>,
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

/// Where a check is, in the value: the JSON pointer of the failures found
/// there, built only when failures are collected.
struct Walk<'v> {
    /// `None`: stop at the first failure (a verdict only).
    found: Option<Vec<Failure>>,
    path: Vec<Step<'v>>,
}

enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

impl Walk<'_> {
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

    /// Records a failure (when collecting); `false`, for the verdict.
    fn fail(&mut self, instance: &Value, kind: Kind, message: impl FnOnce() -> String) -> bool {
        if self.found.is_some() {
            let failure = Failure {
                at: self.pointer(),
                kind,
                instance: instance.clone(),
                message: message(),
            };
            if let Some(found) = self.found.as_mut() {
                found.push(failure);
            }
        }
        false
    }

    fn collecting(&self) -> bool {
        self.found.is_some()
    }
}

impl Rules {
    /// Whether `value` conforms (allocates nothing).
    pub fn is_valid(&self, value: &Value) -> bool {
        let mut walk = Walk {
            found: None,
            path: Vec::new(),
        };
        self.check(0, value, &mut walk, 0)
    }

    /// Every failure of `value` (none when it conforms).
    pub fn failures(&self, value: &Value) -> Vec<Failure> {
        let mut walk = Walk {
            found: Some(Vec::new()),
            path: Vec::new(),
        };
        self.check(0, value, &mut walk, 0);
        walk.found.unwrap_or_default()
    }

    fn check<'v>(&self, index: usize, value: &'v Value, walk: &mut Walk<'v>, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return walk.fail(value, Kind::Other, || {
                format!("the schema nests deeper than {MAX_DEPTH} levels here")
            });
        }
        let node = &self.nodes[index];
        if let Some(target) = node.reference {
            return self.check(target, value, walk, depth + 1);
        }
        let mut ok = true;
        // Stops at the first failure unless collecting.
        macro_rules! verdict {
            ($e:expr) => {
                if !$e {
                    ok = false;
                    if !walk.collecting() {
                        return false;
                    }
                }
            };
        }
        if let Some(types) = &node.types {
            verdict!(
                types.iter().any(|t| t.admits(value))
                    || walk.fail(value, Kind::Type(types.clone()), || type_message(
                        value, types
                    ))
            );
        }
        if let Some(options) = &node.enumeration {
            verdict!(
                options.iter().any(|o| same(o, value))
                    || walk.fail(value, Kind::Enum(options.clone()), || enum_message(
                        value, options
                    ))
            );
        }
        match value {
            Value::String(text) => verdict!(self.string(node, value, text, walk)),
            Value::Number(n) => verdict!(number(node, value, n, walk)),
            Value::Object(fields) => verdict!(self.object(node, value, fields, walk, depth)),
            Value::Array(items) => {
                if let Some(item) = node.items {
                    for (i, v) in items.iter().enumerate() {
                        if walk.collecting() {
                            walk.path.push(Step::Index(i));
                        }
                        let item_ok = self.check(item, v, walk, depth + 1);
                        if walk.collecting() {
                            walk.path.pop();
                        }
                        verdict!(item_ok);
                    }
                }
            }
            _ => {}
        }
        for &sub in &node.all_of {
            verdict!(self.check(sub, value, walk, depth + 1));
        }
        if !node.any_of.is_empty() {
            let any = node.any_of.iter().any(|&s| self.holds(s, value, depth));
            verdict!(
                any || walk.fail(value, Kind::Other, || format!(
                    "{value} is not valid under any of the schemas listed in the 'anyOf' keyword"
                ))
            );
        }
        if !node.one_of.is_empty() {
            let valid = node
                .one_of
                .iter()
                .filter(|&&s| self.holds(s, value, depth))
                .take(2)
                .count();
            verdict!(valid == 1
                || walk.fail(value, Kind::Other, || if valid == 0 {
                    format!("{value} is not valid under any of the schemas listed in the 'oneOf' keyword")
                } else {
                    format!("{value} is valid under more than one of the schemas listed in the 'oneOf' keyword")
                }));
        }
        if let Some((sub, schema)) = &node.not {
            let holds = self.holds(*sub, value, depth);
            verdict!(
                !holds
                    || walk.fail(value, Kind::Other, || format!(
                        "{schema} is not allowed for {value}"
                    ))
            );
        }
        ok
    }

    /// Whether `value` conforms to node `index`, without collecting.
    fn holds(&self, index: usize, value: &Value, depth: u32) -> bool {
        let mut walk = Walk {
            found: None,
            path: Vec::new(),
        };
        self.check(index, value, &mut walk, depth + 1)
    }

    fn string(&self, node: &Node, value: &Value, text: &str, walk: &mut Walk<'_>) -> bool {
        let mut ok = true;
        // A UTF-8 character is 1 to 4 bytes: the byte length decides most
        // checks without counting characters.
        let bytes = text.len() as u64;
        let undecided = node.max_length.is_some_and(|l| bytes > l)
            || node.min_length.is_some_and(|l| bytes.div_ceil(4) < l);
        if undecided {
            let chars = text.chars().count() as u64;
            if let Some(limit) = node.max_length.filter(|&l| chars > l) {
                ok = walk.fail(value, Kind::MaxLength(limit), || {
                    format!("{value} is longer than {limit} character{}", plural(limit))
                });
                if !walk.collecting() {
                    return false;
                }
            }
            if let Some(limit) = node.min_length.filter(|&l| chars < l) {
                ok = walk.fail(value, Kind::MinLength(limit), || {
                    format!("{value} is shorter than {limit} character{}", plural(limit))
                });
                if !walk.collecting() {
                    return false;
                }
            }
        }
        if let Some(pattern) = node.pattern.as_ref().filter(|p| !p.matches(text)) {
            let source = &pattern.source;
            ok = walk.fail(value, Kind::Pattern(source.clone()), || {
                format!(r#"{value} does not match "{source}""#)
            });
        }
        ok
    }

    fn object<'v>(
        &self,
        node: &Node,
        value: &'v Value,
        fields: &'v Map<String, Value>,
        walk: &mut Walk<'v>,
        depth: u32,
    ) -> bool {
        let mut ok = true;
        let mut unexpected = Vec::new();
        let mut required_seen = 0;
        // Fields usually come in the schema's order: each is looked for
        // where the last one was found first.
        let mut next = 0;
        for (key, field) in fields {
            let known = match node.properties.get(next) {
                Some(p) if p.0 == *key => Some(next),
                _ => node.properties.iter().position(|(n, _, _)| n == key),
            };
            let schema = match known {
                Some(i) => {
                    next = i + 1;
                    let (_, index, required) = &node.properties[i];
                    required_seen += usize::from(*required);
                    *index
                }
                None => match node.additional {
                    Additional::Any => continue,
                    Additional::Schema(index) => index,
                    Additional::Never => {
                        if !walk.collecting() {
                            return false;
                        }
                        unexpected.push(key.clone());
                        continue;
                    }
                },
            };
            if walk.collecting() {
                walk.path.push(Step::Key(key));
            }
            let field_ok = self.check(schema, field, walk, depth + 1);
            if walk.collecting() {
                walk.path.pop();
            }
            if !field_ok {
                ok = false;
                if !walk.collecting() {
                    return false;
                }
            }
        }
        if required_seen < node.required_properties || node.required_elsewhere {
            for name in &node.required {
                if !fields.contains_key(name) {
                    ok = walk.fail(value, Kind::Missing(name.clone()), || {
                        format!("{} is a required property", Value::String(name.clone()))
                    });
                    if !walk.collecting() {
                        return false;
                    }
                }
            }
        }
        if !unexpected.is_empty() {
            let list: Vec<String> = unexpected.iter().map(|u| format!("'{u}'")).collect();
            let verb = if unexpected.len() == 1 { "was" } else { "were" };
            let message = format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                list.join(", ")
            );
            ok = walk.fail(value, Kind::Unknown(unexpected), || message);
        }
        ok
    }
}

fn number(node: &Node, value: &Value, n: &serde_json::Number, walk: &mut Walk<'_>) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    let bounds = [
        (&node.minimum, Less, "less", "minimum"),
        (&node.maximum, Greater, "greater", "maximum"),
    ];
    let mut ok = true;
    for (bound, beyond, word, name) in bounds {
        let Some(Bound { limit, exclusive }) = bound else {
            continue;
        };
        let order = compare(n, limit);
        // Beyond the bound, or on it when it is exclusive.
        let within = order.is_some_and(|o| o != beyond && !(*exclusive && o.is_eq()));
        if within {
            continue;
        }
        ok = if *exclusive {
            walk.fail(value, Kind::Other, || {
                format!("{value} is {word} than or equal to the {name} of {limit}")
            })
        } else {
            let kind = if beyond == Less {
                Kind::Minimum(limit.clone())
            } else {
                Kind::Maximum(limit.clone())
            };
            walk.fail(value, kind, || {
                format!("{value} is {word} than the {name} of {limit}")
            })
        };
        if !walk.collecting() {
            return false;
        }
    }
    ok
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
