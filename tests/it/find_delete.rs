//! GET /v1/apps/secrets/find and POST /v1/apps/secrets/delete.

use crate::support::{snap, start};

#[tokio::test]
async fn find_returns_the_secret_and_payload_only_when_expanded() {
    let (_server, client) = start().await;
    let created = client.create("k", "v").await;
    let plain = client.find("k").await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body["id"], created.body["id"]);
    assert!(plain.body.get("payload").is_none());
    let expanded = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload")
        .await;
    snap!("find_expanded", expanded);
}

#[tokio::test]
async fn expanding_scope_is_accepted_and_changes_nothing() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let plain = client.find("k").await;
    let with_scope = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=scope")
        .await;
    assert_eq!(with_scope.status, 200);
    assert_eq!(plain.body, with_scope.body);
}

#[tokio::test]
async fn expanding_anything_else_is_refused() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let res = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=name")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.err("message"),
        "This property cannot be expanded (name)."
    );
    assert_eq!(res.err("param"), "expand");
}

#[tokio::test]
async fn finding_a_missing_secret_is_a_404_naming_it() {
    let (_server, client) = start().await;
    let res = client.find("nope").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.err("code"), "resource_missing");
    assert_eq!(res.err("message"), "No such secret: 'nope'");
    assert_eq!(res.err("param"), "name");
    snap!("find_missing", res);
}

#[tokio::test]
async fn a_secret_in_another_scope_is_not_found() {
    let (_server, client) = start().await;
    client.create("k", "v").await;
    let res = client
        .get("/v1/apps/secrets/find?name=k&scope[type]=user&scope[user]=usr_1")
        .await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn delete_returns_the_deleted_secret_and_it_is_gone() {
    let (_server, client) = start().await;
    let created = client.create("k", "v").await;
    let deleted = client.delete("k").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["deleted"], true);
    assert_eq!(deleted.body["id"], created.body["id"]);
    assert!(deleted.body.get("payload").is_none());
    snap!("delete_account_scope", deleted);
    let again = client.delete("k").await;
    assert_eq!(again.status, 404);
    assert_eq!(again.err("message"), "No such secret: 'k'");
    let find = client.find("k").await;
    assert_eq!(find.status, 404);
}

#[tokio::test]
async fn delete_needs_name_and_scope() {
    let (_server, client) = start().await;
    let res = client
        .post("/v1/apps/secrets/delete", "scope[type]=account")
        .await;
    assert_eq!(res.err("message"), "Missing required param: name.");
    let res = client.post("/v1/apps/secrets/delete", "name=k").await;
    assert_eq!(res.err("message"), "Missing required param: scope.");
}
