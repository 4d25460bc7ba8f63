//! A real browser calling the mock cross-origin, as a Stripe App's UI
//! extension under development would: headless Chromium loads a page served
//! from another port, whose script POSTs to the mock with an Authorization
//! header (so the browser sends a CORS preflight first) and reads the
//! answer and its `Request-Id`.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it). Without it the test
//! says so on the terminal (past the harness capture) and passes, except
//! under CI, where it fails.

use std::path::PathBuf;
use std::process::Command;

use stripe_secrets_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub(crate) fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Serves `html` to every request on a port of its own; returns the URL.
async fn serve_page(html: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let html = html.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_can_call_the_mock_from_a_real_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Debian's chromium (.ci/run does)"
        );
        // Written to the terminal itself, past the test harness's capture,
        // so a run that skipped this test does not read as one that ran it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED a_page_on_another_origin_can_call_the_mock_from_a_real_browser: no \
             chromium on this machine (apt-get install chromium); CI fails instead"
        );
        return;
    };
    let server = MockServer::start().await;
    let page = serve_page(format!(
        r#"<!doctype html><html><body>waiting<script>
(async () => {{
  const out = {{}};
  try {{
    const res = await fetch("{mock}/v1/apps/secrets", {{
      method: "POST",
      headers: {{
        "Authorization": "Bearer sk_test_browser",
        "Content-Type": "application/x-www-form-urlencoded",
        "Stripe-Account": "acct_browser",
      }},
      body: "name=from-the-browser&payload=v&scope[type]=account",
    }});
    out.status = res.status;
    out.requestId = res.headers.get("Request-Id");
    out.object = (await res.json()).object;
  }} catch (e) {{
    out.error = String(e);
  }}
  document.body.innerHTML = '<pre id="result">' + JSON.stringify(out) + "</pre>";
}})();
</script></body></html>"#,
        mock = server.url()
    ))
    .await;
    let output = headless(chromium, &page, &[]).await;
    let dom = String::from_utf8_lossy(&output.stdout);
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "no result in the page:\n{dom}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let result: serde_json::Value = serde_json::from_str(&json.replace("&quot;", "\""))
        .unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["object"], "apps.secret");
    // Readable from script only because the mock exposes it.
    assert!(
        result["requestId"].as_str().unwrap().starts_with("req_"),
        "{result}"
    );
    let journal = server.received_requests();
    assert_eq!(journal.len(), 1, "only the POST, not the preflight");
    assert_eq!(journal[0].account.as_deref(), Some("acct_browser"));
}

/// Runs headless `chromium` on `url` with `extra` flags (`--dump-dom`, or
/// `--screenshot=…`), letting the page's timers run for ten seconds of
/// virtual time; its output.
pub(crate) async fn headless(chromium: PathBuf, url: &str, extra: &[&str]) -> std::process::Output {
    let profile = std::env::temp_dir().join(format!(
        "ssm-chromium-{}-{}",
        std::process::id(),
        url.len() + extra.len()
    ));
    let (url, extra): (String, Vec<String>) =
        (url.into(), extra.iter().map(|s| s.to_string()).collect());
    let dump = extra.is_empty();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(chromium);
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ]);
        if dump {
            command.arg("--dump-dom");
        }
        command
            .args(&extra)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .output()
            .expect("chromium runs")
    })
    .await
    .unwrap()
}
