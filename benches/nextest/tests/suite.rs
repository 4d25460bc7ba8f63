//! The generated suite (see build.rs): `mock::tNNNN` against
//! stripe_secrets_mock::MockServer, `wiremock::tNNNN` against wiremock-rs
//! answering fixed bodies. Each test creates a secret and finds it.

use nextest_suite_bench::Client;

include!(concat!(env!("OUT_DIR"), "/suite.rs"));

async fn mock_case(i: usize) {
    let server = stripe_secrets_mock::MockServer::start().await;
    exercise(server.address(), i).await;
}

async fn wiremock_case(i: usize) {
    use ::wiremock::matchers::{method, path};
    use ::wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let secret = format!(
        r#"{{"id":"appsecret_{i}","object":"apps.secret","created":1,"deleted":false,"expires_at":null,"livemode":false,"name":"k{i}","payload":"v","scope":{{"type":"account"}}}}"#
    );
    Mock::given(method("POST"))
        .and(path("/v1/apps/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_string(secret.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/apps/secrets/find"))
        .respond_with(ResponseTemplate::new(200).set_body_string(secret))
        .mount(&server)
        .await;
    exercise(*server.address(), i).await;
}

async fn exercise(addr: std::net::SocketAddr, i: usize) {
    let mut client = Client::connect(addr).await;
    let form = format!("name=k{i}&payload=v&scope[type]=account");
    let (status, body) = client.send("POST", "/v1/apps/secrets", &form).await;
    assert_eq!(status, 200, "{body}");
    let find = format!("/v1/apps/secrets/find?name=k{i}&scope[type]=account&expand[]=payload");
    let (status, body) = client.send("GET", &find, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("\"name\":\"k{i}\""))
            || body.contains(&format!("\"name\": \"k{i}\"")),
        "{body}"
    );
}
