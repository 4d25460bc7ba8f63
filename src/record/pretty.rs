//! What JSON the journal writes costs as written: it holds a request's parts
//! and writes them pretty-printed (a transcript, `/_mock/requests`), and its
//! byte bound counts what is written. This module measures JSON as serde_json
//! writes it, compact and pretty (two spaces a level), without writing it.

use std::ops::AddAssign;

use serde_json::Value;

/// The lengths of one JSON value as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lens {
    /// Compact (`serde_json::to_string`).
    pub compact: usize,
    /// Pretty-printed (`serde_json::to_string_pretty`), at the depth it
    /// was measured at.
    pub pretty: usize,
}

impl Lens {
    /// A scalar: the same length in both forms.
    pub fn flat(len: usize) -> Lens {
        Lens {
            compact: len,
            pretty: len,
        }
    }

    /// Each length the larger of the two.
    pub fn max(self, other: Lens) -> Lens {
        Lens {
            compact: self.compact.max(other.compact),
            pretty: self.pretty.max(other.pretty),
        }
    }
}

impl AddAssign for Lens {
    fn add_assign(&mut self, other: Lens) {
        self.compact += other.compact;
        self.pretty += other.pretty;
    }
}

/// The length of `s` as serde_json writes a string: quoted; `"`, `\` and
/// the control characters that have a short escape (`\n`, `\t`, …) in two
/// bytes, the other control characters as `\u00XX`, in six.
pub(crate) fn str_len(s: &str) -> usize {
    // Most strings need no escape: one quick pass (a word at a time)
    // finds out.
    if !crate::body::needs_escape(s) {
        return s.len() + 2;
    }
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let extra: usize = s
        .bytes()
        .filter(|&b| escaped(b))
        .map(|b| match b {
            b'"' | b'\\' | b'\x08' | b'\t' | b'\n' | b'\x0c' | b'\r' => 1,
            _ => 5,
        })
        .sum();
    s.len() + 2 + extra
}

/// The length of `n` written in decimal.
pub(crate) fn int_len(n: i64) -> usize {
    let mut len = 1 + usize::from(n < 0);
    let mut m = n.unsigned_abs();
    while m >= 10 {
        m /= 10;
        len += 1;
    }
    len
}

/// An array or object being measured, its brackets `depth` levels deep
/// (its entries one deeper).
pub(crate) struct Container {
    depth: usize,
    entries: usize,
    sum: Lens,
}

impl Container {
    /// An empty array or object `depth` levels deep.
    pub fn new(depth: usize) -> Container {
        Container {
            depth,
            entries: 0,
            sum: Lens::default(),
        }
    }

    /// An array's item, measured `depth + 1` deep.
    pub fn item(&mut self, value: Lens) {
        self.entries += 1;
        self.sum += value;
    }

    /// An object's field: its key `key_len` bytes as a string, its value
    /// measured `depth + 1` deep. The pretty form puts a space after the
    /// colon.
    pub fn field(&mut self, key_len: usize, value: Lens) {
        self.entries += 1;
        self.sum += Lens {
            compact: key_len + 1 + value.compact,
            pretty: key_len + 2 + value.pretty,
        };
    }

    /// The whole: brackets and commas; pretty, a line break and the indent
    /// before each entry and before the closing bracket (`[]` and `{}` as
    /// they are).
    pub fn end(self) -> Lens {
        let Some(commas) = self.entries.checked_sub(1) else {
            return Lens::flat(2);
        };
        let lines = self.entries * (1 + 2 * (self.depth + 1)) + 1 + 2 * self.depth;
        Lens {
            compact: 2 + commas + self.sum.compact,
            pretty: 2 + commas + self.sum.pretty + lines,
        }
    }
}

/// The lengths of `v` as serde_json writes it, pretty-printed as a value
/// `depth` levels deep.
pub(crate) fn lens(v: &Value, depth: usize) -> Lens {
    match v {
        Value::Null => Lens::flat(4),
        Value::Bool(b) => Lens::flat(if *b { 4 } else { 5 }),
        // Rare in what the journal holds (form values are strings).
        Value::Number(n) => Lens::flat(n.to_string().len()),
        Value::String(s) => Lens::flat(str_len(s)),
        Value::Array(items) => {
            let mut c = Container::new(depth);
            for item in items {
                c.item(lens(item, depth + 1));
            }
            c.end()
        }
        Value::Object(fields) => {
            let mut c = Container::new(depth);
            for (k, value) in fields {
                c.field(str_len(k), lens(value, depth + 1));
            }
            c.end()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `v` as serde_json writes it pretty-printed `depth` levels deep:
    /// two more spaces a level on every line but the first.
    pub(crate) fn pretty_at(v: &Value, depth: usize) -> usize {
        let pretty = serde_json::to_string_pretty(v).unwrap();
        pretty.len() + 2 * depth * pretty.matches('\n').count()
    }

    proptest::proptest! {
        #[test]
        fn both_lengths_are_what_serde_json_writes(v in json_value(), depth in 0usize..4) {
            let compact = serde_json::to_string(&v).unwrap().len();
            proptest::prop_assert_eq!(lens(&v, depth), Lens { compact, pretty: pretty_at(&v, depth) });
        }

        #[test]
        fn a_string_is_as_long_as_serde_json_writes_it(s in "[a-z\"\\\\\\x00-\\x1f\\x7fé😀]{0,12}") {
            proptest::prop_assert_eq!(str_len(&s), serde_json::to_string(&s).unwrap().len());
        }

        #[test]
        fn an_integer_is_as_long_as_it_is_written(n in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(int_len(n), n.to_string().len());
        }
    }

    pub(crate) fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
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
    fn edge_integers() {
        for n in [0, 9, 10, -1, -10, i64::MIN, i64::MAX] {
            assert_eq!(int_len(n), n.to_string().len(), "{n}");
        }
    }
}
