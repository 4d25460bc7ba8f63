//! Stripe's wire format for inputs: `application/x-www-form-urlencoded`
//! bodies and query strings in bracket notation, decoded into one JSON object
//! and then coerced, guided by the operation's schema, from strings into the
//! integers, booleans and arrays the schema asks for.
//!
//! - `scope[type]=user` → `{"scope": {"type": "user"}}`
//! - `expand[]=a&expand[]=b` → `{"expand": ["a", "b"]}`
//! - `expand[0]=a&expand[1]=b` → `{"expand": {"0": "a", "1": "b"}}`, which
//!   coercion turns into `["a", "b"]` where the schema says array.
//! - A repeated scalar keeps the last value, as Rack (and so Stripe) does.

use serde_json::{Map, Number, Value};

use crate::error::{abbreviate, echo, param_label, ApiError};
use crate::openapi::shape::{Kind, NodeId, Shape};
use crate::outcome::Reason;

/// How many `[…]` segments one key may have. Stripe's deepest parameters
/// have a handful; the bound keeps decoding (which recurses) safe from
/// hostile input.
const MAX_DEPTH: usize = 16;

/// Parameters (`name=value` pairs) one request may send, query and body
/// together. The API's operations take a handful; the bound keeps what a
/// 1 MiB body can make the mock build (a map per bracket level of each
/// pair) within a few times what a flat body costs (docs/limits.md).
pub(crate) const MAX_PARAMS: usize = 256;

/// Decodes a request's query string and form body into one object, after
/// counting their pairs against [`MAX_PARAMS`] (a scan that allocates
/// nothing, so an oversized request costs no more than its bytes).
pub(crate) fn decode(inputs: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let pairs: usize = inputs.iter().map(|i| pairs_of(i).count()).sum();
    if pairs > MAX_PARAMS {
        return Err(ApiError::invalid(
            format!(
                "Too many parameters: a request may send at most {MAX_PARAMS} (query string and \
                 body together); this one sent {pairs}."
            ),
            None,
        )
        .because(Reason::TooManyParameters));
    }
    // Each pair adds at most one top-level name: room made once, so the
    // map neither grows nor rehashes as it fills (at most MAX_PARAMS).
    let mut map = Map::with_capacity(pairs);
    for input in inputs {
        decode_into(&mut map, input)?;
    }
    Ok(map)
}

/// Decodes one query string or form body into `into`.
pub(crate) fn decode_into(into: &mut Map<String, Value>, input: &str) -> Result<(), ApiError> {
    for pair in pairs_of(input) {
        let (raw_key, raw_value) = match pair.bytes().position(|b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, ""),
        };
        let key = percent_decode(raw_key).map_err(|bad| {
            let what = format!("parameter name {}", param_label(raw_key));
            ApiError::invalid(bad.describe(&what), None)
        })?;
        let value = percent_decode(raw_value).map_err(|bad| {
            let what = format!("value for {}", param_label(&key));
            ApiError::invalid(bad.describe(&what), Some(param_label(&key)))
        })?;
        let (base, segments) = split_key(&key);
        if segments.len() > MAX_DEPTH {
            return Err(ApiError::invalid(
                format!(
                    "Invalid parameter name: {} is nested more than {MAX_DEPTH} levels deep.",
                    param_label(base)
                ),
                Some(param_label(base)),
            ));
        }
        if base.is_empty() {
            return Err(ApiError::invalid(
                format!("Invalid parameter name: {}", param_label(&key)),
                None,
            ));
        }
        insert(into, base, &segments, value, &|| base.to_string())?;
    }
    Ok(())
}

/// The non-empty `&`-separated pairs of `input`. A byte loop: the pairs
/// are short, and `str::split`'s searcher costs more to set up than to run.
fn pairs_of(input: &str) -> impl Iterator<Item = &str> {
    let mut rest = input;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        // `&` is ASCII, so both cuts fall on character boundaries.
        let end = rest.bytes().position(|b| b == b'&').unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if !pair.is_empty() {
            return Some(pair);
        }
    })
}

/// `a[b][]` → (`a`, [`b`, ``]). A key with unbalanced brackets is taken
/// literally, so it surfaces as an unknown parameter.
fn split_key(key: &str) -> (&str, Vec<&str>) {
    // Byte loops, as in `pairs_of`: `[` and `]` are ASCII.
    let Some(open) = key.bytes().position(|b| b == b'[') else {
        return (key, Vec::new());
    };
    let (base, mut rest) = key.split_at(open);
    let mut segments = Vec::new();
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.bytes().position(|b| b == b']') else {
            return (key, Vec::new());
        };
        segments.push(&stripped[..close]);
        rest = &stripped[close + 1..];
    }
    if !rest.is_empty() {
        return (key, Vec::new());
    }
    (base, segments)
}

/// Puts `value` under `name` and the brackets `rest` names. `path` names
/// where it is for an error, and is only called to write one (a request
/// that decodes builds no label).
fn insert(
    map: &mut Map<String, Value>,
    name: &str,
    rest: &[&str],
    value: String,
    path: &dyn Fn() -> String,
) -> Result<(), ApiError> {
    let Some((first, tail)) = rest.split_first() else {
        // Last one wins for a repeated scalar; a scalar may not replace a hash
        // or array sent under the same name.
        // One lookup (its hash) whether the name is new or repeated.
        match map.entry(name) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(Value::String(value));
            }
            serde_json::map::Entry::Occupied(mut slot) => {
                if matches!(slot.get(), Value::Object(_) | Value::Array(_)) {
                    return Err(conflict(&path()));
                }
                slot.insert(Value::String(value));
            }
        }
        return Ok(());
    };
    if first.is_empty() {
        // `name[]`: append to an array.
        let slot = map
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = slot else {
            return Err(conflict(&path()));
        };
        if tail.is_empty() {
            items.push(Value::String(value));
            return Ok(());
        }
        // `name[][field]`: a new element unless the last one lacks `field`.
        let field = tail[0];
        let needs_new = !matches!(items.last(), Some(Value::Object(o)) if !o.contains_key(field));
        if needs_new {
            items.push(Value::Object(Map::new()));
        }
        let index = items.len() - 1;
        let Some(Value::Object(last)) = items.last_mut() else {
            return Err(conflict(&path()));
        };
        let nested = || format!("{}[{index}][{field}]", path());
        return insert(last, field, &tail[1..], value, &nested);
    }
    let slot = map
        .entry(name.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(inner) = slot else {
        return Err(conflict(&path()));
    };
    let nested = || format!("{}[{first}]", path());
    insert(inner, first, tail, value, &nested)
}

fn conflict(path: &str) -> ApiError {
    let path = &param_label(path);
    ApiError::invalid(
        format!(
            "Invalid value for {path}: it was sent both as a single value and as a hash or array."
        ),
        Some(path.to_string()),
    )
}

/// Why a parameter name or value could not be percent-decoded.
enum BadEncoding {
    /// An escape that is not `%` and two hexadecimal digits (`%zz`, a `%`
    /// at the end).
    Escape(String),
    /// Bytes that are not UTF-8 once decoded.
    NotUtf8,
}

impl BadEncoding {
    fn describe(&self, what: &str) -> String {
        match self {
            BadEncoding::Escape(escape) => format!(
                "Invalid {what}: `{}` is not a % followed by two hexadecimal digits.",
                echo(escape)
            ),
            BadEncoding::NotUtf8 => {
                format!("Invalid {what}: it is not UTF-8 once percent-decoded.")
            }
        }
    }
}

/// Decodes `+` and `%XX`.
fn percent_decode(s: &str) -> Result<String, BadEncoding> {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'+' | b'%')) {
        // Nothing to decode, and already UTF-8.
        return Ok(s.to_string());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else {
                    let end = s.len().min(i + 3);
                    let escape = s.get(i..end).unwrap_or("%");
                    return Err(BadEncoding::Escape(escape.to_string()));
                };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadEncoding::NotUtf8)
}

/// Coerces decoded strings into what node `at` of `shape` asks for, in
/// place. Values that cannot be coerced are reported (`Invalid integer:
/// abc`) and left as they are; shape mismatches are left for schema
/// validation to report.
pub(crate) fn coerce(
    value: &mut Value,
    shape: &Shape,
    at: NodeId,
    path: &str,
    errors: &mut Vec<ApiError>,
) {
    coerce_at(value, shape, at, &Place::Root(path), errors);
}

/// Where a value sits in the parameters: named (`scope[user]`) only when
/// an error is written, not for every value coerced.
enum Place<'a> {
    /// The parameters themselves, under this name (empty at the top).
    Root(&'a str),
    /// A field of the value at the first place.
    Field(&'a Place<'a>, &'a str),
    /// An item of the array at the first place.
    Item(&'a Place<'a>, usize),
}

impl Place<'_> {
    /// The place in bracket notation: `scope`, `scope[user]`, `expand[0]`.
    fn name(&self) -> String {
        match self {
            Place::Root(path) => path.to_string(),
            Place::Field(parent, k) => match parent.name() {
                p if p.is_empty() => k.to_string(),
                p => format!("{p}[{k}]"),
            },
            Place::Item(parent, i) => format!("{}[{i}]", parent.name()),
        }
    }

    /// The `param` of an error about the value here.
    fn label(&self) -> String {
        param_label(&self.name())
    }
}

fn coerce_at(
    value: &mut Value,
    shape: &Shape,
    at: NodeId,
    place: &Place<'_>,
    errors: &mut Vec<ApiError>,
) {
    let node = shape.get(at);
    if node.nullable && value.as_str() == Some("") {
        // Stripe's form encoding unsets a nullable field with an empty value.
        *value = Value::Null;
        return;
    }
    match node.kind {
        Kind::Integer => {
            if let Value::String(s) = value {
                match s.parse::<i64>() {
                    Ok(n) => *value = Value::Number(n.into()),
                    Err(_) => errors.push(
                        ApiError::invalid(
                            format!("Invalid integer: {}", abbreviate(s)),
                            Some(place.label()),
                        )
                        .with_code("parameter_invalid_integer"),
                    ),
                }
            }
        }
        Kind::Number => {
            if let Value::String(s) = value {
                match s.parse::<f64>().ok().and_then(Number::from_f64) {
                    Some(n) => *value = Value::Number(n),
                    None => errors.push(ApiError::invalid(
                        format!("Invalid decimal: {}", abbreviate(s)),
                        Some(place.label()),
                    )),
                }
            }
        }
        Kind::Boolean => {
            if let Value::String(s) = value {
                match s.as_str() {
                    "true" => *value = Value::Bool(true),
                    "false" => *value = Value::Bool(false),
                    _ => errors.push(ApiError::invalid(
                        format!("Invalid boolean: {}", abbreviate(s)),
                        Some(place.label()),
                    )),
                }
            }
        }
        Kind::Array => {
            if let Value::Object(map) = value {
                match indexed_to_array(map) {
                    Some(Ok(items)) => *value = Value::Array(items),
                    Some(Err(message)) => {
                        errors.push(ApiError::invalid(message, Some(place.label())));
                        return;
                    }
                    None => {}
                }
            }
            if let (Value::Array(items), Some(item)) = (value, node.items) {
                for (i, v) in items.iter_mut().enumerate() {
                    coerce_at(v, shape, item, &Place::Item(place, i), errors);
                }
            }
        }
        Kind::Object => {
            let Value::Object(map) = value else { return };
            for (k, v) in map.iter_mut() {
                if let Some(child) = node.property(k).or(node.extra) {
                    coerce_at(v, shape, child, &Place::Field(place, k), errors);
                }
            }
        }
        Kind::Other => {}
    }
}

/// Gives decoded parameters the shape their schema names, and nothing
/// else: an array sent with indexes (`expand[0]=payload`, as async-stripe
/// and the Node SDK encode it) becomes the array it means, as
/// `expand[]=payload` already is; values stay as sent (strings). What the
/// journal, transcripts and expectations record, so both encodings are the
/// same request there.
pub(crate) fn shape_arrays(value: &mut Value, shape: &Shape, at: NodeId) {
    let node = shape.get(at);
    match (node.kind, value) {
        (Kind::Array, value) => {
            if let Value::Object(map) = value {
                if let Some(Ok(items)) = indexed_to_array(map) {
                    *value = Value::Array(items);
                }
            }
            if let (Value::Array(items), Some(item)) = (value, node.items) {
                for v in items {
                    shape_arrays(v, shape, item);
                }
            }
        }
        (Kind::Object, Value::Object(map)) => {
            for (k, v) in map.iter_mut() {
                if let Some(child) = node.property(k).or(node.extra) {
                    shape_arrays(v, shape, child);
                }
            }
        }
        _ => {}
    }
}

/// `{"0": a, "1": b}` → `[a, b]`. `None` if any key is not an index (the
/// schema then reports a hash where an array belongs); `Err` with Stripe's
/// message if the indexes are not 0, 1, 2, … (docs/behaviour.md §1).
fn indexed_to_array(map: &mut Map<String, Value>) -> Option<Result<Vec<Value>, String>> {
    // Bracket notation never makes an empty hash; a JSON body's `{}` where
    // an array belongs is left for the schema to refuse.
    if map.is_empty() {
        return None;
    }
    let mut indexed = Vec::with_capacity(map.len());
    for (k, _) in map.iter() {
        indexed.push((k.parse::<u64>().ok()?, k.clone()));
    }
    indexed.sort();
    let gap = (0u64..).zip(&indexed).find(|(i, (n, _))| i != n);
    if let Some((expected, _)) = gap {
        let keys: Vec<&str> = indexed.iter().map(|(_, k)| k.as_str()).collect();
        return Some(Err(format!(
            "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an \
             array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting \
             from 0. You passed the keys `{}`, we expected to have a key with the value \
             `{expected}`.",
            echo(&keys.join(", "))
        )));
    }
    Some(Ok(indexed
        .into_iter()
        .filter_map(|(_, k)| map.remove(&k))
        .collect()))
}

/// The bracket-notation pairs of a parameter tree (`scope[type]=user`,
/// arrays indexed as the SDKs send them: `expand[0]=payload`), in the
/// tree's order, values as text (null as empty): what [`decode`] reads back.
pub(crate) fn pairs(params: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = match prefix.is_empty() {
                        true => k.clone(),
                        false => format!("{prefix}[{k}]"),
                    };
                    walk(&key, child, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), child, out);
                }
            }
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            Value::Null => out.push((prefix.to_string(), String::new())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", params, &mut out);
    out
}

/// Percent-encodes a form name or value: every byte but the unreserved
/// ones, and `[` `]` too unless `readable_brackets`.
pub(crate) fn percent_encode(s: &str, readable_brackets: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'[' | b']' if readable_brackets => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A parameter tree as a form body, as the official SDKs encode it.
#[cfg(test)]
pub(crate) fn encode(params: &Value) -> String {
    pairs(params)
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests;
