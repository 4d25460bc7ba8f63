//! Coverage: which of each operation's outcomes and parameters a test suite
//! exercised, and which it never did (docs/behaviour.md §11).
//!
//! What can happen comes from two places: the spec (every parameter, every
//! value of an enum) and the mock's own outcomes ([`outcomes`], the
//! behaviour of docs/behaviour.md named one by one). What did happen is
//! counted as requests are served, in a table whose keys come only from the
//! spec and from those names, so it stays as small as the spec.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;
use serde_json::Value;

use hyper::StatusCode;

use crate::openapi::schema::follow;
use crate::openapi::shape::{NodeId, Shape};
use crate::openapi::spec::{Operation, Spec};
use crate::ops::OpKind;
use crate::outcome::{Outcome, Reason};
use crate::secrets::api;

/// Counts per operation id ([`UNROUTED`]: requests no operation routed).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    ops: HashMap<String, OpCounts, Fx>,
}

/// The key of requests no operation routed (no `operationId` is empty).
const UNROUTED: &str = "";

#[derive(Debug, Default)]
struct OpCounts {
    requests: u64,
    outcomes: HashMap<Outcome, u64, Fx>,
    parameters: HashMap<String, u64, Fx>,
}

/// The tables' hasher: rustc's FxHash, a multiply a word, where std's
/// SipHash is several times the cost. Its keys come only from the spec and
/// the mock's outcome names (above), so no client can pick ones that
/// collide.
type Fx = BuildHasherDefault<FxHasher>;

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Counts {
    /// Counts one request to `op` that came to `outcome`, having sent the
    /// parameters `sent` (from [`sent_parameters`]).
    pub fn count(&mut self, op: Option<&str>, outcome: Outcome, sent: &Sent) {
        let op = op.unwrap_or(UNROUTED);
        // One lookup for an operation counted before (every request but
        // its first).
        let c = match self.ops.get_mut(op) {
            Some(c) => c,
            None => self.ops.entry(op.to_string()).or_default(),
        };
        c.requests += 1;
        match c.outcomes.get_mut(&outcome) {
            Some(n) => *n += 1,
            None => {
                c.outcomes.insert(outcome, 1);
            }
        }
        for p in sent.names() {
            match c.parameters.get_mut(p) {
                Some(n) => *n += 1,
                None => {
                    c.parameters.insert(p.to_string(), 1);
                }
            }
        }
    }

    /// Forgets everything counted.
    pub fn clear(&mut self) {
        self.ops.clear();
    }
}

/// The parameters one request sent, as coverage names them: one string
/// and where each name ends, so a request costs two allocations however
/// many it sent (the table allocates a name only the first time it sees it).
#[derive(Debug, Default)]
pub(crate) struct Sent {
    text: String,
    ends: Vec<usize>,
}

impl Sent {
    /// The names, in the order they were sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.text[a..b])
    }

    /// Adds the name made of `parts`, in order.
    fn push(&mut self, parts: &[&str]) {
        for part in parts {
            self.text.push_str(part);
        }
        self.ends.push(self.text.len());
    }
}

/// The parameters `input` (valid for `op`) sends, as coverage names them:
/// leaves, arrays as `name[]`, and enum values as `name=value`.
pub(crate) fn sent_parameters(op: &Operation, input: &Value) -> Sent {
    // Room for a typical request's names without growing.
    let mut out = Sent {
        text: String::with_capacity(128),
        ends: Vec::with_capacity(8),
    };
    let mut prefix = String::with_capacity(64);
    walk_value(op.shape(), Shape::ROOT, input, &mut prefix, &mut out);
    out
}

/// Names the parameters under `value` into `out`; `prefix` is the name so
/// far, as [`join`] builds it, and is left as it was found.
fn walk_value(shape: &Shape, at: NodeId, value: &Value, prefix: &mut String, out: &mut Sent) {
    let node = shape.get(at);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let Some(sub) = node.property(k) else {
                    continue;
                };
                let len = prefix.len();
                if len == 0 {
                    prefix.push_str(k);
                } else {
                    prefix.extend(["[", k, "]"]);
                }
                walk_value(shape, sub, v, prefix, out);
                prefix.truncate(len);
            }
        }
        Value::Array(items) => {
            out.push(&[prefix, "[]"]);
            if node.items.is_some_and(|i| shape.get(i).has_enum) {
                for s in items.iter().filter_map(Value::as_str) {
                    out.push(&[prefix, "[]=", s]);
                }
            }
        }
        _ if prefix.is_empty() => {}
        _ => {
            out.push(&[prefix]);
            if let (Some(s), true) = (value.as_str(), node.has_enum) {
                out.push(&[prefix, "=", s]);
            }
        }
    }
}

/// Every parameter of `op` as coverage names them, enum values included.
fn spec_parameters(op: &Operation) -> Vec<String> {
    let mut out = Vec::new();
    walk_schema(&op.definitions, &op.request_schema, "", &mut out, 0);
    out
}

fn walk_schema(defs: &Value, schema: &Value, prefix: &str, out: &mut Vec<String>, depth: usize) {
    let schema = follow(defs, schema);
    if depth > 8 {
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            walk_schema(defs, sub, &join(prefix, k), out, depth + 1);
        }
        return;
    }
    if prefix.is_empty() {
        return;
    }
    let (key, values) = match schema.get("items") {
        Some(items) => (format!("{prefix}[]"), follow(defs, items).get("enum")),
        None => (prefix.to_string(), schema.get("enum")),
    };
    out.push(key.clone());
    for v in values.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = v.as_str() {
            out.push(format!("{key}={s}"));
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}[{key}]")
    }
}

/// The mock's outcomes for `op`, in the order the report lists them: the
/// behaviour of docs/behaviour.md, named. Which apply follows from the spec
/// (a POST takes an `Idempotency-Key`; a `scope` parameter brings the scope
/// rules; the required parameters can each be missing) and from the
/// operation the mock runs ([`api::outcomes`]). Outcomes that need a
/// suite to break a bound (a full store, too many parameters, too many
/// bodies at once) or the mock to break (a spec violation) are not listed:
/// they show among the others seen when they happen.
fn outcomes(op: &Operation) -> Vec<Outcome> {
    let mut out = vec![Outcome::Success];
    if let Some(OpKind::Api(kind)) = op.kind {
        out.extend(api::outcomes(kind));
    }
    let mut reasons = Vec::new();
    let props = op.request_schema.get("properties");
    if props.is_some_and(|p| p.get("scope").is_some()) {
        reasons.extend([Reason::ScopeUserMissing, Reason::ScopeUserUnexpected]);
    }
    if !op.expandable.is_empty() {
        reasons.push(Reason::ExpandInvalid);
    }
    out.extend(reasons.drain(..).filter_map(Outcome::refused));
    if op.method == "POST" {
        out.push(Outcome::Replayed(StatusCode::OK));
        reasons.extend([Reason::IdempotencyKeyReused, Reason::IdempotencyKeyInUse]);
    }
    for name in op
        .request_schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        reasons.push(Reason::ParameterMissing(name.into()));
    }
    reasons.extend([
        Reason::ParameterUnknown,
        Reason::ParameterInvalid,
        Reason::ApiKeyMissing,
        Reason::ApiKeyInvalid,
        Reason::ApiVersionInvalid,
    ]);
    out.extend(reasons.into_iter().filter_map(Outcome::refused));
    out
}

/// One outcome or parameter and how often it was exercised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CoverageItem {
    /// `404 secret_not_found`, `scope[type]=user`.
    pub name: String,
    /// What it means; `None` for one seen but not in the mock's list (an
    /// injected fault, a malformed request).
    pub description: Option<String>,
    /// Requests that exercised it.
    pub count: u64,
}

/// One operation's coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OperationCoverage {
    /// `operationId`.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Requests routed to it.
    pub requests: u64,
    /// Its outcomes: the mock's list, then any other seen.
    pub outcomes: Vec<CoverageItem>,
    /// Its parameters (and enum values) from the spec.
    pub parameters: Vec<CoverageItem>,
}

/// What a test suite exercised, per operation of the spec.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::MockServer;
///
/// let server = MockServer::start().await;
/// // ... the suite runs against server.url() ...
/// let coverage = server.coverage();
/// assert!(coverage
///     .never_exercised
///     .contains(&"getAppsSecretsFind: 404 secret_not_found".to_string()));
/// println!("{coverage}"); // per operation, counts and what was never hit
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Coverage {
    /// Always `mock.coverage`.
    pub object: &'static str,
    /// Requests counted on the Stripe paths.
    pub requests: u64,
    /// Requests no operation routed (unknown paths).
    pub unrouted: u64,
    /// One entry per operation of the spec, in its order.
    pub operations: Vec<OperationCoverage>,
    /// Every outcome and parameter never exercised, as `operation: name`.
    pub never_exercised: Vec<String>,
}

impl Counts {
    /// The report, against the operations of `spec`.
    pub fn report(&self, spec: &Spec) -> Coverage {
        let empty = OpCounts::default();
        let mut never = Vec::new();
        let mut operations = Vec::new();
        for op in &spec.operations {
            let c = self.ops.get(op.id.as_str()).unwrap_or(&empty);
            let expected = outcomes(op);
            let mut outcome_items: Vec<CoverageItem> = expected
                .iter()
                .map(|outcome| CoverageItem {
                    name: outcome.to_string(),
                    description: outcome.description().map(String::from),
                    count: c.outcomes.get(outcome).copied().unwrap_or(0),
                })
                .collect();
            let mut others: Vec<CoverageItem> = c
                .outcomes
                .iter()
                .filter(|(outcome, _)| !expected.contains(outcome))
                .map(|(outcome, n)| CoverageItem {
                    name: outcome.to_string(),
                    description: None,
                    count: *n,
                })
                .collect();
            others.sort_by(|a, b| a.name.cmp(&b.name));
            outcome_items.extend(others);
            let parameters: Vec<CoverageItem> = spec_parameters(op)
                .into_iter()
                .map(|name| CoverageItem {
                    count: c.parameters.get(&name).copied().unwrap_or(0),
                    name,
                    description: None,
                })
                .collect();
            for item in outcome_items.iter().chain(&parameters) {
                if item.count == 0 {
                    never.push(format!("{}: {}", op.id, item.name));
                }
            }
            operations.push(OperationCoverage {
                operation: op.id.clone(),
                method: op.method.clone(),
                path: op.path.clone(),
                requests: c.requests,
                outcomes: outcome_items,
                parameters,
            });
        }
        let unrouted = self.ops.get(UNROUTED).map_or(0, |c| c.requests);
        Coverage {
            object: "mock.coverage",
            requests: self.ops.values().map(|c| c.requests).sum(),
            unrouted,
            operations,
            never_exercised: never,
        }
    }
}

impl Coverage {
    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// How many outcomes and parameters were never exercised.
    pub fn missed(&self) -> usize {
        self.never_exercised.len()
    }
}

/// What a person reads at the end of a test run: per operation, each
/// outcome and parameter with its count, the never-exercised ones marked.
impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self
            .operations
            .iter()
            .map(|o| o.outcomes.len() + o.parameters.len())
            .sum();
        writeln!(
            f,
            "coverage: {}; {} of {total} outcomes and parameters never exercised",
            plural(self.requests, "request"),
            self.missed()
        )?;
        for op in &self.operations {
            writeln!(f)?;
            writeln!(
                f,
                "{} {} ({}): {}",
                op.method,
                op.path,
                op.operation,
                plural(op.requests, "request")
            )?;
            for item in &op.outcomes {
                let what = item
                    .description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                line(f, item.count, &format!("{}{what}", item.name))?;
            }
            for item in &op.parameters {
                line(f, item.count, &format!("param {}", item.name))?;
            }
        }
        if self.unrouted > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "{} to paths the spec does not define",
                plural(self.unrouted, "request")
            )?;
        }
        Ok(())
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn line(f: &mut fmt::Formatter<'_>, count: u64, what: &str) -> fmt::Result {
    if count == 0 {
        writeln!(f, "  never  {what}")
    } else {
        writeln!(f, "  {count:>5}  {what}")
    }
}

/// The coverage counts are bounded by the spec: a table keyed by operation,
/// outcome name and parameter name, all drawn from the spec or the mock's
/// fixed list.
#[cfg(test)]
mod tests {
    use super::*;

    fn sent(names: &[&str]) -> Sent {
        let mut sent = Sent::default();
        for name in names {
            sent.push(&[name]);
        }
        sent
    }

    #[test]
    fn sent_gives_back_each_name_as_pushed() {
        let mut s = sent(&["name", "scope[type]"]);
        s.push(&["scope[type]", "=", "user"]);
        let names: Vec<&str> = s.names().collect();
        assert_eq!(names, ["name", "scope[type]", "scope[type]=user"]);
        assert_eq!(Sent::default().names().count(), 0);
    }
    use serde_json::json;

    fn op(id: &str) -> &'static Operation {
        Spec::bundled()
            .operations
            .iter()
            .find(|o| o.id == id)
            .unwrap()
    }

    #[test]
    fn sent_parameters_name_leaves_arrays_and_enum_values() {
        let input = json!({
            "name": "n", "payload": "p", "expand": ["payload"],
            "scope": {"type": "user", "user": "u"}, "expires_at": 5
        });
        let sent = sent_parameters(op("postAppsSecrets"), &input);
        let mut sent: Vec<&str> = sent.names().collect();
        sent.sort_unstable();
        assert_eq!(
            sent,
            [
                "expand[]",
                "expires_at",
                "name",
                "payload",
                "scope[type]",
                "scope[type]=user",
                "scope[user]"
            ]
        );
    }

    #[test]
    fn spec_parameters_include_every_enum_value() {
        let params = spec_parameters(op("getAppsSecrets"));
        for p in [
            "scope[type]=account",
            "scope[type]=user",
            "starting_after",
            "limit",
            "expand[]",
        ] {
            assert!(params.iter().any(|x| x == p), "{p} in {params:?}");
        }
    }

    #[test]
    fn the_report_marks_what_was_never_hit() {
        let mut counts = Counts::default();
        counts.count(
            Some("getAppsSecretsFind"),
            Outcome::refused(Reason::SecretNotFound).unwrap(),
            &sent(&["name", "scope[type]", "scope[type]=account"]),
        );
        counts.count(
            None,
            Outcome::Refused(
                StatusCode::NOT_FOUND,
                Reason::Other("invalid_request_error"),
            ),
            &Sent::default(),
        );
        let report = counts.report(Spec::bundled());
        assert_eq!(report.requests, 2);
        assert_eq!(report.unrouted, 1);
        let never = &report.never_exercised;
        assert!(never.contains(&"getAppsSecretsFind: 200".to_string()));
        assert!(!never.contains(&"getAppsSecretsFind: 404 secret_not_found".to_string()));
        assert!(never.contains(&"getAppsSecretsFind: scope[type]=user".to_string()));
        assert!(never.contains(&"postAppsSecrets: 400 scope_full".to_string()));
    }
}
