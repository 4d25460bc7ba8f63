//! API keys: Bearer and Basic, key shapes, the allow-list, livemode.

use stripe_secrets_mock::MockServer;

use crate::support::{snap, start, Client};

#[tokio::test]
async fn no_key_is_a_401_with_stripe_wording() {
    let (server, _) = start().await;
    let mut anonymous = Client::new(&server, "");
    anonymous.key = None;
    let res = anonymous.list().await;
    assert_eq!(res.status, 401);
    snap!("auth_no_key", res);
}

#[tokio::test]
async fn a_malformed_key_is_a_401_with_the_key_masked() {
    let (server, _) = start().await;
    let res = Client::new(&server, "pk_test_abcdef1234").list().await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.err("message"),
        "Invalid API Key provided: pk_test_******1234"
    );
    let res = Client::new(&server, "sk_test_abc-defg1234").list().await;
    assert_eq!(
        res.err("message"),
        "Invalid API Key provided: sk_test_********1234"
    );
}

#[tokio::test]
async fn basic_auth_with_the_key_as_user_works() {
    let (server, _) = start().await;
    // base64("sk_test_123:")
    let mut client = Client::new(&server, "").header("authorization", "Basic c2tfdGVzdF8xMjM6");
    client.key = None;
    let res = client.create("k", "v").await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The same app as Bearer sk_test_123.
    let bearer = Client::new(&server, "sk_test_123");
    let found = bearer.find("k").await;
    assert_eq!(found.status, 200);
}

#[tokio::test]
async fn live_keys_give_livemode_true() {
    let (server, _) = start().await;
    let res = Client::new(&server, "sk_live_abc").create("k", "v").await;
    assert_eq!(res.body["livemode"], true);
    let res = Client::new(&server, "rk_test_abc").create("k", "v").await;
    assert_eq!(res.body["livemode"], false);
    let err = Client::new(&server, "sk_live_abc").find("nope").await;
    assert!(err
        .err("request_log_url")
        .starts_with("https://dashboard.stripe.com/logs/req_"));
}

#[tokio::test]
async fn an_allow_list_refuses_other_well_formed_keys() {
    let server = MockServer::builder()
        .api_key("sk_test_allowed")
        .start()
        .await;
    let ok = Client::new(&server, "sk_test_allowed")
        .create("k", "v")
        .await;
    assert_eq!(ok.status, 200);
    let refused = Client::new(&server, "sk_test_other9876")
        .create("k", "v")
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.err("message"),
        "Invalid API Key provided: sk_test_*****9876"
    );
}

#[tokio::test]
async fn a_key_of_any_length_past_255_characters_is_a_401_never_a_500() {
    let (server, _) = start().await;
    let at_bound = format!("sk_test_{}", "a".repeat(255 - 8));
    let ok = Client::new(&server, &at_bound).list().await;
    assert_eq!(ok.status, 200);
    for key in [
        format!("{at_bound}a"),
        format!("sk_test_{}", "a".repeat(60_000)),
        // A long lowercase "kind": once kept readable, it made the message
        // break the spec's length and turned the 401 into a 500.
        format!("{}_test_1234", "a".repeat(60_000)),
    ] {
        let res = Client::new(&server, &key).list().await;
        assert_eq!(res.status, 401, "{}", &res.text[..200.min(res.text.len())]);
        assert!(res.err("message").starts_with("Invalid API Key provided: "));
        assert!(res.text.len() < 2_000);
    }
    // A Stripe-Account past 255 characters is refused, not a partition.
    let res = Client::new(&server, "sk_test_123")
        .account(&format!("acct_{}", "1".repeat(300)))
        .list()
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "Invalid Stripe-Account header: an account id is at most 255 characters."
    );
}
