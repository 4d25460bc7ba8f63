//! GET /v1/apps/secrets: order, limit, cursors both ways, expansion.

use serde_json::Value;

use crate::support::{snap, start, Client};

fn names(res: &crate::support::Resp) -> Vec<String> {
    res.names()
}

fn ids(res: &crate::support::Resp) -> Vec<String> {
    res.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Five secrets a..e, one second apart (e is newest).
async fn five(server: &stripe_secrets_mock::MockServer, client: &Client) {
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(client.create(name, "v").await.status, 200);
        server.clock().advance(1);
    }
}

#[tokio::test]
async fn lists_newest_first_for_the_scope_only() {
    let (server, client) = start().await;
    five(&server, &client).await;
    client
        .post(
            "/v1/apps/secrets",
            "name=u&payload=v&scope[type]=user&scope[user]=usr_1",
        )
        .await;
    let res = client.list().await;
    assert_eq!(names(&res), ["e", "d", "c", "b", "a"]);
    assert_eq!(res.body["has_more"], false);
    assert_eq!(res.body["url"], "/v1/apps/secrets");
    let user = client
        .get("/v1/apps/secrets?scope[type]=user&scope[user]=usr_1")
        .await;
    assert_eq!(names(&user), ["u"]);
}

#[tokio::test]
async fn secrets_set_in_the_same_second_list_most_recent_first() {
    let (_server, client) = start().await;
    for name in ["x", "y", "z"] {
        client.create(name, "v").await;
    }
    let res = client.list().await;
    assert_eq!(names(&res), ["z", "y", "x"]);
}

#[tokio::test]
async fn paginates_forward_with_starting_after() {
    let (server, client) = start().await;
    five(&server, &client).await;
    let first = client
        .get("/v1/apps/secrets?scope[type]=account&limit=2")
        .await;
    assert_eq!(
        (names(&first), &first.body["has_more"]),
        (vec!["e".into(), "d".into()], &Value::Bool(true))
    );
    let last = ids(&first).pop().unwrap();
    let second = client
        .get(&format!(
            "/v1/apps/secrets?scope[type]=account&limit=2&starting_after={last}"
        ))
        .await;
    assert_eq!(names(&second), ["c", "b"]);
    assert_eq!(second.body["has_more"], true);
    let last = ids(&second).pop().unwrap();
    let third = client
        .get(&format!(
            "/v1/apps/secrets?scope[type]=account&limit=2&starting_after={last}"
        ))
        .await;
    assert_eq!(names(&third), ["a"]);
    assert_eq!(third.body["has_more"], false);
    snap!("list_last_page", third);
}

#[tokio::test]
async fn paginates_backward_with_ending_before() {
    let (server, client) = start().await;
    five(&server, &client).await;
    let all = client.list().await;
    let all_ids = ids(&all);
    // Before "a" (the oldest): the two just newer, more beyond them.
    let page = client
        .get(&format!(
            "/v1/apps/secrets?scope[type]=account&limit=2&ending_before={}",
            all_ids[4]
        ))
        .await;
    assert_eq!(names(&page), ["c", "b"]);
    assert_eq!(page.body["has_more"], true);
    let first = ids(&page)[0].clone();
    let page = client
        .get(&format!(
            "/v1/apps/secrets?scope[type]=account&limit=2&ending_before={first}"
        ))
        .await;
    assert_eq!(names(&page), ["e", "d"]);
    assert_eq!(page.body["has_more"], false);
}

#[tokio::test]
async fn default_limit_is_ten() {
    let server = stripe_secrets_mock::MockServer::builder()
        .max_secrets_per_scope(20)
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    for i in 0..12 {
        client.create(&format!("n{i}"), "v").await;
    }
    let res = client.list().await;
    assert_eq!(names(&res).len(), 10);
    assert_eq!(res.body["has_more"], true);
}

#[tokio::test]
async fn limit_outside_1_to_100_is_refused() {
    let (_server, client) = start().await;
    let low = client
        .get("/v1/apps/secrets?scope[type]=account&limit=0")
        .await;
    assert_eq!(low.status, 400);
    assert_eq!(low.err("code"), "parameter_invalid_integer");
    assert_eq!(low.err("param"), "limit");
    assert_eq!(
        low.err("message"),
        "This value must be greater than or equal to 1."
    );
    let high = client
        .get("/v1/apps/secrets?scope[type]=account&limit=101")
        .await;
    assert_eq!(
        high.err("message"),
        "This value must be less than or equal to 100."
    );
    let ok = client
        .get("/v1/apps/secrets?scope[type]=account&limit=100")
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn a_non_integer_limit_is_refused() {
    let (_server, client) = start().await;
    let res = client
        .get("/v1/apps/secrets?scope[type]=account&limit=abc")
        .await;
    assert_eq!(res.status, 400);
    snap!("list_limit_not_integer", res);
}

#[tokio::test]
async fn both_cursors_at_once_are_refused() {
    let (_server, client) = start().await;
    let res = client
        .get("/v1/apps/secrets?scope[type]=account&starting_after=x&ending_before=y")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "You may only specify one of these parameters: ending_before, starting_after."
    );
}

#[tokio::test]
async fn an_unknown_cursor_is_a_400_naming_the_param() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    for param in ["starting_after", "ending_before"] {
        let res = client
            .get(&format!(
                "/v1/apps/secrets?scope[type]=account&{param}=appsecret_nope"
            ))
            .await;
        assert_eq!(res.status, 400);
        assert_eq!(res.err("code"), "resource_missing");
        assert_eq!(res.err("param"), param);
        assert_eq!(res.err("message"), "No such secret: 'appsecret_nope'");
    }
}

#[tokio::test]
async fn list_expands_data_payload_but_not_payload() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let res = client
        .get("/v1/apps/secrets?scope[type]=account&expand[]=data.payload")
        .await;
    assert_eq!(res.body["data"][0]["payload"], "v");
    let plain = client.list().await;
    assert!(plain.body["data"][0].get("payload").is_none());
    let bad = client
        .get("/v1/apps/secrets?scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.err("message"),
        "This property cannot be expanded (payload)."
    );
}

#[tokio::test]
async fn list_requires_scope() {
    let (_server, client) = start().await;
    let res = client.get("/v1/apps/secrets").await;
    assert_eq!(res.err("message"), "Missing required param: scope.");
    assert_eq!(res.err("code"), "parameter_missing");
}
