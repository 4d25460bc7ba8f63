//! Every response is validated against the spec before it leaves.

use stripe_secrets_mock::{BuildError, MockServer, BUNDLED_SPEC};

use crate::support::Client;

/// The bundled spec, except that secret ids must start with `sec_`, which the
/// store's `appsecret_` ids never do.
fn spec_the_store_cannot_satisfy() -> String {
    let mut spec: serde_json::Value = serde_json::from_str(BUNDLED_SPEC).unwrap();
    spec["components"]["schemas"]["apps.secret"]["properties"]["id"]["pattern"] =
        serde_json::json!("^sec_");
    spec.to_string()
}

#[tokio::test]
async fn a_response_that_violates_the_spec_becomes_a_500_naming_the_violation() {
    let server = MockServer::builder()
        .spec_json(spec_the_store_cannot_satisfy())
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    let res = client.create("k", "v").await;
    assert_eq!(res.status, 500);
    assert_eq!(res.err("type"), "api_error");
    let message = res.err("message");
    assert!(message.contains("postAppsSecrets"), "{message}");
    assert!(message.contains("/id"), "{message}");
    assert!(message.contains("^sec_"), "{message}");
    // The failed create left nothing behind.
    let list = client.list().await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn lenient_mode_sends_the_violating_response_as_is() {
    let server = MockServer::builder()
        .spec_json(spec_the_store_cannot_satisfy())
        .strict(false)
        .start()
        .await;
    let res = Client::new(&server, "sk_test_123").create("k", "v").await;
    assert_eq!(res.status, 200);
    assert!(res.body["id"].as_str().unwrap().starts_with("appsecret_"));
}

#[tokio::test]
async fn a_swapped_spec_changes_request_rules_too() {
    let mut spec: serde_json::Value = serde_json::from_str(BUNDLED_SPEC).unwrap();
    spec["paths"]["/v1/apps/secrets"]["post"]["requestBody"]["content"]
        ["application/x-www-form-urlencoded"]["schema"]["properties"]["name"]["maxLength"] =
        serde_json::json!(3);
    let server = MockServer::builder()
        .spec_json(spec.to_string())
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    let res = client.create("four", "v").await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid string: four; must be at most 3 characters"
    );
    assert_eq!(client.create("abc", "v").await.status, 200);
}

#[tokio::test]
async fn a_spec_that_does_not_compile_is_refused_at_start() {
    let err = MockServer::builder()
        .spec_json("{\"openapi\": 3}")
        .try_start()
        .await
        .err()
        .expect("start fails");
    assert!(matches!(err, BuildError::Spec(_)), "{err:?}");
    assert!(err.to_string().contains("OpenAPI"), "{err}");
}
