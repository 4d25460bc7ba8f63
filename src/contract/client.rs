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

/// `url` as a base URL to put paths after: `http://` or `https://`, a host,
/// an optional path prefix, no query; returned without a trailing slash.
pub(crate) fn base_url(url: &str) -> Result<String, ContractError> {
    let bad = |reason| ContractError::Url {
        url: url.to_string(),
        reason,
    };
    let uri: hyper::Uri = url.parse().map_err(|_| bad("it does not parse as a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(_) => return Err(bad("the scheme must be http or https")),
        None => return Err(bad("it needs a scheme, http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if uri.query().is_some() {
        return Err(bad("it must not have a query"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The URL of a request for `path` and `query` on `base` (from
/// [`base_url`]), or why there is none. The path must be absolute (start
/// with `/`) and, like the query, be visible ASCII without `#` (the path
/// also without `?`): so nothing in it can change the host or the scheme
/// (`@evil.example/…` pasted after a base URL would name another host, and
/// the user's key would go there). The built URL is checked once more to
/// name the same scheme and host as `base`.
pub(crate) fn target_uri(base: &str, path: &str, query: &str) -> Result<hyper::Uri, String> {
    let visible = |s: &str, also: &[u8]| {
        s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && !also.contains(&b))
    };
    if !path.starts_with('/') {
        return Err(format!(
            "the path {:?} does not start with /",
            crate::log::cut(path, 80)
        ));
    }
    if !visible(path, b"?") || !visible(query, b"") {
        return Err(format!(
            "the path or query of {:?} holds a character a URL path cannot",
            crate::log::cut(path, 80)
        ));
    }
    let text = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let uri: hyper::Uri = text
        .parse()
        .map_err(|_| format!("{:?} does not parse as a URL", crate::log::cut(&text, 80)))?;
    let base: hyper::Uri = base.parse().map_err(|_| "the base URL does not parse")?;
    if !same_origin(&uri, &base) {
        return Err(format!(
            "the path {:?} would leave the base URL's host",
            crate::log::cut(path, 80)
        ));
    }
    Ok(uri)
}

/// Whether `a` and `b` name the same scheme and host (and port): checked
/// once more on every URL built, whatever the path rules above let through.
fn same_origin(a: &hyper::Uri, b: &hyper::Uri) -> bool {
    a.scheme() == b.scheme() && a.authority() == b.authority()
}

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
    /// hyper's pooled client over rustls.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_stay_on_the_base_host_whatever_the_path() {
        let base = "http://127.0.0.1:12111";
        let ok = target_uri(base, "/v1/apps/secrets", "a=1").unwrap();
        assert_eq!(ok.to_string(), "http://127.0.0.1:12111/v1/apps/secrets?a=1");
        // `//x` is a path on the base host, not another host.
        let ok = target_uri(base, "//evil.example/v1", "").unwrap();
        assert_eq!(ok.authority().unwrap().as_str(), "127.0.0.1:12111");
        for (path, query, why) in [
            ("@127.0.0.2:9/v1/apps/secrets", "", "does not start with /"),
            ("", "", "does not start with /"),
            ("v1/apps/secrets", "", "does not start with /"),
            ("/v1 x", "", "a character a URL path cannot"),
            ("/v1?a=1", "", "a character a URL path cannot"),
            ("/v1#frag", "", "a character a URL path cannot"),
            ("/v1", "a=1#x", "a character a URL path cannot"),
            ("/v1\n", "", "a character a URL path cannot"),
        ] {
            let e = target_uri(base, path, query).unwrap_err();
            assert!(e.contains(why), "{path:?} {query:?}: {e}");
        }
        let uri = |s: &str| s.parse::<hyper::Uri>().unwrap();
        assert!(same_origin(&uri("http://h:1/a"), &uri("http://h:1/b")));
        assert!(!same_origin(&uri("http://h:1/a"), &uri("https://h:1/a")));
        assert!(!same_origin(&uri("http://h:1/a"), &uri("http://g:1/a")));
        assert!(!same_origin(&uri("http://h:1/a"), &uri("http://h:2/a")));
        let prefixed = target_uri("http://h/prefix", "/v1", "").unwrap();
        assert_eq!(prefixed.to_string(), "http://h/prefix/v1");
    }

    #[test]
    fn base_urls_need_a_scheme_and_a_host_and_lose_a_trailing_slash() {
        assert_eq!(
            base_url("http://127.0.0.1:12111/").unwrap(),
            "http://127.0.0.1:12111"
        );
        assert_eq!(
            base_url("https://api.stripe.com").unwrap(),
            "https://api.stripe.com"
        );
        assert_eq!(base_url("http://h/prefix/").unwrap(), "http://h/prefix");
        for (bad, why) in [
            ("localhost:12111", "it needs a scheme, http:// or https://"),
            ("/v1", "it needs a scheme, http:// or https://"),
            ("ftp://h", "the scheme must be http or https"),
            ("http://h/?q=1", "it must not have a query"),
            ("not a url", "it does not parse as a URL"),
        ] {
            let e = base_url(bad).unwrap_err().to_string();
            assert!(e.ends_with(why), "{bad}: {e}");
        }
    }
}
