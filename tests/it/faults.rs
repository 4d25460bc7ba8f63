//! Injected faults: statuses, delays, closed connections, before or after
//! the request runs; through the library and /_mock/faults.

use std::time::{Duration, Instant};

use stripe_secrets_mock::{Fault, MockServer};

use crate::support::{snap, start, Client};

#[tokio::test]
async fn a_status_fault_answers_a_stripe_error_then_runs_out() {
    let (server, client) = start().await;
    server.inject_fault(Fault::status(503).times(2));
    for _ in 0..2 {
        let res = client.create("k", "v").await;
        assert_eq!(res.status, 503);
        assert_eq!(res.err("type"), "api_error");
        assert_eq!(res.header("stripe-should-retry"), None);
    }
    assert_eq!(client.create("k", "v").await.status, 200);
    // Failed before execution: the two faulted creates stored nothing, so
    // the third one is the first secret.
    let journal = server.received_requests();
    assert_eq!(journal[0].fault.as_deref(), Some("status 503"));
    assert_eq!(journal[0].status, Some(503));
    assert_eq!(journal[2].fault, None);
}

#[tokio::test]
async fn rate_limits_carry_stripes_code_and_the_retry_header() {
    let (server, client) = start().await;
    server.inject_fault(Fault::status(429).should_retry(false));
    let res = client.list().await;
    assert_eq!(res.status, 429);
    assert_eq!(res.err("code"), "rate_limit");
    assert_eq!(res.header("stripe-should-retry"), Some("false"));
    snap!("fault_rate_limit", res);
}

#[tokio::test]
async fn faults_can_target_one_operation_and_one_app() {
    let (server, client) = start().await;
    let other = Client::new(&server, "sk_test_other");
    server.inject_fault(
        Fault::status(500)
            .operation("getAppsSecretsFind")
            .app("sk_test_123"),
    );
    assert_eq!(client.create("k", "v").await.status, 200);
    let find = "/v1/apps/secrets/find?name=k&scope[type]=account";
    assert_eq!(other.get(find).await.status, 404);
    assert_eq!(client.get(find).await.status, 500);
    assert_eq!(client.get(find).await.status, 200);
}

#[tokio::test]
async fn a_fault_after_execution_keeps_the_effect_and_the_idempotent_result() {
    let (server, client) = start().await;
    server.inject_fault(Fault::status(500).after_execution().should_retry(true));
    let keyed = client.clone().header("idempotency-key", "lost-response");
    let failed = keyed
        .post("/v1/apps/secrets", "name=k&payload=v&scope[type]=account")
        .await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("stripe-should-retry"), Some("true"));
    // The secret exists, and the retry replays the original success.
    let retry = keyed
        .post("/v1/apps/secrets", "name=k&payload=v&scope[type]=account")
        .await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let list = client.list().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["data"][0]["id"], retry.body["id"]);
    let journal = server.received_requests();
    assert_eq!(
        journal[0].fault.as_deref(),
        Some("status 500 after execution")
    );
    assert_eq!(journal[0].object_id, None);
}

#[tokio::test]
async fn a_delay_fault_slows_the_answer_down() {
    let (server, client) = start().await;
    server.inject_fault(Fault::delay(300));
    let started = Instant::now();
    let res = client.create("k", "v").await;
    assert_eq!(res.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_close_fault_drops_the_connection_unanswered() {
    let (server, client) = start().await;
    server.inject_fault(Fault::close());
    let outcome = client
        .try_send("GET", "/v1/apps/secrets?scope[type]=account")
        .await;
    assert!(
        outcome.is_err(),
        "expected a dropped connection, got {outcome:?}"
    );
    assert_eq!(client.list().await.status, 200);
    let journal = server.received_requests();
    assert_eq!(journal[0].status, None);
    assert_eq!(journal[0].fault.as_deref(), Some("close"));
}

#[tokio::test]
async fn a_close_after_execution_still_stores_the_secret() {
    let (server, client) = start().await;
    server.inject_fault(Fault::close().after_execution());
    assert!(client
        .try_send_form("/v1/apps/secrets", "name=k&payload=v&scope[type]=account")
        .await
        .is_err());
    let found = client.find("k").await;
    assert_eq!(found.status, 200);
}

#[tokio::test]
async fn faults_are_added_listed_and_cleared_through_the_control_api() {
    let (server, client) = start().await;
    let control = Client::anonymous(&server);
    let added = control
        .post(
            "/_mock/faults",
            "status=503&count=2&operation=postAppsSecrets&app=sk_test_123&should_retry=true",
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    snap!("control_fault_added", added);
    let listed = control.get("/_mock/faults").await;
    assert_eq!(listed.body["data"][0]["remaining"], 2);
    let res = client.create("k", "v").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("stripe-should-retry"), Some("true"));
    assert_eq!(
        control.get("/_mock/faults").await.body["data"][0]["remaining"],
        1
    );
    control.post("/_mock/reset", "app=sk_test_123").await;
    assert_eq!(
        control.get("/_mock/faults").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(client.create("k", "v").await.status, 200);
}

#[tokio::test]
async fn bad_faults_are_refused_by_the_control_api() {
    let (_server, _) = start().await;
    let server = MockServer::start().await;
    let control = Client::anonymous(&server);
    let ok_status = control.post("/_mock/faults", "status=200").await;
    assert_eq!(ok_status.status, 400);
    assert_eq!(ok_status.err("param"), "status");
    let both = control.post("/_mock/faults", "status=500&close=true").await;
    assert_eq!(both.status, 400);
    let nothing = control.post("/_mock/faults", "").await;
    assert_eq!(nothing.status, 400);
    assert!(nothing
        .err("message")
        .contains("needs a status, close, or a delay"));
    let zero = control.post("/_mock/faults", "status=500&count=0").await;
    assert_eq!(zero.err("param"), "count");
}

#[tokio::test]
async fn the_same_faults_and_requests_give_the_same_bytes() {
    async fn run() -> Vec<String> {
        let server = MockServer::builder().seed(5).start().await;
        server.inject_fault(Fault::status(429));
        server.inject_fault(
            Fault::status(500)
                .after_execution()
                .operation("postAppsSecrets"),
        );
        let client = Client::new(&server, "sk_test_123");
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(client.create("k", "v").await.transcript());
        }
        out
    }
    let first = run().await;
    // The faults shaped the answers: without them all three would be 200s.
    let statuses: Vec<&str> = first.iter().map(|t| &t[..11]).collect();
    assert_eq!(statuses, ["status: 429", "status: 500", "status: 200"]);
    assert_eq!(first, run().await);
}

#[tokio::test]
async fn at_most_1000_faults_wait_at_once() {
    let (server, _) = start().await;
    for _ in 0..1_000 {
        server.inject_fault(Fault::status(500).operation("getAppsSecrets"));
    }
    let control = Client::anonymous(&server);
    let res = control.post("/_mock/faults", "status=500").await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid fault: the mock holds at most 1000 pending faults; reset or spend some first."
    );
    // The control spec bounds the fields a fault keeps.
    let long = control
        .post(
            "/_mock/faults",
            &format!("status=500&app={}", "k".repeat(256)),
        )
        .await;
    assert_eq!(long.status, 400);
    // One spent, one room.
    let c = Client::new(&server, "sk_test_1");
    assert_eq!(c.list().await.status, 500);
    assert_eq!(
        control.post("/_mock/faults", "status=503").await.status,
        200
    );
}
