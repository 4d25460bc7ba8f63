//! The HTTP edge: the accept loop, graceful shutdown, and the one place a
//! hyper request becomes a [`MockRequest`] and a [`MockResponse`] becomes a
//! hyper response. Everything behind it is synchronous and socket-free.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::json_errors::{JsonErrors, MAX_HEAD, MAX_HEADERS};
use crate::pipeline::{self, BodyError, MockRequest, MockResponse};
use crate::state::State;

/// Headers on every response, as Stripe sends them (docs/behaviour.md §6):
/// no caching, and CORS open to any origin so browser code can call the
/// mock.
pub(crate) const EVERY_RESPONSE: &[(&str, &str)] = &[
    ("cache-control", "no-cache, no-store"),
    ("access-control-allow-origin", "*"),
    ("access-control-allow-credentials", "true"),
    (
        "access-control-allow-methods",
        "GET, HEAD, PUT, PATCH, POST, DELETE",
    ),
    (
        "access-control-expose-headers",
        "Request-Id, Stripe-Manage-Version, X-Stripe-External-Auth-Required, \
         X-Stripe-Privileged-Session-Required",
    ),
    ("access-control-max-age", "300"),
];

/// Bodies larger than this get a 413.
const MAX_BODY: usize = 1 << 20;

/// How long open connections get to finish after shutdown is requested.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `core` on `listener` until `shutdown` completes, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    core: Arc<State>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's header-read timer starts whenever a connection waits for a
    // request head, so it bounds slow headers and idle keep-alive alike.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(core.config.header_read_timeout)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD);
    let graceful = GracefulShutdown::new();
    let mut acceptor = Acceptor::new(listener, core.config.max_connections, "stripe-secrets-mock");
    tokio::pin!(shutdown);
    while let Some((stream, slot)) = acceptor.next(shutdown.as_mut()).await {
        let io = TokioIo::new(JsonErrors::new(stream, core.clone()));
        let core = core.clone();
        let service = service_fn(move |req| {
            let core = core.clone();
            async move { respond(&core, req).await }
        });
        let conn = builder.serve_connection(io, service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(acceptor);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// Accepts connections up to a cap, for the mock and the proxy alike: at
/// the cap it stops accepting, so new connections wait in the listen queue
/// until one closes (header timeouts close idle ones), and says so once; an
/// accept that fails (out of file descriptors and the like) is logged and
/// retried after a pause.
pub(crate) struct Acceptor {
    /// Where connections arrive.
    listener: TcpListener,
    /// One permit per connection served.
    slots: Arc<Semaphore>,
    /// The cap, for the log line.
    max: usize,
    /// Whether the cap has been logged since it was last reached.
    at_cap_logged: bool,
    /// The log lines' prefix.
    who: &'static str,
}

impl Acceptor {
    /// Accepts from `listener`, at most `max` connections at once (at least
    /// one, or nothing would ever be served).
    pub fn new(listener: TcpListener, max: usize, who: &'static str) -> Acceptor {
        let max = max.max(1);
        Acceptor {
            listener,
            slots: Arc::new(Semaphore::new(max)),
            max,
            at_cap_logged: false,
            who,
        }
    }

    /// The next connection and the slot it holds until dropped; `None`
    /// once `shutdown` completes.
    pub async fn next<F: Future<Output = ()>>(
        &mut self,
        mut shutdown: Pin<&mut F>,
    ) -> Option<(TcpStream, OwnedSemaphorePermit)> {
        loop {
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    self.at_cap_logged = false;
                    slot
                }
                Err(_) => {
                    if !self.at_cap_logged {
                        self.at_cap_logged = true;
                        crate::log::line(format!(
                            "{}: {} connections open; new ones wait",
                            self.who, self.max
                        ));
                    }
                    tokio::select! {
                        slot = self.slots.clone().acquire_owned() => slot.expect("never closed"),
                        () = &mut shutdown => return None,
                    }
                }
            };
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => return Some((stream, slot)),
                    Err(e) => {
                        crate::log::line(format!("{}: accept failed: {e}", self.who));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => return None,
            }
        }
    }
}

/// Serves one request. An `Err` makes hyper drop the connection unanswered
/// (an injected `close` fault).
async fn respond(
    core: &Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Closed> {
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body).await;
    let header = |name: &str| header_str(&parts.headers, name);
    let bad_header = CHECKED_HEADERS.iter().copied().find(|name| {
        parts
            .headers
            .get(*name)
            .is_some_and(|v| v.to_str().is_err())
    });
    let request = MockRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        authorization: header("authorization"),
        stripe_account: header("stripe-account"),
        stripe_version: header("stripe-version"),
        content_type: header("content-type"),
        idempotency_key: header("idempotency-key"),
        cors_request_headers: header("access-control-request-headers"),
        body,
        bad_header,
    };
    let plan = pipeline::plan(core, &request);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    pipeline::serve_guarded(core, &request, &plan)
        .map(to_hyper)
        .ok_or(Closed)
}

/// Headers whose value must be visible ASCII: one that is not is refused
/// with a 400 naming it, never taken as absent (a write meant for a
/// connected account must not land on the platform).
const CHECKED_HEADERS: &[&str] = &[
    "Authorization",
    "Stripe-Account",
    "Stripe-Version",
    "Idempotency-Key",
];

/// How long a request body may take to arrive once its headers have.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body: a declared length over the limit is refused before any
/// of it is read (so `Expect: 100-continue` gets no `100 Continue`), a body
/// that outgrows the limit is refused too, and one cut short or malformed
/// is reported as such.
pub(crate) async fn read_body(headers: &HeaderMap, body: Incoming) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
    }
}

/// The reason a connection was dropped on purpose.
#[derive(Debug)]
struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by an injected fault")
    }
}

impl std::error::Error for Closed {}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn to_hyper(res: MockResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(res.body));
    *out.status_mut() =
        hyper::StatusCode::from_u16(res.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in EVERY_RESPONSE {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    if let Ok(v) = HeaderValue::from_str(&res.request_id) {
        headers.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&res.stripe_version) {
        headers.insert("stripe-version", v);
    }
    for (name, value) in res.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    out
}
