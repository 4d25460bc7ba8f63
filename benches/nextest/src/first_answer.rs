//! The first answer of a fresh process: what every test pays under a
//! runner that gives each test a process of its own (cargo-nextest).
//!
//! `first_answer` (no argument) runs itself `ROUNDS` times per kind,
//! alternating, and prints the medians: wall time from process start to
//! the first 200, and CPU time used by then, for `mock` (an in-process
//! `MockServer`, one create) against `bare` (a bare hyper server started
//! in-process, answering a fixed body).

use std::convert::Infallible;
use std::time::Instant;

use nextest_suite_bench::{cpu_micros, Client};

const ROUNDS: usize = 40;

/// One child's figures: main → first 200 (wall, µs), CPU by then (µs),
/// spawn → exit (wall, µs).
type Figures = (u64, u64, u64);

/// A row of the report: its label and which figure it shows.
type Row = (&'static str, fn(&Figures) -> u64);

fn main() {
    let started = Instant::now();
    match std::env::args().nth(1).as_deref() {
        Some("mock") => child(started, true),
        Some("bare") => child(started, false),
        _ => parent(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn child(started: Instant, mock: bool) {
    let (addr, _keep) = if mock {
        let server = stripe_secrets_mock::MockServer::start().await;
        (server.address(), Some(server))
    } else {
        (bare().await, None)
    };
    let mut client = Client::connect(addr).await;
    let (status, body) = client
        .send(
            "POST",
            "/v1/apps/secrets",
            "name=k&payload=v&scope[type]=account",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    println!("{} {}", started.elapsed().as_micros(), cpu_micros());
}

async fn bare() -> std::net::SocketAddr {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"{\"id\":\"appsecret_x\",\"object\":\"apps.secret\"}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn parent() {
    let me = std::env::current_exe().unwrap();
    let mut figures: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (slot, kind) in ["mock", "bare"].iter().enumerate() {
            let spawned = Instant::now();
            let out = std::process::Command::new(&me).arg(kind).output().unwrap();
            let whole = spawned.elapsed().as_micros() as u64;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).unwrap();
            let mut parts = text.split_whitespace().map(|v| v.parse::<u64>().unwrap());
            figures[slot].push((parts.next().unwrap(), parts.next().unwrap(), whole));
        }
    }
    let median = |slot: usize, pick: fn(&Figures) -> u64| {
        let mut v: Vec<u64> = figures[slot].iter().map(pick).collect();
        v.sort_unstable();
        v[v.len() / 2] as f64 / 1000.0
    };
    let rows: [Row; 3] = [
        ("main -> first 200, wall (ms)", |f| f.0),
        ("main -> first 200, CPU (ms)", |f| f.1),
        ("spawn -> exit, wall (ms)", |f| f.2),
    ];
    println!("first answer of a fresh process, median of {ROUNDS} alternating runs each:");
    for (name, pick) in rows {
        let (mock, bare) = (median(0, pick), median(1, pick));
        println!(
            "{name:<32} mock {mock:>7.2}   bare hyper {bare:>7.2}   ratio {:>5.2}",
            mock / bare
        );
    }
}
