//! hyper answers a request it cannot parse by itself, before the mock sees
//! it: 400 for bytes that are not HTTP/1.1 (a NUL in a header, a header
//! without a colon, two `Content-Length`s), 414 for a URI over 65,534
//! bytes, 431 for more than [`MAX_HEADERS`] headers or a head over
//! [`MAX_HEAD`] bytes, each with an empty body. Every answer of the mock's
//! own has a JSON body, so an answer leaving with `content-length: 0` is one
//! of those: this wrapper around the connection rewrites it on its way out
//! into a Stripe-shaped JSON error with the mock's usual headers.
//!
//! Only an answer at the start of a write is rewritten; one that follows an
//! earlier answer in the same write (a bad request pipelined behind a good
//! one) goes out as hyper wrote it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::render;
use crate::error::ApiError;
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

/// Request headers hyper accepts; more is a 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// Bytes of request line and headers hyper reads at most; more is a 431.
pub(crate) const MAX_HEAD: usize = 128 * 1024;

/// A connection whose hyper-made error answers leave as JSON.
pub(crate) struct JsonErrors<T> {
    /// The connection.
    inner: T,
    /// For request ids and the spec's version.
    state: Arc<State>,
    /// A rewritten answer not yet fully written.
    pending: Vec<u8>,
}

impl<T> JsonErrors<T> {
    pub fn new(inner: T, state: Arc<State>) -> Self {
        JsonErrors {
            inner,
            state,
            pending: Vec::new(),
        }
    }
}

/// The message for one of hyper's own statuses.
fn message(status: u16) -> Option<String> {
    Some(match status {
        400 => "Invalid request: it is not valid HTTP/1.1 (a control byte such as NUL in \
                the request line or a header, a header without a colon, a folded header, or a \
                malformed or repeated Content-Length)."
            .to_string(),
        414 => "Request URI too long: the mock accepts a path and query string of at most \
                65534 bytes."
            .to_string(),
        431 => format!(
            "Request header fields too large: the mock accepts at most {MAX_HEADERS} headers \
             and {MAX_HEAD} bytes of request line and headers."
        ),
        _ => return None,
    })
}

/// The JSON answer that replaces `head`, if it is one of hyper's own.
fn rewrite(head: &[u8], state: &State) -> Option<Vec<u8>> {
    // The fast way out for nearly every write.
    if !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()?
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let empty = lines.any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    let message = message(status).filter(|_| empty)?;
    let request_id = state.anonymous_request_id();
    let error = ApiError::invalid(message, None)
        .with_status(hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST));
    let body = render(&error.body(&request_id, false, state.clock().now()));
    let reason = match status {
        400 => "Bad Request",
        414 => "URI Too Long",
        _ => "Request Header Fields Too Large",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         request-id: {request_id}\r\nstripe-version: {}\r\nconnection: close\r\n",
        body.len(),
        state.spec().version
    );
    for (name, value) in EVERY_RESPONSE {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if let Some(replacement) = rewrite(buf, &this.state) {
            this.pending = replacement;
            // The whole of hyper's answer is taken; ours goes out instead.
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
