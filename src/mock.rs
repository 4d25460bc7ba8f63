//! The request pipeline, free of HTTP plumbing: an owned [`MockRequest`] in,
//! an owned [`MockResponse`] out. Authentication, routing from the spec,
//! decoding and validation, the operation, then validation of the response
//! against the spec before it leaves.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::api::{self, Ctx};
use crate::auth;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::spec::Spec;
use crate::store::{PartitionKey, Store};
use crate::validate;

/// A request as the pipeline sees it, converted once at the HTTP edge.
#[derive(Clone, Debug, Default)]
pub(crate) struct MockRequest {
    /// Upper-case method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `Stripe-Account` header.
    pub stripe_account: Option<String>,
    /// `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, or `None` when it was larger than the edge accepts.
    pub body: Option<Vec<u8>>,
}

/// A response ready to be written.
#[derive(Clone, Debug)]
pub(crate) struct MockResponse {
    /// HTTP status.
    pub status: u16,
    /// `Request-Id` header.
    pub request_id: String,
    /// `Stripe-Version` header.
    pub stripe_version: String,
    /// JSON text.
    pub body: String,
}

/// A running mock's shared state: spec, options, clock and store.
pub(crate) struct Core {
    /// The compiled OpenAPI document.
    pub spec: Arc<Spec>,
    /// Options fixed at start.
    pub config: Config,
    /// The injected clock.
    pub clock: Clock,
    /// All secrets, behind one short-held lock (never held across `.await`).
    store: Mutex<Store>,
}

impl Core {
    /// A core for `config`; compiles the spec only if it is not the bundled one.
    pub fn new(config: Config) -> Result<Core, String> {
        let spec = match &config.spec_json {
            Some(text) => Arc::new(Spec::from_json(text)?),
            None => Spec::bundled(),
        };
        let clock = if config.system_clock {
            Clock::system()
        } else {
            Clock::fake(config.now)
        };
        Ok(Core {
            spec,
            store: Mutex::new(Store::new(config.seed)),
            clock,
            config,
        })
    }

    /// The store, even if a panic elsewhere poisoned the lock: every store
    /// mutation is a single step, so the data is never half-changed.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the fake clock, expiring what the move passes. Returns false on
    /// the system clock.
    pub fn set_clock(&self, t: i64) -> bool {
        let mut store = self.store();
        if !self.clock.set(t) {
            return false;
        }
        // Purge while the lock is held, so a later backwards move cannot
        // revive anything this move expired.
        store.purge(t);
        true
    }

    /// Serves one request.
    pub fn handle(&self, req: &MockRequest) -> MockResponse {
        let op = self.spec.route(&req.method, &req.path);
        let app = auth::authenticate(req.authorization.as_deref(), &self.config.api_keys);
        let partition_key = app.as_ref().ok().map(|a| PartitionKey {
            key: a.key.clone(),
            account: req.stripe_account.clone().filter(|s| !s.is_empty()),
        });
        let livemode = app.as_ref().is_ok_and(|a| a.livemode);

        let mut store = self.store();
        let now = self.clock.now();
        store.purge(now);
        let request_id = store.request_id(partition_key.as_ref());
        let backup = partition_key
            .as_ref()
            .filter(|_| req.method == "POST")
            .map(|k| store.partition(k).clone());

        let result = (|| {
            app?;
            let op = op.ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
            let body = body_text(req)?;
            let input = validate::parse_input(op, &req.query, body)?;
            let key = partition_key.as_ref().expect("authenticated");
            let ctx = Ctx {
                partition: store.partition(key),
                now,
                livemode,
                max_per_scope: self.config.max_secrets_per_scope,
            };
            api::dispatch(op, &input, ctx)
        })();
        let (mut status, mut body) = match result {
            Ok(v) => (200, v),
            Err(e) => (e.status, e.body(&request_id, livemode)),
        };

        let check = match op {
            Some(op) => op.validate_response(status, &body),
            None => self.spec.validate_error(&body),
        };
        if let Err(violation) = check {
            let what = op.map_or("error", |o| o.id.as_str());
            let message = format!(
                "The mock's response does not match the OpenAPI spec ({what}, status {status}): {violation}"
            );
            eprintln!("stripe-secrets-mock: {request_id}: {message}");
            if self.config.strict {
                if let (Some(key), Some(saved)) = (&partition_key, backup) {
                    *store.partition(key) = saved;
                }
                status = 500;
                body = ApiError::internal(message).body(&request_id, livemode);
            }
        }
        drop(store);

        MockResponse {
            status,
            request_id,
            stripe_version: req
                .stripe_version
                .clone()
                .unwrap_or_else(|| self.spec.version.clone()),
            body: to_json(&body),
        }
    }
}

fn to_json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into())
}

/// The body as form text, refusing other content types and oversize bodies.
fn body_text(req: &MockRequest) -> Result<&str, ApiError> {
    let Some(body) = &req.body else {
        return Err(ApiError::invalid(
            "Request body too large: the mock accepts at most 1 MiB.",
            None,
        )
        .with_status(413));
    };
    if body.is_empty() {
        return Ok("");
    }
    let media = req.content_type.as_deref().map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if let Some(media) = media.filter(|m| m != "application/x-www-form-urlencoded") {
        return Err(ApiError::invalid(
            format!(
                "Invalid request: unsupported Content-Type {media}. If error persists and you \
                 need assistance, please contact support@stripe.com. The Stripe API accepts \
                 application/x-www-form-urlencoded request bodies."
            ),
            None,
        ));
    }
    std::str::from_utf8(body).map_err(|_| {
        ApiError::invalid(
            "Invalid request: the request body is not valid UTF-8.",
            None,
        )
    })
}
