//! Comparing a target's answer with a recorded one, for `verify`: the
//! status, the spec, the headers that carry meaning, and the body field by
//! field, with ids paired across the two servers (docs/behaviour.md §9).

use std::collections::HashMap;

use serde_json::Value;

use crate::contract::client::Received;
use crate::openapi::spec::Spec;
use crate::record::transcript::{Interaction, REDACTED};

/// Response body fields whose values differ between any two servers: only
/// their JSON type is compared.
const VOLATILE_FIELDS: [&str; 2] = ["created", "request_log_url"];

/// Ids seen on both sides: recorded ↔ assigned by the target.
#[derive(Default)]
pub(crate) struct IdMap {
    /// Recorded id → the target's.
    to_target: HashMap<String, String>,
    /// The target's id → recorded.
    to_recorded: HashMap<String, String>,
}

impl IdMap {
    /// Pairs `recorded` with `got`; an error if either is already paired
    /// with another.
    pub fn pair(&mut self, recorded: &str, got: &str) -> Result<(), String> {
        match (self.to_target.get(recorded), self.to_recorded.get(got)) {
            (Some(t), _) if t != got => Err(format!(
                "recorded {recorded:?}, which the target answered as {t:?} earlier, got {got:?}"
            )),
            (_, Some(r)) if r != recorded => Err(format!(
                "recorded {recorded:?}, got {got:?}, which earlier stood for recorded {r:?}"
            )),
            _ => {
                self.to_target.insert(recorded.into(), got.into());
                self.to_recorded.insert(got.into(), recorded.into());
                Ok(())
            }
        }
    }

    /// `text` with every target id replaced by its recorded one.
    pub fn as_recorded(&self, text: &str) -> String {
        self.rewrite(text, &self.to_recorded)
    }

    /// `text` with every recorded id replaced by the target's.
    pub fn as_target(&self, text: &str) -> String {
        self.rewrite(text, &self.to_target)
    }

    /// Replaces each word of `text` (a run of letters, digits and `_`, the
    /// shape of every Stripe id) that `map` knows: linear in `text`,
    /// whatever the number of ids paired.
    fn rewrite(&self, text: &str, map: &HashMap<String, String>) -> String {
        if map.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut word_start = None;
        let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        // The space after the end closes a word that ends the text.
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (word_start, is_word(c)) {
                (None, true) => word_start = Some(i),
                (Some(start), false) => {
                    let word = &text[start..i];
                    out.push_str(map.get(word).map_or(word, String::as_str));
                    word_start = None;
                    if i < text.len() {
                        out.push(c);
                    }
                }
                (None, false) => {
                    if i < text.len() {
                        out.push(c);
                    }
                }
                (Some(_), true) => {}
            }
        }
        out
    }
}

/// How one step went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The answer matched.
    Passed,
    /// It did not; what differed, one line each.
    Failed(Vec<String>),
    /// Not replayed, and why.
    Skipped(String),
}

/// Checks the target's answer `got` against the recorded one.
pub(crate) fn check(i: &Interaction, got: &Received, spec: &Spec, ids: &mut IdMap) -> Outcome {
    let Some(recorded) = &i.response else {
        return Outcome::Skipped("recorded without an answer".into());
    };
    let mut diffs = Vec::new();
    if got.status != recorded.status {
        diffs.push(format!(
            "status: recorded {}, got {}",
            recorded.status, got.status
        ));
    }
    let header = |name: &str| got.headers.get(name).and_then(|v| v.to_str().ok());
    if let (Some(rec), Some(now)) = (recorded.headers.get("request-id"), header("request-id")) {
        // Request ids are volatile: paired, so Original-Request can be checked.
        let _ = ids.pair(rec, now);
    }
    let replayed = recorded
        .headers
        .get("idempotent-replayed")
        .map(String::as_str);
    if replayed != header("idempotent-replayed") {
        diffs.push(format!(
            "header Idempotent-Replayed: recorded {}, got {}",
            shown(replayed),
            shown(header("idempotent-replayed"))
        ));
    }
    if let (Some(rec), Some(now)) = (
        recorded.headers.get("original-request"),
        header("original-request"),
    ) {
        if ids.to_target.get(rec).is_some_and(|t| t != now) {
            diffs.push(format!(
                "header Original-Request: names {now:?}, not the request recorded as {rec:?}"
            ));
        }
    }
    let body: Value = match serde_json::from_slice(&got.body) {
        Ok(v) => v,
        Err(_) => {
            diffs.push(format!(
                "body: not JSON ({} bytes: {:?})",
                got.body.len(),
                String::from_utf8_lossy(&got.body[..got.body.len().min(120)])
            ));
            return Outcome::Failed(diffs);
        }
    };
    let valid = match spec.route(&i.request.method, &i.request.path) {
        Some(op) => op.validate_response(got.status, &body),
        None => spec.validate_error(&body),
    };
    if let Err(v) = valid {
        diffs.push(format!("body breaks the spec: {v}"));
    }
    let is_error = |v: &Value| v.get("error").is_some();
    if is_error(&recorded.body) != is_error(&body) {
        // An error where an object was recorded (or the reverse): one line,
        // not a line per field.
        diffs.push(format!(
            "body: recorded {}, got {}",
            summary(&recorded.body),
            summary(&body)
        ));
    } else {
        compare("body", None, &recorded.body, &body, ids, &mut diffs);
    }
    if diffs.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(diffs)
    }
}

fn shown(v: Option<&str>) -> String {
    v.map_or("nothing".into(), |v| format!("{v:?}"))
}

/// Longest JSON shown in a difference line, in characters.
const MAX_SHOWN: usize = 120;

fn brief(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A body in a few words: an error's code (or type) and message, or an
/// object's `object`.
fn summary(v: &Value) -> String {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    if let Some(e) = v.get("error") {
        let what = text(e, "code")
            .or_else(|| text(e, "type"))
            .unwrap_or_default();
        let message = text(e, "message").unwrap_or_default();
        return format!("an error ({what}: {message:?})");
    }
    match text(v, "object") {
        Some(o) => format!("an object ({o})"),
        None => brief(v),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares a recorded value with the target's at `at` (a path such as
/// `body.data[0].name`), under the field name `field`.
fn compare(
    at: &str,
    field: Option<&str>,
    recorded: &Value,
    got: &Value,
    ids: &mut IdMap,
    diffs: &mut Vec<String>,
) {
    let volatile = field.is_some_and(|f| VOLATILE_FIELDS.contains(&f));
    match (recorded, got) {
        (Value::String(r), Value::String(g)) if field == Some("id") => {
            if let Err(e) = ids.pair(r, g) {
                diffs.push(format!("{at}: {e}"));
            }
        }
        (Value::String(r), Value::String(_)) if r == REDACTED => {}
        _ if volatile => {
            if kind(recorded) != kind(got) {
                diffs.push(format!(
                    "{at}: recorded a {}, got a {} ({})",
                    kind(recorded),
                    kind(got),
                    brief(got)
                ));
            }
        }
        (Value::Object(r), Value::Object(g)) => {
            for (k, rv) in r {
                let here = format!("{at}.{k}");
                match g.get(k) {
                    Some(gv) => compare(&here, Some(k), rv, gv, ids, diffs),
                    None => diffs.push(format!("{here}: missing (recorded {})", brief(rv))),
                }
            }
            for (k, gv) in g {
                if !r.contains_key(k) {
                    diffs.push(format!("{at}.{k}: not recorded (got {})", brief(gv)));
                }
            }
        }
        (Value::Array(r), Value::Array(g)) => {
            if r.len() != g.len() {
                diffs.push(format!("{at}: recorded {} items, got {}", r.len(), g.len()));
            }
            for (n, (rv, gv)) in r.iter().zip(g).enumerate() {
                compare(&format!("{at}[{n}]"), None, rv, gv, ids, diffs);
            }
        }
        (Value::String(r), Value::String(g)) => {
            let g = ids.as_recorded(g);
            if *r != g {
                diffs.push(format!("{at}: recorded {r:?}, got {g:?}"));
            }
        }
        _ => {
            if recorded != got {
                diffs.push(format!(
                    "{at}: recorded {}, got {}",
                    brief(recorded),
                    brief(got)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diffs(recorded: Value, got: Value, ids: &mut IdMap) -> Vec<String> {
        let mut out = Vec::new();
        compare("body", None, &recorded, &got, ids, &mut out);
        out
    }

    #[test]
    fn ids_are_paired_and_volatile_fields_compared_by_type() {
        let mut ids = IdMap::default();
        let rec = json!({"id": "s_1", "created": 1, "name": "a", "request_log_url": "u1"});
        let got = json!({"id": "s_9", "created": 5, "name": "a", "request_log_url": "u2"});
        assert!(diffs(rec, got, &mut ids).is_empty());
        assert_eq!(ids.as_target("s_1"), "s_9");
        // The same recorded id answered as another is a difference.
        let d = diffs(json!({"id": "s_1"}), json!({"id": "s_8"}), &mut ids);
        assert_eq!(d.len(), 1, "{d:?}");
        // Ids inside strings are read back as recorded.
        let d = diffs(
            json!({"message": "No such secret: s_1"}),
            json!({"message": "No such secret: s_9"}),
            &mut ids,
        );
        assert!(d.is_empty(), "{d:?}");
        let mut more = IdMap::default();
        more.pair("req_1", "req_9").unwrap();
        more.pair("s_1", "s_9").unwrap();
        assert_eq!(
            more.as_recorded("https://x/logs/req_9?t=1 and 's_9', not s_99 or xs_9"),
            "https://x/logs/req_1?t=1 and 's_1', not s_99 or xs_9"
        );
        assert_eq!(more.as_target("s_1"), "s_9");
        assert_eq!(more.as_target("é s_1é"), "é s_9é");
        let d = diffs(json!({"created": 1}), json!({"created": "1"}), &mut ids);
        assert_eq!(d, ["body.created: recorded a number, got a string (\"1\")"]);
    }

    #[test]
    fn an_id_pairs_with_one_id_only() {
        let mut ids = IdMap::default();
        ids.pair("s_1", "s_9").unwrap();
        // The same pair again is no conflict.
        ids.pair("s_1", "s_9").unwrap();
        assert_eq!(
            ids.pair("s_1", "s_8").unwrap_err(),
            "recorded \"s_1\", which the target answered as \"s_9\" earlier, got \"s_8\""
        );
        assert_eq!(
            ids.pair("s_2", "s_9").unwrap_err(),
            "recorded \"s_2\", got \"s_9\", which earlier stood for recorded \"s_1\""
        );
        // Neither refused pair was kept.
        assert_eq!(ids.as_target("s_1 s_2"), "s_9 s_2");
        assert_eq!(ids.as_recorded("s_9 s_8"), "s_1 s_8");
    }

    fn secret(id: &str, name: &str) -> Value {
        json!({
            "id": id, "object": "apps.secret", "created": 1700000000, "expires_at": null,
            "livemode": false, "name": name, "scope": {"type": "account"}
        })
    }

    fn not_found() -> Value {
        json!({"error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": "No such secret: 'nope'", "param": "name",
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_1?t=1700000000",
            "type": "invalid_request_error"
        }})
    }

    /// A recorded find: status, headers and body.
    fn recorded(status: u16, headers: &[(&str, &str)], body: Value) -> Interaction {
        Interaction {
            operation: Some("getAppsSecretsFind".into()),
            request: crate::record::transcript::TranscriptRequest {
                method: "GET".into(),
                path: "/v1/apps/secrets/find".into(),
                headers: Default::default(),
                params: Some(json!({"name": "k", "scope": {"type": "account"}})),
                query: None,
                body: None,
            },
            response: Some(crate::record::transcript::TranscriptResponse {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body,
            }),
            fault: None,
            violations: Vec::new(),
        }
    }

    fn received(status: u16, headers: &[(&'static str, &str)], body: &str) -> Received {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Received {
            status,
            headers: map,
            body: body.to_string().into(),
        }
    }

    fn failures(outcome: Outcome) -> Vec<String> {
        match outcome {
            Outcome::Failed(d) => d,
            other => panic!("not failed: {other:?}"),
        }
    }

    #[test]
    fn an_answer_is_checked_by_status_headers_spec_and_body() {
        let spec = Spec::bundled();
        let rec = recorded(200, &[("request-id", "req_1")], secret("s_1", "k"));
        let same = received(
            200,
            &[("request-id", "req_9")],
            &secret("s_9", "k").to_string(),
        );
        assert_eq!(
            check(&rec, &same, spec, &mut IdMap::default()),
            Outcome::Passed
        );
        let mut ids = IdMap::default();
        let other = received(404, &[], &not_found().to_string());
        assert_eq!(
            failures(check(&rec, &other, spec, &mut ids)),
            [
                "status: recorded 200, got 404",
                "body: recorded an object (apps.secret), got an error (resource_missing: \
                 \"No such secret: 'nope'\")",
            ]
        );
        // The reverse, and an error without a code, named by its type.
        let rec_error = recorded(
            400,
            &[],
            json!({"error": {"type": "invalid_request_error"}}),
        );
        let got = received(400, &[], &secret("s_9", "k").to_string());
        let d = failures(check(&rec_error, &got, spec, &mut ids));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("body breaks the spec: /: "), "{d:?}");
        assert_eq!(
            d[1],
            "body: recorded an error (invalid_request_error: \"\"), got an object (apps.secret)"
        );
        // A body the spec refuses is named, even when it matches the record.
        let broken = json!({"id": "s_1", "object": "apps.secret"});
        let rec_broken = recorded(200, &[], broken.clone());
        let d = failures(check(
            &rec_broken,
            &received(200, &[], &broken.to_string()),
            spec,
            &mut IdMap::default(),
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("body breaks the spec: "), "{d:?}");
        // A body that is not JSON.
        assert_eq!(
            failures(check(
                &rec,
                &received(200, &[], "oops"),
                spec,
                &mut IdMap::default()
            )),
            ["body: not JSON (4 bytes: \"oops\")"]
        );
    }

    #[test]
    fn replays_are_checked_by_their_headers() {
        let spec = Spec::bundled();
        let body = secret("s_1", "k");
        let text = secret("s_9", "k").to_string();
        let mut ids = IdMap::default();
        // The first answer pairs the request ids req_1 and req_9.
        let first = recorded(200, &[("request-id", "req_1")], body.clone());
        let got = received(200, &[("request-id", "req_9")], &text);
        assert_eq!(check(&first, &got, spec, &mut ids), Outcome::Passed);
        let replay = recorded(
            200,
            &[
                ("request-id", "req_2"),
                ("idempotent-replayed", "true"),
                ("original-request", "req_1"),
            ],
            body.clone(),
        );
        let good = received(
            200,
            &[
                ("request-id", "req_8"),
                ("idempotent-replayed", "true"),
                ("original-request", "req_9"),
            ],
            &text,
        );
        assert_eq!(check(&replay, &good, spec, &mut ids), Outcome::Passed);
        let wrong_original = received(
            200,
            &[
                ("request-id", "req_7"),
                ("idempotent-replayed", "true"),
                ("original-request", "req_6"),
            ],
            &text,
        );
        assert_eq!(
            failures(check(&replay, &wrong_original, spec, &mut ids)),
            ["header Original-Request: names \"req_6\", not the request recorded as \"req_1\""]
        );
        let not_replayed = received(200, &[("request-id", "req_5")], &text);
        assert_eq!(
            failures(check(&replay, &not_replayed, spec, &mut ids)),
            ["header Idempotent-Replayed: recorded \"true\", got nothing"]
        );
    }

    #[test]
    fn differences_name_where_and_what() {
        let mut ids = IdMap::default();
        let d = diffs(
            json!({"a": 1, "list": [1, 2], "gone": true, "payload": REDACTED, "name": "k"}),
            json!({"a": 2, "list": [1], "extra": null, "payload": "x", "name": "j"}),
            &mut ids,
        );
        assert_eq!(
            d,
            [
                "body.a: recorded 1, got 2",
                "body.list: recorded 2 items, got 1",
                "body.gone: missing (recorded true)",
                "body.name: recorded \"k\", got \"j\"",
                "body.extra: not recorded (got null)",
            ]
        );
    }
}
