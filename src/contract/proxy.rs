//! The recording proxy: listens like the mock, forwards every request to an
//! upstream unchanged (real Stripe in test mode is the point), returns the
//! upstream's answer, checks it against the bundled spec, and records the
//! conversation as a transcript file that `verify` can replay later
//! (docs/behaviour.md §10).
//!
//! Each exchange is appended to the file as it is recorded, in place of the
//! file's closing lines, which are written again after it: the file is
//! complete JSON after every exchange, and what it costs to write is the
//! exchange's own bytes. Its bound counts the bytes written to the file.
//! API keys are masked in it and, unless asked to keep them, every
//! `payload` (request and response) is replaced by `"[redacted]"`, so a
//! recording of real Stripe holds no secret and can be committed; `verify`
//! accepts any string where a recording has `"[redacted]"`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::contract::client::{base_url, target_uri, HttpClient, Received};
use crate::control::endpoints::PREFIX;
use crate::error::{ApiError, ContractError};
use crate::http::conn::{Activity, Budget};
use crate::http::server::{self, read_body, to_hyper, Edge};
use crate::openapi::form;
use crate::openapi::spec::Spec;
use crate::pipeline::MockResponse;
use crate::record::transcript::{
    mask_authorization, Interaction, Transcript, TranscriptRequest, TranscriptResponse,
    REQUEST_HEADERS, RESPONSE_HEADERS, TRANSCRIPT_OBJECT, TRANSCRIPT_VERSION,
};
use crate::sync::lock;

/// At most this many interactions are recorded; later ones are forwarded
/// and counted in `dropped`.
pub const MAX_RECORDED: usize = 10_000;

/// … and the file holds at most this many bytes (as written).
pub const MAX_RECORDED_BYTES: usize = 64 << 20;

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1_000;

/// How long a connection may take to send its headers, or stay idle.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one hop and are not forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

/// What the proxy forwards to and where it records.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Base URL of the upstream (`https://api.stripe.com`).
    pub upstream: String,
    /// The transcript file to write.
    pub record: PathBuf,
    /// A PEM file of extra CA certificates to trust.
    pub ca_cert: Option<PathBuf>,
    /// Keep every `payload` in the recording as it was sent and answered
    /// (`--keep-payloads`); by default each is replaced by `"[redacted]"`.
    pub keep_payloads: bool,
}

/// A proxy ready to serve.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::contract::{Proxy, ProxyOptions};
/// use stripe_secrets_mock::MockServer;
///
/// let upstream = MockServer::start().await; // real use: https://api.stripe.com
/// let record = std::env::temp_dir().join("proxy-doc-example.json");
/// let proxy = Proxy::new(ProxyOptions {
///     upstream: upstream.url(),
///     record: record.clone(),
///     ca_cert: None,
///     keep_payloads: false,
/// })
/// .unwrap();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// // ... point the code under test at listener.local_addr() ...
/// let transcript = proxy.serve(listener, async {}).await.unwrap();
/// assert!(transcript.interactions.is_empty());
/// assert!(record.exists());
/// # }
/// ```
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    client: HttpClient,
    upstream: String,
    record: PathBuf,
    keep_payloads: bool,
    recording: Mutex<Recording>,
    request_ids: AtomicU64,
    budget: Arc<Budget>,
}

/// The record file, open, and what it holds.
struct Recording {
    /// The file.
    file: std::fs::File,
    /// Where its closing lines start: the next interaction goes there.
    end: u64,
    /// Interactions written.
    interactions: usize,
    /// Interactions forwarded but not written (a bound was reached).
    dropped: u64,
    /// Interactions whose answer broke the spec.
    violations: u64,
}

/// The file's opening lines, up to its first interaction.
fn opening(spec_version: &str) -> String {
    format!(
        "{{\n  \"object\": {},\n  \"version\": {TRANSCRIPT_VERSION},\n  \"spec_version\": {},\n  \
         \"interactions\": [",
        Value::from(TRANSCRIPT_OBJECT),
        Value::from(spec_version)
    )
}

/// The file's closing lines, after its last interaction.
fn closing(dropped: u64, violations: u64) -> String {
    format!("\n  ],\n  \"dropped\": {dropped},\n  \"violations\": {violations}\n}}\n")
}

/// `value` as the file holds it: pretty-printed, each line indented to sit
/// in the `interactions` array, behind `separator`; `None` if that is more
/// than `room` bytes (found without ever holding more than `room`).
fn entry_text(value: &impl serde::Serialize, separator: &str, room: usize) -> Option<Vec<u8>> {
    /// Writes lines indented by four spaces, refusing to grow past a bound.
    struct Indented {
        out: Vec<u8>,
        room: usize,
    }
    impl std::io::Write for Indented {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            for &b in buf {
                let extra = if b == b'\n' { 5 } else { 1 };
                if self.out.len() + extra > self.room {
                    return Err(std::io::Error::other("over the bound"));
                }
                self.out.push(b);
                if b == b'\n' {
                    self.out.extend_from_slice(b"    ");
                }
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Indented {
        out: Vec::new(),
        room,
    };
    std::io::Write::write_all(&mut w, separator.as_bytes()).ok()?;
    std::io::Write::write_all(&mut w, b"\n    ").ok()?;
    serde_json::to_writer_pretty(&mut w, value).ok()?;
    Some(w.out)
}

impl Proxy {
    /// Sets up the client (reading `--ca-cert`) and writes an empty
    /// transcript to the record file, so a path that cannot be written is
    /// reported before anything listens.
    pub fn new(options: ProxyOptions) -> Result<Proxy, ContractError> {
        let upstream = base_url(&options.upstream)?;
        let client = HttpClient::new(options.ca_cert.as_deref())?;
        let record_error = |error| ContractError::Record {
            path: options.record.clone(),
            error,
        };
        let mut file = std::fs::File::create(&options.record).map_err(record_error)?;
        let head = opening(&Spec::bundled().version);
        std::io::Write::write_all(&mut file, (head.clone() + &closing(0, 0)).as_bytes())
            .map_err(record_error)?;
        let shared = Arc::new(Shared {
            client,
            upstream,
            record: options.record,
            keep_payloads: options.keep_payloads,
            recording: Mutex::new(Recording {
                file,
                end: head.len() as u64,
                interactions: 0,
                dropped: 0,
                violations: 0,
            }),
            request_ids: AtomicU64::new(0),
            budget: Arc::default(),
        });
        Ok(Proxy { shared })
    }

    /// Serves on `listener` until `shutdown` completes, then returns the
    /// transcript the record file holds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Transcript, ContractError> {
        let shared = self.shared;
        let edge = Edge {
            max_connections: MAX_CONNECTIONS,
            idle: HEADER_TIMEOUT,
            who: "stripe-secrets-mock proxy",
        };
        let serving = shared.clone();
        let handle = move |req, activity: Arc<Activity>| {
            let shared = serving.clone();
            async move {
                let handling = activity.handling();
                Ok(match shared.forward(req, &activity).await {
                    Ok(answer) => answer.map(|b| handling.answer(b)),
                    Err(refused) => to_hyper(refused, handling, None),
                })
            }
        };
        // Exchanges in flight finish (and are recorded) before the file is
        // read back.
        server::run(listener, edge, shutdown, |stream| stream, handle).await;
        let text =
            std::fs::read_to_string(&shared.record).map_err(|error| ContractError::Record {
                path: shared.record.clone(),
                error,
            })?;
        Transcript::from_json(&text)
    }
}

impl Shared {
    /// Appends `interaction` to the record file, or counts it as dropped
    /// when a bound would be passed; the file stays complete JSON.
    fn append(&self, interaction: &Interaction) {
        use std::io::{Seek, SeekFrom, Write};
        let mut guard = lock(&self.recording);
        let r = &mut *guard;
        let violated = !interaction.violations.is_empty();
        let separator = if r.interactions == 0 { "" } else { "," };
        // Room for the entry, counting the closing lines that follow it.
        let tail = closing(r.dropped + 1, r.violations + 1).len() as u64;
        let room = (MAX_RECORDED_BYTES as u64).saturating_sub(r.end + tail) as usize;
        let text = (r.interactions < MAX_RECORDED)
            .then(|| entry_text(interaction, separator, room))
            .flatten();
        let Some(text) = text else {
            if r.dropped == 0 {
                crate::log::line(format!(
                    "stripe-secrets-mock proxy: the recording is full ({MAX_RECORDED} \
                     interactions or {MAX_RECORDED_BYTES} bytes); later requests are \
                     forwarded but not recorded"
                ));
            }
            r.dropped += 1;
            if let Err(e) = self.rewrite_closing(r) {
                crate::log::line(format!("stripe-secrets-mock proxy: {e}"));
            }
            return;
        };
        let written = r
            .file
            .seek(SeekFrom::Start(r.end))
            .and_then(|_| r.file.write_all(&text));
        match written {
            Ok(()) => {
                r.end += text.len() as u64;
                r.interactions += 1;
                r.violations += u64::from(violated);
            }
            Err(error) => {
                r.dropped += 1;
                crate::log::line(format!(
                    "stripe-secrets-mock proxy: {}",
                    ContractError::Record {
                        path: self.record.clone(),
                        error
                    }
                ));
            }
        }
        if let Err(e) = self.rewrite_closing(r) {
            crate::log::line(format!("stripe-secrets-mock proxy: {e}"));
        }
    }

    /// Writes the closing lines after the last interaction.
    fn rewrite_closing(&self, r: &mut Recording) -> Result<(), ContractError> {
        use std::io::{Seek, SeekFrom, Write};
        let tail = closing(r.dropped, r.violations);
        r.file
            .seek(SeekFrom::Start(r.end))
            .and_then(|_| r.file.write_all(tail.as_bytes()))
            .and_then(|()| r.file.set_len(r.end + tail.len() as u64))
            .map_err(|error| ContractError::Record {
                path: self.record.clone(),
                error,
            })
    }

    /// Forwards one request and records it; `Err` is the proxy's own
    /// refusal.
    async fn forward(
        &self,
        req: Request<Incoming>,
        activity: &Arc<Activity>,
    ) -> Result<Response<Bytes>, MockResponse> {
        let (parts, body) = req.into_parts();
        let (body, _held) = match read_body(&parts.headers, body, &self.budget, activity).await {
            Ok(read) => read,
            Err(e) => return Err(self.error(e.api_error())),
        };
        // Only an absolute path (origin form) is forwarded, and only to the
        // upstream's host: a request line in another form names no path
        // the proxy may put after the upstream's URL.
        let uri = match target_uri(
            &self.upstream,
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
        ) {
            Ok(uri) if parts.uri.authority().is_none() => uri,
            _ => {
                return Err(self.error(ApiError::invalid(
                    "Invalid request: the proxy forwards only requests for an absolute path \
                     (a request line of the form `GET /v1/... HTTP/1.1`).",
                    None,
                )))
            }
        };
        let mut upstream = Request::builder().method(parts.method.clone()).uri(uri);
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                upstream = upstream.header(name, value);
            }
        }
        let Ok(upstream) = upstream.body(Full::new(Bytes::from(body.clone()))) else {
            return Err(self.error(ApiError::internal(
                "The proxy could not build the upstream request.",
            )));
        };
        let got = match self.client.send(upstream).await {
            Ok(got) => got,
            Err(e) => {
                crate::log::line(format!("stripe-secrets-mock proxy: upstream: {e}"));
                return Err(self.error(
                    ApiError::internal(format!("The proxy could not reach the upstream: {e}"))
                        .with_status(hyper::StatusCode::BAD_GATEWAY),
                ));
            }
        };
        if !parts.uri.path().starts_with(PREFIX) {
            self.record(&parts, &body, &got);
        }
        let mut out = Response::new(got.body);
        *out.status_mut() = hyper::StatusCode::from_u16(got.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &got.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                out.headers_mut().append(name, value.clone());
            }
        }
        Ok(out)
    }

    /// Records one exchange, checking the answer against the spec.
    fn record(&self, parts: &hyper::http::request::Parts, body: &[u8], got: &Received) {
        let spec = Spec::bundled();
        let method = parts.method.as_str();
        let path = parts.uri.path();
        let op = spec.route(method, path);
        let query = parts.uri.query().unwrap_or("");
        let body_text = String::from_utf8_lossy(body);
        let decoded = form::decode(&[query, &body_text]);
        let mut headers = std::collections::BTreeMap::new();
        for name in REQUEST_HEADERS {
            if let Some(v) = parts.headers.get(name).and_then(|v| v.to_str().ok()) {
                let v = if name == "authorization" {
                    mask_authorization(v)
                } else {
                    v.to_string()
                };
                headers.insert(name.to_string(), v);
            }
        }
        let request = TranscriptRequest {
            method: method.to_string(),
            path: path.to_string(),
            headers,
            query: decoded.is_err().then(|| query.to_string()),
            body: decoded.is_err().then(|| body_text.into_owned()),
            params: decoded.ok().map(Value::Object),
        };
        let mut violations = Vec::new();
        let response_body = match serde_json::from_slice::<Value>(&got.body) {
            Ok(v) => {
                let checked = match op {
                    Some(op) => op.validate_response(got.status, &v),
                    None => spec.validate_error(&v),
                };
                if let Err(e) = checked {
                    violations.push(e);
                }
                v
            }
            Err(_) => {
                violations.push("the body is not JSON".to_string());
                Value::String(String::from_utf8_lossy(&got.body).into_owned())
            }
        };
        let mut response_headers = std::collections::BTreeMap::new();
        for name in RESPONSE_HEADERS {
            if let Some(v) = got.headers.get(name).and_then(|v| v.to_str().ok()) {
                response_headers.insert(name.to_string(), v.to_string());
            }
        }
        for v in &violations {
            let id = response_headers
                .get("request-id")
                .map_or("-", String::as_str);
            crate::log::line(format!(
                "stripe-secrets-mock proxy: {id}: {method} {path} answered {} against the spec: {v}",
                got.status
            ));
        }
        let mut interaction = Interaction {
            operation: op.map(|o| o.id.clone()),
            request,
            response: Some(TranscriptResponse {
                status: got.status,
                headers: response_headers,
                body: response_body,
            }),
            fault: None,
            violations,
        };
        if !self.keep_payloads {
            interaction.redact_payloads();
        }
        self.append(&interaction);
    }

    /// A Stripe-shaped error from the proxy itself, sent with the headers
    /// every answer of the mock has.
    fn error(&self, e: ApiError) -> MockResponse {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("req_proxy{n:010}");
        let now = crate::clock::Clock::system().now();
        let body = crate::body::render(&e.body(&request_id, false, now));
        MockResponse {
            status: e.status,
            request_id,
            stripe_version: Spec::bundled().version.clone(),
            headers: Vec::new(),
            body: Bytes::from(body),
            streamed: None,
            content_type: crate::pipeline::request::JSON,
        }
    }
}
