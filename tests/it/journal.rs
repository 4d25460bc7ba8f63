//! The request journal, in the library and through /_mock/requests.

use stripe_secrets_mock::MockServer;

use crate::support::{example_fixture, snap, start, Client};

#[tokio::test]
async fn every_request_is_recorded_in_order_with_payloads_redacted() {
    let (server, client) = start().await;
    let created = client.create("k", "s3cr3t").await;
    let long_key = Client::new(&server, "sk_test_abcdefgh");
    long_key.list().await;
    client.clone().account("acct_1").find("k").await;
    Client::anonymous(&server).get("/v1/apps/secrets").await;

    let mut journal = server.received_requests();
    assert_eq!(journal.len(), 4);
    // Keys are masked as in Stripe's errors: all but the last 4 characters.
    assert_eq!(journal.remove(1).app.as_deref(), Some("sk_test_****efgh"));
    let first = &journal[0];
    assert_eq!(first.operation.as_deref(), Some("postAppsSecrets"));
    assert_eq!(first.app.as_deref(), Some("sk_test_123"));
    assert_eq!(first.status, Some(200));
    assert_eq!(first.object_id.as_deref(), created.body["id"].as_str());
    assert_eq!(first.request_id, created.must("request-id"));
    let params = first.params.as_ref().unwrap();
    assert_eq!(params["payload"], "[redacted]");
    assert_eq!(params["name"], "k");
    assert!(!format!("{journal:?}").contains("s3cr3t"));
    assert_eq!(journal[1].account.as_deref(), Some("acct_1"));
    assert_eq!(journal[1].status, Some(404));
    assert_eq!(journal[2].app, None);
    assert_eq!(journal[2].status, Some(401));
    // Control requests are not journaled.
    Client::anonymous(&server).get("/_mock/health").await;
    assert_eq!(server.received_requests().len(), 4);
}

#[tokio::test]
async fn the_journal_endpoint_filters_by_operation_and_app() {
    let server = MockServer::start().await;
    let a = Client::new(&server, "sk_test_a");
    let b = Client::new(&server, "sk_test_b");
    a.create("k", "v").await;
    b.create("k", "v").await;
    a.list().await;
    let control = Client::anonymous(&server);
    let all = control.get("/_mock/requests").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 3);
    let creates = control
        .get("/_mock/requests?operation=postAppsSecrets")
        .await;
    assert_eq!(creates.body["data"].as_array().unwrap().len(), 2);
    let of_a = control
        .get("/_mock/requests?app=sk_test_a&operation=getAppsSecrets")
        .await;
    assert_eq!(of_a.body["data"].as_array().unwrap().len(), 1);
    snap!("journal_filtered", of_a);
}

#[tokio::test]
async fn the_journal_keeps_the_latest_requests_within_the_limits_given() {
    let server = MockServer::builder()
        .journal_limits(2, usize::MAX)
        .start()
        .await;
    let app = Client::new(&server, "sk_test_123");
    for name in ["a", "b", "c"] {
        app.create(name, "v").await;
    }
    let names: Vec<String> = server
        .received_requests()
        .iter()
        .map(|r| {
            r.params.as_ref().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["b", "c"]);
    // The defaults are the documented ones.
    assert_eq!(
        (
            stripe_secrets_mock::JOURNAL_ENTRIES,
            stripe_secrets_mock::JOURNAL_BYTES
        ),
        (2_000, 4 << 20)
    );
}

/// A scripted session over fixtures; every response and the final journal.
async fn scripted(seed: u64) -> (Vec<String>, String) {
    let server = MockServer::builder()
        .seed(seed)
        .fixtures(example_fixture())
        .start()
        .await;
    let app = Client::new(&server, "sk_test_123");
    let control = Client::anonymous(&server);
    let mut out = vec![
        app.create("n1", "v").await.transcript(),
        app.get("/v1/apps/secrets?scope[type]=account&limit=1")
            .await
            .transcript(),
        control
            .post("/_mock/clock", "advance=61")
            .await
            .transcript(),
        app.get("/v1/apps/secrets/find?name=oauth-token&scope[type]=user&scope[user]=usr_example")
            .await
            .transcript(),
        app.delete("n1").await.transcript(),
        control.get("/_mock/state").await.transcript(),
    ];
    out.push(
        app.get("/v1/apps/secrets?scope[type]=nope")
            .await
            .transcript(),
    );
    let journal = control.get("/_mock/requests").await.transcript();
    (out, journal)
}

#[tokio::test]
async fn the_same_seed_fixtures_and_requests_give_identical_bytes_and_journal() {
    let (responses_a, journal_a) = scripted(3).await;
    let (responses_b, journal_b) = scripted(3).await;
    assert_eq!(responses_a, responses_b);
    assert_eq!(journal_a, journal_b);
    let (responses_c, _) = scripted(4).await;
    assert_ne!(responses_a[0], responses_c[0]);
}
