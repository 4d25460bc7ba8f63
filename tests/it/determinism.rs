//! Same seed + same requests = the same bytes, even with other apps talking
//! to the same server at the same time.

use stripe_secrets_mock::MockServer;

use crate::support::Client;

/// A scripted session touching every operation and some errors; returns every
/// response's transcript (status, headers that matter, body).
async fn script(client: &Client, server: &MockServer) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..4 {
        out.push(client.create(&format!("n{i}"), "v").await.transcript());
        server.clock().advance(1);
    }
    let steps: [(&str, &str, &str); 6] = [
        ("GET", "/v1/apps/secrets?scope[type]=account&limit=2", ""),
        (
            "GET",
            "/v1/apps/secrets/find?name=n1&scope[type]=account&expand[]=payload",
            "",
        ),
        (
            "POST",
            "/v1/apps/secrets/delete",
            "name=n2&scope[type]=account",
        ),
        (
            "GET",
            "/v1/apps/secrets/find?name=n2&scope[type]=account",
            "",
        ),
        (
            "POST",
            "/v1/apps/secrets",
            "name=n0&payload=w&scope[type]=user&scope[user]=u",
        ),
        ("GET", "/v1/apps/secrets?scope[type]=account&limit=abc", ""),
    ];
    for (method, path, body) in steps {
        let res = if method == "GET" {
            client.get(path).await
        } else {
            client.post(path, body).await
        };
        out.push(res.transcript());
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_byte_identical_responses() {
    let one = MockServer::builder().seed(42).start().await;
    let two = MockServer::builder().seed(42).start().await;
    let a = script(&Client::new(&one, "sk_test_123"), &one).await;
    let b = script(&Client::new(&two, "sk_test_123"), &two).await;
    assert_eq!(a, b);
    // And the transcripts really carry ids that a different seed changes.
    let three = MockServer::builder().seed(43).start().await;
    let c = script(&Client::new(&three, "sk_test_123"), &three).await;
    assert_ne!(a[0], c[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_app_talking_concurrently_does_not_change_an_apps_bytes() {
    let alone = MockServer::builder().seed(9).start().await;
    let expected = script(&Client::new(&alone, "sk_test_a"), &alone).await;

    let shared = MockServer::builder().seed(9).start().await;
    let noisy = Client::new(&shared, "sk_test_b");
    let noise = tokio::spawn(async move {
        for i in 0..30 {
            noisy.create(&format!("x{i}"), "v").await;
            noisy.list().await;
        }
    });
    // The clock is shared; the noisy app does not move it, so only the
    // interleaving of requests differs.
    let got = script(&Client::new(&shared, "sk_test_a"), &shared).await;
    noise.await.unwrap();
    assert_eq!(got, expected);
}
