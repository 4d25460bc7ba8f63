//! What bounds one connection whatever its protocol (docs/limits.md):
//!
//! - [`Activity`]: what a connection is doing, read by its watchdog. A
//!   connection with nothing in flight for the idle timeout is closed, from
//!   the moment it is accepted (so one that sends nothing, one byte, or
//!   only an HTTP/2 preface is closed too, while hyper is still detecting
//!   its protocol), and so is one whose client takes nothing of an answer
//!   for as long. At the connection cap, the connection idle longest
//!   is asked to close so a new one is served.
//! - [`Budget`]: request body bytes held at once, per connection and
//!   server-wide (HTTP/2 streams multiply the per-request limit).
//! - [`Answer`]: a response body handed to hyper in slices, each one it
//!   takes counted as progress, so a client that never reads is noticed.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::sync::{Notify, OwnedSemaphorePermit};

use crate::pipeline::request::{CONNECTION_BODY_BYTES, SERVER_BODY_BYTES};
use crate::pipeline::{Over, Streamed};
use tokio::time::Instant;

/// Size of the slices an answer is handed over in.
const SLICE: usize = 64 * 1024;

/// What one connection is doing.
pub(crate) struct Activity {
    /// When it was accepted: the origin of `last`.
    born: Instant,
    /// Milliseconds from `born` to the last sign of progress (accepted, a
    /// request started or ended, a slice of an answer taken).
    last: AtomicU64,
    /// Requests being handled (from the head's arrival until the answer is
    /// ready): the watchdog never closes a connection during one; each is
    /// bounded by the body timeout and the longest injected delay.
    handling: AtomicUsize,
    /// Answers being sent (from ready until their last slice is taken or
    /// the stream is dropped).
    sending: AtomicUsize,
    /// Request body bytes held for this connection.
    pub body_bytes: AtomicUsize,
    /// Told to close at the cap, to let a new connection in.
    evict: Notify,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            born: Instant::now(),
            last: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            sending: AtomicUsize::new(0),
            body_bytes: AtomicUsize::new(0),
            evict: Notify::new(),
        })
    }

    fn touch(&self) {
        let ms = self.born.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.born + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Nothing in flight: the connection may be closed without losing
    /// anything.
    fn idle(&self) -> bool {
        self.handling.load(Ordering::Relaxed) == 0 && self.sending.load(Ordering::Relaxed) == 0
    }

    /// Marks a request handled until the guard drops.
    pub fn handling(self: &Arc<Self>) -> Handling {
        self.handling.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Handling(self.clone())
    }

    /// Resolves when the connection should be closed: nothing in flight
    /// for `limit`, an answer of which its client took nothing for `limit`,
    /// or evicted at the cap while idle.
    pub async fn expired(&self, limit: Duration) {
        loop {
            let busy = self.handling.load(Ordering::Relaxed) > 0;
            let due = self.last() + limit;
            if !busy && Instant::now() >= due {
                return;
            }
            // A request being handled ends by itself (bounded by the body
            // timeout and the longest delay): look again after a while.
            let wake = match busy {
                true => Instant::now() + Duration::from_secs(1).min(limit),
                false => due,
            };
            // Never sooner than a moment from now: this loop cannot spin.
            let wake = wake.max(Instant::now() + Duration::from_millis(10));
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = self.evict.notified() => {
                    if self.idle() {
                        return;
                    }
                }
            }
        }
    }
}

/// A request being handled; its drop ends it.
pub(crate) struct Handling(Arc<Activity>);

impl Handling {
    /// The answer `body`, counted as being sent until hyper has taken it
    /// all (or dropped it).
    pub fn answer(self, body: Bytes) -> Answer {
        self.answer_holding(body, None, None)
    }

    /// An answer of `body`, then of the pieces of `streamed` as they are
    /// made, holding `permit` until it is all taken.
    pub fn answer_holding(
        self,
        body: Bytes,
        streamed: Option<Streamed>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Answer {
        self.0.sending.fetch_add(1, Ordering::Relaxed);
        let left = body.len() + streamed.as_ref().map_or(0, |s| s.len);
        Answer {
            rest: body,
            pieces: streamed.map(|s| s.pieces),
            left: left as u64,
            activity: self.0.clone(),
            _permit: permit,
        }
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body in slices of [`SLICE`] bytes (shared, never copied),
/// then, for a streamed one, its pieces as they are made.
pub(crate) struct Answer {
    /// What hyper has not taken yet of the piece at hand.
    rest: Bytes,
    /// The pieces not made yet.
    pieces: Option<Box<dyn Iterator<Item = Bytes> + Send>>,
    /// Bytes not taken yet, all pieces included (the exact length hyper
    /// sends as `Content-Length`).
    left: u64,
    /// Whose progress each slice is.
    activity: Arc<Activity>,
    /// An export's turn, given back when the answer is taken or dropped.
    _permit: Option<OwnedSemaphorePermit>,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        while self.rest.is_empty() {
            match self.pieces.as_mut().and_then(Iterator::next) {
                Some(piece) => self.rest = piece,
                None => {
                    self.pieces = None;
                    return Poll::Ready(None);
                }
            }
        }
        let n = self.rest.len().min(SLICE);
        let slice = self.rest.split_to(n);
        self.left = self.left.saturating_sub(n as u64);
        self.activity.touch();
        Poll::Ready(Some(Ok(Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.activity.sending.fetch_sub(1, Ordering::Relaxed);
        self.activity.touch();
    }
}

/// The open connections, so that the one idle longest can be asked to
/// close when the cap is reached.
#[derive(Default)]
pub(crate) struct Registry {
    /// By a number given at accept.
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    /// The next number.
    next: AtomicU64,
}

impl Registry {
    /// Registers `activity` until the returned guard drops.
    pub fn add(self: &Arc<Self>, activity: Arc<Activity>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        crate::sync::lock(&self.open).insert(id, activity);
        Registered {
            registry: self.clone(),
            id,
        }
    }

    /// Asks the connection idle longest to close, if it has been idle for
    /// at least `grace` (one just accepted has had no chance to send its
    /// request yet); `false` if none has. Walks the open connections (at
    /// most the cap), only when the cap is reached.
    pub fn evict_one(&self, grace: Duration) -> bool {
        let open = crate::sync::lock(&self.open);
        let now = Instant::now();
        let oldest = open
            .values()
            .filter(|a| a.idle() && now.duration_since(a.last()) >= grace)
            .min_by_key(|a| a.last());
        match oldest {
            Some(a) => {
                a.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in the [`Registry`].
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        crate::sync::lock(&self.registry.open).remove(&self.id);
    }
}

/// Request body bytes held server-wide.
#[derive(Default)]
pub(crate) struct Budget {
    held: AtomicUsize,
}

impl Budget {
    /// Takes `n` more bytes for `conn`, or says which bound it would break.
    pub fn take(self: &Arc<Self>, conn: &Arc<Activity>, n: usize) -> Result<Held, Over> {
        let mut held = Held {
            budget: self.clone(),
            conn: conn.clone(),
            bytes: 0,
        };
        held.grow(n)?;
        Ok(held)
    }
}

/// Body bytes held for one request; given back on drop.
pub(crate) struct Held {
    budget: Arc<Budget>,
    conn: Arc<Activity>,
    bytes: usize,
}

impl Held {
    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `n` more bytes.
    pub fn grow(&mut self, n: usize) -> Result<(), Over> {
        let add = |counter: &AtomicUsize, max: usize| {
            counter
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    v.checked_add(n).filter(|t| *t <= max)
                })
                .is_ok()
        };
        if !add(&self.conn.body_bytes, CONNECTION_BODY_BYTES) {
            return Err(Over::Connection);
        }
        if !add(&self.budget.held, SERVER_BODY_BYTES) {
            self.conn.body_bytes.fetch_sub(n, Ordering::Relaxed);
            return Err(Over::Server);
        }
        self.bytes += n;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.conn
            .body_bytes
            .fetch_sub(self.bytes, Ordering::Relaxed);
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_bytes_are_bounded_per_connection_and_server_wide_and_given_back() {
        let budget = Arc::new(Budget::default());
        let a = Activity::new();
        let whole = budget.take(&a, CONNECTION_BODY_BYTES).unwrap();
        assert_eq!(budget.take(&a, 1).err(), Some(Over::Connection));
        drop(whole);
        assert_eq!(a.body_bytes.load(Ordering::Relaxed), 0);
        // Sixteen connections at their own bound fill the server's.
        let conns: Vec<_> = (0..SERVER_BODY_BYTES / CONNECTION_BODY_BYTES)
            .map(|_| Activity::new())
            .collect();
        let held: Vec<_> = conns
            .iter()
            .map(|c| budget.take(c, CONNECTION_BODY_BYTES).unwrap())
            .collect();
        let other = Activity::new();
        assert_eq!(budget.take(&other, 1).err(), Some(Over::Server));
        // A refusal by the server leaves the connection's count as it was.
        assert_eq!(other.body_bytes.load(Ordering::Relaxed), 0);
        drop(held);
        assert_eq!(budget.held.load(Ordering::Relaxed), 0);
        let mut h = budget.take(&other, 0).unwrap();
        h.grow(3).unwrap();
        h.grow(CONNECTION_BODY_BYTES - 3).unwrap();
        assert_eq!(h.bytes(), CONNECTION_BODY_BYTES);
        assert_eq!(h.grow(1), Err(Over::Connection));
        assert_eq!(
            h.bytes(),
            CONNECTION_BODY_BYTES,
            "a refusal holds nothing more"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_after_the_idle_timeout_and_not_before() {
        let a = Activity::new();
        let idle = Duration::from_secs(30);
        let start = Instant::now();
        within_an_hour(a.expired(idle)).await;
        assert_eq!(start.elapsed(), idle);
    }

    /// Awaits `f`, failing (never hanging) if it takes an hour of the
    /// paused clock.
    async fn within_an_hour<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(3600), f)
            .await
            .expect("resolves within an hour of mock time")
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_handled_holds_the_connection_open() {
        let a = Activity::new();
        let guard = a.handling();
        let watcher = {
            let a = a.clone();
            tokio::spawn(async move { a.expired(Duration::from_secs(2)).await })
        };
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!watcher.is_finished());
        drop(guard);
        let start = Instant::now();
        within_an_hour(watcher).await.unwrap();
        assert!(start.elapsed() <= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unread_answer_expires_after_the_timeout_and_a_read_one_does_not() {
        let a = Activity::new();
        let mut answer = a.handling().answer(Bytes::from(vec![b'x'; 3 * SLICE]));
        let idle = Duration::from_secs(30);
        let watcher = {
            let a = a.clone();
            tokio::spawn(async move { a.expired(idle).await })
        };
        // Each slice taken is progress: 20 s apart, never 30 s without one.
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert!(!watcher.is_finished());
            let frame = Pin::new(&mut answer).poll_frame(&mut cx);
            assert!(matches!(frame, Poll::Ready(Some(Ok(_)))));
        }
        assert!(answer.is_end_stream());
        // Taken whole but not yet dropped (still being written): the write
        // timeout runs from the last slice.
        let start = Instant::now();
        within_an_hour(watcher).await.unwrap();
        assert_eq!(start.elapsed(), idle);
    }

    /// Takes every frame of `answer`, checking its size hint and end as it
    /// goes: what it writes.
    fn take_all(mut answer: Answer) -> Vec<u8> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        loop {
            let left = answer.size_hint().exact().expect("an exact length");
            assert_eq!(answer.is_end_stream(), left == 0);
            match Pin::new(&mut answer).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let data = frame.into_data().unwrap();
                    // What is left shrinks by exactly what was taken.
                    assert_eq!(answer.size_hint().exact(), Some(left - data.len() as u64));
                    out.extend_from_slice(&data);
                }
                Poll::Ready(None) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(answer.size_hint().exact(), Some(0));
        out
    }

    #[test]
    fn an_answer_writes_its_body_then_its_pieces_with_an_exact_length() {
        let a = Activity::new();
        let body = Bytes::from(vec![b'a'; SLICE + 1]);
        let pieces: Vec<Bytes> = vec![
            Bytes::from_static(b"bc"),
            Bytes::new(),
            Bytes::from_static(b"d"),
        ];
        let streamed = Streamed {
            len: 3,
            pieces: Box::new(pieces.into_iter()),
        };
        let answer = a.handling().answer_holding(body, Some(streamed), None);
        assert_eq!(answer.size_hint().exact(), Some(SLICE as u64 + 4));
        assert!(!answer.is_end_stream());
        let written = take_all(answer);
        assert_eq!(written.len(), SLICE + 4);
        assert!(written.ends_with(b"abcd"));
        let empty = a.handling().answer(Bytes::new());
        assert!(empty.is_end_stream());
    }

    #[test]
    fn a_connection_whose_answer_is_gone_is_idle_again_and_its_registration_goes_too() {
        let registry = Arc::new(Registry::default());
        let a = Activity::new();
        let registered = registry.add(a.clone());
        let answer = a.handling().answer(Bytes::from_static(b"{}"));
        assert!(
            !registry.evict_one(Duration::ZERO),
            "an answer is in flight"
        );
        drop(answer);
        assert!(
            registry.evict_one(Duration::ZERO),
            "idle once the answer is gone"
        );
        drop(registered);
        assert!(!registry.evict_one(Duration::ZERO), "no longer registered");
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_connection_idle_longest_is_evicted() {
        let registry = Arc::new(Registry::default());
        let old = Activity::new();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let young = Activity::new();
        let busy = Activity::new();
        let _busy_guard = busy.handling();
        let _r = [
            registry.add(old.clone()),
            registry.add(young.clone()),
            registry.add(busy.clone()),
        ];
        let watch = |a: &Arc<Activity>| {
            let a = a.clone();
            tokio::spawn(async move { a.expired(Duration::from_secs(3600)).await })
        };
        let (old_w, young_w) = (watch(&old), watch(&young));
        tokio::task::yield_now().await;
        // Idle for less than the grace: none gives way yet.
        assert!(!registry.evict_one(Duration::from_secs(10)));
        assert!(registry.evict_one(Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(old_w.is_finished());
        assert!(!young_w.is_finished());
        drop(_r);
        let only_busy = Arc::new(Registry::default());
        let _b = only_busy.add(busy.clone());
        assert!(!only_busy.evict_one(Duration::ZERO));
    }
}
