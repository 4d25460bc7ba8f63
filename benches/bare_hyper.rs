//! The baseline for `benches/load.rs`: a bare hyper server on the same
//! runtime and connection builder as the mock, answering every request with
//! a fixed secret-shaped JSON body. Whatever the mock costs beyond this is
//! the price of what it does (decoding, validation, state, journal).
//!
//! Run by the load benchmark; by hand: `cargo run --release --example
//! bare_hyper -- PORT` (prints `listening on http://…` like the mock).

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

const BODY: &[u8] = br#"{
  "id": "appsecret_5Ldu9Mu7ZGmWq0tTzwfDbG6d7h3pbV",
  "object": "apps.secret",
  "created": 1700000000,
  "expires_at": null,
  "livemode": false,
  "name": "k",
  "scope": {
    "type": "account"
  }
}"#;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    println!("listening on http://{}", listener.local_addr().unwrap());
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = hyper::service::service_fn(|_req| async {
            let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
            res.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(res)
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
