//! Figures, not tests: the standalone mock under load from a real load
//! generator (wrk, 32 keep-alive connections over loopback), each figure
//! printed beside a baseline measured in the same run and their ratio.
//!
//! Run with `benches/run` (installs wrk if needed, builds the bare hyper
//! baseline, then runs this). Nothing here asserts a timing: the machine is
//! shared, so the figures are for reading, and the ratios are what carry
//! from one machine to another.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long each throughput run lasts.
const RUN: Duration = Duration::from_secs(4);
/// Keep-alive connections wrk holds open.
const CONNECTIONS: u32 = 32;
/// Alternating rounds of bare hyper and the empty mock, and of the scale
/// servers and a fresh empty mock.
const ROUNDS: usize = 3;
/// SDK-style POSTs, each with a new `Idempotency-Key`.
const KEYED_POSTS: u32 = 200_000;

const FIND: &str = "/v1/apps/secrets/find?name=k&scope[type]=account";
const LIST: &str = "/v1/apps/secrets?scope[type]=account&limit=10";
const SET_BODY: &str = "name=k&payload=v&scope[type]=account";

fn main() {
    let mock_bin = PathBuf::from(env!("CARGO_BIN_EXE_stripe-secrets-mock"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bare_bin = std::env::var_os("BARE_HYPER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/examples/bare_hyper"));
    assert!(
        bare_bin.exists(),
        "{} is missing: run benches/run (it builds the baseline first)",
        bare_bin.display()
    );
    let work = root.join("target/bench-load");
    std::fs::create_dir_all(&work).unwrap();
    let scripts = Scripts::write(&work);
    let big = work.join("100k-secrets.json");
    // 99,990 secrets: the store holds at most 100,000 in all
    // (docs/limits.md), and each measured set adds one.
    write_fixture(&big, 1, 9_999);
    let apps = work.join("1000-apps.json");
    write_fixture(&apps, 1_000, 1);

    println!("stripe-secrets-mock load benchmark: wrk -t1 -c{CONNECTIONS}, {RUN:?} per figure");
    println!("(figure: mock; baseline in brackets; ratio = mock / baseline)\n");

    // Start-up.
    let bare_spawn = median_spawn(&bare_bin, &[]);
    let mock_spawn = median_spawn(&mock_bin, &[]);
    row(
        "spawn -> first 200 (ms)",
        mock_spawn,
        bare_spawn,
        "bare hyper",
    );
    let fixture_arg = ["--fixtures", big.to_str().unwrap()];
    let loaded = median_spawn(&mock_bin, &fixture_arg);
    row(
        "100k-secret fixture -> first 200 (ms)",
        loaded,
        mock_spawn,
        "empty mock",
    );

    // Throughput: bare hyper and an empty mock, both running, measured in
    // ROUNDS alternating rounds (the machine's speed drifts by more than a
    // change moves a figure); each figure is the median of its rounds. RSS
    // after load is read after each server's first round.
    let bare = Server::start(&bare_bin, &[]);
    let mock = Server::start(&mock_bin, &[]);
    let bare_idle = bare.rss_kib();
    let mock_idle = mock.rss_kib();
    let (mut bare_rounds, mut mock_rounds) = (Vec::new(), Vec::new());
    let (mut bare_loaded, mut mock_loaded) = (0, 0);
    for round in 0..ROUNDS {
        bare_rounds.push(Figures::measure(&bare, &scripts));
        mock_rounds.push(Figures::measure(&mock, &scripts));
        if round == 0 {
            bare_loaded = bare.rss_kib();
            mock_loaded = mock.rss_kib();
        }
    }
    drop(bare);
    let b = Figures::median(&bare_rounds);
    let m = Figures::median(&mock_rounds);
    print_rounds("bare hyper", &bare_rounds);
    print_rounds("empty mock", &mock_rounds);
    println!();
    row("find (req/s)", m.find, b.find, "bare hyper");
    row("set (req/s)", m.set, b.set, "bare hyper");
    row("list (req/s)", m.list, b.list, "bare hyper");
    row(
        "RSS idle (MiB)",
        mib(mock_idle),
        mib(bare_idle),
        "bare hyper",
    );
    row(
        "RSS after load (MiB)",
        mib(mock_loaded),
        mib(bare_loaded),
        "bare hyper",
    );

    // The same mock after 200k SDK-style POSTs (new Idempotency-Key each):
    // RSS halfway and at the end shows whether it plateaus.
    let keyed = mock;
    keyed.wrk_requests(&scripts.keyed, KEYED_POSTS / 2);
    let half_keyed_rss = keyed.rss_kib();
    keyed.wrk_requests(&scripts.keyed, KEYED_POSTS / 2);
    let keyed_rss = keyed.rss_kib();

    // The scale figures: each server that holds something measured in
    // ROUNDS rounds alternating with a fresh empty mock, each figure the
    // median of its rounds against the empty mock's median, as above (a
    // single round each, against rounds measured minutes before, read 0.72
    // in one run and 0.94 in the next for the same figure).
    let big_server = Server::start(&mock_bin, &fixture_arg);
    let big_rss = big_server.rss_kib();
    let apps_server = Server::start(&mock_bin, &["--fixtures", apps.to_str().unwrap()]);
    let empty = Server::start(&mock_bin, &[]);
    let scale = [
        ("empty mock", &empty),
        ("100k stored secrets", &big_server),
        ("1,000 other apps", &apps_server),
        ("200k saved keys", &keyed),
    ];
    let mut rounds: Vec<Vec<Figures>> = scale.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for ((_, server), r) in scale.iter().zip(&mut rounds) {
            r.push(Figures::measure(server, &scripts));
        }
    }
    println!();
    for ((what, _), r) in scale.iter().zip(&rounds) {
        print_rounds(what, r);
    }
    let e = Figures::median(&rounds[0]);
    println!();
    for ((what, _), r) in scale.iter().zip(&rounds).skip(1) {
        let f = Figures::median(r);
        row(
            &format!("find, {what} (req/s)"),
            f.find,
            e.find,
            "empty mock",
        );
        row(&format!("set, {what} (req/s)"), f.set, e.set, "empty mock");
        row(
            &format!("list, {what} (req/s)"),
            f.list,
            e.list,
            "empty mock",
        );
    }
    drop((empty, big_server, apps_server, keyed));
    println!();
    row(
        "RSS after 200k keyed POSTs (MiB)",
        mib(keyed_rss),
        mib(half_keyed_rss),
        "after the first 100k",
    );
    // Each fixture secret: name `n<i>` (~5 bytes), payload `v` (1 byte).
    let per_secret = (big_rss.saturating_sub(mock_idle) as f64 * 1024.0) / 99_990.0;
    row(
        "RSS per stored secret (bytes)",
        per_secret,
        6.0,
        "its name and payload",
    );
}

/// Prints each round's figures of one server.
fn print_rounds(what: &str, rounds: &[Figures]) {
    let each = |f: fn(&Figures) -> f64| {
        rounds
            .iter()
            .map(|r| format!("{:.0}", f(r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "  rounds, {what}: find {}; set {}; list {}",
        each(|r| r.find),
        each(|r| r.set),
        each(|r| r.list)
    );
}

/// Prints one figure, its baseline and their ratio.
fn row(what: &str, figure: f64, baseline: f64, baseline_is: &str) {
    println!(
        "{what:<42} {figure:>11.1}   [{baseline:>11.1} {baseline_is:<20}]   ratio {:>6.2}",
        figure / baseline
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// find, set and list throughput of one server.
struct Figures {
    find: f64,
    set: f64,
    list: f64,
}

impl Figures {
    /// Each figure's median over `rounds`.
    fn median(rounds: &[Figures]) -> Figures {
        let of = |f: fn(&Figures) -> f64| {
            let mut v: Vec<f64> = rounds.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Figures {
            find: of(|r| r.find),
            set: of(|r| r.set),
            list: of(|r| r.list),
        }
    }

    fn measure(server: &Server, scripts: &Scripts) -> Figures {
        // The secret that find reads (and set replaces).
        server.post(&scripts.set_path, &scripts.set_body);
        // One unmeasured second first: connections, caches and (for the
        // mock) validators compiled on first use are not the steady state.
        server.wrk_for(&scripts.find, 1);
        Figures {
            find: server.wrk(&scripts.find),
            set: server.wrk(&scripts.set),
            list: server.wrk(&scripts.list),
        }
    }
}

/// The wrk Lua scripts of one run.
struct Scripts {
    find: PathBuf,
    set: PathBuf,
    list: PathBuf,
    keyed: PathBuf,
    set_path: String,
    set_body: String,
}

impl Scripts {
    fn write(dir: &Path) -> Scripts {
        Scripts::with(dir, "account", FIND, LIST, SET_BODY)
    }

    fn with(dir: &Path, tag: &str, find: &str, list: &str, set_body: &str) -> Scripts {
        std::fs::create_dir_all(dir).unwrap();
        let auth = "wrk.headers[\"Authorization\"] = \"Bearer sk_test_123\"\n";
        let get = |name: &str, path: &str| {
            let p = dir.join(format!("{tag}-{name}.lua"));
            std::fs::write(&p, format!("{auth}wrk.path = \"{path}\"\n")).unwrap();
            p
        };
        let post = format!(
            "{auth}wrk.method = \"POST\"\nwrk.path = \"/v1/apps/secrets\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.body = \"{set_body}\"\n"
        );
        let set = dir.join(format!("{tag}-set.lua"));
        std::fs::write(&set, &post).unwrap();
        let keyed = dir.join(format!("{tag}-keyed.lua"));
        std::fs::write(
            &keyed,
            format!(
                "{post}counter = 0\nrequest = function()\n  counter = counter + 1\n  \
                 local headers = {{}}\n  for k, v in pairs(wrk.headers) do headers[k] = v end\n  \
                 headers[\"Idempotency-Key\"] = \"bench-\" .. tostring(counter) .. \"-\" .. \
                 tostring(math.random(1e9))\n  return wrk.format(nil, nil, headers)\nend\n"
            ),
        )
        .unwrap();
        Scripts {
            find: get("find", find),
            list: get("list", list),
            set,
            keyed,
            set_path: "/v1/apps/secrets".into(),
            set_body: set_body.into(),
        }
    }
}

/// With one app: `sk_test_123` (the benchmark's own key) with `scopes` user
/// scopes of ten secrets each (`n0`…`n9`), beside the account scope the
/// measured requests use. With many: `apps` other apps (`sk_test_app0`, …)
/// with ten account-scope secrets each.
fn write_fixture(path: &Path, apps: usize, scopes: usize) {
    let mut out = String::from("{\"secrets\": [\n");
    let mut first = true;
    for a in 0..apps {
        // With many apps, the benchmark's own key (sk_test_123) is not one
        // of them: it measures the cost of the others.
        let app = if apps == 1 {
            "sk_test_123".to_string()
        } else {
            format!("sk_test_app{a}")
        };
        for s in 0..scopes {
            for n in 0..10 {
                let scope = if apps == 1 {
                    format!("{{\"type\": \"user\", \"user\": \"usr_{s}\"}}")
                } else {
                    "{\"type\": \"account\"}".to_string()
                };
                if !first {
                    out.push_str(",\n");
                }
                first = false;
                out.push_str(&format!(
                    "{{\"app\": \"{app}\", \"name\": \"n{n}\", \"payload\": \"v\", \"scope\": {scope}}}"
                ));
            }
        }
    }
    out.push_str("\n]}\n");
    std::fs::write(path, out).unwrap();
}

/// A server process on a free port.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(bin: &Path, args: &[&str]) -> Server {
        let (child, port) = spawn(bin, args);
        wait_ready(port);
        Server { child, port }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Requests per second wrk reaches with `script`.
    fn wrk(&self, script: &Path) -> f64 {
        self.wrk_for(script, RUN.as_secs())
    }

    /// Requests per second wrk reaches with `script` in `seconds`.
    fn wrk_for(&self, script: &Path, seconds: u64) -> f64 {
        let out = Command::new("wrk")
            .args(["-t1", &format!("-c{CONNECTIONS}"), "--latency"])
            .arg(format!("-d{seconds}s"))
            .arg("-s")
            .arg(script)
            .arg(format!("http://127.0.0.1:{}", self.port))
            .output()
            .expect("wrk runs (benches/run installs it)");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Non-2xx") {
            panic!("wrk saw error responses:\n{text}");
        }
        text.lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
    }

    /// Drives about `n` requests with `script` (wrk runs by time, so this
    /// runs until the count is reached, checking every second).
    fn wrk_requests(&self, script: &Path, n: u32) {
        let mut done = 0u64;
        while done < u64::from(n) {
            let out = Command::new("wrk")
                .args(["-t1", &format!("-c{CONNECTIONS}"), "-d2s", "-s"])
                .arg(script)
                .arg(format!("http://127.0.0.1:{}", self.port))
                .output()
                .expect("wrk runs");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
            done += text
                .lines()
                .find_map(|l| l.trim().split_once(" requests in "))
                .and_then(|(count, _)| count.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no request count in:\n{text}"));
        }
    }

    /// One form POST, answered 200.
    fn post(&self, path: &str, body: &str) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk_test_123\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        let status = exchange(self.port, &request);
        assert!(status.contains(" 200 "), "setup POST failed: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `bin --port 0 ARGS` (the bare server takes `0`) and reads the
/// port from its first line.
fn spawn(bin: &Path, args: &[&str]) -> (Child, u16) {
    let mut cmd = Command::new(bin);
    if bin.ends_with("bare_hyper") {
        cmd.arg("0");
    } else {
        cmd.args(["--port", "0"]).args(args);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

/// Polls `GET /_mock/health` until it answers 200.
fn wait_ready(port: u16) {
    let request = "GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    for _ in 0..20_000 {
        if exchange(port, request).contains(" 200 ") {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!("no 200 from port {port}");
}

/// Sends one raw request; returns the status line ("" if it failed).
fn exchange(port: u16, request: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or("").to_string()
}

/// Milliseconds from spawn to the first 200, median of 15 starts.
fn median_spawn(bin: &Path, args: &[&str]) -> f64 {
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let started = Instant::now();
            let (mut child, port) = spawn(bin, args);
            wait_ready(port);
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let _ = child.kill();
            let _ = child.wait();
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
