//! A minimal HTTP client for the tests, and the snapshot helper.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use serde_json::Value;
use stripe_secrets_mock::MockServer;
use tokio::net::TcpStream;

/// A response, with the body parsed.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// A header's value; `None` when absent (an empty value is `Some("")`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a visible ASCII header"))
    }

    /// A header that must be there.
    pub fn must(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
    }

    /// The `name` of each secret in a list response, in order.
    pub fn names(&self) -> Vec<String> {
        self.body["data"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// `error.<field>` as a string ("" when absent).
    pub fn err(&self, field: &str) -> &str {
        self.body["error"][field].as_str().unwrap_or("")
    }

    /// Status, the headers that matter, and the body, as pinned in snapshots.
    /// Headers that appear only sometimes are listed only when present.
    pub fn transcript(&self) -> String {
        let mut out = format!(
            "status: {}\ncontent-type: {}\ncache-control: {}\nrequest-id: {}\nstripe-version: {}\n",
            self.status,
            self.must("content-type"),
            self.must("cache-control"),
            self.must("request-id"),
            self.must("stripe-version"),
        );
        for name in [
            "idempotency-key",
            "idempotent-replayed",
            "original-request",
            "stripe-should-retry",
        ] {
            if let Some(value) = self.header(name) {
                out.push_str(&format!("{name}: {value}\n"));
            }
        }
        out.push('\n');
        out.push_str(&self.text);
        out
    }
}

/// Pins a response in `snapshots/` (top level).
macro_rules! snap {
    ($name:expr, $resp:expr) => {
        insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $resp.transcript());
        })
    };
}
pub(crate) use snap;

/// A client bound to one server and one API key.
#[derive(Clone)]
pub struct Client {
    addr: std::net::SocketAddr,
    pub key: Option<String>,
    pub account: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(server: &MockServer, key: &str) -> Client {
        Client::at(server.address(), key)
    }

    pub fn at(addr: std::net::SocketAddr, key: &str) -> Client {
        Client {
            addr,
            key: Some(key.to_string()),
            account: None,
            headers: Vec::new(),
        }
    }

    /// A client that sends no Authorization header (control endpoints).
    pub fn anonymous(server: &MockServer) -> Client {
        Client::anonymous_at(server.address())
    }

    /// A client that sends no Authorization header, for a server at `addr`.
    pub fn anonymous_at(addr: std::net::SocketAddr) -> Client {
        let mut c = Client::at(addr, "");
        c.key = None;
        c
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, &body.to_string(), Some("application/json"))
            .await
    }

    pub fn account(mut self, account: &str) -> Client {
        self.account = Some(account.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Client {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub async fn get(&self, path_and_query: &str) -> Resp {
        self.send("GET", path_and_query, "", None).await
    }

    pub async fn post(&self, path: &str, form: &str) -> Resp {
        self.send(
            "POST",
            path,
            form,
            Some("application/x-www-form-urlencoded"),
        )
        .await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: &str,
        content_type: Option<&str>,
    ) -> Resp {
        self.exchange(method, path, body, content_type)
            .await
            .expect("response")
    }

    /// A GET that may fail at the transport level (closed connection).
    pub async fn try_send(&self, method: &str, path: &str) -> Result<Resp, String> {
        self.exchange(method, path, "", None).await
    }

    /// A form POST that may fail at the transport level.
    pub async fn try_send_form(&self, path: &str, form: &str) -> Result<Resp, String> {
        self.exchange(
            "POST",
            path,
            form,
            Some("application/x-www-form-urlencoded"),
        )
        .await
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: &str,
        content_type: Option<&str>,
    ) -> Result<Resp, String> {
        let stream = TcpStream::connect(self.addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(key) = &self.key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if let Some(account) = &self.account {
            req = req.header("stripe-account", account);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8 body");
        // Every answer is JSON but the inspector's page.
        let html = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        let body = match html {
            true => Value::Null,
            false => serde_json::from_str(&text).expect("JSON body"),
        };
        Ok(Resp {
            status,
            headers,
            text,
            body,
        })
    }

    /// Creates a secret in account scope and returns the response.
    pub async fn create(&self, name: &str, payload: &str) -> Resp {
        self.post(
            "/v1/apps/secrets",
            &format!("name={name}&payload={payload}&scope[type]=account"),
        )
        .await
    }

    /// Finds a secret in account scope.
    pub async fn find(&self, name: &str) -> Resp {
        self.get(&format!(
            "/v1/apps/secrets/find?name={name}&scope[type]=account"
        ))
        .await
    }

    /// Deletes a secret in account scope.
    pub async fn delete(&self, name: &str) -> Resp {
        self.post(
            "/v1/apps/secrets/delete",
            &format!("name={name}&scope[type]=account"),
        )
        .await
    }

    /// Lists the account scope (first page, default limit).
    pub async fn list(&self) -> Resp {
        self.get("/v1/apps/secrets?scope[type]=account").await
    }
}

/// The repository's example fixture.
pub fn example_fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example.json")
}

/// Writes `text` to `folder/name` under the target's temporary folder (one
/// folder per test process and `folder`).
pub fn temp_file(folder: &str, name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("it-{}-{folder}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server with default options and a client with `sk_test_123`.
pub async fn start() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = Client::new(&server, "sk_test_123");
    (server, client)
}

/// A TLS front for `backend`: accepts HTTPS on a free port with the test
/// certificate of `tests/tls/` (trusted through `tests/tls/ca.pem`) and
/// passes the decrypted bytes to `backend`. Returns its address.
pub async fn tls_front(backend: std::net::SocketAddr) -> std::net::SocketAddr {
    use pki::pem::PemObject;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let certs: Vec<_> = pki::CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = pki::PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    addr
}

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_stripe-secrets-mock");

/// Pins `text` in `snapshots/` (top level).
pub fn pin_text(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Reads until the server closes the connection or `limit` passes; true if
/// it closed.
pub async fn closed_within(stream: &mut TcpStream, limit: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}
