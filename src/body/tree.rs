//! Answers the mock builds itself (a secret, a page of them): a small JSON
//! tree whose keys are the mock's own names, in the order Stripe writes
//! them. Building one copies no key and hashes nothing, where a
//! `serde_json::Value` makes a `String` per key and hashes it into its
//! ordered map. The spec's rules check a tree as it is
//! (`src/openapi/rules/instance.rs`), and [`Json::render`] writes it byte
//! for byte as [`super::render`] writes the same value (a test holds
//! the two to that).

use serde_json::{Map, Number, Value};

/// A JSON value with `&'static str` keys, fields in the order written. An
/// object's keys are distinct, as in any JSON the mock sends (the rules
/// count required fields on that footing), and plain names, as are the
/// texts of `Static`: they are written without looking for bytes to escape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A string the mock names itself (`"apps.secret"`).
    Static(&'static str),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl From<i64> for Json {
    fn from(n: i64) -> Json {
        Json::Number(n.into())
    }
}

impl From<Option<i64>> for Json {
    fn from(n: Option<i64>) -> Json {
        n.map_or(Json::Null, Json::from)
    }
}

impl Json {
    /// The same value as a `serde_json::Value` (for a check that needs
    /// one: a failure's report, the `jsonschema` library).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.clone()),
            Json::Static(s) => Value::String((*s).to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, value) in fields {
                    map.insert((*key).to_owned(), value.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            Json::Static(s) => Some(s),
            _ => None,
        }
    }

    /// Written as Stripe writes JSON: indented by two spaces, ending with
    /// a newline (what [`crate::body::render`] writes for
    /// [`Json::to_value`]).
    pub fn render(&self) -> String {
        // Room for a secret's answer, the most common body.
        let mut out = Vec::with_capacity(512);
        self.write(&mut out, 0);
        out.push(b'\n');
        // Only `&str`s and ASCII are written: always UTF-8.
        String::from_utf8(out).unwrap_or_else(|_| "{}\n".into())
    }

    /// `self` at `indent` spaces: serde_json's pretty layout.
    fn write(&self, out: &mut Vec<u8>, indent: usize) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Number(n) => write_number(out, n),
            Json::String(s) => write_string(out, s),
            Json::Static(s) => write_name(out, s),
            Json::Array(items) => {
                write_nested(out, indent, b"[]", items, |out, item, inner| {
                    item.write(out, inner);
                });
            }
            Json::Object(fields) => {
                write_nested(out, indent, b"{}", fields, |out, (key, value), inner| {
                    write_name(out, key);
                    out.extend_from_slice(b": ");
                    value.write(out, inner);
                });
            }
        }
    }
}

/// An array or an object: `open_close` alone when empty, else one entry a
/// line, `indent + 2` spaces in.
fn write_nested<T>(
    out: &mut Vec<u8>,
    indent: usize,
    open_close: &[u8; 2],
    entries: &[T],
    mut entry: impl FnMut(&mut Vec<u8>, &T, usize),
) {
    out.push(open_close[0]);
    if entries.is_empty() {
        out.push(open_close[1]);
        return;
    }
    let inner = indent + 2;
    for (i, e) in entries.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        indent_by(out, inner);
        entry(out, e, inner);
    }
    out.push(b'\n');
    indent_by(out, indent);
    out.push(open_close[1]);
}

/// An integer in decimal; any other number as serde_json writes it.
fn write_number(out: &mut Vec<u8>, n: &Number) {
    let (negative, magnitude) = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => (false, u),
        (None, Some(i)) => (true, i.unsigned_abs()),
        _ => {
            out.extend_from_slice(n.to_string().as_bytes());
            return;
        }
    };
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = magnitude;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// For each byte, how serde_json escapes it: `0` for not at all, else the
/// letter after the backslash (`u` for `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// `text` quoted, escaped as serde_json escapes: `"`, `\` and the control
/// characters below U+0020 (the usual five by letter, the rest as
/// `\u00XX`), nothing else.
fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        let b = bytes[i];
        let short = ESCAPE[usize::from(b)];
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A name the mock gives (a key, `"apps.secret"`) quoted: such names are
/// plain identifiers, which nothing escapes, so no byte of one is looked
/// at (a debug build checks).
fn write_name(out: &mut Vec<u8>, name: &'static str) {
    debug_assert!(!needs_escape(name), "{name:?} needs escaping");
    out.reserve(name.len() + 2);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// Whether serde_json escapes any byte of `text` (see [`write_string`]).
pub(crate) fn needs_escape(text: &str) -> bool {
    next_escape(text.as_bytes(), 0).is_some()
}

/// Where the first byte at or after `from` that needs escaping is. Eight
/// bytes are looked at a time while none does (most text has none).
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut clean = 0;
    for word in rest.chunks_exact(8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if may_need_escape(word) {
            break;
        }
        clean += 8;
    }
    rest[clean..]
        .iter()
        .position(|&b| ESCAPE[usize::from(b)] != 0)
        .map(|i| from + clean + i)
}

/// Whether any byte of `word` is below `0x20`, `"` or `\` (exact: the
/// bit tricks below test for a byte below a bound and for a zero byte).
fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, bound: u64| w.wrapping_sub(ONES * bound) & !w & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    below(word, 0x20) | below(quote, 1) | below(backslash, 1) != 0
}

/// `n` spaces.
fn indent_by(out: &mut Vec<u8>, n: usize) {
    const SPACES: &[u8; 32] = b"                                ";
    let mut left = n;
    while left > 0 {
        let step = left.min(SPACES.len());
        out.extend_from_slice(&SPACES[..step]);
        left -= step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::render;

    /// Every way a tree can be written, against serde_json writing the
    /// same value.
    #[test]
    fn a_tree_is_written_as_serde_json_writes_its_value() {
        let every_byte: String = (0u8..=0x7f).map(char::from).collect();
        let strings = [
            String::new(),
            every_byte,
            "é ü 日本 🎉 \u{2028}\u{7f}".into(),
            "\"quoted\" \\back\\ /slash/".into(),
        ];
        let numbers: Vec<Json> = [0, 7, -1, 10, 99, i64::MAX, i64::MIN]
            .into_iter()
            .map(Json::from)
            .chain([
                Json::Number(u64::MAX.into()),
                Json::Number(Number::from_f64(1.5).unwrap()),
                Json::Number(Number::from_f64(-0.25e-12).unwrap()),
            ])
            .collect();
        let mut items: Vec<Json> = strings.iter().cloned().map(Json::String).collect();
        items.extend(numbers);
        items.extend([
            Json::Null,
            Json::Bool(true),
            Json::Bool(false),
            Json::Static("apps.secret"),
            Json::Array(vec![]),
            Json::Object(vec![]),
        ]);
        let nested = Json::Object(vec![
            ("id", Json::String("appsecret_1".into())),
            ("a_key", Json::Array(items.clone())),
            ("empty", Json::Object(vec![])),
            (
                "deep",
                Json::Array(vec![Json::Object(vec![(
                    "x",
                    Json::Array(vec![Json::Array(vec![Json::Null]), Json::Array(vec![])]),
                )])]),
            ),
        ]);
        // Each escaped byte at every place in and around an eight-byte
        // word, alone and beside another.
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "\u{0}"] {
            for at in 0..20 {
                let text = format!("{}{special}{}", "a".repeat(at), "é".repeat(at % 3));
                items.push(Json::String(text.clone()));
                items.push(Json::String(format!("{text}{special}{text}")));
            }
        }
        // Deeper than the indentation written a piece at a time.
        let deepest = (0..20).fold(Json::from(1), |inner, _| {
            Json::Object(vec![("k", Json::Array(vec![inner, Json::Null]))])
        });
        for tree in items
            .iter()
            .chain([&nested, &Json::Array(items.clone()), &deepest])
        {
            assert_eq!(tree.render(), render(&tree.to_value()), "{tree:?}");
            if let Some(text) = tree.as_str() {
                let plain = serde_json::to_string(text).unwrap() == format!("\"{text}\"");
                assert_eq!(needs_escape(text), !plain, "{text:?}");
            }
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "needs escaping")]
    fn a_name_that_would_need_escaping_stops_a_debug_build() {
        Json::Object(vec![("a \"key\"", Json::Null)]).render();
    }

    #[test]
    fn a_field_and_a_text_are_read_as_a_value_would_give_them() {
        let tree = Json::Object(vec![
            ("id", Json::String("x".into())),
            ("object", Json::Static("apps.secret")),
            ("n", Json::from(Some(3))),
            ("none", Json::from(None)),
        ]);
        assert_eq!(tree.get("id").and_then(Json::as_str), Some("x"));
        assert_eq!(
            tree.get("object").and_then(Json::as_str),
            Some("apps.secret")
        );
        assert_eq!(tree.get("n").and_then(Json::as_str), None);
        assert_eq!(tree.get("none"), Some(&Json::Null));
        assert_eq!(tree.get("missing"), None);
        assert_eq!(Json::Null.get("id"), None);
        assert_eq!(tree.to_value()["n"], 3);
    }
}
