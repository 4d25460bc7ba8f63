//! Bounds that hold on every path, not only an HTTP/1 request and its
//! answer (docs/limits.md): connections that send nothing or stop reading,
//! HTTP/2 streams, request bodies held at once, parameters, and the size of
//! the answers that grow with the journal. Each test also checks that the
//! server goes on serving others.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame};
use stripe_secrets_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{closed_within, Client};

/// The HTTP/2 connection preface a client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An empty HTTP/2 SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

async fn serves_within(server: &MockServer, limit: Duration) {
    let client = Client::new(server, "sk_test_other");
    let res = tokio::time::timeout(limit, client.create("k", "v"))
        .await
        .expect("a legitimate request is answered in time");
    assert_eq!(res.status, 200, "{}", res.text);
}

#[tokio::test]
async fn a_connection_is_closed_after_the_timeout_whatever_it_sent_first() {
    let server = MockServer::builder()
        .header_read_timeout(Duration::from_millis(500))
        .start()
        .await;
    let firsts: [&[u8]; 4] = [b"", b"P", H2_PREFACE, &[H2_PREFACE, H2_SETTINGS].concat()];
    for first in firsts {
        let mut conn = TcpStream::connect(server.address()).await.unwrap();
        conn.write_all(first).await.unwrap();
        assert!(
            closed_within(&mut conn, Duration::from_secs(5)).await,
            "still open after sending {first:?}"
        );
    }
    serves_within(&server, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_silent_connections_do_not_keep_a_client_waiting() {
    // The default cap and header timeout (1,000 connections, 30 s).
    let server = MockServer::start().await;
    let mut silent = Vec::new();
    for i in 0..1_000 {
        let mut conn = TcpStream::connect(server.address()).await.unwrap();
        let first: &[u8] = match i % 3 {
            0 => b"",
            1 => b"G",
            _ => H2_PREFACE,
        };
        conn.write_all(first).await.unwrap();
        silent.push(conn);
    }
    // Let them all be accepted and fill the cap.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    serves_within(&server, Duration::from_secs(10)).await;
    serves_within(&server, Duration::from_secs(10)).await;
    drop(silent);
}

/// A request body fed through a channel, so a test decides when (if ever)
/// it ends.
struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Fed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// An HTTP/2 (h2c, prior knowledge) connection to `server`; the task ends
/// when the connection does.
async fn h2(
    server: &MockServer,
) -> (
    hyper::client::conn::http2::SendRequest<Fed>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = TcpStream::connect(server.address()).await.unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, task)
}

/// A keyed POST whose body declares `length` bytes and sends what the
/// returned sender is given.
fn pending_post(length: usize) -> (hyper::Request<Fed>, tokio::sync::mpsc::Sender<Bytes>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = hyper::Request::post("http://mock/v1/apps/secrets")
        .header("authorization", "Bearer sk_test_h2")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", length.to_string())
        .body(Fed(rx))
        .unwrap();
    (req, tx)
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_timeout() {
    let server = MockServer::builder()
        .header_read_timeout(Duration::from_millis(500))
        .start()
        .await;
    let (mut send, conn) = h2(&server).await;
    let form = Bytes::from_static(b"name=k&payload=v&scope[type]=account");
    let (req, tx) = pending_post(form.len());
    tx.send(form).await.unwrap();
    drop(tx);
    let res = send.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), hyper::Version::HTTP_2);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{\n  \"id\": \"appsecret_"));
    // Then nothing: the server ends the connection.
    tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the idle HTTP/2 connection is closed")
        .unwrap();
    serves_within(&server, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn http2_streams_hold_at_most_4_mib_of_bodies_on_one_connection() {
    let server = MockServer::start().await;
    let (mut send, _conn) = h2(&server).await;
    // Four bodies of 1 MiB - 1 declared fit in the connection's 4 MiB; each
    // sends a little and never ends.
    let mut open = Vec::new();
    for _ in 0..4 {
        let (req, tx) = pending_post((1 << 20) - 1);
        tx.send(Bytes::from_static(b"name=k")).await.unwrap();
        let pending = send.send_request(req);
        open.push((tokio::spawn(pending), tx));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fifth is refused at once, with a Stripe-shaped 429.
    let (req, _tx) = pending_post((1 << 20) - 1);
    let res = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .expect("answered at once")
        .unwrap();
    assert_eq!(res.status(), 429);
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limit");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 4 MiB of request bodies at once per connection"),
        "{body}"
    );
    for (pending, _) in &open {
        assert!(!pending.is_finished());
    }
    // Other connections are served meanwhile.
    serves_within(&server, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn request_bodies_held_at_once_are_bounded_server_wide() {
    let server = MockServer::start().await;
    // 64 connections each declare a body of 1 MiB - 1 and send none of it:
    // together just under 64 MiB, held (reserved) while they wait.
    let head = |length: usize| {
        format!(
            "POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_b\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    let mut waiting = Vec::new();
    for _ in 0..64 {
        let mut c = TcpStream::connect(server.address()).await.unwrap();
        c.write_all(head((1 << 20) - 1).as_bytes()).await.unwrap();
        waiting.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One more is over 64 MiB in all: a 429 naming the server-wide bound.
    let mut over = TcpStream::connect(server.address()).await.unwrap();
    over.write_all(head((1 << 20) - 1).as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), over.read(&mut answer))
        .await
        .expect("answered at once")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(
        text.contains("at most 64 MiB of request bodies at once in all"),
        "{text}"
    );
    // A small body still fits, and is served.
    serves_within(&server, Duration::from_secs(5)).await;
    // Bodies given up on give their bytes back.
    drop(waiting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = TcpStream::connect(server.address()).await.unwrap();
    again
        .write_all(head((1 << 20) - 1).as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let early = tokio::time::timeout(Duration::from_millis(500), again.read(&mut buf)).await;
    assert!(early.is_err(), "no 429 once the bytes are back");
}

#[tokio::test]
async fn a_request_of_more_than_256_parameters_is_a_400_before_decoding() {
    let (server, client) = crate::support::start().await;
    let at_bound = vec!["expand[]=scope"; 253].join("&");
    let ok = client
        .post(
            "/v1/apps/secrets",
            &format!("name=k&payload=v&scope[type]=account&{at_bound}"),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let deep = "[a]".repeat(16);
    let over = (0..257)
        .map(|i| format!("p{i}{deep}=x"))
        .collect::<Vec<_>>()
        .join("&");
    let res = client.post("/v1/apps/secrets", &over).await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Too many parameters: a request may send at most 256 (query string and body \
         together); this one sent 257."
    );
    serves_within(&server, Duration::from_secs(5)).await;
}

/// A POST of `pairs` parameters nested 16 levels deep with one-letter keys:
/// what pretty-printing amplifies most. Unknown parameters, so each is a
/// 400, journaled whole for the transcript.
fn nested_form(pairs: usize) -> String {
    let deep = "[a]".repeat(16);
    (0..pairs)
        .map(|i| format!("p{i}{deep}=x"))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_and_transcript_answers_stay_within_the_journal_bound() {
    let (server, client) = crate::support::start().await;
    let form = nested_form(256);
    // Far more than the journal keeps, counted as written.
    for _ in 0..150 {
        let res = client.post("/v1/apps/secrets", &form).await;
        assert_eq!(res.status, 400);
    }
    let stats = server.stats();
    assert!(stats.journal_bytes <= 16 << 20, "{stats:?}");
    assert!(
        stats.journal_entries < 150,
        "the bound dropped some: {stats:?}"
    );
    let control = Client::anonymous(&server);
    for path in ["/_mock/transcript", "/_mock/requests"] {
        let res = control.get(path).await;
        assert_eq!(res.status, 200, "{}", &res.text[..200.min(res.text.len())]);
        // The answer as written is within the bound (plus its envelope).
        assert!(
            res.text.len() <= (16 << 20) + 1_024,
            "{path}: {} bytes",
            res.text.len()
        );
    }
    // Written an item at a time, and still the whole value: it parses, and
    // holds what the journal holds.
    let t = control.get("/_mock/transcript").await;
    assert_eq!(
        t.body["interactions"].as_array().unwrap().len(),
        stats.journal_entries
    );
    serves_within(&server, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_an_answer_is_closed_and_frees_its_turn() {
    let server = MockServer::builder()
        .header_read_timeout(Duration::from_millis(800))
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    let form = nested_form(256);
    for _ in 0..40 {
        client.post("/v1/apps/secrets", &form).await;
    }
    // Three clients ask for the transcript (several MiB) and read nothing,
    // through small receive buffers: the answers stall.
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut conn = socket.connect(server.address()).await.unwrap();
        conn.write_all(b"GET /_mock/transcript HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        stalled.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Each is closed once it has taken nothing for the timeout (reading
    // what the kernel buffered, then finding the end).
    for conn in &mut stalled {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut all = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut all)).await;
        assert!(read.is_ok(), "a stalled answer's connection is closed");
        assert!(all.len() < 6 << 20, "it was cut short: {} bytes", all.len());
    }
    // Their turns are free again: exports are answered whole.
    let control = Client::anonymous(&server);
    for _ in 0..3 {
        let res = tokio::time::timeout(Duration::from_secs(10), control.get("/_mock/requests"))
            .await
            .expect("an export is answered");
        assert_eq!(res.status, 200);
    }
    serves_within(&server, Duration::from_secs(5)).await;
}

/// A fixture of `n` secrets of one app, ten names to each user's scope.
fn many_secrets(n: usize) -> String {
    let secrets: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"app": "sk_test_full", "name": "n{}", "payload": "v", "scope": {{"type": "user", "user": "usr_{}"}}}}"#,
                i % 10,
                i / 10
            )
        })
        .collect();
    format!(r#"{{"secrets": [{}]}}"#, secrets.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_holds_at_most_100000_secrets_in_all() {
    let e = MockServer::builder()
        .fixture_json("over.json", many_secrets(100_001))
        .try_start()
        .await
        .err()
        .expect("fixtures over the bound are refused");
    assert!(
        e.to_string()
            .contains("the store holds at most 100000 secrets"),
        "{e}"
    );

    let server = MockServer::builder()
        .fixture_json("full.json", many_secrets(100_000))
        .start()
        .await;
    // Any app, any scope: a new name is refused, with a Stripe-shaped 400.
    let other = Client::new(&server, "sk_test_other");
    let res = other.create("k", "v").await;
    assert_eq!(res.status, 400);
    assert!(
        res.err("message").starts_with("The mock's store is full"),
        "{}",
        res.text
    );
    // Replacing a name takes no more room; a delete makes some.
    let full = Client::new(&server, "sk_test_full");
    let replace = "name=n0&payload=w&scope[type]=user&scope[user]=usr_0";
    assert_eq!(full.post("/v1/apps/secrets", replace).await.status, 200);
    let delete = "name=n1&scope[type]=user&scope[user]=usr_0";
    assert_eq!(
        full.post("/v1/apps/secrets/delete", delete).await.status,
        200
    );
    assert_eq!(other.create("k", "v").await.status, 200);
    assert_eq!(other.create("k2", "v").await.status, 400);
    // A reset puts the count back to the fixtures'.
    server.reset();
    assert_eq!(other.create("k", "v").await.status, 400);
}
