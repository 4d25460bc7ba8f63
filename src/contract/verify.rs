//! Verify: replay a transcript's interactions, in order, against a target
//! server (the mock, real Stripe in test mode, anything speaking the API) and
//! check each answer: the same status, a body the bundled spec accepts, and
//! a body equal to the recorded one except for volatile values. Ids the
//! target assigns are mapped to the recorded ones, so later requests that
//! name them replay correctly (docs/behaviour.md §9).

use std::fmt;
use std::path::PathBuf;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Request;

use crate::contract::client::{base_url, target_uri, HttpClient};
pub use crate::contract::compare::Outcome;
use crate::contract::compare::{check, IdMap};
use crate::error::ContractError;
use crate::openapi::form;
use crate::openapi::spec::Spec;
use crate::record::transcript::{Interaction, Transcript};
use crate::secrets::auth;

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

/// One replayed interaction.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
#[non_exhaustive]
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

/// Replays `transcript` against `options.target`. `Err` only when the
/// client cannot be set up (a bad `--ca-cert`); a target that cannot be
/// reached fails the step it happened on, and the steps after it are
/// skipped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::contract::{verify, VerifyOptions};
/// use stripe_secrets_mock::MockServer;
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
    // Every request goes to the target and nowhere else: a transcript whose
    // path could name another host (and so receive the user's --api-key)
    // is refused before a byte is sent.
    for (n, i) in transcript.interactions.iter().enumerate() {
        let r = &i.request;
        let query = r.query.as_deref().unwrap_or("");
        target_uri(&base, &r.path, query).map_err(|e| {
            ContractError::Transcript(format!("interaction {n}: {e}; it is not replayed"))
        })?;
    }
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
            let encoded = form::pairs(params)
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        form::percent_encode(&k, true),
                        form::percent_encode(&ids.as_target(&v), true)
                    )
                })
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
    let uri = target_uri(base, &path, &query)?;
    let mut builder = Request::builder()
        .method(r.method.as_str())
        .uri(uri.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(form::percent_encode("scope[user]", true), "scope[user]");
        assert_eq!(form::percent_encode("a b&c=é", true), "a%20b%26c%3D%C3%A9");
    }
}
