//! The last step of every request: the result rendered as Stripe renders it,
//! and checked against the spec's schema for its operation and status. In
//! strict mode a response that breaks the spec becomes a 500 `api_error`
//! naming the violation (the caller then undoes the request's change).

use serde_json::Value;

use crate::error::ApiError;
use crate::openapi::spec::{Operation, Spec};

/// A result, rendered and checked.
pub(crate) struct Checked {
    /// The status to send.
    pub status: u16,
    /// The body to send.
    pub body: Value,
    /// How the rendered result broke the spec, if it did (logged).
    pub violation: Option<String>,
    /// Whether the violation replaced the result with a 500 (strict mode):
    /// the request's change must be undone and nothing saved.
    pub replaced: bool,
}

/// Renders `result` (an operation's object or an error) and checks it
/// against `spec`: the operation's schema for the status, or the document's
/// error schema when no operation was routed.
pub(crate) fn finish(
    spec: &Spec,
    strict: bool,
    op: Option<&Operation>,
    result: Result<Value, ApiError>,
    request_id: &str,
    livemode: bool,
    now: i64,
) -> Checked {
    let (status, body) = match result {
        Ok(v) => (200, v),
        Err(e) => (e.status, e.body(request_id, livemode, now)),
    };
    let check = match op {
        Some(op) => op.validate_response(status, &body),
        None => spec.validate_error(&body),
    };
    let Err(violation) = check else {
        return Checked {
            status,
            body,
            violation: None,
            replaced: false,
        };
    };
    let what = op.map_or("error", |o| o.id.as_str());
    let message = format!(
        "The mock's response does not match the OpenAPI spec ({what}, status {status}): {violation}"
    );
    if !strict {
        return Checked {
            status,
            body,
            violation: Some(message),
            replaced: false,
        };
    }
    Checked {
        status: 500,
        body: ApiError::internal(message.clone()).body(request_id, livemode, now),
        violation: Some(message),
        replaced: true,
    }
}

/// A body as Stripe sends it: JSON indented by two spaces, ending with a
/// newline.
pub(crate) fn render(body: &Value) -> String {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// An answer made of an envelope and one long array, rendered an item at a
/// time: the journal, a transcript, the state export. Nothing holds the
/// whole answer as a JSON tree; each item is built, checked against its
/// component schema and written, then dropped, so what the answer costs is
/// the bytes it writes.
pub(crate) struct Listing<'a> {
    /// The answer's fields, in order, with `field` an empty array: checked
    /// against the operation's schema as it is.
    pub envelope: Value,
    /// The field the items go in.
    pub field: &'static str,
    /// The component schema each item must match.
    pub item_schema: &'static str,
    /// The items, made as they are written.
    pub items: Box<dyn Iterator<Item = Value> + 'a>,
}

/// `listing` as [`render`] would write its whole value, byte for byte,
/// checking each item with `check` (the first violation stops it).
pub(crate) fn render_listing(
    listing: Listing<'_>,
    mut check: impl FnMut(&Value) -> Result<(), String>,
) -> Result<String, String> {
    let Value::Object(envelope) = &listing.envelope else {
        return Err("the envelope is not an object".into());
    };
    let mut items = Some(listing.items);
    let mut out = String::from("{");
    for (n, (key, value)) in envelope.iter().enumerate() {
        out.push_str(if n == 0 { "\n  " } else { ",\n  " });
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push_str(": ");
        if key != listing.field {
            push_indented(&mut out, value, 2);
            continue;
        }
        out.push('[');
        let mut empty = true;
        for (i, item) in items.take().into_iter().flatten().enumerate() {
            check(&item).map_err(|e| format!("/{key}/{i}: {e}"))?;
            out.push_str(if empty { "\n    " } else { ",\n    " });
            push_indented(&mut out, &item, 4);
            empty = false;
        }
        if !empty {
            out.push_str("\n  ");
        }
        out.push(']');
    }
    if !envelope.is_empty() {
        out.push('\n');
    }
    out.push_str("}\n");
    Ok(out)
}

/// `value` pretty-printed, every line after the first indented `by` more.
fn push_indented(out: &mut String, value: &Value, by: usize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    // A JSON text has no raw newline inside a string: each is a line break.
    let indent = format!("\n{}", " ".repeat(by));
    out.push_str(&text.replace('\n', &indent));
}

/// Longest log line about one response, in characters: a hostile request
/// must not turn into a flood on stderr.
const MAX_LOG_CHARS: usize = 300;

/// Writes one short line about a spec violation to stderr, through the
/// logger that never blocks. Called with no lock held.
pub(crate) fn log_violation(request_id: &str, message: &str) {
    let line = match message.char_indices().nth(MAX_LOG_CHARS) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    };
    crate::log::line(format!("stripe-secrets-mock: {request_id}: {line}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listing_renders_as_its_whole_value_would_and_stops_at_a_bad_item() {
        let items = vec![
            json!({"a": [1, {"b": []}], "c": {}}),
            json!("x\ny"),
            json!(null),
        ];
        let whole = json!({"object": "list", "data": items.clone(), "url": "/u", "e": []});
        let listing = Listing {
            envelope: json!({"object": "list", "data": [], "url": "/u", "e": []}),
            field: "data",
            item_schema: "any",
            items: Box::new(items.clone().into_iter()),
        };
        assert_eq!(render_listing(listing, |_| Ok(())).unwrap(), render(&whole));
        let empty = Listing {
            envelope: json!({"data": [], "n": 1}),
            field: "data",
            item_schema: "any",
            items: Box::new(std::iter::empty()),
        };
        assert_eq!(
            render_listing(empty, |_| Ok(())).unwrap(),
            render(&json!({"data": [], "n": 1}))
        );
        let bad = Listing {
            envelope: json!({"data": []}),
            field: "data",
            item_schema: "any",
            items: Box::new(items.into_iter()),
        };
        let e = render_listing(bad, |v| {
            if v.is_null() {
                Err("null".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(e.unwrap_err(), "/data/2: null");
    }
}
