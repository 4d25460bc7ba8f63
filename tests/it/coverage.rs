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
    assert_eq!(c.list().await.status, 503);
    assert_eq!(c.get("/v1/nothing").await.status, 404);

    let report = server.coverage();
    // How often `name` of `op` was exercised; a name the report does not
    // list for that operation fails the test rather than counting as hit.
    let count = |op: &str, name: &str| -> u64 {
        let op = report
            .operations
            .iter()
            .find(|o| o.operation == op)
            .unwrap_or_else(|| panic!("no operation {op}"));
        let items = op.outcomes.iter().chain(&op.parameters);
        let found: Vec<u64> = items.filter(|i| i.name == name).map(|i| i.count).collect();
        match found[..] {
            [n] => n,
            _ => panic!("{op:?} lists {name} {} times, not once", found.len()),
        }
    };
    let never = |op: &str, name: &str| {
        let listed = report.never_exercised.contains(&format!("{op}: {name}"));
        count(op, name) == 0 && listed
    };
    assert_eq!(count("getAppsSecretsFind", "404 secret_not_found"), 1);
    assert_eq!(count("postAppsSecrets", "400 scope_full"), 1);
    assert_eq!(count("postAppsSecrets", "200 replayed"), 1);
    assert!(count("getAppsSecrets", "starting_after") > 0);
    assert!(count("getAppsSecrets", "200 has_more") > 0);
    assert_eq!(count("getAppsSecrets", "503 injected_fault"), 1);
    assert!(never("getAppsSecrets", "ending_before"));
    assert!(never("postAppsSecretsDelete", "404 secret_not_found"));
    assert!(never("postAppsSecrets", "400 expires_at_past"));
    assert!(count("getAppsSecretsFind", "scope[type]=user") > 0);
    assert!(never("postAppsSecretsDelete", "scope[type]=user"));
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
