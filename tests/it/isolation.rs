//! One API key is one app; each Stripe-Account is its own partition.

use crate::support::{start, Client};

#[tokio::test]
async fn two_keys_never_see_each_others_secrets() {
    let (server, a) = start().await;
    let b = Client::new(&server, "sk_test_other");
    a.create("shared-name", "from-a").await;
    let res = b.find("shared-name").await;
    assert_eq!(res.status, 404);
    let list = b.list().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
    // b's own secret of the same name does not disturb a's.
    b.create("shared-name", "from-b").await;
    let mine = a
        .get("/v1/apps/secrets/find?name=shared-name&scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(mine.body["payload"], "from-a");
}

#[tokio::test]
async fn connected_accounts_are_separate_partitions() {
    let (_server, platform) = start().await;
    let connected = platform.clone().account("acct_1");
    connected.create("k", "connected").await;
    assert_eq!(platform.find("k").await.status, 404);
    let other = platform.clone().account("acct_2");
    assert_eq!(other.find("k").await.status, 404);
    let res = connected
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload")
        .await;
    assert_eq!(res.body["payload"], "connected");
}

#[tokio::test]
async fn the_scope_limit_is_per_partition() {
    let (server, a) = start().await;
    let b = Client::new(&server, "sk_test_other");
    for i in 0..10 {
        assert_eq!(a.create(&format!("n{i}"), "v").await.status, 200);
    }
    assert_eq!(b.create("n10", "v").await.status, 200);
}
