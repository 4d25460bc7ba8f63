//! Idempotency-Key on POST, as docs/behaviour.md §6 describes.

use stripe_secrets_mock::{Fault, MockServer};

use crate::support::{snap, start, Client};

const CREATE: &str = "name=k&payload=v&scope[type]=account";

#[tokio::test]
async fn a_retry_with_the_same_key_and_params_replays_the_first_answer() {
    let (server, client) = start().await;
    let keyed = client.clone().header("idempotency-key", "idem-1");
    let first = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.must("original-request"), first.must("request-id"));
    assert_ne!(again.must("request-id"), first.must("request-id"));
    snap!("idempotent_replay", again);
    // Only one secret was set, once: the replay did not replace it.
    let list = client.list().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["data"][0]["id"], first.body["id"]);
    let journal = server.received_requests();
    assert_eq!((journal[0].replayed, journal[1].replayed), (false, true));
}

#[tokio::test]
async fn the_same_key_with_other_params_is_an_idempotency_error() {
    let (_server, client) = start().await;
    let keyed = client.header("idempotency-key", "idem-2");
    keyed.post("/v1/apps/secrets", CREATE).await;
    let res = keyed
        .post(
            "/v1/apps/secrets",
            "name=k&payload=OTHER&scope[type]=account",
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("type"), "idempotency_error");
    assert_eq!(
        res.err("message"),
        "Keys for idempotent requests can only be used with the same parameters they were \
         first used with. Try using a key other than 'idem-2' if you meant to execute a \
         different request."
    );
    // Another path with the same key is "other parameters" too.
    let delete = keyed.delete("k").await;
    assert_eq!(delete.err("type"), "idempotency_error");
}

#[tokio::test]
async fn array_encodings_do_not_count_as_different_params() {
    let (_server, client) = start().await;
    let keyed = client.header("idempotency-key", "idem-arrays");
    let first = keyed
        .post("/v1/apps/secrets", &format!("{CREATE}&expand[]=payload"))
        .await;
    let again = keyed
        .post("/v1/apps/secrets", &format!("{CREATE}&expand[0]=payload"))
        .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);
}

#[tokio::test]
async fn keys_are_per_app_and_account() {
    let (server, client) = start().await;
    let a = client.clone().header("idempotency-key", "shared");
    let b = Client::new(&server, "sk_test_other").header("idempotency-key", "shared");
    let connected = client.account("acct_1").header("idempotency-key", "shared");
    a.post("/v1/apps/secrets", CREATE).await;
    for other in [b, connected] {
        let res = other
            .post("/v1/apps/secrets", "name=x&payload=y&scope[type]=account")
            .await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("idempotent-replayed"), None);
    }
}

#[tokio::test]
async fn results_are_kept_for_24_hours_of_mock_time() {
    let (server, client) = start().await;
    let keyed = client.header("idempotency-key", "idem-ttl");
    keyed.post("/v1/apps/secrets", CREATE).await;
    server.clock().advance(24 * 3600 - 1);
    let replay = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    server.clock().advance(1);
    let fresh = keyed
        .post("/v1/apps/secrets", "name=k&payload=new&scope[type]=account")
        .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn validation_failures_and_401s_are_not_saved() {
    let (server, client) = start().await;
    let keyed = client.header("idempotency-key", "idem-400");
    let bad = keyed.post("/v1/apps/secrets", "name=k").await;
    assert_eq!(bad.status, 400);
    let good = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(good.status, 200);
    assert_eq!(good.header("idempotent-replayed"), None);

    let mut anonymous = Client::anonymous(&server).header("idempotency-key", "idem-401");
    assert_eq!(anonymous.post("/v1/apps/secrets", CREATE).await.status, 401);
    anonymous.key = Some("sk_test_123".into());
    let res = anonymous.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn an_executed_error_such_as_a_404_is_saved_and_replayed() {
    let (_server, client) = start().await;
    let keyed = client.clone().header("idempotency-key", "idem-404");
    let first = keyed.delete("k").await;
    assert_eq!(first.status, 404);
    client.create("k", "v").await;
    let again = keyed.delete("k").await;
    assert_eq!(again.status, 404);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn keys_longer_than_255_characters_are_refused() {
    let (_server, client) = start().await;
    let ok = client.clone().header("idempotency-key", &"k".repeat(255));
    assert_eq!(ok.post("/v1/apps/secrets", CREATE).await.status, 200);
    let long = client.header("idempotency-key", &"k".repeat(256));
    let res = long.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(res.status, 400);
    assert!(res.err("message").contains("at most 255 characters"));
}

#[tokio::test]
async fn the_header_has_no_effect_on_get() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let keyed = client.header("idempotency-key", "idem-get");
    let find = "/v1/apps/secrets/find?name=k&scope[type]=account";
    keyed.get(find).await;
    let again = keyed.get(find).await;
    assert_eq!(again.header("idempotent-replayed"), None);
    let other = keyed.list().await;
    assert_eq!(other.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_while_the_first_is_in_flight_gets_409() {
    let server = MockServer::start().await;
    server.inject_fault(Fault::delay(400).operation("postAppsSecrets"));
    let keyed = Client::new(&server, "sk_test_123").header("idempotency-key", "idem-flight");
    let slow = {
        let keyed = keyed.clone();
        tokio::spawn(async move { keyed.post("/v1/apps/secrets", CREATE).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let dup = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.err("type"), "idempotency_error");
    assert_eq!(dup.err("code"), "idempotency_key_in_use");
    // Stripe's exact words (docs/behaviour.md §6).
    assert_eq!(
        dup.err("message"),
        "There is currently another in-progress request using this Idempotent Key (that \
         probably means you submitted twice, and the other request is still going through): \
         idem-flight. Please try again later."
    );
    let first = slow.await.unwrap();
    assert_eq!(first.status, 200);
    // Once it finished, a retry replays it.
    let retry = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.text, first.text);
}
