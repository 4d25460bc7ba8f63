//! The standalone mock: parse flags, bind, print the address, serve.

mod compat;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use stripe_secrets_mock::contract::{Proxy, ProxyOptions, Transcript, VerifyOptions};
use stripe_secrets_mock::{Config, FixtureSource, Mock};

/// A deterministic, stateful mock of Stripe's Apps Secret Store API.
#[derive(Parser, Debug)]
#[command(version, about, args_override_self = true)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (read it from the first line).
    #[arg(long, default_value_t = 12111)]
    port: u16,
    /// Seed of every generated id.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Starting instant of the fake clock, in Unix seconds [default: the
    /// fixtures' clock.now, else 1700000000].
    #[arg(long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..=253_402_300_799))]
    now: Option<i64>,
    /// Use the system clock instead of the fake one.
    #[arg(long, conflicts_with = "now")]
    system_clock: bool,
    /// Distinct secret names allowed per scope.
    #[arg(long, default_value_t = 10)]
    max_secrets_per_scope: usize,
    /// Accept only this API key (repeatable); default: any well-formed key.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Send responses that violate the spec as they are (logged) instead of
    /// turning them into a 500 api_error.
    #[arg(long)]
    lenient: bool,
    /// Seed the store from a fixture file or a folder of them (repeatable).
    #[arg(long = "fixtures", value_name = "PATH")]
    fixtures: Vec<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on the /_mock/ control
    /// endpoints (set it whenever the mock is reachable from other machines).
    #[arg(long, value_name = "TOKEN")]
    control_token: Option<String>,
    /// Refuse any Stripe-Version but the spec's (stripe-mock's
    /// -strict-version-check); by default any published version is served.
    #[arg(long)]
    strict_version_check: bool,
    /// A Stripe App manifest (stripe-app.json) whose permissions apply to
    /// every API key, or KEY=PATH for one key (repeatable): an app whose
    /// manifest lacks secret_write is refused every Secret Store operation.
    #[arg(long = "app-manifest", value_name = "[KEY=]PATH")]
    app_manifests: Vec<String>,
    /// Requests the journal (/_mock/requests, /_mock/transcript) keeps, the
    /// latest first; raise it to record a longer session.
    #[arg(long, value_name = "N", default_value_t = stripe_secrets_mock::JOURNAL_ENTRIES)]
    journal_entries: usize,
    /// Bytes the journal keeps, counted as those endpoints write them.
    #[arg(long, value_name = "BYTES", default_value_t = stripe_secrets_mock::JOURNAL_BYTES)]
    journal_bytes: usize,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check fixture files or folders as the server would load them, without
    /// serving; exits non-zero with FILE: POINTER: RULE on the first problem.
    CheckFixtures {
        /// Files or folders of *.json files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Replay a transcript against a server and check every answer: same
    /// status, a body the spec accepts, the recorded body but for ids and
    /// timestamps. Exits 0 only when every step passes.
    Verify {
        /// A transcript file (GET /_mock/transcript, or proxy --record).
        transcript: PathBuf,
        /// Base URL of the server to check (http:// or https://).
        #[arg(long, value_name = "URL")]
        target: String,
        /// Send this API key in place of the recorded ones.
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
        /// Send this Stripe-Account in place of the recorded ones.
        #[arg(long, value_name = "ACCT")]
        stripe_account: Option<String>,
        /// Also trust the CA certificates of this PEM file.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
    },
    /// Forward every request to an upstream (https://api.stripe.com with
    /// your test key), return its answers, check them against the spec, and
    /// record the conversation as a transcript for `verify`.
    Proxy {
        /// Base URL to forward to.
        #[arg(long, value_name = "URL")]
        upstream: String,
        /// The transcript file to write (each exchange appended as it is
        /// recorded; complete JSON after each).
        #[arg(long, value_name = "FILE")]
        record: PathBuf,
        /// Keep every secret's payload in the recording; by default each is
        /// replaced by "[redacted]", so the file can be committed.
        #[arg(long)]
        keep_payloads: bool,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on; 0 picks a free one (read it from the first line).
        #[arg(long, default_value_t = 12112)]
        port: u16,
        /// Also trust the CA certificates of this PEM file.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() {
    // stripe-mock's flags (-http-port 12111, …) are accepted too.
    let raw: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let translated = match compat::translate(raw[1..].to_vec()) {
        Ok(rest) => rest,
        Err(e) => {
            eprintln!("stripe-secrets-mock: {e}");
            std::process::exit(2);
        }
    };
    let args = Args::parse_from(std::iter::once(raw[0].clone()).chain(translated));
    // check-fixtures loads its paths exactly as --fixtures would, then stops.
    let (fixtures, is_check) = match args.command {
        Some(Command::CheckFixtures { paths }) => (paths, true),
        Some(Command::Verify {
            transcript,
            target,
            api_key,
            stripe_account,
            ca_cert,
        }) => {
            let options = VerifyOptions {
                target,
                api_key,
                stripe_account,
                ca_cert,
            };
            std::process::exit(verify(&transcript, &options).await);
        }
        Some(Command::Proxy {
            upstream,
            record,
            host,
            port,
            ca_cert,
            keep_payloads,
        }) => {
            let options = ProxyOptions {
                upstream,
                record,
                ca_cert,
                keep_payloads,
            };
            std::process::exit(proxy(options, &host, port).await);
        }
        None => (args.fixtures, false),
    };
    let has_token = args.control_token.is_some();
    let config = Config {
        seed: args.seed,
        now: args.now,
        system_clock: args.system_clock,
        max_secrets_per_scope: args.max_secrets_per_scope,
        api_keys: args.api_keys,
        strict: !args.lenient,
        spec_json: None,
        fixtures: fixtures.into_iter().map(FixtureSource::Path).collect(),
        control_token: args.control_token,
        strict_version_check: args.strict_version_check,
        app_manifests: args.app_manifests.iter().map(|m| app_manifest(m)).collect(),
        journal_entries: args.journal_entries,
        journal_bytes: args.journal_bytes,
        ..Config::default()
    };
    // Compile the spec and load the fixtures before binding, so a bad
    // fixture fails fast and loudly, with nothing listening.
    let mock = match Mock::new(config) {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("stripe-secrets-mock: {e}");
            std::process::exit(1);
        }
    };
    if is_check {
        println!("ok: {} secrets", mock.secret_count());
        return;
    }
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "stripe-secrets-mock: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound socket has an address");
    if !addr.ip().is_loopback() && !has_token {
        eprintln!(
            "stripe-secrets-mock: warning: listening on {addr} with an open control API: anyone \
             who reaches this port can read every secret and reset the mock (GET /_mock/state). \
             Start it with --control-token TOKEN."
        );
    }
    // Install the handlers before announcing the address, so a harness that
    // signals right after reading the line still gets a graceful stop.
    let shutdown = shutdown_signal();
    println!("listening on http://{addr}");
    mock.serve(listener, shutdown).await;
}

/// `verify`: prints the report; the exit code (0 all passed, 1 a step
/// failed, 2 the transcript or the options are unusable).
async fn verify(path: &std::path::Path, options: &VerifyOptions) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("stripe-secrets-mock: cannot read {}: {e}", path.display());
            return 2;
        }
    };
    let transcript = match Transcript::from_json(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("stripe-secrets-mock: {}: {e}", path.display());
            return 2;
        }
    };
    match stripe_secrets_mock::contract::verify(&transcript, options).await {
        Ok(report) => {
            println!("{report}");
            if report.passed() {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("stripe-secrets-mock: {e}");
            2
        }
    }
}

/// `proxy`: serves until Ctrl-C or SIGTERM, then writes the record file a
/// last time; the exit code (0, or 1 when it cannot start or write).
async fn proxy(options: ProxyOptions, host: &str, port: u16) -> i32 {
    let record = options.record.clone();
    let proxy = match Proxy::new(options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stripe-secrets-mock proxy: {e}");
            return 1;
        }
    };
    let listener = match tokio::net::TcpListener::bind((host, port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("stripe-secrets-mock proxy: cannot listen on {host}:{port}: {e}");
            return 1;
        }
    };
    let addr = listener.local_addr().expect("bound socket has an address");
    let shutdown = shutdown_signal();
    println!("listening on http://{addr}");
    match proxy.serve(listener, shutdown).await {
        Ok(t) => {
            eprintln_bounded(format!(
                "stripe-secrets-mock proxy: recorded {} interactions ({} broke the spec, {} \
                 dropped) in {}",
                t.interactions.len(),
                t.violations,
                t.dropped,
                record.display()
            ));
            0
        }
        Err(e) => {
            eprintln_bounded(format!("stripe-secrets-mock proxy: {e}"));
            1
        }
    }
}

/// Writes `line` to stderr, waiting at most a second: a stderr nobody reads
/// (a pipe left full by a harness) must not keep the process from exiting.
fn eprintln_bounded(line: String) {
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        eprintln!("{line}");
        let _ = done.send(());
    });
    let _ = wait.recv_timeout(std::time::Duration::from_secs(1));
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The standalone server allocates with mimalloc: under load, a profile
/// showed a fifth of its CPU in glibc's malloc and free, and glibc's
/// per-thread arenas kept more memory after load (benches/run measures
/// both). Built without transparent huge pages, which would round small
/// heaps up to 2 MiB pages. The library leaves the allocator to its user.
#[global_allocator]
static GLOBAL: Mimalloc = Mimalloc;

/// mimalloc, asked for an alignment only when a block's own is not enough.
/// `mimalloc::MiMalloc` calls `mi_malloc_aligned` for every allocation;
/// its alignment checks were a third of the allocator's instructions a
/// request (callgrind, benches/instructions). Every mimalloc block is a
/// whole number of words from a word-aligned start, so `mi_malloc`
/// serves any alignment up to a word; larger ones (hashbrown's 16-byte
/// tables, for one) still go through the aligned calls.
struct Mimalloc;

/// The alignment every mimalloc block has.
const WORD: usize = std::mem::size_of::<usize>();

// SAFETY: each call hands mimalloc's own functions a layout they accept:
// the plain ones only for alignments a block already has (see above), the
// aligned ones for the rest; mimalloc frees either kind with `mi_free`.
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= WORD {
            libmimalloc_sys::mi_malloc(layout.size()).cast()
        } else {
            libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= WORD {
            libmimalloc_sys::mi_zalloc(layout.size()).cast()
        } else {
            libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        libmimalloc_sys::mi_free(ptr.cast());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= WORD {
            libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            libmimalloc_sys::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

/// `KEY=PATH` (a manifest for one API key) or `PATH` (for every key).
fn app_manifest(arg: &str) -> (Option<String>, PathBuf) {
    match arg.split_once('=') {
        Some((key, path)) if key.starts_with("sk_") || key.starts_with("rk_") => {
            (Some(key.to_string()), PathBuf::from(path))
        }
        _ => (None, PathBuf::from(arg)),
    }
}
