//! The inspector page (`GET /_mock/ui`) in a real browser: headless
//! Chromium opens it after a few requests, and the DOM shows each with its
//! status, the selected one's answer, coverage's unreached outcomes, and a
//! refusal without the control token.

use stripe_secrets_mock::{Fault, MockServer};

use crate::browser::{chromium, headless};
use crate::support::Client;

/// The page at `fragment`, as the browser has rendered it.
async fn dom(server: &MockServer, fragment: &str) -> Option<String> {
    let chromium = chromium()?;
    let url = format!("{}/_mock/ui#{fragment}", server.url());
    let output = headless(chromium, &url, &[]).await;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_shows_requests_their_answers_coverage_and_needs_the_token() {
    let server = MockServer::builder()
        .control_token("inspect-me")
        .start()
        .await;
    let c = Client::new(&server, "sk_test_inspector");
    let set = c.create("api_key", "s3cr3t").await;
    assert_eq!(set.status, 200);
    assert_eq!(c.find("api_key").await.status, 200);
    assert_eq!(c.find("missing").await.status, 404);
    server.inject_fault(Fault::status(503));
    assert_eq!(c.list().await.status, 503);
    let set_id = set.must("request-id").to_string();

    let Some(page) = dom(&server, &format!("token=inspect-me&select={set_id}")).await else {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        return;
    };
    // Every request, newest first, with its status.
    let rows: Vec<&str> = page.split("data-request-id=\"").skip(1).collect();
    assert_eq!(rows.len(), 4, "{page}");
    let status = |row: &str| {
        let cell = row.split("class=\"status").nth(1).unwrap_or_default();
        cell.split('>')
            .nth(1)
            .unwrap_or_default()
            .split('<')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let statuses: Vec<String> = rows.iter().map(|r| status(r)).collect();
    assert_eq!(statuses, ["503", "404", "200", "200"], "{page}");
    assert!(
        rows[0].contains("tag fault"),
        "the injected fault is marked: {}",
        rows[0]
    );
    // The selected one shows the request as sent and its answer.
    let detail = page
        .split("id=\"detail-response\"")
        .nth(1)
        .expect("the selected answer");
    assert!(detail.contains("\"object\": \"apps.secret\""), "{detail}");
    assert!(
        detail.contains(&format!("request-id: {set_id}")),
        "{detail}"
    );
    let request = page.split("id=\"detail-request\"").nth(1).unwrap();
    assert!(request.contains("\"name\": \"api_key\""), "{request}");
    assert!(
        request.contains("Bearer sk_test_*****ctor"),
        "keys are masked: {request}"
    );

    // Coverage marks what was never reached.
    let coverage = dom(&server, "token=inspect-me&tab=coverage").await.unwrap();
    assert!(
        coverage.contains("class=\"never\" data-outcome=\"400 scope_full\""),
        "{coverage}"
    );
    assert!(
        coverage.contains("class=\"hit\" data-outcome=\"404 secret_not_found\""),
        "{coverage}"
    );

    // The picture in the README comes from this run (copied from here).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspector.png");
    let url = format!("{}/_mock/ui#token=inspect-me&select={set_id}", server.url());
    let arg = format!("--screenshot={}", shot.display());
    headless(chromium().unwrap(), &url, &[&arg, "--window-size=1360,640"]).await;
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "a screenshot at {shot:?}"
    );

    // Without the token the page says what it needs, and shows no data.
    let refused = dom(&server, "").await.unwrap();
    assert!(refused.contains("need its control token"), "{refused}");
    assert!(!refused.contains("data-request-id=\""), "{refused}");
}

#[tokio::test]
async fn the_page_is_html_and_its_data_calls_need_the_token() {
    let server = MockServer::builder().control_token("t").start().await;
    let page = Client::anonymous(&server).get("/_mock/ui").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text.starts_with("<!doctype html>"));
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no external assets"
    );
    assert!(page.text.len() < 64 * 1024, "{} bytes", page.text.len());
    let data = Client::anonymous(&server).get("/_mock/requests").await;
    assert_eq!(data.status, 401);
}
