//! Parameters and strings as the journal shows them: payloads redacted,
//! long strings abbreviated, parameters too large to read summarised; and
//! the lengths of what it writes of them, measured without writing.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::record::pretty::{self, int_len, str_len, Container, Lens};
use crate::record::transcript::REDACTED;

use super::LINE_DEPTH;

/// Strings longer than this (in characters) are abbreviated in the journal.
const MAX_VALUE_CHARS: usize = 200;

/// Parameters longer than this as JSON, once abbreviated, are replaced by a
/// note.
pub(super) const MAX_PARAMS_BYTES: usize = 4 << 10;

/// `s` as the journal keeps it: whole up to 200 characters, else its first
/// 200 and a note of how many more there were.
pub(crate) fn shorten(s: &str) -> Cow<'_, str> {
    match cut_at(s) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            Cow::Owned(format!("{}...[{more} more characters]", &s[..cut]))
        }
    }
}

/// Where [`shorten`] cuts `s`, if it does: at its 201st character, and no
/// string of 200 bytes or fewer has one.
fn cut_at(s: &str) -> Option<(usize, char)> {
    if s.len() <= MAX_VALUE_CHARS {
        return None;
    }
    s.char_indices().nth(MAX_VALUE_CHARS)
}

/// The length of [`shorten`]`(s)` as a JSON string, without making it.
pub(super) fn shortened_len(s: &str) -> usize {
    match cut_at(s) {
        None => str_len(s),
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            str_len(&s[..cut]) + "...[ more characters]".len() + int_len(more as i64)
        }
    }
}

/// How a request's parameters are written.
#[derive(Clone, Copy)]
pub(super) enum View {
    /// As the journal shows them: every value under a `payload` key (at
    /// any depth) redacted, keys and strings shortened.
    Kept,
    /// As a transcript writes them, at most: as sent, or with each
    /// non-null `payload` value redacted, whichever is longer.
    Sent,
}

/// The lengths of `v` written as `view` says, `depth` levels deep.
pub(super) fn lens(v: &Value, view: View, depth: usize) -> Lens {
    let text = |s: &str| match view {
        View::Kept => shortened_len(s),
        View::Sent => str_len(s),
    };
    let redacted = Lens::flat(str_len(REDACTED));
    match v {
        Value::String(s) => Lens::flat(text(s)),
        Value::Array(items) => {
            let mut c = Container::new(depth);
            for item in items {
                c.item(lens(item, view, depth + 1));
            }
            c.end()
        }
        Value::Object(fields) => {
            let mut c = Container::new(depth);
            for (k, child) in fields {
                let value = match view {
                    View::Kept if k == "payload" => redacted,
                    View::Sent if k == "payload" && !child.is_null() => {
                        lens(child, view, depth + 1).max(redacted)
                    }
                    _ => lens(child, view, depth + 1),
                };
                c.field(text(k), value);
            }
            c.end()
        }
        other => pretty::lens(other, depth),
    }
}

/// What the parameters `params` add to their journal entry as written.
pub(super) fn kept_len(params: &Value) -> usize {
    let depth = LINE_DEPTH + 1;
    let kept = lens(params, View::Kept, depth);
    if kept.compact <= MAX_PARAMS_BYTES {
        kept.pretty
    } else {
        pretty::lens(&too_large(params, kept.compact), depth).pretty
    }
}

/// Parameters as the journal shows them: every value under a `payload` key
/// (at any depth) redacted, long strings shortened, and the whole replaced
/// by a note if still too large to read.
pub(crate) fn kept(params: &Value) -> Value {
    let compact = lens(params, View::Kept, 0).compact;
    if compact > MAX_PARAMS_BYTES {
        return too_large(params, compact);
    }
    fn keep(v: &Value) -> Value {
        match v {
            Value::String(t) => Value::String(shorten(t).into_owned()),
            Value::Array(items) => items.iter().map(keep).collect(),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, value)| {
                        let kept = if k == "payload" {
                            Value::String(REDACTED.into())
                        } else {
                            keep(value)
                        };
                        (shorten(k).into_owned(), kept)
                    })
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
    keep(params)
}

/// The note that stands for parameters `bytes` long as the journal keeps
/// them.
fn too_large(params: &Value, bytes: usize) -> Value {
    let count = params.as_object().map_or(0, Map::len);
    json!({ "[abbreviated]": format!("{count} parameters, {bytes} bytes as JSON") })
}
