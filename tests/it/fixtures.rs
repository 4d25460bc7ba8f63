//! Seeding state from fixture files, and refusing bad ones loudly.

use std::process::Stdio;

use stripe_secrets_mock::{BuildError, MockServer};

use crate::support::{example_fixture, temp_file, Client};

const BIN: &str = env!("CARGO_BIN_EXE_stripe-secrets-mock");

#[tokio::test]
async fn the_example_fixture_seeds_secrets_per_app_account_and_scope() {
    let server = MockServer::builder()
        .fixtures(example_fixture())
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    let account = client
        .get("/v1/apps/secrets/find?name=third-party-api-key&scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(account.status, 200);
    assert_eq!(account.body["payload"], "tp_live_abc123");
    assert_eq!(account.body["created"], 1_700_000_000);
    let user = client
        .get("/v1/apps/secrets/find?name=oauth-token&scope[type]=user&scope[user]=usr_example")
        .await;
    assert_eq!(user.body["id"], "appsecret_ExampleOauthToken0000000001");
    assert_eq!(user.body["created"], 1_699_990_000);
    let connected = client
        .clone()
        .account("acct_example")
        .get("/v1/apps/secrets/find?name=third-party-api-key&scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(connected.body["payload"], "connected-account-value");
    // Another app sees none of it.
    let other = Client::new(&server, "sk_test_other").list().await;
    assert_eq!(other.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_fixture_secret_expires_when_the_control_endpoint_advances_the_clock() {
    let fixture = r#"{"clock": {"now": 1800000000}, "secrets": [
        {"app": "sk_test_123", "name": "short-lived", "payload": "v",
         "scope": {"type": "account"}, "expires_at": 1800000060}]}"#;
    let server = MockServer::builder()
        .fixture_json("inline.json", fixture)
        .start()
        .await;
    let client = Client::new(&server, "sk_test_123");
    let find = "/v1/apps/secrets/find?name=short-lived&scope[type]=account";
    assert_eq!(client.get(find).await.status, 200);
    let moved = Client::anonymous(&server)
        .post("/_mock/clock", "advance=60")
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["now"], 1_800_000_060);
    let gone = client.get(find).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.err("message"), "No such secret: 'short-lived'");
}

#[tokio::test]
async fn a_bad_fixture_stops_the_library_with_file_pointer_and_rule() {
    let err = MockServer::builder()
        .fixture_json(
            "fixtures/a.json",
            r#"{"secrets": [{"app": "sk_test_1", "name": "k", "payload": "v", "scope": {"type": "team"}}]}"#,
        )
        .try_start()
        .await
        .err()
        .expect("start fails");
    assert!(matches!(err, BuildError::Fixture(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "fixtures/a.json: /secrets/0/scope/type: must be one of account, user"
    );
}

#[tokio::test]
async fn a_bad_fixture_makes_the_binary_exit_non_zero_naming_it() {
    let bad = temp_file(
        "bad",
        "bad.json",
        r#"{"secrets": [
            {"app": "sk_test_1", "name": "a", "payload": "v", "scope": {"type": "account"}},
            {"app": "sk_test_1", "name": "b", "payload": "v", "scope": {"type": "account"}, "created": 10, "expires_at": 5}
        ]}"#,
    );
    let out = tokio::process::Command::new(BIN)
        .args(["--port", "0", "--fixtures"])
        .arg(&bad)
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: /secrets/1/expires_at: must be after created (10)",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it must not start listening");
}

#[tokio::test]
async fn check_fixtures_checks_without_serving() {
    let ok = tokio::process::Command::new(BIN)
        .args(["check-fixtures"])
        .arg(example_fixture())
        .output()
        .await
        .unwrap();
    assert!(ok.status.success());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "ok: 3 secrets");

    let bad = temp_file("not-json", "not-json.json", "{\"secrets\": [");
    let out = tokio::process::Command::new(BIN)
        .arg("check-fixtures")
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}

#[tokio::test]
async fn a_folder_loads_every_json_file_in_name_order() {
    let a = temp_file(
        "folder",
        "a.json",
        r#"{"secrets": [{"app": "sk_test_1", "name": "first", "payload": "v", "scope": {"type": "account"}}]}"#,
    );
    temp_file(
        "folder",
        "b.json",
        r#"{"secrets": [{"app": "sk_test_1", "name": "second", "payload": "v", "scope": {"type": "account"}}]}"#,
    );
    temp_file("folder", "ignored.txt", "not a fixture");
    let server = MockServer::builder()
        .fixtures(a.parent().unwrap())
        .start()
        .await;
    let list = Client::new(&server, "sk_test_1").list().await;
    let names = list.names();
    // Same `created`: the later-loaded one is newer.
    assert_eq!(names, ["second", "first"]);
}

#[tokio::test]
async fn conflicting_clocks_are_refused_and_an_explicit_now_wins() {
    let err = MockServer::builder()
        .fixture_json("one.json", r#"{"clock": {"now": 1}}"#)
        .fixture_json("two.json", r#"{"clock": {"now": 2}}"#)
        .try_start()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "two.json: /clock/now: 2 conflicts with 1 set by one.json"
    );
    let server = MockServer::builder()
        .fixture_json("one.json", r#"{"clock": {"now": 1}}"#)
        .now(5)
        .start()
        .await;
    assert_eq!(server.clock().now(), 5);
}

#[tokio::test]
async fn only_regular_files_are_read_as_fixtures_and_never_block() {
    let dir = std::env::temp_dir().join(format!("fixtures-special-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("a.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let zero = dir.join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for path in [&fifo, &zero, &dir] {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            tokio::process::Command::new(BIN)
                .arg("check-fixtures")
                .arg(path)
                .output(),
        )
        .await
        .expect("check-fixtures does not block on a FIFO or a device")
        .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    let e = MockServer::builder()
        .fixtures(&zero)
        .try_start()
        .await
        .err()
        .unwrap();
    assert!(matches!(e, BuildError::Fixture(_)), "{e}");
    // A regular file over 16 MiB is refused by its size.
    let big = dir.join("big.json");
    std::fs::write(&big, vec![b' '; (16 << 20) + 1]).unwrap();
    let e = MockServer::builder()
        .fixtures(&big)
        .try_start()
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("larger than 16777216 bytes"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
