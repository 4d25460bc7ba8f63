//! Coverage: what a suite exercised and what it never did, per operation of
//! the spec (docs/behaviour.md §11).

use stripe_secrets_mock::{Fault, MockServer};

use crate::support::{pin_text, Client};
use crate::transcript::scripted_session;

#[tokio::test]
async fn a_session_shows_what_it_hit_and_what_it_missed() {
    let server = MockServer::builder().max_secrets_per_scope(2).start().await;
    scripted_session(&server).await;
    let c = Client::new(&server, "sk_test_123");
    // Hit: scope full (c is left in the account scope; d fills it).
    assert_eq!(c.create("d", "x").await.status, 200);
    assert_eq!(c.create("e", "x").await.status, 400);
    // Hit: an injected fault and an unknown path.
    server.inject_fault(Fault::status(503));
    assert_eq!(
        c.get("/v1/apps/secrets?scope[type]=account").await.status,
        503
    );
    assert_eq!(c.get("/v1/nothing").await.status, 404);

    let report = server.coverage();
    let never = &report.never_exercised;
    let hit = |s: &str| !never.iter().any(|n| n == s);
    assert!(hit("getAppsSecretsFind: 404 secret_not_found"));
    assert!(hit("postAppsSecrets: 400 scope_full"));
    assert!(hit("postAppsSecrets: 200 replayed"));
    assert!(hit("getAppsSecrets: starting_after"));
    assert!(hit("getAppsSecrets: 200 has_more"));
    assert!(!hit("getAppsSecrets: ending_before"));
    assert!(!hit("postAppsSecretsDelete: 404 secret_not_found"));
    assert!(!hit("postAppsSecrets: 400 expires_at_past"));
    assert!(hit("getAppsSecretsFind: scope[type]=user"));
    assert!(!hit("postAppsSecretsDelete: scope[type]=user"));
    assert_eq!(report.requests, 14);
    assert_eq!(report.unrouted, 1);
    pin_text("coverage_of_a_session", &report.to_string());

    // The endpoint serves the same report, as JSON the control spec accepts.
    let json = Client::anonymous(&server).get("/_mock/coverage").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.body, report.to_json());

    // A full reset starts counting again.
    server.reset();
    assert_eq!(server.coverage().requests, 0);
}
