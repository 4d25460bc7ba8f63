//! The HTTP edge: the accept loop, graceful shutdown, and the one place a
//! hyper request becomes a [`MockRequest`] and a [`MockResponse`] becomes a
//! hyper response. Everything behind it is synchronous and socket-free.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::control::endpoints::EXPORT_PATHS;
use crate::http::conn::{Activity, Answer, Budget, Handling, Held, Registered, Registry};
use crate::http::json_errors::{JsonErrors, EVERY_RESPONSE, MAX_HEAD};
use crate::pipeline::request::MAX_BODY;
use crate::pipeline::{self, BodyError, MockRequest, MockResponse};
use crate::secrets::context::UI_EXTENSION_HEADER;
use crate::state::State;

/// How long open connections get to finish after shutdown is requested.
const DRAIN: Duration = Duration::from_secs(5);

/// Streams one HTTP/2 connection may have open at once.
pub(crate) const MAX_STREAMS: u32 = 16;

/// HTTP/2 flow-control windows (the protocol's default): what a client may
/// send on a connection, or a stream, before the mock has read it.
const H2_WINDOW: u32 = 64 * 1024;

/// Largest decoded header block of an HTTP/2 request.
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// How often an idle HTTP/2 connection is pinged, and how long the answer
/// may take before the connection is closed as dead.
const H2_PING: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// What bounds a server's connections: the mock's and the proxy's.
pub(crate) struct Edge {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection may have nothing in flight, and its headers
    /// may take.
    pub idle: Duration,
    /// The log lines' prefix.
    pub who: &'static str,
}

/// The one accept loop, for the mock and the proxy: connections accepted
/// under the cap, each wrapped by `wrap`, served over HTTP/1 or HTTP/2 with
/// the bounds of [`builder`] by `handle`, watched for idleness; when
/// `shutdown` completes, open connections get [`DRAIN`] to finish. An `Err`
/// from `handle` drops the connection unanswered.
pub(crate) async fn run<I, H, F>(
    listener: TcpListener,
    edge: Edge,
    shutdown: impl Future<Output = ()>,
    wrap: impl Fn(TcpStream) -> I,
    handle: H,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, Arc<Activity>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Answer>, Closed>> + Send + 'static,
{
    let builder = builder(edge.idle);
    let graceful = GracefulShutdown::new();
    let mut acceptor = Acceptor::new(listener, edge.max_connections, edge.idle, edge.who);
    tokio::pin!(shutdown);
    while let Some(accepted) = acceptor.next(shutdown.as_mut()).await {
        let io = TokioIo::new(wrap(accepted.stream));
        let activity = accepted.activity.clone();
        let handle = handle.clone();
        let service = service_fn(move |req| handle(req, activity.clone()));
        let conn = builder.serve_connection(io, service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(accepted.lease.run(conn, edge.idle));
    }
    drop(acceptor);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// hyper's connection builder with the edge's bounds: HTTP/1's header-read
/// timer (it bounds a slow head once HTTP/1 is known; the connection's
/// watchdog, `http::conn`, bounds everything else), header count and size,
/// and HTTP/2's streams, windows, header list and keep-alive pings.
fn builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD);
    // hyper's own bound on headers is MAX_HEADERS (a test pins it at 100 and
    // 101). Set by `.max_headers`, even to the same value, it would build
    // the table of headers on the heap for every request instead of on the
    // stack: 1,700 instructions a request.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .initial_stream_window_size(H2_WINDOW)
        .initial_connection_window_size(H2_WINDOW)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .keep_alive_interval(H2_PING)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// Serves `core` on `listener` until `shutdown` completes, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    core: Arc<State>,
    shutdown: impl Future<Output = ()>,
) {
    let edge = Edge {
        max_connections: core.config().max_connections,
        idle: core.config().header_read_timeout,
        who: "stripe-secrets-mock",
    };
    let budget = Arc::new(Budget::default());
    let wrapped = core.clone();
    let wrap = move |stream| JsonErrors::new(stream, wrapped.clone());
    let handle = move |req, activity: Arc<Activity>| {
        let (core, budget) = (core.clone(), budget.clone());
        async move { respond(&core, &budget, &activity, req).await }
    };
    run(listener, edge, shutdown, wrap, handle).await;
}

/// Accepts connections up to a cap, for the mock and the proxy alike: at
/// the cap it asks the connection idle longest to close and takes the new
/// one in its place (if every connection has a request in flight, new ones
/// wait in the listen queue until one ends), and says so once; an accept
/// that fails (out of file descriptors and the like) is logged and retried
/// after a pause.
pub(crate) struct Acceptor {
    /// Where connections arrive.
    listener: TcpListener,
    /// One permit per connection served.
    slots: Arc<Semaphore>,
    /// The open connections, for eviction at the cap.
    registry: Arc<Registry>,
    /// The cap, for the log line.
    max: usize,
    /// How long a connection must have been idle to give way at the cap.
    grace: Duration,
    /// Whether the cap has been logged since it was last reached.
    at_cap_logged: bool,
    /// The log lines' prefix.
    who: &'static str,
}

/// A connection just accepted, with what bounds it.
pub(crate) struct Accepted {
    /// The socket.
    pub stream: TcpStream,
    /// What it is doing, for its watchdog.
    pub activity: Arc<Activity>,
    /// Its place under the cap, until it closes.
    pub lease: Lease,
}

/// A connection's place under the cap and among the open connections.
pub(crate) struct Lease {
    /// Its place among the open connections.
    registered: Registered,
    /// Its slot under the cap.
    slot: OwnedSemaphorePermit,
    /// What it is doing, for its watchdog.
    activity: Arc<Activity>,
}

impl Lease {
    /// Runs `conn` until it ends or its watchdog closes it: nothing in
    /// flight for `idle` (from the accept on, whatever the protocol), an
    /// answer left unread, or eviction at the cap. Then its slot is free.
    pub async fn run(self, conn: impl Future, idle: Duration) {
        tokio::select! {
            _ = conn => {}
            () = self.activity.expired(idle) => {}
        }
        drop(self.registered);
        drop(self.slot);
    }
}

impl Acceptor {
    /// Accepts from `listener`, at most `max` connections at once (at least
    /// one, or nothing would ever be served); at the cap, a connection idle
    /// for a second (or `idle`, if shorter) gives way to a new one.
    pub fn new(listener: TcpListener, max: usize, idle: Duration, who: &'static str) -> Acceptor {
        let max = max.max(1);
        Acceptor {
            listener,
            slots: Arc::new(Semaphore::new(max)),
            registry: Arc::default(),
            max,
            grace: idle.min(Duration::from_secs(1)),
            at_cap_logged: false,
            who,
        }
    }

    /// The next connection; `None` once `shutdown` completes.
    pub async fn next<F: Future<Output = ()>>(
        &mut self,
        mut shutdown: Pin<&mut F>,
    ) -> Option<Accepted> {
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
                            "{}: {} connections open; the one idle longest gives way to each \
                             new one (new ones wait while every one is busy)",
                            self.who, self.max
                        ));
                    }
                    self.registry.evict_one(self.grace);
                    tokio::select! {
                        slot = self.slots.clone().acquire_owned() => slot.expect("never closed"),
                        // Every connection was busy: look again soon.
                        () = tokio::time::sleep(Duration::from_millis(250)) => continue,
                        () = &mut shutdown => return None,
                    }
                }
            };
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let activity = Activity::new();
                        let registered = self.registry.add(activity.clone());
                        let lease = Lease { registered, slot, activity: activity.clone() };
                        return Some(Accepted { stream, activity, lease });
                    }
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
    budget: &Arc<Budget>,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
) -> Result<Response<Answer>, Closed> {
    let handling = activity.handling();
    let (parts, body) = req.into_parts();
    let (body, _held) = match read_body(&parts.headers, body, budget, activity).await {
        Ok((body, held)) => (Ok(body), Some(held)),
        Err(e) => (Err(e), None),
    };
    let mut sent = ReadHeaders::of(&parts.headers);
    let request = MockRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        authorization: sent.take("authorization"),
        stripe_account: sent.take("stripe-account"),
        stripe_context: sent.take("stripe-context"),
        ui_extension_user: sent.take(UI_EXTENSION_HEADER),
        stripe_version: sent.take("stripe-version"),
        content_type: sent.take("content-type"),
        idempotency_key: sent.take("idempotency-key"),
        cors_request_headers: sent.take("access-control-request-headers"),
        body,
        bad_header: sent.bad,
    };
    // An answer that grows with what the mock holds waits for its turn,
    // and keeps it until its client has taken the answer.
    let permit = match request.method == "GET" && EXPORT_PATHS.contains(&request.path.as_str()) {
        true => core.exports().acquire_owned().await.ok(),
        false => None,
    };
    let plan = pipeline::plan(core, &request);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let response = pipeline::serve_guarded(core, &request, &plan).ok_or(Closed)?;
    // Only a listing keeps its turn while it is written: a refusal (a
    // wrong control token, say) left unread must not hold one.
    let permit = permit.filter(|_| response.streamed.is_some());
    Ok(to_hyper(response, handling, permit))
}

/// The request headers the mock reads (lower case, as hyper names them).
const READ_HEADERS: [&str; 8] = [
    "authorization",
    "stripe-account",
    "stripe-context",
    UI_EXTENSION_HEADER,
    "stripe-version",
    "content-type",
    "idempotency-key",
    "access-control-request-headers",
];

/// Headers whose value must be visible ASCII, as an error names them: one
/// that is not is refused with a 400 naming it, never taken as absent (a
/// write meant for a connected account must not land on the platform).
const CHECKED_HEADERS: &[(&str, &str)] = &[
    ("authorization", "Authorization"),
    ("stripe-account", "Stripe-Account"),
    ("stripe-context", "Stripe-Context"),
    ("stripe-version", "Stripe-Version"),
    ("idempotency-key", "Idempotency-Key"),
    (UI_EXTENSION_HEADER, "Stripe-Mock-UI-Extension-User"),
];

/// The first value of each of [`READ_HEADERS`], found in one pass over the
/// headers sent (a lookup by name would parse the name each time).
struct ReadHeaders<'a> {
    /// By [`READ_HEADERS`] index: the first value sent, if any.
    values: [Option<&'a HeaderValue>; READ_HEADERS.len()],
    /// The first of [`CHECKED_HEADERS`] whose value is not visible ASCII.
    bad: Option<&'static str>,
}

impl<'a> ReadHeaders<'a> {
    fn of(headers: &'a HeaderMap) -> ReadHeaders<'a> {
        let mut values = [None; READ_HEADERS.len()];
        for (name, value) in headers {
            if let Some(i) = READ_HEADERS.iter().position(|n| *n == name.as_str()) {
                values[i].get_or_insert(value);
            }
        }
        let value = |name: &str| {
            READ_HEADERS
                .iter()
                .position(|n| *n == name)
                .and_then(|i| values[i])
        };
        let bad = CHECKED_HEADERS
            .iter()
            .find(|(name, _)| value(name).is_some_and(|v| v.to_str().is_err()))
            .map(|(_, shown)| *shown);
        ReadHeaders { values, bad }
    }

    /// The value of `name` (one of [`READ_HEADERS`]) as text, if sent and
    /// visible ASCII.
    fn take(&mut self, name: &str) -> Option<String> {
        let i = READ_HEADERS.iter().position(|n| *n == name)?;
        self.values[i]
            .take()
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

/// How long a request body may take to arrive once its headers have.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body: a declared length over the limit is refused before any
/// of it is read (so `Expect: 100-continue` gets no `100 Continue`), a body
/// that outgrows the limit is refused too, and one cut short or malformed
/// is reported as such. The bytes are counted against `budget` for `conn`
/// as they arrive (the whole declared length first) and held until the
/// returned [`Held`] drops.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    budget: &Arc<Budget>,
    conn: &Arc<Activity>,
) -> Result<(Vec<u8>, Held), BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    let declared = declared.unwrap_or(0) as usize;
    let mut held = budget.take(conn, declared).map_err(BodyError::Busy)?;
    let read = async {
        let mut body = Limited::new(body, MAX_BODY);
        let mut bytes = Vec::with_capacity(declared);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| match e.downcast_ref::<LengthLimitError>() {
                Some(_) => BodyError::TooLarge,
                None => BodyError::Broken(e.to_string()),
            })?;
            if let Ok(data) = frame.into_data() {
                let total = bytes.len() + data.len();
                if total > held.bytes() {
                    held.grow(total - held.bytes()).map_err(BodyError::Busy)?;
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(bytes)) => Ok((bytes, held)),
        Ok(Err(e)) => Err(e),
    }
}

/// The reason a connection was dropped on purpose.
#[derive(Debug)]
pub(crate) struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by an injected fault")
    }
}

impl std::error::Error for Closed {}

/// The headers of every answer with a given content type, as hyper's map,
/// made once for the content types the mock sends: cloning a map copies its
/// entries, where building one hashes and places every name again (and a
/// name made from a `&str` is parsed again every time).
fn every_response(content_type: &'static str) -> HeaderMap {
    fn made(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(EVERY_RESPONSE.len() + 6);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in EVERY_RESPONSE {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        // Held in place for `to_hyper` to fill: replacing a value keeps
        // its place and grows nothing, where a clone has no room to add.
        headers.insert(REQUEST_ID, HeaderValue::from_static(""));
        headers.insert(STRIPE_VERSION, HeaderValue::from_static(""));
        headers
    }
    static JSON: LazyLock<HeaderMap> = LazyLock::new(|| made(crate::pipeline::request::JSON));
    if content_type == crate::pipeline::request::JSON {
        JSON.clone()
    } else {
        made(content_type)
    }
}
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");

/// A [`MockResponse`] as hyper sends it, with the headers every answer has
/// (the mock's and the proxy's own errors alike).
pub(crate) fn to_hyper(
    res: MockResponse,
    handling: Handling,
    permit: Option<OwnedSemaphorePermit>,
) -> Response<Answer> {
    let mut out = Response::new(handling.answer_holding(res.body, res.streamed, permit));
    *out.status_mut() = res.status;
    *out.headers_mut() = every_response(res.content_type);
    let headers = out.headers_mut();
    // The placeholders are filled where they stand, found by a walk of a
    // dozen entries rather than by hashing their names.
    let mut invalid = Vec::new();
    for (name, slot) in headers.iter_mut() {
        let value = if *name == REQUEST_ID {
            &res.request_id
        } else if *name == STRIPE_VERSION {
            &res.stripe_version
        } else {
            continue;
        };
        match HeaderValue::from_str(value) {
            Ok(v) => *slot = v,
            Err(_) => invalid.push(name.clone()),
        }
    }
    // Not sent at all rather than sent empty.
    for name in invalid {
        headers.remove(name);
    }
    for (name, value) in res.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    out
}
