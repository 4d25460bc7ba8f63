//! Transcripts: a recorded conversation with a server (the mock's journal,
//! or the proxy's recording of an upstream), as a versioned JSON document
//! that can be pinned with insta, shared, and replayed by `verify`.
//!
//! The format is described by the `mock.transcript` schema of
//! `spec/mock_control.openapi.json` and by docs/behaviour.md §9.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ContractError;
use crate::openapi::form;
use crate::secrets::auth;

/// The `object` of a transcript.
pub const TRANSCRIPT_OBJECT: &str = "mock.transcript";

/// The marker that replaces secret values in the journal, in redacted
/// transcripts and in expectation messages.
pub(crate) const REDACTED: &str = "[redacted]";

/// The format version this build writes and reads.
pub const TRANSCRIPT_VERSION: u32 = 1;

/// Request headers a transcript keeps (lower case): the ones that change
/// what Stripe does.
pub const REQUEST_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "stripe-account",
    "stripe-context",
    "stripe-mock-ui-extension-user",
    "stripe-version",
];

/// Response headers a transcript keeps (lower case).
pub const RESPONSE_HEADERS: [&str; 6] = [
    "idempotency-key",
    "idempotent-replayed",
    "original-request",
    "request-id",
    "stripe-should-retry",
    "stripe-version",
];

/// A recorded conversation, oldest interaction first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::contract::Transcript;
/// use stripe_secrets_mock::MockServer;
///
/// let server = MockServer::start().await;
/// // ... the code under test talks to server.url() ...
/// let transcript = server.transcript();
/// // Pin it: insta::assert_json_snapshot!(transcript), or as text:
/// // insta::assert_snapshot!(transcript.to_string()).
/// let text = transcript.to_json().to_string();
/// assert_eq!(Transcript::from_json(&text).unwrap(), transcript);
/// assert!(transcript.to_string().starts_with("transcript v1 (spec 2023-10-16): 0 interactions"));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Always `mock.transcript`.
    pub object: String,
    /// Format version ([`TRANSCRIPT_VERSION`]).
    pub version: u32,
    /// The API version of the spec the recording server was checked against.
    pub spec_version: String,
    /// Interactions that happened but are not here: the mock's journal had
    /// already dropped them (its bounds), or the proxy stopped recording.
    #[serde(default)]
    pub dropped: u64,
    /// How many responses broke the spec (recorded through the proxy).
    #[serde(default)]
    pub violations: u64,
    /// What was asked and answered, in order.
    pub interactions: Vec<Interaction>,
}

/// One request and what it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// The spec's `operationId` the request routes to, if any.
    pub operation: Option<String>,
    /// What was sent.
    pub request: TranscriptRequest,
    /// What came back; `None` when the connection was closed unanswered.
    pub response: Option<TranscriptResponse>,
    /// An injected fault that shaped the answer (mock only): `verify` skips
    /// such interactions, since no other server injects the same fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// How the response broke the spec (recorded through the proxy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
}

/// A request as sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The headers of [`REQUEST_HEADERS`] that were sent, by lower-case
    /// name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query and body parameters, decoded from bracket notation, values as
    /// sent (strings); `None` if they could not be decoded (then `query`
    /// and `body` hold the raw text).
    pub params: Option<Value>,
    /// The raw query string, kept only when `params` is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The raw body, kept only when `params` is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A response as received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptResponse {
    /// HTTP status.
    pub status: u16,
    /// The headers of [`RESPONSE_HEADERS`] that came back, by lower-case
    /// name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The JSON body (a string holding the text if it was not JSON).
    pub body: Value,
}

impl Interaction {
    /// Replaces every `payload` value of its parameters and answer by
    /// `"[redacted]"` (see [`Transcript::redact_payloads`]); a request
    /// whose parameters could not be decoded keeps neither raw query nor
    /// raw body, which may hold a payload.
    pub(crate) fn redact_payloads(&mut self) {
        if let Some(p) = &mut self.request.params {
            redact(p);
        }
        for raw in [&mut self.request.query, &mut self.request.body] {
            if raw.as_ref().is_some_and(|t| !t.is_empty()) {
                *raw = Some(REDACTED.into());
            }
        }
        if let Some(r) = &mut self.response {
            redact(&mut r.body);
        }
    }

    /// Masks the API key of its `Authorization` header (see
    /// [`Transcript::mask_keys`]).
    pub(crate) fn mask_keys(&mut self) {
        if let Some(h) = self.request.headers.get_mut("authorization") {
            *h = mask_authorization(h);
        }
    }
}

impl Transcript {
    /// An empty transcript for `spec_version`.
    pub fn new(spec_version: impl Into<String>) -> Transcript {
        Transcript {
            object: TRANSCRIPT_OBJECT.into(),
            version: TRANSCRIPT_VERSION,
            spec_version: spec_version.into(),
            dropped: 0,
            violations: 0,
            interactions: Vec::new(),
        }
    }

    /// Reads a transcript from its JSON text, refusing another `object` or
    /// a version this build does not know.
    pub fn from_json(text: &str) -> Result<Transcript, ContractError> {
        let bad = |e: String| ContractError::Transcript(e);
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        // The object and version first: a file of another kind, or of a
        // later format, is named as such rather than by its first odd field.
        let object = v.get("object").and_then(Value::as_str);
        if object != Some(TRANSCRIPT_OBJECT) {
            return Err(bad(format!(
                "object is {}, not {TRANSCRIPT_OBJECT:?}",
                object.map_or("missing".into(), |o| format!("{o:?}"))
            )));
        }
        let version = v.get("version").and_then(Value::as_u64);
        if version != Some(u64::from(TRANSCRIPT_VERSION)) {
            return Err(bad(format!(
                "version {} is not supported (this build reads version {TRANSCRIPT_VERSION})",
                version.map_or("missing".into(), |n| n.to_string())
            )));
        }
        serde_json::from_value(v).map_err(|e| bad(e.to_string()))
    }

    /// The transcript as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Replaces every `payload` value (parameters and bodies, at any depth)
    /// by `"[redacted]"`, for sharing. `verify` accepts any string where a
    /// recording has `"[redacted]"`.
    pub fn redact_payloads(&mut self) {
        self.interactions
            .iter_mut()
            .for_each(Interaction::redact_payloads);
    }

    /// Masks every API key in `Authorization` headers as Stripe masks keys
    /// in its errors (`sk_test_****1234`), for sharing. `verify` then needs
    /// `--api-key`, or sends a stand-in key per masked one.
    pub fn mask_keys(&mut self) {
        self.interactions
            .iter_mut()
            .for_each(Interaction::mask_keys);
    }
}

/// `Authorization` with its key masked: `Bearer sk_test_****1234` (Basic
/// credentials are decoded first).
pub(crate) fn mask_authorization(header: &str) -> String {
    match auth::key_from_header(header) {
        Some(key) if !key.is_empty() => format!("Bearer {}", auth::mask(&key)),
        _ => header.to_string(),
    }
}

/// Replaces the value of every `payload` key by [`REDACTED`].
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "payload" && !child.is_null() {
                    *child = Value::String(REDACTED.into());
                } else {
                    redact(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Title-case header name for display (`stripe-account` → `Stripe-Account`).
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A transcript as a person reads it: one block per interaction, `>` what
/// was sent, `<` what came back, bodies as compact JSON.
impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "transcript v{} (spec {}): {} interactions",
            self.version,
            self.spec_version,
            self.interactions.len()
        )?;
        if self.dropped > 0 {
            writeln!(f, "({} earlier interactions not kept)", self.dropped)?;
        }
        for (n, i) in self.interactions.iter().enumerate() {
            writeln!(f)?;
            let op = i.operation.as_deref().unwrap_or("no operation");
            writeln!(
                f,
                "#{} {} {} ({op})",
                n + 1,
                i.request.method,
                i.request.path
            )?;
            for (name, value) in &i.request.headers {
                writeln!(f, "> {}: {value}", display_name(name))?;
            }
            match &i.request.params {
                Some(p) => {
                    for (k, v) in form::pairs(p) {
                        writeln!(f, "> {k}={v}")?;
                    }
                }
                None => {
                    if let Some(q) = &i.request.query {
                        writeln!(f, "> ?{q}")?;
                    }
                    if let Some(b) = &i.request.body {
                        writeln!(f, "> {b}")?;
                    }
                }
            }
            if let Some(fault) = &i.fault {
                writeln!(f, "! fault: {fault}")?;
            }
            match &i.response {
                None => writeln!(f, "< (connection closed, no answer)")?,
                Some(r) => {
                    writeln!(f, "< {}", r.status)?;
                    for (name, value) in &r.headers {
                        writeln!(f, "< {}: {value}", display_name(name))?;
                    }
                    writeln!(f, "< {}", r.body)?;
                }
            }
            for v in &i.violations {
                writeln!(f, "! spec violation: {v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_and_keys_redact_for_sharing() {
        let mut t = Transcript::new("2024-01-01");
        t.interactions.push(Interaction {
            operation: Some("postAppsSecrets".into()),
            request: TranscriptRequest {
                method: "POST".into(),
                path: "/v1/apps/secrets".into(),
                headers: [(
                    "authorization".to_string(),
                    "Bearer sk_test_abcdef1234".to_string(),
                )]
                .into(),
                params: Some(json!({"name": "n", "payload": "p"})),
                query: None,
                body: None,
            },
            response: Some(TranscriptResponse {
                status: 200,
                headers: BTreeMap::new(),
                body: json!({"id": "x", "payload": "p", "list": [{"payload": null}]}),
            }),
            fault: None,
            violations: vec![],
        });
        t.redact_payloads();
        t.mask_keys();
        let i = &t.interactions[0];
        assert_eq!(
            i.request.params,
            Some(json!({"name": "n", "payload": REDACTED}))
        );
        let body = &i.response.as_ref().unwrap().body;
        assert_eq!(body["payload"], REDACTED);
        assert_eq!(body["list"][0]["payload"], Value::Null);
        assert_eq!(
            i.request.headers["authorization"],
            "Bearer sk_test_******1234"
        );
        let back = Transcript::from_json(&t.to_json().to_string()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn foreign_documents_and_versions_are_refused() {
        assert!(Transcript::from_json("{}").is_err());
        let mut v = Transcript::new("x").to_json();
        v["version"] = json!(2);
        let e = Transcript::from_json(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
    }

    #[test]
    fn params_render_in_bracket_notation() {
        let pairs = form::pairs(&json!({"scope": {"type": "user", "user": "u"}, "expand": ["a"]}));
        assert_eq!(
            pairs,
            [
                ("scope[type]".to_string(), "user".to_string()),
                ("scope[user]".to_string(), "u".to_string()),
                ("expand[0]".to_string(), "a".to_string()),
            ]
        );
    }
}
