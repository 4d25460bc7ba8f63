//! Verify: replay a transcript's interactions, in order, against a target
//! server (the mock, real Stripe in test mode, anything speaking the API) and
//! check each answer: the same status, a body the bundled spec accepts, and
//! a body equal to the recorded one except for volatile values. Ids the
//! target assigns are mapped to the recorded ones, so later requests that
//! name them replay correctly (docs/behaviour.md §9).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Request;
use serde_json::Value;

use crate::contract::client::{base_url, HttpClient, Received};
use crate::contract::transcript::REDACTED;
use crate::contract::transcript::{form_pairs, Interaction, Transcript};
use crate::error::ContractError;
use crate::openapi::spec::Spec;
use crate::secrets::auth;

/// Response body fields whose values differ between any two servers: only
/// their JSON type is compared.
const VOLATILE_FIELDS: [&str; 2] = ["created", "request_log_url"];

/// Where and how to replay.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Base URL of the target (`http://127.0.0.1:12111`,
    /// `https://api.stripe.com`).
    pub target: String,
    /// Sent in place of every recorded well-formed or masked key.
    pub api_key: Option<String>,
    /// Sent in place of every recorded `Stripe-Account` header.
    pub stripe_account: Option<String>,
    /// A PEM file of extra CA certificates to trust.
    pub ca_cert: Option<PathBuf>,
}

impl VerifyOptions {
    /// Options for `target`, replaying keys and accounts as recorded.
    pub fn new(target: impl Into<String>) -> VerifyOptions {
        VerifyOptions {
            target: target.into(),
            ..VerifyOptions::default()
        }
    }
}

/// How one step went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The answer matched.
    Passed,
    /// It did not; what differed, one line each.
    Failed(Vec<String>),
    /// Not replayed, and why.
    Skipped(String),
}

/// One replayed interaction.
#[derive(Clone, Debug)]
pub struct Step {
    /// Method and path, as recorded.
    pub request: String,
    /// The `operationId`, if recorded.
    pub operation: Option<String>,
    /// How it went.
    pub outcome: Outcome,
}

/// What a verification came to: one step per interaction.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// The target's base URL.
    pub target: String,
    /// In transcript order.
    pub steps: Vec<Step>,
}

impl VerifyReport {
    /// Whether no step failed.
    pub fn passed(&self) -> bool {
        self.count(|o| matches!(o, Outcome::Failed(_))) == 0
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.steps.iter().filter(|s| which(&s.outcome)).count()
    }
}

/// One line per step (with the differences under a failed one), then a
/// summary.
impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.steps.len();
        for (n, step) in self.steps.iter().enumerate() {
            let op = step
                .operation
                .as_deref()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            let head = format!("step {}/{total} {}{op}", n + 1, step.request);
            match &step.outcome {
                Outcome::Passed => writeln!(f, "{head}: passed")?,
                Outcome::Skipped(why) => writeln!(f, "{head}: skipped ({why})")?,
                Outcome::Failed(diffs) => {
                    writeln!(f, "{head}: FAILED")?;
                    for d in diffs {
                        writeln!(f, "    {d}")?;
                    }
                }
            }
        }
        let passed = self.count(|o| *o == Outcome::Passed);
        let failed = self.count(|o| matches!(o, Outcome::Failed(_)));
        let skipped = self.count(|o| matches!(o, Outcome::Skipped(_)));
        write!(
            f,
            "verify: {passed} passed, {failed} failed, {skipped} skipped of {total} against {}",
            self.target
        )
    }
}

/// Ids seen on both sides: recorded ↔ assigned by the target.
#[derive(Default)]
struct IdMap {
    /// Recorded id → the target's.
    to_target: HashMap<String, String>,
    /// The target's id → recorded.
    to_recorded: HashMap<String, String>,
}

impl IdMap {
    /// Pairs `recorded` with `got`; an error if either is already paired
    /// with another.
    fn pair(&mut self, recorded: &str, got: &str) -> Result<(), String> {
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
    fn as_recorded(&self, text: &str) -> String {
        self.rewrite(text, &self.to_recorded)
    }

    /// `text` with every recorded id replaced by the target's.
    fn as_target(&self, text: &str) -> String {
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
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (word_start, is_word(c) && i < text.len()) {
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

/// Replays `transcript` against `options.target`. `Err` only when the
/// client cannot be set up (a bad `--ca-cert`); a target that cannot be
/// reached fails the step it happened on, and the steps after it are
/// skipped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::{verify, MockServer, VerifyOptions};
///
/// let recorded_against = MockServer::start().await;
/// // ... the code under test talks to recorded_against.url() ...
/// let transcript = recorded_against.transcript();
///
/// let other = MockServer::builder().seed(7).start().await;
/// let report = verify(&transcript, &VerifyOptions::new(other.url())).await.unwrap();
/// assert!(report.passed(), "{report}"); // one line per step, then a summary
/// # }
/// ```
pub async fn verify(
    transcript: &Transcript,
    options: &VerifyOptions,
) -> Result<VerifyReport, ContractError> {
    let base = base_url(&options.target)?;
    let client = HttpClient::new(options.ca_cert.as_deref())?;
    let spec = Spec::bundled();
    let mut ids = IdMap::default();
    let mut steps = Vec::with_capacity(transcript.interactions.len());
    let mut unreachable: Option<String> = None;
    // Fresh idempotency keys per run, so a second run against a server that
    // remembers keys (Stripe, for 24 hours) does not replay the first's.
    let run = format!("{:x}", crate::clock::wall_nanos());
    for i in &transcript.interactions {
        let request = format!("{} {}", i.request.method, i.request.path);
        let operation = i.operation.clone();
        let outcome = if let Some(why) = &unreachable {
            Outcome::Skipped(format!("not run: {why}"))
        } else if let Some(fault) = &i.fault {
            Outcome::Skipped(format!("recorded with an injected fault: {fault}"))
        } else if i.response.is_none() {
            Outcome::Skipped("recorded without an answer".into())
        } else {
            let req = build(i, options, &base, &ids, &run);
            match req {
                Err(e) => Outcome::Failed(vec![e]),
                Ok(req) => match client.send(req).await {
                    Err(e) => {
                        unreachable = Some("an earlier step could not reach the target".into());
                        Outcome::Failed(vec![format!("could not reach the target: {e}")])
                    }
                    Ok(got) => check(i, &got, spec, &mut ids),
                },
            }
        };
        steps.push(Step {
            request,
            operation,
            outcome,
        });
    }
    Ok(VerifyReport {
        target: options.target.clone(),
        steps,
    })
}

/// The HTTP request that replays `i` against `base`.
fn build(
    i: &Interaction,
    options: &VerifyOptions,
    base: &str,
    ids: &IdMap,
    run: &str,
) -> Result<Request<Full<Bytes>>, String> {
    let r = &i.request;
    let path = ids.as_target(&r.path);
    let (query, body) = match &r.params {
        Some(params) => {
            let encoded = form_pairs(params)
                .into_iter()
                .map(|(k, v)| format!("{}={}", encode(&k), encode(&ids.as_target(&v))))
                .collect::<Vec<_>>()
                .join("&");
            if r.method == "POST" {
                (String::new(), encoded)
            } else {
                (encoded, String::new())
            }
        }
        None => (
            r.query.clone().unwrap_or_default(),
            r.body.clone().unwrap_or_default(),
        ),
    };
    let uri = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let mut builder = Request::builder().method(r.method.as_str()).uri(&uri);
    for (name, value) in &r.headers {
        let value = match name.as_str() {
            "authorization" => authorization(value, options.api_key.as_deref()),
            "stripe-account" => options
                .stripe_account
                .clone()
                .unwrap_or_else(|| value.clone()),
            "idempotency-key" => format!("{value}-{run}"),
            "content-type" if r.params.is_some() => continue,
            _ => value.clone(),
        };
        builder = builder.header(name.as_str(), value);
    }
    if r.params.is_some() && r.method == "POST" {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the request for {uri}: {e}"))
}

/// The `Authorization` to send for a recorded one: the user's key in place
/// of any well-formed or masked key; a masked key without `--api-key`
/// becomes a stand-in with `X` for each `*` (still well-formed if the
/// original was); anything else (a malformed key, testing a 401) as
/// recorded.
fn authorization(recorded: &str, api_key: Option<&str>) -> String {
    let Some(key) = auth::key_from_header(recorded) else {
        return recorded.to_string();
    };
    let masked = key.contains('*');
    let standin = key.replace('*', "X");
    if auth::mode(&standin).is_none() {
        return if masked {
            format!("Bearer {standin}")
        } else {
            recorded.to_string()
        };
    }
    match (api_key, masked) {
        (Some(k), _) => format!("Bearer {k}"),
        (None, true) => format!("Bearer {standin}"),
        (None, false) => recorded.to_string(),
    }
}

/// Percent-encodes a form key or value, leaving brackets readable.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'[' | b']' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Checks the target's answer `got` against the recorded one.
fn check(i: &Interaction, got: &Received, spec: &Spec, ids: &mut IdMap) -> Outcome {
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
    fn differences_name_where_and_what() {
        let mut ids = IdMap::default();
        let d = diffs(
            json!({"a": 1, "list": [1, 2], "gone": true, "payload": REDACTED}),
            json!({"a": 2, "list": [1], "extra": null, "payload": "x"}),
            &mut ids,
        );
        assert_eq!(
            d,
            [
                "body.a: recorded 1, got 2",
                "body.list: recorded 2 items, got 1",
                "body.gone: missing (recorded true)",
                "body.extra: not recorded (got null)",
            ]
        );
    }

    #[test]
    fn keys_are_replaced_masked_keys_stood_in_and_bad_keys_kept() {
        assert_eq!(
            authorization("Bearer sk_test_123", Some("sk_test_mine")),
            "Bearer sk_test_mine"
        );
        assert_eq!(
            authorization("Bearer sk_test_123", None),
            "Bearer sk_test_123"
        );
        assert_eq!(
            authorization("Bearer sk_test_****abcd", None),
            "Bearer sk_test_XXXXabcd"
        );
        assert_eq!(
            authorization("Bearer sk_test_bad-key", Some("sk_test_mine")),
            "Bearer sk_test_bad-key"
        );
        assert_eq!(
            authorization("Bearer sk_test_***-key", None),
            "Bearer sk_test_XXX-key"
        );
        assert_eq!(encode("scope[user]"), "scope[user]");
        assert_eq!(encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
