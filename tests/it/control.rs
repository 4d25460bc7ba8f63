//! The /_mock/ control endpoints: health, clock, reset, state export/import.

use serde_json::json;
use stripe_secrets_mock::MockServer;

use crate::support::{example_fixture, snap, Client};

async fn seeded() -> (MockServer, Client, Client) {
    let server = MockServer::builder()
        .fixtures(example_fixture())
        .start()
        .await;
    let app = Client::new(&server, "sk_test_123");
    let control = Client::anonymous(&server);
    (server, app, control)
}

#[tokio::test]
async fn health_answers_without_a_key() {
    let (_server, _, control) = seeded().await;
    let res = control.get("/_mock/health").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["status"], "ok");
    assert_eq!(res.body["spec_version"], "2023-10-16");
}

#[tokio::test]
async fn the_clock_can_be_read_set_and_advanced() {
    let (server, _, control) = seeded().await;
    let res = control.get("/_mock/clock").await;
    snap!("control_clock", res);
    let set = control.post("/_mock/clock", "now=1800000000").await;
    assert_eq!(set.body["now"], 1_800_000_000);
    let back = control.post("/_mock/clock", "advance=-100").await;
    assert_eq!(back.body["now"], 1_799_999_900);
    assert_eq!(server.clock().now(), 1_799_999_900);
}

#[tokio::test]
async fn clock_moves_need_exactly_one_of_now_and_advance() {
    let (_server, _, control) = seeded().await;
    let both = control.post("/_mock/clock", "now=1&advance=1").await;
    assert_eq!(both.status, 400);
    assert_eq!(
        both.err("message"),
        "You may only specify one of these parameters: advance, now."
    );
    let neither = control.post("/_mock/clock", "").await;
    assert_eq!(neither.status, 400);
    let bad = control.post("/_mock/clock", "now=soon").await;
    assert_eq!(bad.err("message"), "Invalid integer: soon");
    assert_eq!(bad.err("param"), "now");
    let unknown = control.post("/_mock/clock", "at=5").await;
    assert_eq!(unknown.err("code"), "parameter_unknown");
}

#[tokio::test]
async fn the_system_clock_cannot_be_moved() {
    let server = MockServer::builder().system_clock().start().await;
    let control = Client::anonymous(&server);
    assert_eq!(control.get("/_mock/clock").await.body["kind"], "system");
    let res = control.post("/_mock/clock", "advance=5").await;
    assert_eq!(res.status, 400);
    assert!(res.err("message").contains("system clock"));
}

#[tokio::test]
async fn an_expired_secret_stays_gone_when_the_clock_goes_back() {
    let (_server, app, control) = seeded().await;
    let find = "/v1/apps/secrets/find?name=oauth-token&scope[type]=user&scope[user]=usr_example";
    assert_eq!(app.get(find).await.status, 200);
    control.post("/_mock/clock", "advance=60").await;
    control.post("/_mock/clock", "advance=-60").await;
    assert_eq!(app.get(find).await.status, 404);
}

#[tokio::test]
async fn reset_restores_the_startup_state_and_clears_the_journal() {
    let (server, app, control) = seeded().await;
    app.create("new", "v").await;
    app.post(
        "/v1/apps/secrets/delete",
        "name=third-party-api-key&scope[type]=account",
    )
    .await;
    control.post("/_mock/clock", "advance=3600").await;
    let res = control.post("/_mock/reset", "").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["secrets"], 3);
    assert_eq!(res.body["requests_removed"], 2);
    assert_eq!(server.clock().now(), 1_700_000_000);
    assert!(server.received_requests().is_empty());
    let list = app.list().await;
    let names = list.names();
    assert_eq!(names, ["third-party-api-key"]);
    // Id streams restart too: the same request gets the same id again.
    control.post("/_mock/reset", "").await;
    let first = app.create("again", "v").await;
    control.post("/_mock/reset", "").await;
    let second = app.create("again", "v").await;
    assert_eq!(first.text, second.text);
}

#[tokio::test]
async fn resetting_one_app_leaves_the_others_alone() {
    let (server, app, control) = seeded().await;
    let other = Client::new(&server, "sk_test_other");
    app.create("mine", "v").await;
    other.create("theirs", "v").await;
    let res = control.post("/_mock/reset", "app=sk_test_123").await;
    // Stripe's masking keeps the last 4 characters: short keys show whole.
    assert_eq!(res.body["app"], "sk_test_123");
    assert_eq!(res.body["requests_removed"], 1);
    let journal = server.received_requests();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].app.as_deref(), Some("sk_test_*ther"));
    assert_eq!(app.find("mine").await.status, 404);
    // The app's fixture secrets are back; the other app kept its secret.
    assert_eq!(app.find("third-party-api-key").await.status, 200);
    assert_eq!(other.find("theirs").await.status, 200);
}

#[tokio::test]
async fn resetting_one_account_of_an_app() {
    let (_server, app, control) = seeded().await;
    let connected = app.clone().account("acct_example");
    connected.create("extra", "v").await;
    app.create("platform-extra", "v").await;
    control
        .post("/_mock/reset", "app=sk_test_123&account=acct_example")
        .await;
    assert_eq!(connected.find("extra").await.status, 404);
    assert_eq!(app.find("platform-extra").await.status, 200);
    let missing_app = control.post("/_mock/reset", "account=acct_example").await;
    assert_eq!(missing_app.err("message"), "Missing required param: app.");
}

#[tokio::test]
async fn exported_state_imported_into_a_fresh_server_gives_the_same_answers() {
    let (server, app, control) = seeded().await;
    app.create("added", "later").await;
    server.clock().advance(10);
    app.post(
        "/v1/apps/secrets",
        "name=u2&payload=w&scope[type]=user&scope[user]=usr_2&expires_at=1700009999",
    )
    .await;
    let exported = control.get("/_mock/state").await;
    assert_eq!(exported.status, 200, "{}", exported.text);
    snap!("control_export", exported);

    let fresh = MockServer::builder().seed(99).start().await;
    let imported = Client::anonymous(&fresh)
        .post_json("/_mock/state", &exported.body)
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    assert_eq!(imported.body["secrets"], 5);
    assert_eq!(fresh.clock().now(), 1_700_000_010);

    let copy = Client::new(&fresh, "sk_test_123");
    for query in [
        "/v1/apps/secrets?scope[type]=account&expand[]=data.payload",
        "/v1/apps/secrets?scope[type]=user&scope[user]=usr_example",
        "/v1/apps/secrets/find?name=u2&scope[type]=user&scope[user]=usr_2&expand[]=payload",
    ] {
        assert_eq!(
            app.get(query).await.body,
            copy.get(query).await.body,
            "{query}"
        );
    }
    let connected = "/v1/apps/secrets?scope[type]=account&expand[]=data.payload";
    assert_eq!(
        app.clone()
            .account("acct_example")
            .get(connected)
            .await
            .body,
        copy.clone()
            .account("acct_example")
            .get(connected)
            .await
            .body
    );
    // New secrets on the copy never reuse an imported id.
    let created = copy.create("fresh", "v").await;
    assert_eq!(created.status, 200);
    let ids: Vec<&str> = exported.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&created.body["id"].as_str().unwrap()));
}

#[tokio::test]
async fn an_invalid_import_changes_nothing() {
    let (_server, app, control) = seeded().await;
    let bad = json!({"secrets": [
        {"app": "sk_test_123", "name": "ok", "payload": "v", "scope": {"type": "account"}},
        {"app": "sk_test_123", "name": "bad", "payload": "v", "scope": {"type": "team"}}
    ]});
    let res = control.post_json("/_mock/state", &bad).await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid fixture: request body: /secrets/1/scope/type: must be one of account, user"
    );
    let unknown = control
        .post_json("/_mock/state", &json!({"secretz": []}))
        .await;
    assert_eq!(
        unknown.err("message"),
        "Received unknown parameter: secretz"
    );
    let not_json = control
        .send("POST", "/_mock/state", "{", Some("application/json"))
        .await;
    assert_eq!(not_json.status, 400);
    let list = app.list().await;
    assert_eq!(list.body["data"][0]["name"], "third-party-api-key");
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_control_paths_are_404_and_stripe_paths_are_untouched() {
    let (_server, app, control) = seeded().await;
    let res = control.get("/_mock/nope").await;
    assert_eq!(res.status, 404);
    assert!(res
        .err("message")
        .starts_with("Unrecognized request URL (GET: /_mock/nope)."));
    // Stripe paths still want a key.
    let res = control.list().await;
    assert_eq!(res.status, 401);
    assert_eq!(app.list().await.status, 200);
}

#[tokio::test]
async fn a_control_token_guards_the_control_api_and_nothing_else() {
    let server = MockServer::builder().control_token("s3cret").start().await;
    let anonymous = Client::anonymous(&server);
    let refused = anonymous.get("/_mock/state").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.err("type"), "invalid_request_error");
    assert!(refused.err("message").contains("--control-token"));
    let wrong = anonymous
        .clone()
        .header("authorization", "Bearer nope")
        .get("/_mock/health")
        .await;
    assert_eq!(wrong.status, 401);
    let right = anonymous
        .header("authorization", "Bearer s3cret")
        .get("/_mock/health")
        .await;
    assert_eq!(right.status, 200);
    // The Stripe paths still take API keys, and the harness needs no token.
    assert_eq!(
        Client::new(&server, "sk_test_1")
            .create("k", "v")
            .await
            .status,
        200
    );
    assert_eq!(
        server.export_state()["secrets"].as_array().unwrap().len(),
        1
    );
}
