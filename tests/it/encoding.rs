//! Stripe's wire format: bracket notation, both array encodings, coercion,
//! and the errors for parameters the spec does not allow.

use crate::support::{snap, start};

#[tokio::test]
async fn both_array_encodings_expand_the_same() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let brackets = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload")
        .await;
    let indexed = client
        .get("/v1/apps/secrets/find?name=k&scope%5Btype%5D=account&expand%5B0%5D=payload")
        .await;
    assert_eq!(brackets.body, indexed.body);
    assert_eq!(indexed.body["payload"], "v");
    let form = client
        .post(
            "/v1/apps/secrets",
            "name=j&payload=w&scope%5Btype%5D=account&expand%5B0%5D=payload&expand%5B1%5D=scope",
        )
        .await;
    assert_eq!(form.body["payload"], "w");
}

#[tokio::test]
async fn percent_encoding_and_plus_decode_in_values() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=my+key&payload=a%26b%3Dc%20%E2%9C%93&scope[type]=account&expand[]=payload",
        )
        .await;
    assert_eq!(res.body["name"], "my key");
    assert_eq!(res.body["payload"], "a&b=c ✓");
}

#[tokio::test]
async fn unknown_parameters_are_named_even_when_nested() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=k&payload=v&scope[type]=account&colour=red",
        )
        .await;
    assert_eq!(res.status, 400);
    snap!("unknown_parameter", res);
    let nested = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&scope[foo]=1")
        .await;
    assert_eq!(nested.err("code"), "parameter_unknown");
    assert_eq!(
        nested.err("message"),
        "Received unknown parameter: scope[foo]"
    );
    assert_eq!(nested.err("param"), "scope[foo]");
}

#[tokio::test]
async fn a_bad_enum_value_lists_the_choices() {
    let (_server, client) = start().await;
    let res = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=team")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid scope[type]: must be one of account or user"
    );
    assert_eq!(res.err("param"), "scope[type]");
    assert!(res.body["error"].get("code").is_none());
}

#[tokio::test]
async fn too_long_strings_show_their_ends_and_the_limit() {
    let (_server, client) = start().await;
    let name = format!("Lottery Re{}iting line", "x".repeat(4990));
    let res = client.create(&name, "v").await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid string: Lottery Re...iting line; must be at most 5000 characters"
    );
    assert_eq!(res.err("param"), "name");
    // Exactly at the limit is fine.
    assert_eq!(client.create(&"y".repeat(5000), "v").await.status, 200);
}

#[tokio::test]
async fn a_non_integer_expiry_is_an_invalid_integer() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name=k&payload=v&scope[type]=account&expires_at=soon",
        )
        .await;
    assert_eq!(res.err("message"), "Invalid integer: soon");
    assert_eq!(res.err("code"), "parameter_invalid_integer");
    assert_eq!(res.err("param"), "expires_at");
}

#[tokio::test]
async fn a_hash_where_a_string_belongs_is_refused() {
    let (_server, client) = start().await;
    let res = client
        .post(
            "/v1/apps/secrets",
            "name[a]=k&payload=v&scope[type]=account",
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("param"), "name");
    assert_eq!(res.err("message"), "Invalid string");
    let res = client
        .post("/v1/apps/secrets", "name=k&payload=v&scope=account")
        .await;
    assert_eq!(res.err("message"), "Invalid hash: account");
    assert_eq!(res.err("param"), "scope");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404() {
    let (_server, client) = start().await;
    let res = client.get("/v1/nope").await;
    assert_eq!(res.status, 404);
    snap!("unrecognized_url", res);
    let res = client.send("DELETE", "/v1/apps/secrets", "", None).await;
    assert_eq!(res.status, 404);
    assert!(res
        .err("message")
        .starts_with("Unrecognized request URL (DELETE: /v1/apps/secrets)."));
}

#[tokio::test]
async fn the_same_bad_request_always_gets_the_same_error() {
    let (_server, client) = start().await;
    // Several problems at once: two unknown parameters and a bad enum.
    let query = "/v1/apps/secrets/find?zeta=1&alpha=2&scope[type]=team";
    let first = client.get(query).await;
    assert_eq!(first.err("message"), "Received unknown parameter: alpha");
    for _ in 0..5 {
        let again = client.get(query).await;
        assert_eq!(
            again.body["error"]["message"],
            first.body["error"]["message"]
        );
    }
}

#[tokio::test]
async fn every_response_carries_request_id_and_version_headers() {
    let (_server, client) = start().await;
    let res = client.create("k", "v").await;
    let id = res.must("request-id");
    assert!(id.starts_with("req_") && id.len() == 18, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(res.header("stripe-version"), Some("2023-10-16"));
    assert_eq!(res.header("content-type"), Some("application/json"));
    let pinned = client
        .clone()
        .header("stripe-version", "2024-04-10")
        .get("/v1/nope")
        .await;
    assert_eq!(pinned.header("stripe-version"), Some("2024-04-10"));
    assert!(pinned.must("request-id").starts_with("req_"));
}

#[tokio::test]
async fn garbage_input_gets_a_stripe_error_and_the_server_keeps_working() {
    let (_server, client) = start().await;
    let long_name = "a".repeat(100_000);
    let deep = format!("scope{}=1", "[x]".repeat(10_000));
    let inputs = [
        "%",
        "%zz=%",
        "a[=1",
        "[]=1",
        "a]]=1",
        "expand[99999999999999999999999]=x",
        "scope[type][x]=1",
        "expand[][x]=1",
        "&&&=&",
        "=",
        "name=%00&payload=%00&scope[type]=account",
        "name=%FF%FE",
        "limit=99999999999999999999999999",
        "expires_at=-1",
        long_name.as_str(),
        deep.as_str(),
    ];
    for input in inputs {
        let mut responses = vec![
            client.post("/v1/apps/secrets", input).await,
            client.post("/v1/apps/secrets/delete", input).await,
        ];
        // The client library refuses URIs over 64 KiB; long inputs go in bodies.
        if input.len() < 8_000 {
            responses.push(client.get(&format!("/v1/apps/secrets?{input}")).await);
        }
        for res in responses {
            assert!(
                res.status == 200 || (400..500).contains(&res.status),
                "{input:.40}: {}",
                res.text
            );
            if res.status != 200 {
                assert_eq!(res.err("type"), "invalid_request_error", "{input:.40}");
                assert!(!res.err("message").is_empty());
            }
        }
    }
    assert_eq!(client.create("still", "alive").await.status, 200);
}
