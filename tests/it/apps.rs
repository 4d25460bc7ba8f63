//! The Stripe Apps context (docs/behaviour.md §12): API versions,
//! `Stripe-Context`, UI-extension callers, manifest permissions, and one
//! shape for both array encodings.

use serde_json::json;
use stripe_secrets_mock::contract::Expectation;
use stripe_secrets_mock::MockServer;

use crate::support::{snap, temp_file, Client};

const FIND: &str = "/v1/apps/secrets/find?name=k&scope[type]=account";

#[tokio::test]
async fn a_version_that_stripe_never_published_is_refused_with_its_message() {
    let server = MockServer::start().await;
    let c = Client::new(&server, "sk_test_123");
    assert_eq!(c.create("k", "v").await.status, 200);
    let bad = c
        .clone()
        .header("stripe-version", "2019-2-19")
        .get(FIND)
        .await;
    snap!("apps_version_unpublished", bad);
    for refused in ["2022-08-02", "2025-07-30", "2025-07-30.acacia", "latest"] {
        let res = c.clone().header("stripe-version", refused).get(FIND).await;
        assert_eq!(res.status, 400, "{refused}");
        assert_eq!(
            res.err("message"),
            format!("Invalid Stripe API version: {refused}")
        );
        // The refusal is served at the spec's version, not the one refused.
        assert_eq!(res.header("stripe-version"), Some("2023-10-16"));
    }
    for served in ["2025-07-30.basil", "2020-08-27", "2026-10-28.endive"] {
        let res = c.clone().header("stripe-version", served).get(FIND).await;
        assert_eq!(res.status, 200, "{served}: {}", res.text);
        assert_eq!(res.header("stripe-version"), Some(served));
    }
    let beta = c
        .clone()
        .header("stripe-version", "2025-07-30.basil; foo_beta=v1")
        .get(FIND)
        .await;
    assert_eq!(beta.status, 400);
    assert_eq!(
        beta.err("message"),
        "Invalid Stripe API version: 2025-07-30.basil; foo_beta=v1. You do not have permission \
         to pass this beta header: foo_beta."
    );
    // Refused before anything runs: nothing is created.
    let create = c
        .clone()
        .header("stripe-version", "2025-07-30")
        .create("other", "v")
        .await;
    assert_eq!(create.status, 400);
    assert_eq!(c.find("other").await.status, 404);
}

#[tokio::test]
async fn strict_version_check_serves_only_the_specs_version_naming_both() {
    let server = MockServer::builder().strict_version_check().start().await;
    let c = Client::new(&server, "sk_test_123");
    let other = c
        .clone()
        .header("stripe-version", "2025-07-30.basil")
        .get(FIND)
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(
        other.err("message"),
        "Invalid Stripe API version: 2025-07-30.basil. This mock runs with \
         --strict-version-check: it serves only 2023-10-16, the version of its OpenAPI document."
    );
    let own = c
        .clone()
        .header("stripe-version", "2023-10-16")
        .get(FIND)
        .await;
    assert_eq!(own.status, 404, "{}", own.text);
    assert_eq!(
        c.get(FIND).await.status,
        404,
        "no header: the spec's version"
    );
}

#[tokio::test]
async fn stripe_context_and_stripe_account_reach_the_same_account() {
    let server = MockServer::start().await;
    let by_context = Client::new(&server, "sk_test_123").header("stripe-context", "acct_1");
    assert_eq!(by_context.create("k", "in acct_1").await.status, 200);
    let by_account = Client::new(&server, "sk_test_123").account("acct_1");
    assert_eq!(by_account.find("k").await.status, 200);
    let both = by_account.clone().header("stripe-context", "acct_1");
    assert_eq!(both.find("k").await.status, 200);
    // The platform and a nested context are other accounts.
    assert_eq!(
        Client::new(&server, "sk_test_123").find("k").await.status,
        404
    );
    let nested = Client::new(&server, "sk_test_123").header("stripe-context", "acct_1/acct_2");
    assert_eq!(nested.find("k").await.status, 404);
    let journal = server.received_requests();
    assert_eq!(journal[0].account.as_deref(), Some("acct_1"));
    assert_eq!(journal[1].account.as_deref(), Some("acct_1"));

    let disagree = by_account
        .clone()
        .header("stripe-context", "acct_2")
        .find("k")
        .await;
    snap!("apps_context_disagrees", disagree);
    let empty_segment = Client::new(&server, "sk_test_123")
        .header("stripe-context", "acct_1//acct_2")
        .find("k")
        .await;
    assert_eq!(empty_segment.status, 400);
    assert_eq!(
        empty_segment.err("message"),
        "Invalid Stripe-Context header: acct_1//acct_2: each `/`-separated segment must name an \
         account."
    );
}

#[tokio::test]
async fn a_ui_extension_reads_the_account_and_its_own_user_and_nobody_elses() {
    let server = MockServer::start().await;
    let backend = Client::new(&server, "sk_test_123");
    let user =
        |name: &str, who: &str| format!("name={name}&payload=p&scope[type]=user&scope[user]={who}");
    for who in ["usr_me", "usr_other"] {
        let res = backend.post("/v1/apps/secrets", &user("tok", who)).await;
        assert_eq!(res.status, 200);
    }
    let ui = backend
        .clone()
        .header("stripe-mock-ui-extension-user", "usr_me");
    let mine = ui
        .get("/v1/apps/secrets/find?name=tok&scope[type]=user&scope[user]=usr_me")
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(ui.create("shared", "v").await.status, 200);
    assert_eq!(ui.find("shared").await.status, 200);
    let theirs = ui
        .get("/v1/apps/secrets/find?name=tok&scope[type]=user&scope[user]=usr_other")
        .await;
    snap!("apps_ui_extension_other_user", theirs);
    for (method, path, form) in [
        ("POST", "/v1/apps/secrets", user("new", "usr_other")),
        (
            "POST",
            "/v1/apps/secrets/delete",
            "name=tok&scope[type]=user&scope[user]=usr_other".to_string(),
        ),
        (
            "GET",
            "/v1/apps/secrets",
            "scope[type]=user&scope[user]=usr_other".to_string(),
        ),
    ] {
        let res = match method {
            "GET" => ui.get(&format!("{path}?{form}")).await,
            _ => ui.post(path, &form).await,
        };
        assert_eq!(res.status, 403, "{method} {path}: {}", res.text);
    }
    // The other user's secret is untouched; the backend still reaches it.
    let still = backend
        .get("/v1/apps/secrets/find?name=tok&scope[type]=user&scope[user]=usr_other")
        .await;
    assert_eq!(still.status, 200);
}

#[tokio::test]
async fn an_app_whose_manifest_lacks_secret_write_is_refused_with_stripes_403() {
    let without = temp_file(
        "apps-manifests",
        "without.json",
        r#"{"id": "com.example.app", "version": "1.0.0",
            "permissions": [{"permission": "customer_read", "purpose": "Show customers"}]}"#,
    );
    let with = temp_file(
        "apps-manifests",
        "with.json",
        r#"{"id": "com.example.app", "permissions": [
            {"permission": "secret_write", "purpose": "Store the API key of our service"}]}"#,
    );
    let server = MockServer::builder()
        .app_manifest(&without)
        .app_manifest_for("sk_test_granted", &with)
        .start()
        .await;
    let refused = Client::new(&server, "sk_test_123").create("k", "v").await;
    snap!("apps_manifest_without_secret_write", refused);
    let connected = Client::new(&server, "sk_test_123")
        .account("acct_1")
        .find("k")
        .await;
    assert_eq!(connected.status, 403);
    assert!(
        connected.err("message").contains("on account 'acct_1'"),
        "{}",
        connected.text
    );
    let granted = Client::new(&server, "sk_test_granted");
    assert_eq!(granted.create("k", "v").await.status, 200);
    assert_eq!(granted.find("k").await.status, 200);

    let broken = temp_file("apps-manifests", "broken.json", "{\"permissions\": 3}");
    let e = MockServer::builder()
        .app_manifest(&broken)
        .try_start()
        .await
        .err()
        .expect("a broken manifest stops the start");
    assert!(
        e.to_string()
            .ends_with("broken.json: `permissions` must be an array"),
        "{e}"
    );
}

#[tokio::test]
async fn both_array_encodings_are_one_request_in_the_journal_and_transcript() {
    let server = MockServer::start().await;
    let c = Client::new(&server, "sk_test_123");
    assert_eq!(c.create("k", "v").await.status, 200);
    let indexed = c.get(&format!("{FIND}&expand[0]=payload")).await;
    let bracketed = c.get(&format!("{FIND}&expand[]=payload")).await;
    assert_eq!(indexed.body, bracketed.body);
    let journal = server.received_requests();
    assert_eq!(journal[1].params, journal[2].params);
    assert_eq!(
        journal[1].params.as_ref().unwrap()["expand"],
        json!(["payload"])
    );
    let transcript = server.transcript();
    let sent = |i: usize| transcript.interactions[i].request.params.clone();
    assert_eq!(sent(1), sent(2));
    let both = Expectation::operation("getAppsSecretsFind")
        .param("expand[0]", "payload")
        .times(2);
    server.assert_received(&both);
}
