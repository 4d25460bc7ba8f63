//! Hostile input over raw TCP: every case gets a Stripe-shaped JSON error
//! with the right status, and the server keeps serving afterwards.

use std::time::Duration;

use stripe_secrets_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{closed_within, Client};

/// Sends `request` as raw bytes (half-closing after it when `half_close`)
/// and returns the status and the JSON body of the answer.
async fn raw(server: &MockServer, request: &[u8], half_close: bool) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(server.address()).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
            if let Some(body) = complete(&response) {
                return body;
            }
        }
        complete(&response).unwrap_or_default()
    })
    .await
    .expect("an answer within 15 s");
    let text = String::from_utf8_lossy(&response).into_owned();
    assert!(
        !text.starts_with("HTTP/1.1 100"),
        "no 100 Continue expected:\n{text}"
    );
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: a JSON body:\n{text}"));
    (status, json)
}

/// The body once the response holding it is complete.
fn complete(response: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })?
        .parse()
        .ok()?;
    (body.len() >= length).then(|| body.to_string())
}

async fn still_serves(server: &MockServer) {
    let res = Client::new(server, "sk_test_after").create("k", "v").await;
    assert_eq!(res.status, 200, "the server still serves");
}

const FORM: &str = "name=k&payload=v&scope[type]=account";

fn post(extra_headers: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_h\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(extra_headers);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[tokio::test]
async fn a_non_ascii_header_is_refused_by_name_not_dropped() {
    let server = MockServer::start().await;
    for (header, name) in [
        (&b"Stripe-Account: acct_\xe9\r\n"[..], "Stripe-Account"),
        (&b"Idempotency-Key: k\xff\r\n"[..], "Idempotency-Key"),
        (
            &b"Stripe-Version: 2023-10-16\xc3\xa9\r\n"[..],
            "Stripe-Version",
        ),
    ] {
        let (status, body) = raw(&server, &post(header, FORM.as_bytes()), false).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(
            body["error"]["message"],
            format!("Invalid {name} header: its value must be visible ASCII characters.")
        );
    }
    // Nothing landed on the platform.
    assert!(server.export_state()["secrets"]
        .as_array()
        .unwrap()
        .is_empty());
    still_serves(&server).await;
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let server = MockServer::start().await;
    let huge = b"POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_h\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 99999999999\r\n\r\nname=k";
    let (status, body) = raw(&server, huge, false).await;
    assert_eq!(status, 413, "{body}");
    let expect =
        b"POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_h\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n\
                   Content-Length: 5000000\r\n\r\n";
    let (status, _) = raw(&server, expect, false).await;
    assert_eq!(status, 413);
    still_serves(&server).await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_is_a_400_saying_so() {
    let server = MockServer::start().await;
    let mut short = post(b"", FORM.as_bytes());
    short.truncate(short.len() - 10);
    let (status, body) = raw(&server, &short, true).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid request: the request body could not be read"),
        "{message}"
    );
    still_serves(&server).await;
}

#[tokio::test]
async fn a_malformed_chunk_is_a_400_not_a_413() {
    let server = MockServer::start().await;
    let chunked =
        b"POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_h\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\n\
                    Transfer-Encoding: chunked\r\n\r\nzz\r\nname=k\r\n0\r\n\r\n";
    let (status, body) = raw(&server, chunked, false).await;
    assert_eq!(status, 400, "{body}");
    still_serves(&server).await;
}

#[tokio::test]
async fn invalid_percent_encoding_is_a_400_naming_the_parameter() {
    let server = MockServer::start().await;
    let (status, body) = raw(
        &server,
        &post(b"", b"name=%zz&payload=v&scope[type]=account"),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "name");
    assert!(server.export_state()["secrets"]
        .as_array()
        .unwrap()
        .is_empty());
    still_serves(&server).await;
}

#[tokio::test]
async fn the_clock_refuses_instants_outside_1970_to_9999() {
    let server = MockServer::start().await;
    let control = Client::anonymous(&server);
    for form in [
        "now=9223372036854700000",
        "now=-1",
        "advance=9223372036854775807",
    ] {
        let res = control.post("/_mock/clock", form).await;
        assert_eq!(res.status, 400, "{form}: {}", res.text);
    }
    let res = control.post("/_mock/clock", "now=253402300800").await;
    assert_eq!(res.err("param"), "now");
    assert!(res.err("message").contains("253402300799"));
    assert_eq!(server.clock().now(), 1_700_000_000);
    // An idempotent POST and every later request still work.
    let keyed = Client::new(&server, "sk_test_h").header("idempotency-key", "k1");
    assert_eq!(keyed.create("k", "v").await.status, 200);
    assert_eq!(
        keyed.create("k", "v").await.must("idempotent-replayed"),
        "true"
    );
    assert_eq!(control.get("/_mock/health").await.status, 200);
}

/// A keep-alive connection that has had one health check answered 200.
async fn served_once(server: &MockServer) -> TcpStream {
    let mut conn = TcpStream::connect(server.address()).await.unwrap();
    conn.write_all(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    conn
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed_after_the_timeout() {
    let server = MockServer::builder()
        .header_read_timeout(Duration::from_millis(500))
        .start()
        .await;
    // Half a request head, then nothing: closed.
    let mut slow = TcpStream::connect(server.address()).await.unwrap();
    slow.write_all(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await);
    // One request served, then idle on keep-alive: closed too.
    let mut idle = served_once(&server).await;
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
    still_serves(&server).await;
}

#[tokio::test]
async fn a_connection_within_the_timeout_is_kept_alive() {
    let server = MockServer::builder()
        .header_read_timeout(Duration::from_secs(5))
        .start()
        .await;
    let mut conn = served_once(&server).await;
    assert!(!closed_within(&mut conn, Duration::from_millis(300)).await);
}

/// Sends raw bytes and returns the whole answer (up to the server closing).
async fn raw_answer(server: &MockServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.address()).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// Checks an answer hyper made itself now leaves as a Stripe JSON error.
fn assert_json_error(answer: &str, status: u16, starts: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{}",
        &answer[..answer.len().min(300)]
    );
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("request-id: req_"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(json["error"]["type"], "invalid_request_error");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(starts), "{message}");
}

#[tokio::test]
async fn what_hyper_refuses_before_the_mock_sees_it_still_gets_a_json_error() {
    let server = MockServer::start().await;
    let long = format!(
        "GET /v1/apps/secrets/find?name={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "x".repeat(70_000)
    );
    assert_json_error(
        &raw_answer(&server, long.as_bytes()).await,
        414,
        "Request URI too long",
    );

    // At most 100 headers (docs/limits.md): exactly 100 are served, one
    // more is a 431.
    let headers = |n: usize| {
        let mut head =
            String::from("GET /_mock/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for i in 2..n {
            head.push_str(&format!("X-Header-{i}: v\r\n"));
        }
        head + "\r\n"
    };
    let at_bound = raw_answer(&server, headers(100).as_bytes()).await;
    assert!(at_bound.starts_with("HTTP/1.1 200 "), "{at_bound}");
    assert_json_error(
        &raw_answer(&server, headers(101).as_bytes()).await,
        431,
        "Request header fields too large",
    );

    let nul = b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n";
    assert_json_error(
        &raw_answer(&server, nul).await,
        400,
        "Invalid request: it is not valid HTTP/1.1",
    );
    let twice = b"POST /v1/apps/secrets HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\
                  Content-Length: 5\r\n\r\nabc";
    assert_json_error(
        &raw_answer(&server, twice).await,
        400,
        "Invalid request: it is not valid HTTP/1.1",
    );
    still_serves(&server).await;
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_longest_gives_way_and_busy_ones_do_not() {
    let server = MockServer::builder().max_connections(2).start().await;
    // Two idle connections take both slots; a third is served within a
    // second or so, in place of the one idle longest, which is closed.
    let mut first = TcpStream::connect(server.address()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = TcpStream::connect(server.address()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let client = Client::new(&server, "sk_test_123");
    let listed = tokio::time::timeout(Duration::from_secs(5), client.list())
        .await
        .expect("served at the cap");
    assert_eq!(listed.status, 200);
    assert!(closed_within(&mut first, Duration::from_secs(5)).await);
    drop(second.write_all(b"x").await);

    // Two connections each in the middle of a request (a body still
    // arriving) are busy: a new one waits until one of them is done.
    let server = MockServer::builder().max_connections(2).start().await;
    let whole = post(b"Connection: close\r\n", FORM.as_bytes());
    let (head_and_some, rest) = whole.split_at(whole.len() - 5);
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(server.address()).await.unwrap();
        c.write_all(head_and_some).await.unwrap();
        busy.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = Client::new(&server, "sk_test_123");
    let waiting = tokio::spawn(async move { client.list().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a busy connection was closed to serve it"
    );
    // One request completes and its connection closes: the waiting one is
    // accepted and answered.
    let mut done = busy.remove(0);
    done.write_all(rest).await.unwrap();
    let mut answer = String::new();
    let _ = done.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answered = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(answered.status, 200);
}
