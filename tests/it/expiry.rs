//! Expiry against the injected fake clock.

use crate::support::start;

const FIND: &str = "/v1/apps/secrets/find?name=k&scope[type]=account";

async fn create_expiring_in(client: &crate::support::Client, seconds: i64) {
    let res = client
        .post(
            "/v1/apps/secrets",
            &format!(
                "name=k&payload=v&scope[type]=account&expires_at={}",
                1_700_000_000 + seconds
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

#[tokio::test]
async fn a_secret_exists_until_the_clock_reaches_expires_at() {
    let (server, client) = start().await;
    create_expiring_in(&client, 60).await;
    server.clock().advance(59);
    assert_eq!(client.get(FIND).await.status, 200);
    server.clock().advance(1);
    let res = client.get(FIND).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.err("message"), "No such secret: 'k'");
    let delete = client.delete("k").await;
    assert_eq!(delete.status, 404);
    let list = client.list().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn moving_the_clock_back_never_revives_an_expired_secret() {
    let (server, client) = start().await;
    create_expiring_in(&client, 60).await;
    // No request sees the expired state before the clock goes back.
    server.clock().advance(120);
    server.clock().set(1_700_000_000);
    assert_eq!(client.get(FIND).await.status, 404);
}

#[tokio::test]
async fn an_expired_secret_frees_its_name_and_its_place_in_the_limit() {
    let (server, client) = start().await;
    create_expiring_in(&client, 10).await;
    for i in 0..9 {
        client.create(&format!("n{i}"), "v").await;
    }
    assert_eq!(client.create("n9", "v").await.status, 400);
    server.clock().advance(10);
    assert_eq!(client.create("n9", "v").await.status, 200);
}

#[tokio::test]
async fn the_clock_starts_where_the_builder_says() {
    let server = stripe_secrets_mock::MockServer::builder()
        .now(1_800_000_000)
        .start()
        .await;
    let client = crate::support::Client::new(&server, "sk_test_123");
    assert_eq!(client.create("k", "v").await.body["created"], 1_800_000_000);
    assert_eq!(server.clock().now(), 1_800_000_000);
}

#[tokio::test]
async fn the_system_clock_is_available_on_request() {
    let server = stripe_secrets_mock::MockServer::builder()
        .system_clock()
        .start()
        .await;
    let client = crate::support::Client::new(&server, "sk_test_123");
    let created = client.create("k", "v").await.body["created"]
        .as_i64()
        .unwrap();
    // Far from the fake clock's default instant.
    assert!(created > 1_750_000_000, "{created}");
}
