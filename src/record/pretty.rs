//! What JSON the journal holds costs as written: it holds compact text and
//! writes it pretty-printed (a transcript, `/_mock/requests`), and its byte
//! bound counts what is written. [`to_string`] gives both the compact text
//! and its pretty length in one serialisation; [`pretty_len`] measures text
//! already compact.

use std::cell::Cell;
use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

/// Compact JSON text that is `pretty_len` bytes long pretty-printed.
#[derive(Debug)]
pub(crate) struct Written {
    /// The compact text.
    pub text: Box<str>,
    /// Its length as serde_json pretty-prints it, `depth` levels deep.
    pub pretty_len: usize,
}

/// `value` as compact JSON, and the length serde_json's pretty printer would
/// give it, starting `depth` levels deep (two spaces a level).
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T, depth: usize) -> Written {
    let extra = Cell::new(0);
    let mut out = Vec::with_capacity(256);
    let counting = Counting {
        depth,
        has_value: false,
        extra: &extra,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, counting);
    if value.serialize(&mut ser).is_err() {
        out = b"{}".to_vec();
        extra.set(0);
    }
    // serde_json writes UTF-8 only.
    let text = String::from_utf8(out).unwrap_or_else(|_| "{}".into());
    Written {
        pretty_len: text.len() + extra.get(),
        text: text.into(),
    }
}

/// serde_json's compact formatter (the default of every method), counting
/// the bytes its pretty formatter would add: a newline and the indent
/// before each value of an array or object and before the closing bracket
/// of a non-empty one, and a space after each `:`.
struct Counting<'a> {
    depth: usize,
    has_value: bool,
    extra: &'a Cell<usize>,
}

impl Counting<'_> {
    fn add(&self, n: usize) {
        self.extra.set(self.extra.get() + n);
    }

    fn open(&mut self) {
        self.depth += 1;
        self.has_value = false;
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.add(1 + 2 * self.depth);
        }
    }
}

impl Formatter for Counting<'_> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open();
        CompactFormatter.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close();
        CompactFormatter.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.add(1 + 2 * self.depth);
        CompactFormatter.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open();
        CompactFormatter.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close();
        CompactFormatter.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.add(1 + 2 * self.depth);
        CompactFormatter.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.add(1);
        CompactFormatter.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // A fragment is compact JSON of its own (a `RawValue`); the pretty
        // printer writes it as it is, but what reads the journal parses it
        // and writes it pretty with the rest.
        self.add(pretty_len(fragment, self.depth) - fragment.len());
        w.write_all(fragment.as_bytes())
    }
}

/// The length of compact JSON `text` (as serde_json writes it) once
/// pretty-printed as serde_json does, starting `depth` levels deep (two
/// spaces a level): computed in one pass, without parsing.
pub(crate) fn pretty_len(text: &str, depth: usize) -> usize {
    let mut len = text.len();
    let mut d = depth;
    // Each step takes at least one byte off `rest`: no change to the
    // arithmetic below can make this loop for ever.
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            // A string is written as it is: skip past its closing quote, a
            // run at a time (most of an entry's bytes are inside strings).
            b'"' => rest = after_string(rest),
            // `{}` and `[]` are written as they are.
            b'{' | b'[' if matches!(rest.first(), Some(b'}' | b']')) => rest = &rest[1..],
            b'{' | b'[' => {
                d += 1;
                len += 1 + 2 * d;
            }
            b'}' | b']' => {
                d = d.saturating_sub(1);
                len += 1 + 2 * d;
            }
            b',' => len += 1 + 2 * d,
            b':' => len += 1,
            _ => {}
        }
    }
    len
}

/// What follows the JSON string whose contents `rest` starts with: the
/// bytes after its closing quote (none, for a string left open).
fn after_string(mut rest: &[u8]) -> &[u8] {
    while let Some(at) = memchr::memchr2(b'"', b'\\', rest) {
        if rest[at] == b'"' {
            return &rest[at + 1..];
        }
        // An escape: the byte after the backslash is part of it.
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use serde_json::{json, Value};

    proptest::proptest! {
        #[test]
        fn both_lengths_are_the_length_serde_json_pretty_prints(v in json_value(), depth in 0usize..4) {
            let compact = serde_json::to_string(&v).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            // Starting `depth` deep adds two spaces per level to every line
            // but the first.
            let lines = pretty.matches('\n').count();
            let expected = pretty.len() + 2 * depth * lines;
            proptest::prop_assert_eq!(pretty_len(&compact, depth), expected);
            let written = to_string(&v, depth);
            proptest::prop_assert_eq!(&*written.text, compact.as_str());
            proptest::prop_assert_eq!(written.pretty_len, expected);
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z\"\\\\\n:,{}\\[\\] \u{1}é]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map("[a-z:,\"{}]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn a_raw_fragment_counts_as_the_value_it_holds() {
        #[derive(Serialize)]
        struct Holder<'a> {
            params: &'a RawValue,
            empty: &'a RawValue,
        }
        let params = json!({"name": "k", "scope": {"type": "account"}, "expand": ["payload"]});
        let raw = serde_json::value::to_raw_value(&params).unwrap();
        let empty = serde_json::value::to_raw_value(&json!({})).unwrap();
        let written = to_string(
            &Holder {
                params: &raw,
                empty: &empty,
            },
            1,
        );
        let parsed: Value = serde_json::from_str(&written.text).unwrap();
        let pretty = serde_json::to_string_pretty(&parsed).unwrap();
        let lines = pretty.matches('\n').count();
        assert_eq!(written.pretty_len, pretty.len() + 2 * lines);
    }
}
