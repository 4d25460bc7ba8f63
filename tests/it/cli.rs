//! The standalone binary: flags, the first line, serving, graceful stop.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::Client;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-secrets-mock");

/// Starts the binary with `args`, reads its first line and returns the child
/// and the address it announced.
async fn spawn_mock(args: &[&str]) -> (tokio::process::Child, std::net::SocketAddr) {
    spawn_with_stderr(args, Stdio::inherit()).await
}

/// The same, with stderr where the caller says (a pipe it may never read).
async fn spawn_with_stderr(
    args: &[&str],
    stderr: Stdio,
) -> (tokio::process::Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let mut addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    (child, addr)
}

#[tokio::test]
async fn port_zero_prints_the_address_serves_and_stops_on_sigterm() {
    let (mut child, addr) =
        spawn_mock(&["--port", "0", "--seed", "5", "--now", "1800000000"]).await;
    assert_ne!(addr.port(), 0);

    let client = Client::at(addr, "sk_test_123");
    let res = client.create("k", "v").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["created"], 1_800_000_000);

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("stops within 10 s")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_journal_bounds_are_flags() {
    let (_child, addr) = spawn_mock(&["--port", "0", "--journal-entries", "2"]).await;
    let app = Client::at(addr, "sk_test_123");
    for name in ["a", "b", "c"] {
        app.create(name, "v").await;
    }
    let journal = app.get("/_mock/requests").await;
    let kept: Vec<&str> = journal.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["params"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["b", "c"], "{}", journal.body);
    let (_child, addr) = spawn_mock(&["--port", "0", "--journal-bytes", "0"]).await;
    let app = Client::at(addr, "sk_test_123");
    app.create("a", "v").await;
    let journal = app.get("/_mock/requests").await;
    assert_eq!(
        journal.body["data"],
        serde_json::json!([]),
        "{}",
        journal.body
    );
}

#[tokio::test]
async fn the_cli_and_the_library_give_the_same_bytes_for_the_same_seed() {
    let (_child, addr) = spawn_mock(&["--port", "0", "--seed", "11"]).await;
    let from_cli = Client::at(addr, "sk_test_123").create("k", "v").await;

    let server = stripe_secrets_mock::MockServer::builder()
        .seed(11)
        .start()
        .await;
    let from_lib = Client::new(&server, "sk_test_123").create("k", "v").await;
    assert_eq!(from_cli.transcript(), from_lib.transcript());
}

#[tokio::test]
async fn bad_flags_exit_non_zero_with_a_message() {
    let out = Command::new(BIN)
        .args(["--port", "not-a-port"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));
}

#[tokio::test]
async fn help_lists_every_flag() {
    let out = Command::new(BIN).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--seed",
        "--now",
        "--system-clock",
        "--max-secrets-per-scope",
        "--api-key",
        "--lenient",
        "--control-token",
        "--strict-version-check",
        "--app-manifest",
        "--journal-entries",
        "--journal-bytes",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[tokio::test]
async fn stripe_mock_flags_start_it_the_same_way() {
    let (_child, addr) = spawn_mock(&["-http-port", "0"]).await;
    assert_eq!(
        Client::at(addr, "sk_test_123")
            .create("k", "v")
            .await
            .status,
        200
    );

    let refused = Command::new(BIN)
        .args(["-https-port", "12112"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("plain HTTP"));
}

#[tokio::test]
async fn a_later_flag_overrides_an_earlier_one() {
    // What a container does: the image sets --host, `run` may append another.
    let (_child, addr) =
        spawn_mock(&["--host", "0.0.0.0", "--host", "127.0.0.1", "--port", "0"]).await;
    assert!(addr.ip().is_loopback());
}

/// Starts the binary with `args` and returns what it wrote to stderr once it
/// announced its address (then stops it).
async fn stderr_after_start(args: &[&str]) -> String {
    let (mut child, _) = spawn_with_stderr(args, Stdio::piped()).await;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn an_open_control_api_on_a_public_address_is_warned_about() {
    let warned = stderr_after_start(&["--host", "0.0.0.0", "--port", "0"]).await;
    assert!(
        warned.contains("warning: listening on 0.0.0.0:") && warned.contains("--control-token"),
        "{warned}"
    );
    let quiet =
        stderr_after_start(&["--host", "0.0.0.0", "--port", "0", "--control-token", "t0k"]).await;
    assert!(!quiet.contains("warning"), "{quiet}");
    let local = stderr_after_start(&["--port", "0"]).await;
    assert!(!local.contains("warning"), "{local}");
}

#[tokio::test]
async fn a_harness_that_never_reads_stderr_cannot_wedge_the_mock() {
    // stderr is a pipe nobody reads, as with subprocess.Popen(stderr=PIPE).
    let (_child, addr) =
        spawn_with_stderr(&["--port", "0", "--host", "0.0.0.0"], Stdio::piped()).await;
    let client = Client::at(addr, "sk_test_123");
    let long = format!("/v1/{}", "x".repeat(45_000));
    for _ in 0..3 {
        let res = client.get(&long).await;
        // A 404 whose message abbreviates the path, not a 500 from a
        // message over the spec's 40,000 characters.
        assert_eq!(res.status, 404, "{}", &res.text[..200.min(res.text.len())]);
        assert!(res.text.len() < 2_000);
    }
    let health = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        Client::anonymous_at(addr).get("/_mock/health"),
    )
    .await
    .expect("health answers");
    assert_eq!(health.status, 200);
}
