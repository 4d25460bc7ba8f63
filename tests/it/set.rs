//! POST /v1/apps/secrets: create, replace, scopes, expiry bounds, the limit.

use stripe_secrets_mock::MockServer;

use crate::support::{snap, start, Client};

#[tokio::test]
async fn creating_a_secret_returns_it_without_payload() {
    let (_server, client) = start().await;
    let res = client.create("api-key", "s3cr3t").await;
    assert_eq!(res.status, 200);
    assert!(res.body.get("payload").is_none());
    assert_eq!(res.body["object"], "apps.secret");
    assert_eq!(res.body["created"], 1_700_000_000);
    snap!("set_account_scope", res);
}

#[tokio::test]
async fn expanding_payload_on_create_returns_it() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=k&payload=v&scope[type]=account&expand[]=payload",
        )
        .await;
    assert_eq!(res.body["payload"], "v");
}

#[tokio::test]
async fn user_scope_is_returned_with_its_user() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=tok&payload=v&scope[type]=user&scope[user]=usr_1&expires_at=1700000060",
        )
        .await;
    assert_eq!(res.status, 200);
    snap!("set_user_scope_with_expiry", res);
}

#[tokio::test]
async fn setting_an_existing_name_replaces_it_with_a_new_id() {
    let (server, client) = start().await;
    let first = client.create("k", "one").await;
    server.clock().advance(5);
    let second = client.create("k", "two").await;
    assert_ne!(first.body["id"], second.body["id"]);
    assert_eq!(second.body["created"], 1_700_000_005);
    let found = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(found.body["payload"], "two");
    assert_eq!(found.body["id"], second.body["id"]);
    let list = client.list().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn user_scope_without_user_is_a_missing_param() {
    let (_server, client) = start().await;
    let res = client
        .post("/v1/apps/secrets", "name=k&payload=v&scope[type]=user")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("code"), "parameter_missing");
    assert_eq!(res.err("message"), "Missing required param: scope[user].");
    assert_eq!(res.err("param"), "scope[user]");
}

#[tokio::test]
async fn account_scope_with_a_user_is_refused() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=k&payload=v&scope[type]=account&scope[user]=usr_1",
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("type"), "invalid_request_error");
    assert_eq!(res.err("param"), "scope[user]");
}

#[tokio::test]
async fn expires_at_in_the_past_or_now_is_refused_with_stripe_wording() {
    let (_server, client) = start().await;
    for at in ["1699999999", "1700000000"] {
        let res = client
            .post(
                "/v1/apps/secrets",
                &format!("name=k&payload=v&scope[type]=account&expires_at={at}"),
            )
            .await;
        assert_eq!(res.status, 400);
        assert_eq!(res.err("param"), "expires_at");
        assert_eq!(
            res.err("message"),
            format!(
                "The parameter `expires_at` expects a unix timestamp representing a date and \
                 time in the future. You specified the value `{at}` which is in the past."
            )
        );
    }
}

#[tokio::test]
async fn expires_at_is_allowed_up_to_100_years_ahead() {
    let (_server, client) = start().await;
    let limit = 1_700_000_000i64 + 36_525 * 86_400;
    let ok = client
        .post(
            "/v1/apps/secrets",
            &format!("name=k&payload=v&scope[type]=account&expires_at={limit}"),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let too_far = client
        .post(
            "/v1/apps/secrets",
            &format!(
                "name=k&payload=v&scope[type]=account&expires_at={}",
                limit + 1
            ),
        )
        .await;
    assert_eq!(too_far.status, 400);
    assert_eq!(too_far.err("param"), "expires_at");
    assert!(too_far.err("message").contains("100 years"));
}

#[tokio::test]
async fn an_eleventh_name_in_a_scope_is_refused_but_replacing_is_not() {
    let (_server, client) = start().await;
    for i in 0..10 {
        assert_eq!(client.create(&format!("n{i}"), "v").await.status, 200);
    }
    let eleventh = client.create("n10", "v").await;
    assert_eq!(eleventh.status, 400);
    assert_eq!(eleventh.err("param"), "name");
    snap!("set_scope_full", eleventh);
    assert_eq!(client.create("n3", "replaced").await.status, 200);
    // Other scopes have their own limit.
    let user = client
        .post(
            "/v1/apps/secrets",
            "name=n10&payload=v&scope[type]=user&scope[user]=usr_1",
        )
        .await;
    assert_eq!(user.status, 200);
    // The refused secret was not stored.
    let list = client
        .get("/v1/apps/secrets?scope[type]=account&limit=100")
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn the_scope_limit_is_configurable() {
    let server = MockServer::builder().max_secrets_per_scope(2).start().await;
    let client = Client::new(&server, "sk_test_123");
    assert_eq!(client.create("a", "v").await.status, 200);
    assert_eq!(client.create("b", "v").await.status, 200);
    let third = client.create("c", "v").await;
    assert_eq!(third.status, 400);
    assert!(third.err("message").contains("maximum of 2"));
}

#[tokio::test]
async fn missing_required_params_are_named_in_a_stable_order() {
    let (_server, client) = start().await;
    let res = client.post("/v1/apps/secrets", "").await;
    assert_eq!(res.status, 400);
    snap!("set_missing_everything", res);
    let res = client
        .post("/v1/apps/secrets", "name=k&scope[type]=account")
        .await;
    assert_eq!(res.err("message"), "Missing required param: payload.");
    let res = client
        .post("/v1/apps/secrets", "name=k&payload=v&scope[user]=u")
        .await;
    assert_eq!(res.err("message"), "Missing required param: scope[type].");
}
