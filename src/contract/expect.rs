//! Expectations: assertions on what the mock received, by operation and
//! parameters, whose failure shows the closest requests it did receive (as
//! httpmock and wiremock-rs do).

use std::fmt;

use crate::openapi::form;
use crate::record::transcript::Interaction;
use crate::record::transcript::REDACTED;
use crate::secrets::auth;

/// How many matching requests an [`Expectation`] wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Times {
    AtLeastOnce,
    Exactly(usize),
}

/// What a test expects the mock to have received. Every criterion given
/// must hold for a request to match.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::contract::Expectation;
/// use stripe_secrets_mock::MockServer;
///
/// let server = MockServer::start().await;
/// // ... the code under test talks to server.url() ...
/// let never = Expectation::operation("postAppsSecretsDelete").never();
/// server.assert_received(&never);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Expectation {
    operation: Option<String>,
    route: Option<(String, String)>,
    params: Vec<(String, String)>,
    absent: Vec<String>,
    app: Option<String>,
    account: Option<String>,
    status: Option<u16>,
    times: Times,
}

impl Expectation {
    /// Requests routed to the spec's `operationId` (`getAppsSecretsFind`).
    pub fn operation(id: impl Into<String>) -> Expectation {
        Expectation {
            operation: Some(id.into()),
            ..Expectation::any()
        }
    }

    /// Requests with this method and path, routed or not.
    pub fn request(method: impl Into<String>, path: impl Into<String>) -> Expectation {
        Expectation {
            route: Some((method.into().to_ascii_uppercase(), path.into())),
            ..Expectation::any()
        }
    }

    /// Any request.
    pub fn any() -> Expectation {
        Expectation {
            operation: None,
            route: None,
            params: Vec::new(),
            absent: Vec::new(),
            app: None,
            account: None,
            status: None,
            times: Times::AtLeastOnce,
        }
    }

    /// … that sent parameter `name` (bracket notation: `scope[user]`; an
    /// array's item as `expand[0]`, or `expand[]` for any item) with
    /// `value`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Expectation {
        self.params.push((name.into(), value.into()));
        self
    }

    /// … that did not send parameter `name`.
    pub fn without_param(mut self, name: impl Into<String>) -> Expectation {
        self.absent.push(name.into());
        self
    }

    /// … made with this API key.
    pub fn app(mut self, api_key: impl Into<String>) -> Expectation {
        self.app = Some(api_key.into());
        self
    }

    /// … sent with this `Stripe-Account` header.
    pub fn account(mut self, account: impl Into<String>) -> Expectation {
        self.account = Some(account.into());
        self
    }

    /// … answered with this status.
    pub fn status(mut self, status: u16) -> Expectation {
        self.status = Some(status);
        self
    }

    /// Exactly `n` matching requests (default: at least one).
    pub fn times(mut self, n: usize) -> Expectation {
        self.times = Times::Exactly(n);
        self
    }

    /// No matching request at all.
    pub fn never(self) -> Expectation {
        self.times(0)
    }

    /// Checks the expectation against `received` (oldest first): the number
    /// of matching requests, or what went wrong with the closest requests.
    pub fn check(&self, received: &[Interaction]) -> Result<usize, Unmet> {
        let differences: Vec<Vec<String>> = received.iter().map(|i| self.differences(i)).collect();
        let matched: Vec<usize> = (0..received.len())
            .filter(|n| differences[*n].is_empty())
            .collect();
        let ok = match self.times {
            Times::AtLeastOnce => !matched.is_empty(),
            Times::Exactly(n) => matched.len() == n,
        };
        if ok {
            return Ok(matched.len());
        }
        let got = match matched.len() {
            0 => "it was never received".to_string(),
            n => format!("it was received {}", times(n)),
        };
        let mut message = match self.times {
            Times::AtLeastOnce => {
                format!(
                    "expected {} to be received at least once, but {got}.",
                    self.describe()
                )
            }
            Times::Exactly(0) => {
                format!(
                    "expected {} never to be received, but {got}.",
                    self.describe()
                )
            }
            Times::Exactly(n) => format!(
                "expected {} to be received {}, but {got}.",
                self.describe(),
                times(n)
            ),
        };
        let too_few = match self.times {
            Times::AtLeastOnce => true,
            Times::Exactly(n) => matched.len() < n,
        };
        if received.is_empty() {
            message.push_str("\nNo requests were received.");
            return Err(Unmet { message });
        }
        if !matched.is_empty() {
            message.push_str("\nMatching requests:");
            for n in &matched {
                message.push_str(&format!("\n  {}", summary(*n, &received[*n])));
            }
        }
        // Too many matches: the matching ones are the story. Too few: the
        // nearest misses are.
        let mut closest: Vec<usize> = (0..received.len())
            .filter(|n| too_few && !differences[*n].is_empty())
            .collect();
        closest.sort_by_key(|n| (weight(&differences[*n]), *n));
        closest.truncate(MAX_CLOSEST);
        if !closest.is_empty() {
            message.push_str("\nClosest requests that did not match:");
            for n in closest {
                message.push_str(&format!(
                    "\n  {}\n      differs: {}",
                    summary(n, &received[n]),
                    differences[n].join("; ")
                ));
            }
        }
        Err(Unmet { message })
    }

    /// The expectation in words.
    fn describe(&self) -> String {
        let mut what = match (&self.operation, &self.route) {
            (Some(op), _) => op.clone(),
            (None, Some((m, p))) => format!("{m} {p}"),
            (None, None) => "a request".to_string(),
        };
        let mut with: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        with.extend(self.absent.iter().map(|k| format!("no {k}")));
        if let Some(app) = &self.app {
            with.push(format!("app {app}"));
        }
        if let Some(a) = &self.account {
            with.push(format!("account {a}"));
        }
        if let Some(s) = self.status {
            with.push(format!("status {s}"));
        }
        if !with.is_empty() {
            what.push_str(" with ");
            what.push_str(&with.join(", "));
        }
        what
    }

    /// How `i` differs from the expectation (empty: it matches). An
    /// operation or route that differs comes first.
    fn differences(&self, i: &Interaction) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(op) = &self.operation {
            if i.operation.as_deref() != Some(op.as_str()) {
                out.push(format!(
                    "operation is {}, not {op}",
                    i.operation.as_deref().unwrap_or("none")
                ));
            }
        }
        if let Some((m, p)) = &self.route {
            if &i.request.method != m || &i.request.path != p {
                out.push(format!(
                    "request is {} {}, not {m} {p}",
                    i.request.method, i.request.path
                ));
            }
        }
        let sent = i
            .request
            .params
            .as_ref()
            .map(form::pairs)
            .unwrap_or_default();
        // `expand[]` stands for every item of the array (`expand[0]`, …).
        let values = |k: &str| -> Vec<&str> {
            sent.iter()
                .filter(|(n, _)| item_of(n, k))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        for (k, v) in &self.params {
            let got = values(k);
            match got.as_slice() {
                [] => out.push(format!("{k} not sent")),
                many if many.contains(&v.as_str()) => {}
                [one] => out.push(format!("{k} is {one:?}, not {v:?}")),
                many => out.push(format!("{k} is {many:?}, none of them {v:?}")),
            }
        }
        for k in &self.absent {
            let got = values(k);
            if !got.is_empty() {
                out.push(format!("{k} sent ({})", got.join(", ")));
            }
        }
        if let Some(app) = &self.app {
            let key = i
                .request
                .headers
                .get("authorization")
                .and_then(|h| auth::key_from_header(h));
            if key.as_deref() != Some(app.as_str()) {
                out.push(format!(
                    "app is {}, not {}",
                    key.map_or("none".into(), |k| auth::mask(&k)),
                    auth::mask(app)
                ));
            }
        }
        if let Some(a) = &self.account {
            let got = i.request.headers.get("stripe-account");
            if got != Some(a) {
                out.push(format!(
                    "account is {}, not {a}",
                    got.map_or("none", String::as_str)
                ));
            }
        }
        if let Some(s) = self.status {
            let got = i.response.as_ref().map(|r| r.status);
            if got != Some(s) {
                out.push(format!(
                    "status is {}, not {s}",
                    got.map_or("none (closed)".into(), |g| g.to_string())
                ));
            }
        }
        out
    }
}

/// Whether the sent parameter `name` is what `wanted` names: the same
/// name, or an item of the array `wanted` names with `[]` (`expand[]`
/// covers `expand[0]`, `expand[1]`, …).
fn item_of(name: &str, wanted: &str) -> bool {
    if name == wanted {
        return true;
    }
    let Some(array) = wanted.strip_suffix("[]") else {
        return false;
    };
    name.strip_prefix(array)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
}

/// How many requests that did not match the failure message shows.
const MAX_CLOSEST: usize = 3;

/// A request whose operation or route differs is farther than any whose
/// parameters do.
fn weight(differences: &[String]) -> usize {
    differences
        .iter()
        .map(|d| {
            if d.starts_with("operation is") || d.starts_with("request is") {
                100
            } else {
                1
            }
        })
        .sum()
}

fn times(n: usize) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// `#3 GET /v1/apps/secrets/find (getAppsSecretsFind) -> 404: name=a, …`
fn summary(n: usize, i: &Interaction) -> String {
    let op = i
        .operation
        .as_deref()
        .map(|o| format!(" ({o})"))
        .unwrap_or_default();
    let status = i
        .response
        .as_ref()
        .map_or("closed".to_string(), |r| r.status.to_string());
    let params = i
        .request
        .params
        .as_ref()
        .map(form::pairs)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            // Secret values stay out of failure messages, as out of the
            // journal.
            let v = if k == "payload" { REDACTED } else { v.as_str() };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "#{} {} {}{op} -> {status}: {}",
        n + 1,
        i.request.method,
        i.request.path,
        if params.is_empty() {
            "no parameters"
        } else {
            &params
        }
    )
}

/// An expectation that did not hold; its text names the expectation, what
/// was received, and the closest requests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unmet {
    message: String,
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unmet {}
