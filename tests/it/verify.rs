//! Verify: a transcript replayed against another server (docs/behaviour.md
//! §9), through the library and the CLI, over HTTP and HTTPS.

use stripe_secrets_mock::contract::{verify, Outcome, Transcript, VerifyOptions, VerifyReport};
use stripe_secrets_mock::MockServer;

use crate::support::{pin_text, temp_file, tls_front, Client, BIN};
use crate::transcript::scripted_session;

/// A transcript of the scripted session, recorded against a fresh mock.
async fn recorded() -> Transcript {
    let server = MockServer::start().await;
    scripted_session(&server).await;
    server.transcript()
}

/// Runs `stripe-secrets-mock verify FILE --target TARGET EXTRA...`: the
/// exit code, stdout and stderr.
async fn cli(
    file: &std::path::Path,
    target: &str,
    extra: &[&std::ffi::OsStr],
) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .arg("verify")
        .arg(file)
        .args(["--target", target])
        .args(extra)
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The report as text, with the target's random port hidden.
fn shown(report: &VerifyReport, target: &MockServer) -> String {
    report.to_string().replace(&target.url(), "http://TARGET")
}

#[tokio::test]
async fn a_recording_passes_against_a_fresh_mock_even_with_other_ids() {
    let t = recorded().await;
    // Another seed: every id the target assigns differs from the recording,
    // so starting_after, the deleted secret and Original-Request only pass
    // through the id mapping.
    let target = MockServer::builder().seed(99).start().await;
    let report = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.steps.iter().all(|s| s.outcome == Outcome::Passed));
    let ids_differ = target.transcript().interactions[0]
        .response
        .as_ref()
        .unwrap()
        .body["id"]
        != t.interactions[0].response.as_ref().unwrap().body["id"];
    assert!(ids_differ);
    pin_text("verify_passes", &shown(&report, &target));
}

#[tokio::test]
async fn other_rules_fail_with_a_readable_diff() {
    let t = recorded().await;
    let target = MockServer::builder().max_secrets_per_scope(1).start().await;
    let report = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    assert!(!report.passed());
    pin_text("verify_fails_against_other_rules", &shown(&report, &target));
}

#[tokio::test]
async fn a_tampered_transcript_fails_where_it_was_changed() {
    let mut t = recorded().await;
    // The second page answered `a`; claim it answered `z`, with a created
    // that is a string, and drop the list's url.
    let page = &mut t.interactions[5].response.as_mut().unwrap().body;
    page["data"][0]["name"] = "z".into();
    page["data"][0]["created"] = "yesterday".into();
    page.as_object_mut().unwrap().remove("url");
    // And claim the find missed with another status.
    t.interactions[8].response.as_mut().unwrap().status = 400;
    let target = MockServer::start().await;
    let report = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    let failed: Vec<usize> = report
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.outcome, Outcome::Failed(_)))
        .map(|(n, _)| n + 1)
        .collect();
    assert_eq!(failed, [6, 9]);
    pin_text(
        "verify_fails_against_a_tampered_transcript",
        &shown(&report, &target),
    );
}

#[tokio::test]
async fn a_name_reused_after_a_delete_maps_to_its_new_id() {
    let server = MockServer::start().await;
    let c = Client::new(&server, "sk_test_123");
    c.create("k", "1").await;
    c.delete("k").await;
    let second = c.create("k", "2").await;
    let list = c.list().await;
    assert_eq!(list.body["data"][0]["id"], second.body["id"]);
    let t = server.transcript();
    let target = MockServer::builder().seed(5).start().await;
    let report = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    assert!(report.passed(), "{report}");
}

#[tokio::test]
async fn the_cli_prints_a_line_per_step_and_exits_by_the_result() {
    let t = recorded().await;
    let file = temp_file("verify", "session.json", &t.to_json().to_string());
    let good = MockServer::start().await;
    let (code, stdout, _) = cli(&file, &good.url(), &[]).await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.lines().count(), 11);
    assert!(stdout.starts_with("step 1/10 POST /v1/apps/secrets (postAppsSecrets): passed\n"));

    let strict = MockServer::builder().max_secrets_per_scope(1).start().await;
    let (code, stdout, _) = cli(&file, &strict.url(), &[]).await;
    assert_eq!(code, 1);
    assert!(stdout.contains(": FAILED\n"));

    let not_a_transcript = temp_file("verify", "other.json", "{\"object\": \"list\"}");
    let (code, _, stderr) = cli(&not_a_transcript, &good.url(), &[]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("other.json: not a usable transcript: object is \"list\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_cli_verifies_an_https_target_with_ca_cert_and_refuses_a_bad_one() {
    let t = recorded().await;
    let file = temp_file("verify-tls", "session.json", &t.to_json().to_string());
    let target = MockServer::start().await;
    let front = tls_front(target.address()).await;
    let url = format!("https://localhost:{}", front.port());
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem");
    let flag = std::ffi::OsStr::new("--ca-cert");
    let (code, stdout, _) = cli(&file, &url, &[flag, ca.as_os_str()]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with(&format!(
        "10 passed, 0 failed, 0 skipped of 10 against {url}\n"
    )));

    // A file that holds no certificate is refused before anything is sent.
    let not_pem = temp_file("verify-tls", "not.pem", "hello");
    let (code, _, stderr) = cli(&file, &url, &[flag, not_pem.as_os_str()]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not.pem: no PEM certificate in it"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_api_key_option_replaces_the_recorded_key() {
    let t = recorded().await;
    // A target that accepts only another key: the recording's sk_test_123
    // would get 401s.
    let target = MockServer::builder().api_key("sk_test_mine").start().await;
    let as_recorded = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    assert!(!as_recorded.passed());
    let options = VerifyOptions {
        api_key: Some("sk_test_mine".into()),
        ..VerifyOptions::new(target.url())
    };
    let report = verify(&t, &options).await.unwrap();
    // The last interaction sent a malformed key on purpose: still sent as
    // recorded, still a 401.
    assert!(report.passed(), "{report}");
    let apps: Vec<_> = target
        .received_requests()
        .iter()
        .rev()
        .take(10)
        .map(|r| r.app.clone())
        .collect();
    assert_eq!(
        apps.iter()
            .filter(|a| a.as_deref() == Some("sk_test_mine"))
            .count(),
        9
    );
}

#[tokio::test]
async fn https_targets_are_verified_with_a_trusted_ca_and_refused_without() {
    let t = recorded().await;
    let target = MockServer::start().await;
    let front = tls_front(target.address()).await;
    let url = format!("https://localhost:{}", front.port());
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem");
    let options = VerifyOptions {
        ca_cert: Some(ca),
        ..VerifyOptions::new(&url)
    };
    let report = verify(&t, &options).await.unwrap();
    assert!(report.passed(), "{report}");

    let untrusted = verify(&t, &VerifyOptions::new(&url)).await.unwrap();
    let Outcome::Failed(why) = &untrusted.steps[0].outcome else {
        panic!("{untrusted}");
    };
    assert!(why[0].contains("could not reach the target"), "{why:?}");
    assert!(why[0].to_lowercase().contains("certificate"), "{why:?}");
    // The steps after an unreachable one are not run.
    assert!(matches!(untrusted.steps[1].outcome, Outcome::Skipped(_)));
}

#[tokio::test]
async fn interactions_shaped_by_an_injected_fault_are_skipped() {
    let server = MockServer::start().await;
    let c = Client::new(&server, "sk_test_123");
    server.inject_fault(stripe_secrets_mock::Fault::status(503));
    assert_eq!(c.create("k", "v").await.status, 503);
    assert_eq!(c.create("k", "v").await.status, 200);
    let t = server.transcript();
    let target = MockServer::start().await;
    let report = verify(&t, &VerifyOptions::new(target.url())).await.unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Skipped("recorded with an injected fault: status 503".into())
    );
    assert_eq!(report.steps[1].outcome, Outcome::Passed);
    let summary = format!(
        "verify: 1 passed, 0 failed, 1 skipped of 2 against {}",
        target.url()
    );
    assert!(report.to_string().ends_with(&summary), "{report}");
}

#[tokio::test]
async fn a_transcript_path_that_would_leave_the_target_is_refused_before_a_byte_is_sent() {
    // Someone shares a transcript whose path names their host after `@`:
    // pasted after the base URL it would send the user's key there.
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_addr = evil.local_addr().unwrap();
    let visited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = visited.clone();
    tokio::spawn(async move {
        while let Ok(_conn) = evil.accept().await {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let target = MockServer::start().await;
    let mut t = recorded().await;
    for path in [
        format!("@{evil_addr}/v1/apps/secrets"),
        "v1/apps/secrets".to_string(),
        "/v1/apps/secrets#x".to_string(),
    ] {
        t.interactions[3].request.path = path.clone();
        let e = verify(&t, &VerifyOptions::new(target.url()))
            .await
            .err()
            .unwrap_or_else(|| panic!("{path}: verified"));
        assert!(
            matches!(
                e,
                stripe_secrets_mock::contract::ContractError::Transcript(_)
            ),
            "{e}"
        );
        assert!(e.to_string().contains("interaction 3: "), "{e}");
        let file = temp_file("verify", "hostile-path.json", &t.to_json().to_string());
        let key = std::ffi::OsStr::new("sk_test_realkey1234");
        let (code, stdout, stderr) = cli(&file, &target.url(), &["--api-key".as_ref(), key]).await;
        assert_eq!(code, 2, "{path}: {stdout}{stderr}");
        assert!(stderr.contains("it is not replayed"), "{stderr}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !visited.load(std::sync::atomic::Ordering::SeqCst),
        "a request left the target"
    );
    assert!(
        target.received_requests().is_empty(),
        "nothing was sent at all"
    );
}
