//! The request pipeline, free of HTTP plumbing: an owned [`MockRequest`] in,
//! an owned [`MockResponse`] out. Stripe paths: authentication, routing from
//! the spec, decoding and validation, the operation, validation of the
//! response, and a journal entry. Control paths (`/_mock/`): the same without
//! authentication or journal, against the control spec.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::api::{self, Ctx};
use crate::auth;
use crate::clock::{Clock, DEFAULT_NOW};
use crate::config::Config;
use crate::control;
use crate::error::ApiError;
use crate::faults::{Fault, FaultKind};
use crate::fixtures;
use crate::form;
use crate::idempotency::{idempotent_result, normalize};
use crate::journal::{redact, RecordedRequest};
use crate::spec::{Operation, Spec};
use crate::store::{PartitionKey, Saved, Store};
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
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
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
    /// Further headers (`Idempotent-Replayed`, `Original-Request`,
    /// `Stripe-Should-Retry`).
    pub headers: Vec<(&'static str, String)>,
    /// JSON text.
    pub body: String,
}

/// What to do before serving a request: from [`Core::plan`].
#[derive(Default)]
pub(crate) struct Plan {
    /// The injected fault that applies, if any.
    pub fault: Option<Fault>,
    /// How long to wait first.
    pub delay: std::time::Duration,
    /// Marks the request's idempotency key in flight while it lives.
    in_flight: Option<InFlight>,
}

/// Holds an (app, `Idempotency-Key`) in flight; dropping it (the request
/// finished, or its client went away) releases it.
struct InFlight {
    /// Where the in-flight set lives.
    core: Arc<Core>,
    /// The entry it holds.
    entry: (PartitionKey, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.core.store().in_flight.remove(&self.entry);
    }
}

/// A running mock's shared state: specs, options, clock and store.
pub(crate) struct Core {
    /// The compiled Stripe OpenAPI document.
    pub spec: Arc<Spec>,
    /// The compiled control document.
    pub control: Arc<Spec>,
    /// Options fixed at start.
    pub config: Config,
    /// The injected clock.
    pub clock: Clock,
    /// The clock's start instant, restored by a full reset.
    start: i64,
    /// The store as the fixtures seeded it, restored by reset.
    initial: Store,
    /// All secrets and the journal, behind one short-held lock (never held
    /// across `.await`).
    store: Mutex<Store>,
}

impl Core {
    /// A core for `config`: compiles the spec (unless it is the bundled one)
    /// and loads the fixtures.
    pub fn new(config: Config) -> Result<Core, String> {
        let spec = match &config.spec_json {
            Some(text) => Arc::new(Spec::from_json(text)?),
            None => Spec::bundled(),
        };
        let control = Spec::control();
        let docs = fixtures::read(&config.fixtures)?;
        let loaded = fixtures::load(
            &docs,
            config.seed,
            config.now,
            &spec,
            &control,
            config.max_secrets_per_scope,
        )?;
        let start = config.now.or(loaded.clock).unwrap_or(DEFAULT_NOW);
        let clock = if config.system_clock {
            Clock::system()
        } else {
            Clock::fake(start)
        };
        Ok(Core {
            spec,
            control,
            start,
            store: Mutex::new(loaded.store.clone()),
            initial: loaded.store,
            clock,
            config,
        })
    }

    /// The store, even if a panic elsewhere poisoned the lock: every store
    /// mutation is a single step, so the data is never half-changed.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the fake clock, expiring what the move passes; the caller holds
    /// the lock, so a later backwards move cannot revive anything this move
    /// expired. Returns false on the system clock.
    pub fn move_clock(&self, store: &mut Store, t: i64) -> bool {
        if !self.clock.set(t) {
            return false;
        }
        store.purge(t);
        true
    }

    /// Restores the startup state: everything, or one app's partitions (one
    /// account of it if `account` is given; `""` names the platform).
    pub fn reset(&self, store: &mut Store, app: Option<&str>, account: Option<&str>) -> Value {
        let before = store.journal.len();
        store.faults.clear(app);
        let Some(key) = app else {
            *store = self.initial.clone();
            self.clock.set(self.start);
            let secrets = store.secret_count(|_| true);
            return serde_json::json!({
                "object": "mock.reset", "app": null, "secrets": secrets, "requests_removed": before,
            });
        };
        let account = account.map(|a| (!a.is_empty()).then(|| a.to_string()));
        let matches =
            |k: &PartitionKey| k.key == key && account.as_ref().is_none_or(|a| &k.account == a);
        store.restore_partitions(&self.initial, matches);
        // The clock is shared and stays where it is: what it has passed since
        // startup stays expired.
        store.purge(self.clock.now());
        store.journal.retain(|r| {
            let same_account = account.as_ref().is_none_or(|a| &r.account == a);
            !(r.made_with(key) && same_account)
        });
        let secrets = store.secret_count(matches);
        serde_json::json!({
            "object": "mock.reset",
            "app": auth::mask(key),
            "secrets": secrets,
            "requests_removed": before - store.journal.len(),
        })
    }

    /// Replaces every secret with those of `fixture` (and moves the clock if
    /// it names an instant). Nothing changes unless the whole fixture is valid.
    pub fn import(&self, store: &mut Store, fixture: &Value) -> Result<usize, String> {
        let loaded = fixtures::load(
            &[("request body".to_string(), fixture.clone())],
            store.seed(),
            Some(self.clock.now()),
            &self.spec,
            &self.control,
            self.config.max_secrets_per_scope,
        )?;
        let count = loaded.store.secret_count(|_| true);
        store.replace_partitions(loaded.store);
        if let Some(t) = loaded.clock {
            self.move_clock(store, t);
        }
        Ok(count)
    }

    /// Decides, before a request is served, whether an injected fault
    /// applies and how long to wait. A delayed POST with an
    /// `Idempotency-Key` is marked in flight until the returned plan drops.
    pub fn plan(self: &Arc<Self>, req: &MockRequest) -> Plan {
        if req.path.starts_with(control::PREFIX) {
            return Plan::default();
        }
        let op = self
            .spec
            .route(&req.method, &req.path)
            .map(|o| o.id.as_str());
        let app = auth::authenticate(req.authorization.as_deref(), &self.config.api_keys).ok();
        let mut store = self.store();
        let Some(fault) = store.faults.take(op, app.as_ref().map(|a| a.key.as_str())) else {
            return Plan::default();
        };
        let mut in_flight = None;
        if let (Some(app), Some(key), true) = (&app, &req.idempotency_key, fault.delay_ms > 0) {
            let entry = (
                PartitionKey {
                    key: app.key.clone(),
                    account: req.stripe_account.clone().filter(|s| !s.is_empty()),
                },
                key.clone(),
            );
            if req.method == "POST" && store.in_flight.insert(entry.clone()) {
                in_flight = Some(InFlight {
                    core: self.clone(),
                    entry,
                });
            }
        }
        Plan {
            delay: std::time::Duration::from_millis(fault.delay_ms),
            fault: Some(fault),
            in_flight,
        }
    }

    /// Serves one request as `plan` says (its delay already waited out).
    /// `None`: close the connection without answering.
    pub fn serve(&self, req: &MockRequest, plan: &Plan) -> Option<MockResponse> {
        if req.path.starts_with(control::PREFIX) {
            return Some(self.handle_control(req));
        }
        let fault = plan.fault.as_ref();
        let op = self.spec.route(&req.method, &req.path);
        let app = auth::authenticate(req.authorization.as_deref(), &self.config.api_keys);
        let account = req.stripe_account.clone().filter(|s| !s.is_empty());
        let partition_key = app.as_ref().ok().map(|a| PartitionKey {
            key: a.key.clone(),
            account: account.clone(),
        });
        let livemode = app.as_ref().is_ok_and(|a| a.livemode);
        let decoded = body_text(req).and_then(|body| decode(&req.query, body));
        let idempotency_key = req
            .idempotency_key
            .as_deref()
            .filter(|_| req.method == "POST");

        let mut store = self.store();
        let now = self.clock.now();
        store.purge(now);
        let request_id = store.request_id(partition_key.as_ref());
        let mut entry = RecordedRequest {
            at: now,
            request_id: request_id.clone(),
            method: req.method.clone(),
            path: req.path.clone(),
            operation: op.map(|o| o.id.clone()),
            app: app.as_ref().ok().map(|a| auth::mask(&a.key)),
            account,
            params: decoded.as_ref().ok().map(redact),
            status: None,
            object_id: None,
            fault: fault.map(Fault::describe),
            replayed: false,
            key: app.as_ref().ok().map(|a| a.key.clone()),
        };
        let closes =
            |after: bool| fault.is_some_and(|f| f.kind == FaultKind::Close && f.after == after);
        if closes(false) {
            store.record(entry);
            return None;
        }
        let backup = partition_key
            .as_ref()
            .filter(|_| req.method == "POST")
            .map(|k| store.partition(k).clone());
        let fingerprint = serde_json::json!({
            "method": req.method,
            "path": req.path,
            "params": decoded.as_ref().ok().map(normalize),
        });

        let mut executed = false;
        let mut replay: Option<Saved> = None;
        let result = (|| {
            app.as_ref().map_err(Clone::clone)?;
            let op = op.ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
            let key = partition_key.as_ref().expect("authenticated");
            if let Some(idem) = idempotency_key {
                let held = plan.in_flight.as_ref().map(|f| &f.entry);
                if let Some(saved) = idempotent_result(&mut store, key, idem, &fingerprint, held)? {
                    replay = Some(saved);
                    return Ok(Value::Null);
                }
            }
            if let Some(f) = fault.filter(|f| !f.after) {
                if let FaultKind::Status(status) = f.kind {
                    return Err(f.error(status));
                }
            }
            let mut input = decoded.clone()?;
            validate::check(op, &mut input)?;
            executed = true;
            let ctx = Ctx {
                partition: store.partition(key),
                now,
                livemode,
                max_per_scope: self.config.max_secrets_per_scope,
            };
            api::dispatch(op, &input, ctx)
        })();

        let mut headers = Vec::new();
        let (mut status, mut body) = match &replay {
            Some(saved) => {
                headers.push(("idempotent-replayed", "true".to_string()));
                headers.push(("original-request", saved.request_id.clone()));
                entry.replayed = true;
                (saved.status, saved.body.clone())
            }
            None => {
                let (status, body, violated) = self.finish(op, result, &request_id, livemode);
                if violated {
                    if let (Some(key), Some(saved)) = (&partition_key, backup) {
                        *store.partition(key) = saved;
                    }
                }
                // Stripe saves the result of any request that started
                // executing; parameter errors (400) are not saved.
                if let (Some(idem), Some(key), true) = (
                    idempotency_key,
                    &partition_key,
                    executed && !violated && status != 400,
                ) {
                    let saved = Saved {
                        fingerprint: fingerprint.clone(),
                        status,
                        body: body.clone(),
                        request_id: request_id.clone(),
                        at: now,
                    };
                    store
                        .partition(key)
                        .idempotency
                        .insert(idem.to_string(), saved);
                }
                (status, body)
            }
        };
        if closes(true) {
            store.record(entry);
            return None;
        }
        if let Some(f) = fault {
            if let (FaultKind::Status(injected), true) = (&f.kind, f.after) {
                let (s, b, _) = self.finish(op, Err(f.error(*injected)), &request_id, livemode);
                (status, body) = (s, b);
            }
            if let (FaultKind::Status(_), Some(retry)) = (&f.kind, f.should_retry) {
                headers.push(("stripe-should-retry", retry.to_string()));
            }
        }
        entry.status = Some(status);
        entry.object_id = (status == 200)
            .then(|| body.get("id").and_then(Value::as_str).map(String::from))
            .flatten();
        store.record(entry);
        drop(store);
        Some(self.respond(req, status, &body, request_id, headers))
    }

    fn handle_control(&self, req: &MockRequest) -> MockResponse {
        let op = self.control.route(&req.method, &req.path);
        let mut store = self.store();
        store.purge(self.clock.now());
        let request_id = store.control_request_id();
        let result = (|| {
            let op = op.ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
            let mut input = control_input(op, req)?;
            validate::check(op, &mut input)?;
            control::dispatch(self, &mut store, op, &input)
        })();
        drop(store);
        let (status, body, _) = self.finish(op, result, &request_id, false);
        self.respond(req, status, &body, request_id, Vec::new())
    }

    /// Renders the result and validates it against the spec; in strict mode
    /// a violation becomes a 500 (and the third value is true).
    fn finish(
        &self,
        op: Option<&Operation>,
        result: Result<Value, ApiError>,
        request_id: &str,
        livemode: bool,
    ) -> (u16, Value, bool) {
        let (status, body) = match result {
            Ok(v) => (200, v),
            Err(e) => (e.status, e.body(request_id, livemode)),
        };
        let check = match op {
            Some(op) => op.validate_response(status, &body),
            None => self.spec.validate_error(&body),
        };
        let Err(violation) = check else {
            return (status, body, false);
        };
        let what = op.map_or("error", |o| o.id.as_str());
        let message = format!(
            "The mock's response does not match the OpenAPI spec ({what}, status {status}): {violation}"
        );
        eprintln!("stripe-secrets-mock: {request_id}: {message}");
        if !self.config.strict {
            return (status, body, false);
        }
        (
            500,
            ApiError::internal(message).body(request_id, livemode),
            true,
        )
    }

    fn respond(
        &self,
        req: &MockRequest,
        status: u16,
        body: &Value,
        request_id: String,
        headers: Vec<(&'static str, String)>,
    ) -> MockResponse {
        MockResponse {
            status,
            request_id,
            headers,
            stripe_version: req
                .stripe_version
                .clone()
                .unwrap_or_else(|| self.spec.version.clone()),
            body: serde_json::to_string_pretty(body).unwrap_or_else(|_| "{}".into()),
        }
    }
}

/// Query string and form body decoded into one object.
fn decode(query: &str, body: &str) -> Result<Value, ApiError> {
    let mut map = Map::new();
    form::decode_into(&mut map, query)?;
    form::decode_into(&mut map, body)?;
    Ok(Value::Object(map))
}

/// A control request's input: the query string, plus a JSON object body for
/// operations whose spec takes one, or a form body otherwise.
fn control_input(op: &Operation, req: &MockRequest) -> Result<Value, ApiError> {
    if !op.json_body {
        return decode(&req.query, body_text(req)?);
    }
    let mut map = Map::new();
    form::decode_into(&mut map, &req.query)?;
    let body = req.body.as_deref().ok_or_else(too_large)?;
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            format!("Invalid request: the body is not valid JSON ({e})."),
            None,
        )
    })?;
    let Value::Object(fields) = parsed else {
        return Err(ApiError::invalid(
            "Invalid request: the body must be a JSON object.",
            None,
        ));
    };
    map.extend(fields);
    Ok(Value::Object(map))
}

fn too_large() -> ApiError {
    ApiError::invalid(
        "Request body too large: the mock accepts at most 1 MiB.",
        None,
    )
    .with_status(413)
}

/// The body as form text, refusing other content types and oversize bodies.
fn body_text(req: &MockRequest) -> Result<&str, ApiError> {
    let body = req.body.as_deref().ok_or_else(too_large)?;
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
