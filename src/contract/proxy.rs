//! The recording proxy: listens like the mock, forwards every request to an
//! upstream unchanged (real Stripe in test mode is the point), returns the
//! upstream's answer, checks it against the bundled spec, and records the
//! conversation as a transcript file that `verify` can replay later
//! (docs/behaviour.md §10).
//!
//! The file is rewritten whole, through a temporary file and a rename, at
//! most every [`WRITE_EVERY`] while requests arrive and once more at
//! shutdown, so it is always complete JSON. API keys are masked in it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::contract::client::{base_url, HttpClient, Received};
use crate::contract::transcript::{
    mask_authorization, Interaction, Transcript, TranscriptRequest, TranscriptResponse,
    REQUEST_HEADERS, RESPONSE_HEADERS,
};
use crate::control::endpoints::PREFIX;
use crate::error::{ApiError, ContractError};
use crate::http::server::{read_body, Acceptor};
use crate::openapi::form;
use crate::openapi::spec::Spec;
use crate::pipeline::{check, BodyError};
use crate::state::lock;

/// At most this many interactions are recorded; later ones are forwarded
/// and counted in `dropped`.
pub const MAX_RECORDED: usize = 10_000;

/// … and at most this many bytes of them (as JSON).
pub const MAX_RECORDED_BYTES: usize = 64 << 20;

/// The longest the file lags behind the traffic.
const WRITE_EVERY: Duration = Duration::from_millis(200);

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1_000;

/// How long exchanges in flight at shutdown get to finish.
const DRAIN: Duration = Duration::from_secs(5);

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
}

/// A proxy ready to serve.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stripe_secrets_mock::{MockServer, Proxy, ProxyOptions};
///
/// let upstream = MockServer::start().await; // real use: https://api.stripe.com
/// let record = std::env::temp_dir().join("proxy-doc-example.json");
/// let proxy = Proxy::new(ProxyOptions {
///     upstream: upstream.url(),
///     record: record.clone(),
///     ca_cert: None,
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
    recording: Mutex<Recording>,
    changed: Notify,
    request_ids: AtomicU64,
}

struct Recording {
    transcript: Transcript,
    bytes: usize,
}

impl Proxy {
    /// Sets up the client (reading `--ca-cert`) and writes an empty
    /// transcript to the record file, so a path that cannot be written is
    /// reported before anything listens.
    pub fn new(options: ProxyOptions) -> Result<Proxy, ContractError> {
        let upstream = base_url(&options.upstream)?;
        let client = HttpClient::new(options.ca_cert.as_deref())?;
        let shared = Arc::new(Shared {
            client,
            upstream,
            record: options.record,
            recording: Mutex::new(Recording {
                transcript: Transcript::new(Spec::bundled().version.clone()),
                bytes: 0,
            }),
            changed: Notify::new(),
            request_ids: AtomicU64::new(0),
        });
        shared.write()?;
        Ok(Proxy { shared })
    }

    /// Serves on `listener` until `shutdown` completes, then writes the
    /// record file a last time and returns what it holds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Transcript, ContractError> {
        let shared = self.shared;
        let writer = tokio::spawn(writer(shared.clone()));
        let graceful = GracefulShutdown::new();
        let mut acceptor = Acceptor::new(listener, MAX_CONNECTIONS, "stripe-secrets-mock proxy");
        tokio::pin!(shutdown);
        while let Some((stream, slot)) = acceptor.next(shutdown.as_mut()).await {
            let shared = shared.clone();
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(shared.forward(req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(slot);
            });
        }
        // Exchanges in flight finish (and are recorded) before the last write.
        drop(acceptor);
        let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
        writer.abort();
        shared.write()?;
        let transcript = lock(&shared.recording).transcript.clone();
        Ok(transcript)
    }
}

/// Rewrites the file at most every [`WRITE_EVERY`] while there is news.
async fn writer(shared: Arc<Shared>) {
    loop {
        shared.changed.notified().await;
        tokio::time::sleep(WRITE_EVERY).await;
        if let Err(e) = shared.write() {
            crate::log::line(format!("stripe-secrets-mock proxy: {e}"));
        }
    }
}

impl Shared {
    /// Writes the transcript to the record file, atomically.
    fn write(&self) -> Result<(), ContractError> {
        let text = {
            let recording = lock(&self.recording);
            // A transcript is strings, numbers and JSON values: it always
            // serializes.
            serde_json::to_string_pretty(&recording.transcript).unwrap_or_default()
        };
        let tmp = self.record.with_extension("json.partial");
        std::fs::write(&tmp, text + "\n")
            .and_then(|()| std::fs::rename(&tmp, &self.record))
            .map_err(|error| ContractError::Record {
                path: self.record.clone(),
                error,
            })
    }

    /// Forwards one request and records it.
    async fn forward(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return self.error(
                    ApiError::invalid(
                        "Request body too large: the proxy forwards at most 1 MiB.",
                        None,
                    )
                    .with_status(413),
                )
            }
            Err(BodyError::TimedOut) => {
                return self.error(
                    ApiError::invalid("The request body did not arrive in time.", None)
                        .with_status(408),
                )
            }
            Err(BodyError::Broken(e)) => {
                return self.error(ApiError::invalid(
                    format!("The proxy could not read the body: {e}."),
                    None,
                ))
            }
        };
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut upstream = Request::builder()
            .method(parts.method.clone())
            .uri(format!("{}{path_and_query}", self.upstream));
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                upstream = upstream.header(name, value);
            }
        }
        let Ok(upstream) = upstream.body(Full::new(Bytes::from(body.clone()))) else {
            return self.error(ApiError::invalid(
                "The proxy could not build the upstream request.",
                None,
            ));
        };
        let got = match self.client.send(upstream).await {
            Ok(got) => got,
            Err(e) => {
                crate::log::line(format!("stripe-secrets-mock proxy: upstream: {e}"));
                return self.error(
                    ApiError::internal(format!("The proxy could not reach the upstream: {e}"))
                        .with_status(502),
                );
            }
        };
        if !parts.uri.path().starts_with(PREFIX) {
            self.record(&parts, &body, &got);
        }
        let mut out = Response::new(Full::new(got.body));
        *out.status_mut() = hyper::StatusCode::from_u16(got.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &got.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                out.headers_mut().append(name, value.clone());
            }
        }
        out
    }

    /// Records one exchange, checking the answer against the spec.
    fn record(&self, parts: &hyper::http::request::Parts, body: &[u8], got: &Received) {
        let spec = Spec::bundled();
        let method = parts.method.as_str();
        let path = parts.uri.path();
        let op = spec.route(method, path);
        let query = parts.uri.query().unwrap_or("");
        let body_text = String::from_utf8_lossy(body);
        let mut params = Map::new();
        let decoded = form::decode_into(&mut params, query)
            .and_then(|()| form::decode_into(&mut params, &body_text));
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
            params: decoded.is_ok().then_some(Value::Object(params)),
            query: decoded.is_err().then(|| query.to_string()),
            body: decoded.is_err().then(|| body_text.into_owned()),
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
        let interaction = Interaction {
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
        let size = serde_json::to_string(&interaction).map_or(0, |t| t.len());
        {
            let mut recording = lock(&self.recording);
            let r = &mut *recording;
            if r.transcript.interactions.len() >= MAX_RECORDED
                || r.bytes + size > MAX_RECORDED_BYTES
            {
                if r.transcript.dropped == 0 {
                    crate::log::line(format!(
                        "stripe-secrets-mock proxy: the recording is full ({MAX_RECORDED} \
                         interactions or {MAX_RECORDED_BYTES} bytes); later requests are \
                         forwarded but not recorded"
                    ));
                }
                r.transcript.dropped += 1;
            } else {
                r.transcript.violations += interaction.violations.len().min(1) as u64;
                r.bytes += size;
                r.transcript.interactions.push(interaction);
            }
        }
        self.changed.notify_one();
    }

    /// A Stripe-shaped error from the proxy itself.
    fn error(&self, e: ApiError) -> Response<Full<Bytes>> {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let id = format!("req_proxy{n:010}");
        let now = crate::clock::Clock::system().now();
        let body = check::render(&e.body(&id, false, now));
        let mut out = Response::new(Full::new(Bytes::from(body)));
        *out.status_mut() =
            hyper::StatusCode::from_u16(e.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
        out.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&id) {
            out.headers_mut()
                .insert(HeaderName::from_static("request-id"), v);
        }
        out
    }
}
