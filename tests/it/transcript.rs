//! Transcripts: the journal as a replayable document, in the library and
//! through GET /_mock/transcript (docs/behaviour.md §9).

use serde_json::Value;
use stripe_secrets_mock::contract::Transcript;
use stripe_secrets_mock::MockServer;

use crate::support::{pin_text, Client, Resp};

/// A scripted session: create two secrets (one with an idempotency key, sent
/// twice), page through them, find one, delete it, miss it, and a request
/// with a bad key.
pub async fn scripted_session(server: &MockServer) -> Vec<Resp> {
    scripted_session_at(server.address()).await
}

/// [`scripted_session`] against any address (a proxy in front of a mock).
pub async fn scripted_session_at(addr: std::net::SocketAddr) -> Vec<Resp> {
    let c = Client::at(addr, "sk_test_123");
    let keyed = c.clone().header("Idempotency-Key", "create-a");
    let mut out = vec![
        keyed
            .post("/v1/apps/secrets", "name=a&payload=one&scope[type]=account")
            .await,
        keyed
            .post("/v1/apps/secrets", "name=a&payload=one&scope[type]=account")
            .await,
        c.post(
            "/v1/apps/secrets",
            "name=b&payload=two&scope[type]=user&scope[user]=usr_1&expires_at=1700003600",
        )
        .await,
        c.create("c", "three").await,
        c.get("/v1/apps/secrets?scope[type]=account&limit=1").await,
    ];
    let first = out[4].body["data"][0]["id"].as_str().unwrap().to_string();
    out.push(
        c.get(&format!(
            "/v1/apps/secrets?scope[type]=account&limit=1&starting_after={first}"
        ))
        .await,
    );
    out.push(
        c.get("/v1/apps/secrets/find?name=b&scope[type]=user&scope[user]=usr_1&expand[]=payload")
            .await,
    );
    out.push(c.delete("a").await);
    out.push(c.find("a").await);
    out.push(Client::at(addr, "sk_test_bad-key").list().await);
    out
}

fn pin_json(name: &str, value: &impl serde::Serialize) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[tokio::test]
async fn a_scripted_session_is_pinned_as_json_and_as_text_without_redactions() {
    let server = MockServer::start().await;
    let answers = scripted_session(&server).await;
    let t = server.transcript();
    assert_eq!(t.interactions.len(), answers.len());
    // Each interaction holds what the client received, byte for byte.
    for (i, resp) in t.interactions.iter().zip(&answers) {
        let r = i.response.as_ref().unwrap();
        assert_eq!(r.status, resp.status);
        assert_eq!(r.body, resp.body);
        assert_eq!(r.headers["request-id"], resp.must("request-id"));
    }
    // Payloads are kept: replay needs them.
    assert_eq!(
        t.interactions[0].request.params.as_ref().unwrap()["payload"],
        "one"
    );
    pin_json("transcript_scripted_session_json", &t);
    pin_text("transcript_scripted_session_text", &t.to_string());
}

#[tokio::test]
async fn a_second_run_gives_the_same_transcript() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    scripted_session(&a).await;
    scripted_session(&b).await;
    assert_eq!(a.transcript(), b.transcript());
}

#[tokio::test]
async fn the_endpoint_filters_and_redacts_and_round_trips() {
    let server = MockServer::start().await;
    scripted_session(&server).await;
    Client::new(&server, "sk_test_other")
        .account("acct_9")
        .create("x", "hidden")
        .await;
    let anon = Client::anonymous(&server);

    let whole = anon.get("/_mock/transcript").await;
    assert_eq!(whole.status, 200);
    let parsed = Transcript::from_json(&whole.text).unwrap();
    assert_eq!(parsed, server.transcript());
    assert_eq!(parsed.interactions.len(), 11);

    let one = anon.get("/_mock/transcript?app=sk_test_other").await;
    assert_eq!(one.body["interactions"].as_array().unwrap().len(), 1);
    let acct = anon.get("/_mock/transcript?account=acct_9").await;
    assert_eq!(acct.body["interactions"], one.body["interactions"]);
    let finds = anon
        .get("/_mock/transcript?operation=getAppsSecretsFind&app=sk_test_123")
        .await;
    assert_eq!(finds.body["interactions"].as_array().unwrap().len(), 2);

    let redacted = anon.get("/_mock/transcript?redact=all").await;
    assert_eq!(redacted.status, 200);
    assert!(!redacted.text.contains("hidden"), "{}", redacted.text);
    assert!(!redacted.text.contains("\"one\""));
    let first = &redacted.body["interactions"][0]["request"];
    assert_eq!(first["params"]["payload"], "[redacted]");
    // Stripe masks all but the last 4 characters (all of `123` shows).
    assert_eq!(first["headers"]["authorization"], "Bearer sk_test_123");
    let other = &redacted.body["interactions"][10]["request"]["headers"];
    assert_eq!(other["authorization"], "Bearer sk_test_*ther");
    // The find with expand[]=payload answered the payload: redacted too.
    let found = &redacted.body["interactions"][6]["response"]["body"];
    assert_eq!(found["payload"], "[redacted]");

    let bad = anon.get("/_mock/transcript?redact=everything").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.err("param"), "redact");
}

#[tokio::test]
async fn undecodable_requests_keep_their_raw_text_and_closed_connections_have_no_answer() {
    let server = MockServer::start().await;
    let c = Client::new(&server, "sk_test_123");
    let r = c
        .post("/v1/apps/secrets", "name=%zz&scope[type]=account")
        .await;
    assert_eq!(r.status, 400);
    server.inject_fault(stripe_secrets_mock::Fault::close());
    assert!(c
        .try_send("GET", "/v1/apps/secrets?scope[type]=account")
        .await
        .is_err());
    let t = server.transcript();
    let raw = &t.interactions[0].request;
    assert_eq!(raw.params, None);
    assert_eq!(raw.body.as_deref(), Some("name=%zz&scope[type]=account"));
    assert_eq!(raw.query.as_deref(), Some(""));
    let closed = &t.interactions[1];
    assert_eq!(closed.response, None);
    assert!(closed.fault.as_deref().unwrap().contains("close"));
    assert_eq!(t.to_json()["interactions"][1]["response"], Value::Null);
}
