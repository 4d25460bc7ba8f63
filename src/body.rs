//! Bodies as the mock writes them: JSON rendered as Stripe renders it, and
//! listings (an envelope around one long array) written a piece at a time,
//! never held whole.

use std::sync::Arc;

use hyper::body::Bytes;
use serde_json::Value;

mod tree;

pub(crate) use tree::{needs_escape, Json};

/// An answer's body before it is written: a tree the mock built (a
/// secret, a page of them) or a `Value` (an error, a control answer).
#[derive(Debug)]
pub(crate) enum Body {
    Tree(Json),
    Value(Value),
}

impl From<Json> for Body {
    fn from(tree: Json) -> Body {
        Body::Tree(tree)
    }
}

impl From<Value> for Body {
    fn from(value: Value) -> Body {
        Body::Value(value)
    }
}

impl Body {
    /// The body as sent ([`render`]).
    pub fn render(&self) -> String {
        match self {
            Body::Tree(tree) => tree.render(),
            Body::Value(value) => render(value),
        }
    }

    /// The `id` field of an object.
    pub fn id(&self) -> Option<&str> {
        match self {
            Body::Tree(tree) => tree.get("id").and_then(Json::as_str),
            Body::Value(value) => value.get("id").and_then(Value::as_str),
        }
    }
}

/// A body as Stripe sends it: JSON indented by two spaces, ending with a
/// newline.
pub(crate) fn render(body: &Value) -> String {
    // Room for a secret's answer, the most common body, so that writing
    // it does not grow the buffer several times over (serde_json starts at
    // 128 bytes).
    let mut out = Vec::with_capacity(512);
    if serde_json::to_writer_pretty(&mut out, body).is_err() {
        out = b"{}".to_vec();
    }
    out.push(b'\n');
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_else(|_| "{}\n".into())
}

/// Makes a listing's items, afresh each time it is called: a listing is
/// gone through twice (checked and measured, then written).
pub(crate) type Items = Arc<dyn Fn() -> Box<dyn Iterator<Item = Value> + Send> + Send + Sync>;

/// An answer made of an envelope and one long array: the journal, a
/// transcript, the state export. It is never held whole, as a JSON tree or
/// as text: each item is built from a snapshot the listing owns, checked
/// against its component schema and counted ([`measure`]), then built again
/// and written as the client takes it ([`chunks`]); so what the answer
/// holds at a time is one item, whatever its size.
pub(crate) struct Listing {
    /// The answer's fields, in order, with `field` an empty array: checked
    /// against the operation's schema as it is.
    pub envelope: Value,
    /// The field the items go in.
    pub field: &'static str,
    /// The component schema each item must match.
    pub item_schema: &'static str,
    /// The items.
    pub items: Items,
}

/// A listing's text around its items: up to the array's `[`, and from its
/// `]` on.
struct Around {
    head: String,
    tail: String,
}

fn around(listing: &Listing) -> Result<Around, String> {
    let Value::Object(envelope) = &listing.envelope else {
        return Err("the envelope is not an object".into());
    };
    let (mut head, mut tail) = (String::from("{"), String::new());
    let mut after = false;
    for (n, (key, value)) in envelope.iter().enumerate() {
        let out = if after { &mut tail } else { &mut head };
        out.push_str(if n == 0 { "\n  " } else { ",\n  " });
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push_str(": ");
        if key == listing.field {
            out.push('[');
            after = true;
            continue;
        }
        push_indented(out, value, 2);
    }
    if !after {
        return Err(format!("the envelope has no field {}", listing.field));
    }
    tail.insert(0, ']');
    tail.push_str("\n}\n");
    Ok(Around { head, tail })
}

/// What a listing will write: its length in bytes and its item count,
/// each item checked with `check` (the first violation stops it).
pub(crate) fn measure(
    listing: &Listing,
    mut check: impl FnMut(&Value) -> Result<(), String>,
) -> Result<(usize, usize), String> {
    /// Counts bytes and line breaks, holding nothing.
    struct Count(usize, usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            self.1 += buf.iter().filter(|b| **b == b'\n').count();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let around = around(listing)?;
    let mut len = around.head.len() + around.tail.len();
    let mut count = 0;
    for item in (listing.items)() {
        check(&item).map_err(|e| format!("/{}/{count}: {e}", listing.field))?;
        let mut c = Count(0, 0);
        serde_json::to_writer_pretty(&mut c, &item).map_err(|e| e.to_string())?;
        // Its separator, and four more spaces after each line break.
        len += if count == 0 { 5 } else { 6 } + c.0 + 4 * c.1;
        count += 1;
    }
    if count > 0 {
        len += 3;
    }
    Ok((len, count))
}

/// The listing's text as [`render`] would write its whole value, byte for
/// byte, in pieces: the head, one piece per item, the tail. `count` is
/// the item count [`measure`] found.
pub(crate) fn chunks(listing: Listing, count: usize) -> impl Iterator<Item = Bytes> + Send {
    let Around { head, mut tail } = around(&listing).unwrap_or_else(|e| Around {
        head: e,
        tail: String::new(),
    });
    if count > 0 {
        tail.insert_str(0, "\n  ");
    }
    let items = (listing.items)().enumerate().map(|(i, item)| {
        let mut out = String::from(if i == 0 { "\n    " } else { ",\n    " });
        push_indented(&mut out, &item, 4);
        Bytes::from(out)
    });
    std::iter::once(Bytes::from(head))
        .chain(items)
        .chain(std::iter::once(Bytes::from(tail)))
}

/// `value` pretty-printed, every line after the first indented `by` more.
fn push_indented(out: &mut String, value: &Value, by: usize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    // A JSON text has no raw newline inside a string: each is a line break.
    let indent = format!("\n{}", " ".repeat(by));
    out.push_str(&text.replace('\n', &indent));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing(envelope: Value, items: Vec<Value>) -> Listing {
        Listing {
            envelope,
            field: "data",
            item_schema: "any",
            items: Arc::new(move || Box::new(items.clone().into_iter())),
        }
    }

    fn written(l: Listing) -> String {
        let (len, count) = measure(&l, |_| Ok(())).unwrap();
        let text: Vec<u8> = chunks(l, count).flat_map(|b| b.to_vec()).collect();
        assert_eq!(text.len(), len, "measured as written");
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn a_listing_is_written_as_its_whole_value_would_be_and_measured_exactly() {
        let items = vec![
            json!({"a": [1, {"b": []}], "c": {}}),
            json!("x\ny"),
            json!(null),
        ];
        let whole = json!({"object": "list", "data": items.clone(), "url": "/u", "e": []});
        let envelope = json!({"object": "list", "data": [], "url": "/u", "e": []});
        assert_eq!(written(listing(envelope.clone(), items)), render(&whole));
        assert_eq!(
            written(listing(envelope.clone(), vec![])),
            render(&envelope)
        );
        let last = json!({"n": 1, "data": []});
        assert_eq!(
            written(listing(last.clone(), vec![json!(1)])),
            render(&json!({"n": 1, "data": [1]}))
        );
        assert_eq!(written(listing(last.clone(), vec![])), render(&last));
    }

    #[test]
    fn the_first_item_that_breaks_its_schema_stops_the_measure() {
        let l = listing(json!({"data": []}), vec![json!(1), json!(null)]);
        let e = measure(&l, |v| {
            if v.is_null() {
                Err("null".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(e.unwrap_err(), "/data/1: null");
    }
}
