//! Stripe's published bytes (docs/behaviour.md §1, §3–6): the exact
//! messages, headers and body layout the live API is known to send.

use stripe_secrets_mock::{Fault, MockServer};

use crate::support::{snap, start, Client};

const CREATE: &str = "name=k&payload=v&scope[type]=account";

#[tokio::test]
async fn a_json_body_gets_stripes_content_type_message() {
    let (_server, client) = start().await;
    let res = client
        .send(
            "POST",
            "/v1/apps/secrets",
            r#"{"name":"k"}"#,
            Some("application/json; charset=utf-8"),
        )
        .await;
    assert_eq!(res.status, 400);
    snap!("json_body", res);
    assert_eq!(
        res.err("message"),
        "Invalid request (check that your POST content type is \
         application/x-www-form-urlencoded). If you have any questions, we can help at \
         https://support.stripe.com/."
    );
    assert!(res.body["error"].get("param").is_none());
}

#[tokio::test]
async fn another_content_type_is_echoed_as_sent_with_its_parameters() {
    let (_server, client) = start().await;
    let res = client
        .send(
            "POST",
            "/v1/apps/secrets",
            "name=k",
            Some("text/plain; charset=UTF-8"),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid request: unsupported Content-Type text/plain; charset=UTF-8. If error \
         persists and you need assistance, please contact support@stripe.com."
    );
}

#[tokio::test]
async fn an_unknown_url_without_a_key_is_a_404_not_a_401() {
    let server = MockServer::start().await;
    let res = Client::anonymous(&server).get("/v1/nope").await;
    assert_eq!(res.status, 404);
    assert_eq!(
        res.err("message"),
        "Unrecognized request URL (GET: /v1/nope). Please see https://stripe.com/docs or we \
         can help at https://support.stripe.com/."
    );
    let known = Client::anonymous(&server).get("/v1/apps/secrets").await;
    assert_eq!(known.status, 401);
}

#[tokio::test]
async fn a_trailing_slash_gets_the_longer_unrecognized_url_message() {
    let (_server, client) = start().await;
    let res = client.get("/v1/apps/secrets/").await;
    assert_eq!(res.status, 404);
    assert_eq!(
        res.err("message"),
        "Unrecognized request URL (GET: /v1/apps/secrets/). If you are trying to list \
         objects, remove the trailing slash. If you are trying to retrieve an object, make \
         sure you passed a valid (non-empty) identifier in your code. Please see \
         https://stripe.com/docs or we can help at https://support.stripe.com/."
    );
}

#[tokio::test]
async fn a_scalar_expand_is_an_invalid_array_echoing_nothing() {
    let (_server, client) = start().await;
    let res = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand=payload")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("message"), "Invalid array");
    assert_eq!(res.err("param"), "expand");
    assert!(res.body["error"].get("code").is_none());
}

#[tokio::test]
async fn indexed_arrays_must_start_at_zero_and_be_sequential() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let res = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[1]=payload")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("param"), "expand");
    assert_eq!(
        res.err("message"),
        "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an \
         array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from \
         0. You passed the keys `1`, we expected to have a key with the value `0`."
    );
    let fine = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[0]=payload")
        .await;
    assert_eq!(fine.body["payload"], "v");
}

#[tokio::test]
async fn an_expiry_too_far_ahead_gets_stripes_timestamp_message() {
    let (_server, client) = start().await;
    let far: i64 = 1_700_000_000 + 36_526 * 86_400;
    let res = client
        .post("/v1/apps/secrets", &format!("{CREATE}&expires_at={far}"))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.err("param"), "expires_at");
    assert_eq!(
        res.err("message"),
        "Invalid timestamp: can be no more than 100 years in the future."
    );
}

#[tokio::test]
async fn a_keyed_post_echoes_its_key_and_names_the_original_request() {
    let server = MockServer::start().await;
    let keyed = Client::new(&server, "sk_test_123").header("idempotency-key", "idem-echo");
    let first = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(first.header("idempotency-key"), Some("idem-echo"));
    assert_eq!(first.must("original-request"), first.must("request-id"));
    assert_eq!(first.header("idempotent-replayed"), None);
    let replay = keyed.post("/v1/apps/secrets", CREATE).await;
    assert_eq!(replay.header("idempotency-key"), Some("idem-echo"));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.must("original-request"), first.must("request-id"));
    assert_ne!(replay.must("request-id"), first.must("request-id"));
    // Without a key, neither header.
    let plain = Client::new(&server, "sk_test_123")
        .post("/v1/apps/secrets", CREATE)
        .await;
    assert_eq!(plain.header("original-request"), None);
    assert_eq!(plain.header("idempotency-key"), None);
}

#[tokio::test]
async fn the_request_log_url_carries_the_mock_time() {
    let (server, client) = start().await;
    let res = client.find("nope").await;
    let id = res.must("request-id").to_string();
    assert_eq!(
        res.err("request_log_url"),
        format!("https://dashboard.stripe.com/test/logs/{id}?t=1700000000")
    );
    server.clock().advance(60);
    let later = client.find("nope").await;
    assert!(later.err("request_log_url").ends_with("?t=1700000060"));
}

#[tokio::test]
async fn bodies_are_indented_by_two_end_with_a_newline_and_sort_error_fields() {
    let (_server, client) = start().await;
    let res = client.find("nope").await;
    let id = res.must("request-id").to_string();
    assert_eq!(
        res.text,
        format!(
            "{{\n  \"error\": {{\n    \"code\": \"resource_missing\",\n    \"doc_url\": \
             \"https://stripe.com/docs/error-codes/resource-missing\",\n    \"message\": \"No \
             such secret: 'nope'\",\n    \"param\": \"name\",\n    \"request_log_url\": \
             \"https://dashboard.stripe.com/test/logs/{id}?t=1700000000\",\n    \"type\": \
             \"invalid_request_error\"\n  }}\n}}\n"
        )
    );
    let ok = client.create("k", "v").await;
    assert!(ok.text.starts_with("{\n  \"id\": \"appsecret_"));
    assert!(ok.text.ends_with("}\n"));
}

/// The headers Stripe sends on every response (docs/behaviour.md §6).
const EVERY_RESPONSE: &[(&str, &str)] = &[
    ("cache-control", "no-cache, no-store"),
    ("access-control-allow-origin", "*"),
    ("access-control-allow-credentials", "true"),
    (
        "access-control-allow-methods",
        "GET, HEAD, PUT, PATCH, POST, DELETE",
    ),
    (
        "access-control-expose-headers",
        "Request-Id, Stripe-Manage-Version, X-Stripe-External-Auth-Required, \
         X-Stripe-Privileged-Session-Required",
    ),
    ("access-control-max-age", "300"),
    ("content-type", "application/json"),
];

#[tokio::test]
async fn every_response_carries_the_cache_and_cors_headers() {
    let (server, client) = start().await;
    let responses = [
        client.create("k", "v").await,
        client.get("/v1/nope").await,
        Client::anonymous(&server).get("/v1/apps/secrets").await,
        Client::anonymous(&server).get("/_mock/health").await,
    ];
    for res in &responses {
        for (name, value) in EVERY_RESPONSE {
            assert_eq!(res.header(name), Some(*value), "{name} on a {}", res.status);
        }
    }
}

#[tokio::test]
async fn a_preflight_on_any_path_is_a_200_allowing_the_asked_headers() {
    let server = MockServer::start().await;
    let client = Client::anonymous(&server)
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,stripe-account",
        );
    for path in ["/v1/apps/secrets", "/v1/apps/secrets/find", "/v1/anything"] {
        let res = client.send("OPTIONS", path, "", None).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.text, "{}\n");
        assert_eq!(
            res.must("access-control-allow-headers"),
            "authorization,content-type,stripe-account"
        );
        for (name, value) in EVERY_RESPONSE {
            assert_eq!(res.header(name), Some(*value), "{name}");
        }
    }
    // Preflights are not API requests: no journal entry, no fault spent.
    server.inject_fault(Fault::status(503));
    client.send("OPTIONS", "/v1/apps/secrets", "", None).await;
    assert!(server.received_requests().is_empty());
    let hit = Client::new(&server, "sk_test_123").create("k", "v").await;
    assert_eq!(hit.status, 503);
}
