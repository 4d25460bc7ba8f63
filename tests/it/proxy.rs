//! The recording proxy (docs/behaviour.md §10): forwards to an upstream,
//! records a transcript file that verify replays, reports answers that break
//! the spec. The upstreams are local: a mock, a fake that breaks the spec,
//! a mock behind TLS.

use std::net::SocketAddr;
use std::path::PathBuf;

use stripe_secrets_mock::contract::{
    verify, ContractError, Proxy, ProxyOptions, Transcript, VerifyOptions,
};
use stripe_secrets_mock::MockServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{temp_file, tls_front, Client, BIN};
use crate::transcript::scripted_session_at;

/// A proxy served in this process until the sender is dropped or fired.
async fn in_process(
    options: ProxyOptions,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<Result<Transcript, ContractError>>,
) {
    let proxy = Proxy::new(options).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(proxy.serve(listener, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// `stripe-secrets-mock proxy` to `upstream`, recording to `file`, with
/// stdout and stderr piped: the child and the address it listens on.
async fn cli_proxy(upstream: &str, file: &std::path::Path) -> (tokio::process::Child, SocketAddr) {
    let mut child = tokio::process::Command::new(BIN)
        .args(["proxy", "--upstream", upstream, "--port", "0", "--record"])
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// What most tests proxy with: no extra CA, payloads redacted.
fn options(upstream: impl Into<String>, record: PathBuf) -> ProxyOptions {
    ProxyOptions {
        upstream: upstream.into(),
        record,
        ca_cert: None,
        keep_payloads: false,
    }
}

fn record_file(name: &str) -> PathBuf {
    temp_file("proxy", name, "")
}

#[tokio::test]
async fn a_session_recorded_through_the_cli_proxy_verifies_against_a_fresh_mock() {
    let upstream = MockServer::start().await;
    let file = record_file("session.json");
    let (mut child, addr) = cli_proxy(&upstream.url(), &file).await;
    let answers = scripted_session_at(addr).await;

    // SIGTERM: the file is complete, valid JSON afterwards.
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("recorded 10 interactions (0 broke the spec, 0 dropped)"),
        "{stderr}"
    );

    let t = Transcript::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(t.interactions.len(), 10);
    assert_eq!(t.violations, 0);
    // What the client got is what was recorded, and what the upstream said,
    // but for payloads: redacted by default.
    let mut direct = upstream.transcript();
    direct.redact_payloads();
    for ((rec, resp), up) in t
        .interactions
        .iter()
        .zip(&answers)
        .zip(&direct.interactions)
    {
        let r = rec.response.as_ref().unwrap();
        assert_eq!(r.status, resp.status);
        let mut got = Transcript::new("x");
        got.interactions
            .push(stripe_secrets_mock::contract::Interaction {
                operation: None,
                request: rec.request.clone(),
                response: Some(stripe_secrets_mock::contract::TranscriptResponse {
                    body: resp.body.clone(),
                    ..r.clone()
                }),
                fault: None,
                violations: Vec::new(),
            });
        got.redact_payloads();
        assert_eq!(r.body, got.interactions[0].response.as_ref().unwrap().body);
        assert_eq!(Some(r), up.response.as_ref());
        assert_eq!(rec.request.params, up.request.params);
    }
    // Keys are masked in the file (all but the last 4 characters).
    let auth = &t.interactions[9].request.headers["authorization"];
    assert_eq!(auth, "Bearer sk_test_***-key");

    let fresh = MockServer::builder().seed(3).start().await;
    let report = verify(&t, &VerifyOptions::new(fresh.url())).await.unwrap();
    assert!(report.passed(), "{report}");
}

/// An upstream that answers every request with `200` and `body`, and
/// closes the connection.
async fn fake_upstream(body: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_fake\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn answers_that_break_the_spec_are_passed_on_reported_and_counted() {
    let upstream = fake_upstream(r#"{"id": 5, "object": "apps.secret"}"#).await;
    let file = record_file("broken.json");
    let (addr, stop, task) = in_process(options(format!("http://{upstream}"), file.clone())).await;
    let c = Client::at(addr, "sk_test_123");
    let found = c.find("a").await;
    // Passed on unchanged: the proxy reports, it does not correct.
    assert_eq!(found.status, 200);
    assert_eq!(found.body["id"], 5);
    let unknown = c.get("/v1/unknown").await;
    assert_eq!(unknown.status, 200);
    stop.send(()).unwrap();
    let t = task.await.unwrap().unwrap();
    assert_eq!(
        t,
        Transcript::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap()
    );
    assert_eq!(t.violations, 2);
    let find = &t.interactions[0];
    assert_eq!(find.operation.as_deref(), Some("getAppsSecretsFind"));
    assert!(
        find.violations[0].contains("\"created\" is a required property"),
        "{:?}",
        find.violations
    );
    // An unknown route's answer is checked against the error schema.
    assert_eq!(t.interactions[1].operation, None);
    assert_eq!(t.interactions[1].violations.len(), 1);
}

#[tokio::test]
async fn an_https_upstream_is_trusted_through_ca_cert_and_refused_without() {
    let upstream = MockServer::start().await;
    let front = tls_front(upstream.address()).await;
    let url = format!("https://localhost:{}", front.port());
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem");
    let (addr, stop, task) = in_process(ProxyOptions {
        upstream: url.clone(),
        record: record_file("tls.json"),
        ca_cert: Some(ca),
        keep_payloads: false,
    })
    .await;
    let c = Client::at(addr, "sk_test_123");
    assert_eq!(c.create("k", "v").await.status, 200);
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap().unwrap().interactions.len(), 1);

    let (addr, _stop, _task) = in_process(options(url, record_file("untrusted.json"))).await;
    let refused = Client::at(addr, "sk_test_123").create("k", "v").await;
    assert_eq!(refused.status, 502);
    assert_eq!(refused.err("type"), "api_error");
    // The proxy's own answer has the headers every answer of the mock has.
    assert!(refused.must("request-id").starts_with("req_proxy"));
    assert_eq!(refused.header("stripe-version"), Some("2023-10-16"));
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("*"),
        "{:?}",
        refused.headers
    );
    assert!(
        refused.err("message").contains("certificate"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_record_file_that_cannot_be_written_is_refused_at_start() {
    let e = Proxy::new(options(
        "http://127.0.0.1:9",
        PathBuf::from("/nonexistent-dir/x.json"),
    ))
    .err()
    .unwrap();
    assert!(matches!(e, ContractError::Record { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cannot write /nonexistent-dir/x.json: "),
        "{e}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_recorded_as_text_and_reported() {
    let upstream = fake_upstream("<html>maintenance</html>").await;
    let (addr, stop, task) = in_process(options(
        format!("http://{upstream}"),
        record_file("html.json"),
    ))
    .await;
    // The test client wants JSON; read this answer raw.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /v1/apps/secrets HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.ends_with("\r\n\r\n<html>maintenance</html>"), "{raw}");
    stop.send(()).unwrap();
    let t = task.await.unwrap().unwrap();
    let i = &t.interactions[0];
    assert_eq!(
        i.response.as_ref().unwrap().body,
        "<html>maintenance</html>"
    );
    assert_eq!(i.violations, ["the body is not JSON"]);
}

#[tokio::test]
async fn an_exchange_in_flight_at_shutdown_is_finished_and_recorded() {
    let upstream = MockServer::start().await;
    // The upstream takes a second to answer; the proxy is told to stop
    // while the exchange is under way.
    upstream.inject_fault(stripe_secrets_mock::Fault::delay(1_000));
    let (addr, stop, task) = in_process(options(upstream.url(), record_file("drain.json"))).await;
    let c = Client::at(addr, "sk_test_123");
    let pending = tokio::spawn(async move { c.create("k", "v").await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    assert_eq!(pending.await.unwrap().status, 200);
    let t = task.await.unwrap().unwrap();
    assert_eq!(t.interactions.len(), 1);
    assert_eq!(t.interactions[0].response.as_ref().unwrap().status, 200);
}

#[tokio::test]
async fn a_recording_redacts_every_payload_unless_asked_and_still_verifies() {
    let upstream = MockServer::start().await;
    for keep_payloads in [false, true] {
        let file = record_file(&format!("payloads-{keep_payloads}.json"));
        let (addr, stop, task) = in_process(ProxyOptions {
            upstream: upstream.url(),
            record: file.clone(),
            ca_cert: None,
            keep_payloads,
        })
        .await;
        let c = Client::at(addr, "sk_test_123");
        assert_eq!(c.create("k", "s3cr3t-value").await.status, 200);
        let found = c
            .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload")
            .await;
        assert_eq!(found.body["payload"], "s3cr3t-value", "the client gets it");
        stop.send(()).unwrap();
        let t = task.await.unwrap().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.contains("s3cr3t-value"), keep_payloads, "{text}");
        if !keep_payloads {
            assert_eq!(text.matches("\"[redacted]\"").count(), 2, "{text}");
        }
        let fresh = MockServer::start().await;
        let report = verify(&t, &VerifyOptions::new(fresh.url())).await.unwrap();
        assert!(report.passed(), "{report}");
    }
}

#[tokio::test]
async fn the_record_file_is_bounded_by_the_bytes_it_writes() {
    // One answer of under 1 MiB that pretty-printing makes ~100 times
    // larger: arrays nested 100 deep around 400,000 numbers.
    let body: &'static str = Box::leak(
        format!(
            "{}{}{}",
            "[".repeat(100),
            vec!["0"; 400_000].join(","),
            "]".repeat(100)
        )
        .into_boxed_str(),
    );
    assert!(body.len() < 1 << 20);
    let upstream = fake_upstream(body).await;
    let file = record_file("amplified.json");
    let (addr, stop, task) = in_process(options(format!("http://{upstream}"), file.clone())).await;
    let c = Client::at(addr, "sk_test_123");
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET /v1/apps/secrets HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).await.unwrap();
    assert!(answer.ends_with(body.as_bytes()), "passed on whole");
    // The file stays complete JSON within its bound (nothing of the
    // exchange was written); the exchange is counted as dropped, and the
    // proxy goes on forwarding.
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 4_096, "{size} bytes");
    let dropped = Transcript::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(dropped.dropped, 1);
    assert_eq!(c.get("/v1/unknown").await.status, 200);
    stop.send(()).unwrap();
    let t = task.await.unwrap().unwrap();
    assert_eq!(t.dropped, 2);
    assert!(t.interactions.is_empty());
    assert!(std::fs::metadata(&file).unwrap().len() <= 64 << 20);
}

#[tokio::test]
async fn a_request_line_that_names_a_host_is_refused_not_forwarded() {
    let upstream = MockServer::start().await;
    let (addr, stop, task) =
        in_process(options(upstream.url(), record_file("absolute.json"))).await;
    for line in [
        "GET http://127.0.0.2:9/v1/apps/secrets HTTP/1.1",
        "OPTIONS * HTTP/1.1",
    ] {
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(format!("{line}\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{line}: {answer}");
        assert!(
            answer.contains("only requests for an absolute path"),
            "{answer}"
        );
    }
    stop.send(()).unwrap();
    assert!(task.await.unwrap().unwrap().interactions.is_empty());
    assert!(
        upstream.received_requests().is_empty(),
        "nothing was forwarded"
    );
}

#[tokio::test]
async fn a_proxy_whose_stderr_is_never_read_still_stops_on_sigterm() {
    // Every answer breaks the spec with a long value: a violation line each.
    let long: &'static str = Box::leak(
        format!(
            r#"{{"id": ["{}"], "object": "apps.secret"}}"#,
            "x".repeat(20_000)
        )
        .into_boxed_str(),
    );
    let upstream = fake_upstream(long).await;
    let file = record_file("unread-stderr.json");
    // Its stderr is a pipe nobody reads: it fills after 64 KiB.
    let (mut child, addr) = cli_proxy(&format!("http://{upstream}"), &file).await;
    let c = Client::at(addr, "sk_test_123");
    for _ in 0..200 {
        let res = c.find("a").await;
        assert_eq!(res.status, 200);
    }
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait())
        .await
        .expect("the proxy exits after SIGTERM with its stderr unread")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .await
        .unwrap();
    // Every line it wrote was cut.
    let text = String::from_utf8_lossy(&stderr);
    assert!(
        text.lines().all(|l| l.chars().count() <= 1_003),
        "a line was not cut"
    );
}
