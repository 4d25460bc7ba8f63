//! Figures, not tests: how cheap a server is to start (test suites start
//! hundreds) and what one request costs, each against a baseline measured in
//! the same run on the same machine, printed as a ratio.
//!
//! Run: `cargo bench --bench startup`

use std::convert::Infallible;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use stripe_secrets_mock::MockServer;
use tokio::net::{TcpListener, TcpStream};

const SERVERS: u32 = 200;
const REQUESTS: u32 = 2_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Parse the bundled spec and compile a find's validators once, as any
    // real test binary would after its first test.
    drop(MockServer::start().await);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let baseline = time(SERVERS, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let task = tokio::spawn(async move {
            let _ = listener.accept().await;
        });
        task.abort();
    })
    .await;
    let mock = time(SERVERS, || async {
        drop(MockServer::start().await);
    })
    .await;
    report("start a server", mock, baseline);

    // Baseline: a bare hyper server answering a fixed JSON body.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"id\": \"appsecret_x\", \"object\": \"apps.secret\"}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let server = MockServer::start().await;
    let mut mock_conn = connect(server.address()).await;
    let create = Request::post("/v1/apps/secrets")
        .header("authorization", "Bearer sk_test_123")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"name=k&payload=v&scope[type]=account",
        )))
        .unwrap();
    mock_conn.send_request(create).await.unwrap();
    let find = "/v1/apps/secrets/find?name=k&scope[type]=account&expand[]=payload";

    let mut bare_conn = connect(bare_addr).await;
    let bare = time_requests(&mut bare_conn, find).await;
    let mock = time_requests(&mut mock_conn, find).await;
    report("serve a find request", mock, bare);
}

async fn connect(addr: std::net::SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn time_requests(conn: &mut SendRequest<Full<Bytes>>, path: &str) -> Duration {
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let req = Request::get(path)
            .header("authorization", "Bearer sk_test_123")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let res = conn.send_request(req).await.unwrap();
        assert!(res.status().is_success());
        res.into_body().collect().await.unwrap();
    }
    started.elapsed() / REQUESTS
}

async fn time<F, Fut>(n: u32, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    for _ in 0..n {
        f().await;
    }
    started.elapsed() / n
}

fn report(what: &str, mock: Duration, baseline: Duration) {
    println!(
        "{what:<22} mock {:>9.1} µs   baseline {:>9.1} µs   ratio {:>6.1}x",
        mock.as_secs_f64() * 1e6,
        baseline.as_secs_f64() * 1e6,
        mock.as_secs_f64() / baseline.as_secs_f64()
    );
}
