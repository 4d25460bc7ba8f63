//! Code that uses async-stripe, tested against the mock: set, find with the
//! payload, a list paginated by async-stripe, delete, the 404 after it as
//! async-stripe parses it, and its retries against injected faults.

use futures_util::TryStreamExt;
use stripe::{Client, ClientBuilder, RequestStrategy, StripeError};
use stripe_connect::apps_secret::{
    CreateAppsSecret, CreateAppsSecretScope, CreateAppsSecretScopeType, DeleteWhereAppsSecret,
    DeleteWhereAppsSecretScope, DeleteWhereAppsSecretScopeType, FindAppsSecret,
    FindAppsSecretScope, FindAppsSecretScopeType, ListAppsSecret, ListAppsSecretScope,
    ListAppsSecretScopeType,
};
use stripe_secrets_mock::{Fault, MockServer};

/// The client your code builds, pointed at the mock.
fn client(server: &MockServer, strategy: RequestStrategy) -> Client {
    ClientBuilder::new("sk_test_asyncstripe")
        .url(server.url())
        .request_strategy(strategy)
        .build()
        .expect("a client")
}

fn create(name: &str) -> CreateAppsSecret {
    CreateAppsSecret::new(
        name,
        format!("payload of {name}"),
        CreateAppsSecretScope::new(CreateAppsSecretScopeType::Account),
    )
}

#[tokio::test]
async fn set_find_list_delete_and_the_404_after() {
    let server = MockServer::start().await;
    let stripe = client(&server, RequestStrategy::Once);
    for name in ["a", "b", "c"] {
        create(name).send(&stripe).await.expect("set");
    }
    let account = || FindAppsSecretScope::new(FindAppsSecretScopeType::Account);
    let found = FindAppsSecret::new("b", account())
        .expand(vec!["payload".to_string()])
        .send(&stripe)
        .await
        .expect("find");
    assert_eq!(found.payload.as_deref(), Some("payload of b"));

    // Pages of one, followed by async-stripe: newest first.
    let names: Vec<String> =
        ListAppsSecret::new(ListAppsSecretScope::new(ListAppsSecretScopeType::Account))
            .limit(1)
            .paginate()
            .stream(&stripe)
            .map_ok(|s| s.name)
            .try_collect()
            .await
            .expect("list");
    assert_eq!(names, ["c", "b", "a"]);

    let scope = DeleteWhereAppsSecretScope::new(DeleteWhereAppsSecretScopeType::Account);
    let deleted = DeleteWhereAppsSecret::new("b", scope)
        .send(&stripe)
        .await
        .expect("delete");
    assert_eq!(deleted.deleted, Some(true));
    match FindAppsSecret::new("b", account()).send(&stripe).await {
        Err(StripeError::Stripe(error, 404)) => {
            assert_eq!(error.message.as_deref(), Some("No such secret: 'b'"));
            assert_eq!(error.param.as_deref(), Some("name"));
        }
        other => panic!("expected a parsed 404, got {other:?}"),
    }
}

#[tokio::test]
async fn retries_ride_out_injected_faults() {
    let server = MockServer::start().await;
    // The next two requests fail with a 503 before they run.
    server.inject_fault(Fault::status(503).times(2));
    let stripe = client(&server, RequestStrategy::Retry(3));
    create("k")
        .send(&stripe)
        .await
        .expect("the third attempt succeeds");
    let statuses: Vec<_> = server
        .received_requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    assert_eq!(server.stats().secrets, 1);

    // Without retries, the fault is the answer, parsed as Stripe's.
    server.inject_fault(Fault::status(503));
    let once = client(&server, RequestStrategy::Once);
    match create("k").send(&once).await {
        Err(StripeError::Stripe(error, 503)) => {
            assert!(error.message.unwrap_or_default().contains("Injected fault"));
        }
        other => panic!("expected a parsed 503, got {other:?}"),
    }
}
