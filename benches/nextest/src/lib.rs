//! A raw HTTP/1.1 client (one keep-alive connection, `Content-Length`
//! bodies), so both suites pay for the same client: nothing but a socket.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Client {
    stream: TcpStream,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = deadline(TcpStream::connect(addr)).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Client { stream }
    }

    /// Sends one request and returns (status, body).
    pub async fn send(&mut self, method: &str, target: &str, form: &str) -> (u16, String) {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer sk_test_123\r\n\
             content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{form}",
            form.len()
        );
        deadline(self.stream.write_all(request.as_bytes()))
            .await
            .unwrap();
        deadline(read_response(&mut self.stream)).await
    }
}

async fn deadline<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("the server answers within 10 s")
}

async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .unwrap()
        .to_ascii_lowercase();
    let status: u16 = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a content-length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    (
        status,
        String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap(),
    )
}

/// CPU time this process has used so far (user + system), in microseconds.
pub fn cpu_micros() -> u64 {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}
