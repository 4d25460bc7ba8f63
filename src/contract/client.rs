//! The HTTP(S) client of `verify` and the proxy: hyper over rustls, trusting
//! the Mozilla roots (webpki-roots) and, with `--ca-cert`, a user's own CA.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pki::pem::PemObject;
use pki::CertificateDer;

use crate::error::ContractError;

/// How long one exchange with a target or upstream may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response body read from a target or upstream.
const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// A response, read whole.
pub(crate) struct Received {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// A pooled HTTP/1.1 client for `http://` and `https://` URLs.
#[derive(Clone)]
pub(crate) struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client trusting the Mozilla roots and the certificates of the PEM
    /// file `ca_cert`, if given.
    pub fn new(ca_cert: Option<&Path>) -> Result<HttpClient, ContractError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_cert {
            let bad = |reason: String| ContractError::CaCert {
                path: path.to_path_buf(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
            let mut added = 0;
            for cert in certs {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad("no PEM certificate in it".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ContractError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            inner: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends `req` and reads the whole answer (at most 8 MiB, within 60 s).
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Received, String> {
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(describe)?;
            let (parts, body) = resp.into_parts();
            let limited = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES);
            let body = limited
                .collect()
                .await
                .map_err(|e| format!("reading the response: {e}"))?
                .to_bytes();
            Ok(Received {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", EXCHANGE_TIMEOUT.as_secs()))?
    }
}

/// A client error with its causes, which hold the useful part (refused
/// connection, certificate not trusted).
fn describe(e: hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
