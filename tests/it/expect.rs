//! Expectations on what the mock received, with failure messages that show
//! the closest requests (pinned).

use stripe_secrets_mock::contract::Expectation;
use stripe_secrets_mock::MockServer;

use crate::support::pin_text;
use crate::transcript::scripted_session;

#[tokio::test]
async fn expectations_count_matching_requests() {
    let server = MockServer::start().await;
    scripted_session(&server).await;
    let find_user = Expectation::operation("getAppsSecretsFind")
        .param("scope[type]", "user")
        .param("scope[user]", "usr_1");
    assert_eq!(server.verify_received(&find_user), Ok(1));
    server.assert_received(&find_user.clone().times(1).status(200));
    server.assert_received(
        &Expectation::operation("postAppsSecrets")
            .param("name", "a")
            .app("sk_test_123")
            .times(2),
    );
    server.assert_received(&Expectation::request("POST", "/v1/apps/secrets/delete").times(1));
    server.assert_received(&Expectation::any().status(401).times(1));
    server.assert_received(
        &Expectation::operation("getAppsSecrets")
            .without_param("starting_after")
            .times(2),
    );
    server.assert_received(
        &Expectation::operation("getAppsSecrets")
            .account("acct_1")
            .never(),
    ); // An array's items: by index, or any of them with `[]`.
    server.assert_received(&Expectation::any().param("expand[0]", "payload").times(1));
    server.assert_received(&Expectation::any().param("expand[]", "payload").times(1));
    server.assert_received(&Expectation::any().without_param("expand[]").times(9));
    let wrong = Expectation::operation("getAppsSecretsFind").param("expand[]", "name");
    let e = server.verify_received(&wrong).unwrap_err().to_string();
    assert!(
        e.contains("differs: expand[] is \"payload\", not \"name\""),
        "{e}"
    );
}

#[tokio::test]
async fn a_failure_names_the_expectation_and_the_closest_requests() {
    let server = MockServer::start().await;
    scripted_session(&server).await;
    let twice = Expectation::operation("getAppsSecretsFind")
        .param("scope[type]", "user")
        .param("scope[user]", "usr_1")
        .times(2);
    pin_text(
        "expect_find_twice",
        &server.verify_received(&twice).unwrap_err().to_string(),
    );
    let other_user = Expectation::operation("getAppsSecretsFind").param("scope[user]", "usr_2");
    pin_text(
        "expect_other_user",
        &server.verify_received(&other_user).unwrap_err().to_string(),
    );
    let never = Expectation::operation("postAppsSecrets").never();
    pin_text(
        "expect_never_but_received",
        &server.verify_received(&never).unwrap_err().to_string(),
    );
    // Nothing received at all says so.
    let empty = MockServer::start().await;
    let e = empty
        .verify_received(&Expectation::operation("getAppsSecrets"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected getAppsSecrets to be received at least once, but it was never received.\n\
         No requests were received."
    );
}

#[tokio::test]
#[should_panic(
    expected = "expected postAppsSecretsDelete with name=b to be received at least once"
)]
async fn assert_received_panics_with_the_message() {
    let server = MockServer::start().await;
    scripted_session(&server).await;
    server.assert_received(&Expectation::operation("postAppsSecretsDelete").param("name", "b"));
}
