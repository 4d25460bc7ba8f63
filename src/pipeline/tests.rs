//! The pipeline without a socket: ordering rules, undo, and the bounds on
//! what grows with traffic.

use std::sync::Arc;

use serde_json::Value;

use super::{plan, serve, serve_guarded, BodyError, MockRequest};
use crate::config::Config;
use crate::openapi::spec::BUNDLED_SPEC;
use crate::record::journal::{JOURNAL_BYTES, JOURNAL_ENTRIES};
use crate::secrets::idempotency::SAVED_BYTES;
use crate::state::faults::Fault;
use crate::state::State;

/// A path that panics inside `run`, with the partition lock held (only in
/// unit tests).
pub(super) const PANIC_PATH: &str = "/v1/__test_panic";

/// Called by `steps::run` in unit tests only: panics for [`PANIC_PATH`].
pub(super) fn panic_if_asked(req: &MockRequest) {
    if req.path == PANIC_PATH {
        panic!("test-only trigger: a panic with the partition lock held");
    }
}

fn state(config: Config) -> Arc<State> {
    Arc::new(State::new(config).expect("state builds"))
}

fn request(method: &str, path: &str, key: Option<&str>, form: &str) -> MockRequest {
    let (query, body) = if method == "GET" {
        (form.to_string(), Vec::new())
    } else {
        (String::new(), form.as_bytes().to_vec())
    };
    MockRequest {
        method: method.into(),
        path: path.into(),
        query,
        authorization: key.map(|k| format!("Bearer {k}")),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: Ok(body),
        ..MockRequest::default()
    }
}

/// The bundled spec, but a secret's `name` must start with "good": the
/// store accepts "bad", and the answer then breaks the spec.
fn names_must_be_good() -> String {
    let mut spec: Value = serde_json::from_str(BUNDLED_SPEC).unwrap();
    spec["components"]["schemas"]["apps.secret"]["properties"]["name"]["pattern"] =
        Value::from("^good");
    spec.to_string()
}

/// A create in account scope by `sk_test_1`, keyed with `idem` if given.
fn create_request(name: &str, idem: Option<&str>) -> MockRequest {
    let form = format!("name={name}&payload=v&scope[type]=account");
    let mut req = request("POST", "/v1/apps/secrets", Some("sk_test_1"), &form);
    req.idempotency_key = idem.map(String::from);
    req
}

/// Serves `req` as the edge would (plan, no wait, serve): status and body.
fn send(state: &Arc<State>, req: &MockRequest) -> (u16, Value) {
    let plan = plan(state, req);
    let res = serve(state, req, &plan).expect("an answer");
    (
        res.status.as_u16(),
        serde_json::from_slice(&res.body).expect("JSON"),
    )
}

fn create(state: &Arc<State>, key: &str, name: &str) -> (u16, Value) {
    let form = format!("name={name}&payload=v&scope[type]=account");
    send(
        state,
        &request("POST", "/v1/apps/secrets", Some(key), &form),
    )
}

fn find(state: &Arc<State>, key: &str, name: &str) -> u16 {
    let query = format!("name={name}&scope[type]=account");
    send(
        state,
        &request("GET", "/v1/apps/secrets/find", Some(key), &query),
    )
    .0
}

#[test]
fn routing_comes_before_authentication() {
    let s = state(Config::default());
    let (status, body) = send(&s, &request("GET", "/v1/nope", None, ""));
    assert_eq!(status, 404);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unrecognized request URL (GET: /v1/nope)."));
    let (status, _) = send(&s, &request("GET", "/v1/apps/secrets", None, ""));
    assert_eq!(status, 401);
}

#[test]
fn a_replay_is_served_before_a_pending_fault() {
    let s = state(Config::default());
    let req = create_request("n", Some("retry-1"));
    let (first, body) = send(&s, &req);
    s.push_fault(Fault::status(503)).unwrap();
    let (again, replayed) = send(&s, &req);
    assert_eq!((first, again), (200, 200));
    assert_eq!(body, replayed);
    let journal = s.received_requests();
    assert!(journal[1].replayed);
    assert_eq!(journal[1].fault.as_deref(), Some("status 503"));
}

#[test]
fn a_response_that_breaks_the_spec_undoes_exactly_its_change() {
    // A spec whose secrets may not be named "bad": setting one succeeds in
    // the store, then fails the response check, and must leave no trace.
    let s = state(Config {
        spec_json: Some(names_must_be_good()),
        ..Config::default()
    });
    assert_eq!(create(&s, "sk_test_1", "good-one").0, 200);
    let (status, body) = create(&s, "sk_test_1", "bad");
    assert_eq!(status, 500, "{body}");
    assert_eq!(find(&s, "sk_test_1", "bad"), 404);
    assert_eq!(find(&s, "sk_test_1", "good-one"), 200);
    assert_eq!(s.stats().secrets, 1);
}

#[test]
fn an_app_that_holds_nothing_is_forgotten_once_nothing_names_it() {
    let s = state(Config::default());
    assert_eq!(find(&s, "sk_test_gone", "n"), 404);
    assert_eq!(create(&s, "sk_test_kept", "n").0, 200);
    assert_eq!(s.stats().partitions, 2);
    // Push both apps' requests out of the journal.
    for _ in 0..JOURNAL_ENTRIES {
        assert_eq!(find(&s, "sk_test_other", "n"), 404);
    }
    let stats = s.stats();
    assert!(stats.journal_entries <= JOURNAL_ENTRIES, "{stats:?}");
    assert!(stats.journal_bytes <= JOURNAL_BYTES, "{stats:?}");
    // `other` is named by the journal, `kept` holds a secret; `gone` went.
    assert_eq!(stats.partitions, 2);
    assert_eq!(find(&s, "sk_test_kept", "n"), 200);
}

#[test]
fn the_journal_stays_within_its_byte_bound_under_large_requests() {
    let s = state(Config::default());
    let big = format!("name={}&payload=v&scope[type]=account", "n".repeat(900_000));
    for _ in 0..20 {
        let (status, _) = send(
            &s,
            &request("POST", "/v1/apps/secrets", Some("sk_test_1"), &big),
        );
        assert_eq!(status, 400);
    }
    let stats = s.stats();
    // Each entry keeps a readable, abbreviated copy of the parameters and,
    // for its transcript, the request as sent: 900 kB each, so the byte
    // bound drops the oldest.
    assert!(stats.journal_bytes <= JOURNAL_BYTES, "{stats:?}");
    assert_eq!(stats.journal_entries, JOURNAL_BYTES / 900_000, "{stats:?}");
    let params = &s.received_requests()[0].params;
    let name = params.as_ref().unwrap()["name"].as_str().unwrap();
    assert!(name.ends_with("...[899800 more characters]"), "{name}");
}

#[test]
fn saved_answers_stay_within_their_byte_bound() {
    let s = state(Config::default());
    // One secret set again and again under new keys: its long name makes
    // each saved answer about 4 KB, so some 2,000 POSTs fill the budget.
    let name = "n".repeat(4_000);
    let mut n = 0;
    // Enough keyed POSTs to overflow the budget once over.
    while s.stats().saved_bytes + 8_000 < SAVED_BYTES || n < 100 {
        // A bound that never fills fails here instead of spinning.
        assert!(
            n < 20_000,
            "saved answers never neared their bound: {:?}",
            s.stats()
        );
        let req = create_request(&name, Some(&format!("key-{n}")));
        assert_eq!(send(&s, &req).0, 200);
        n += 1;
    }
    for i in 0..n / 4 {
        let req = create_request(&name, Some(&format!("more-{i}")));
        assert_eq!(send(&s, &req).0, 200);
    }
    let stats = s.stats();
    assert!(stats.saved_bytes <= SAVED_BYTES, "{stats:?}");
    assert!(stats.saved_answers < n + n / 4, "{stats:?}");
    // The newest answer is still replayed; the oldest is gone.
    let newest = create_request(&name, Some(&format!("more-{}", n / 4 - 1)));
    let planned = plan(&s, &newest);
    let res = serve(&s, &newest, &planned).unwrap();
    assert!(res.headers.iter().any(|(h, _)| *h == "idempotent-replayed"));
    let oldest = create_request(&name, Some("key-0"));
    let planned = plan(&s, &oldest);
    let res = serve(&s, &oldest, &planned).unwrap();
    assert!(!res.headers.iter().any(|(h, _)| *h == "idempotent-replayed"));
}

#[test]
fn a_panic_answers_500_for_that_request_and_the_server_goes_on() {
    let s = state(Config::default());
    assert_eq!(create(&s, "sk_test_1", "before").0, 200);
    let req = request("GET", PANIC_PATH, Some("sk_test_1"), "");
    let planned = plan(&s, &req);
    let res = serve_guarded(&s, &req, &planned).expect("an answer, not a dropped connection");
    assert_eq!(res.status, 500);
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    assert!(s.spec().validate_error(&body).is_ok());
    // The partition's lock was poisoned; the same app is served normally.
    assert_eq!(find(&s, "sk_test_1", "before"), 200);
    assert_eq!(create(&s, "sk_test_1", "after").0, 200);
}

#[test]
fn a_header_that_is_not_ascii_is_refused_by_name_never_dropped() {
    let s = state(Config::default());
    let mut req = create_request("n", None);
    req.bad_header = Some("Stripe-Account");
    let (status, body) = send(&s, &req);
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Invalid Stripe-Account header: its value must be visible ASCII characters."
    );
    // Nothing landed on the platform.
    assert_eq!(find(&s, "sk_test_1", "n"), 404);
}

#[test]
fn broken_and_oversize_bodies_get_their_own_errors() {
    let s = state(Config::default());
    let mut req = request("POST", "/v1/apps/secrets", Some("sk_test_1"), "");
    req.body = Err(BodyError::Broken(
        "connection closed before message completed".into(),
    ));
    let (status, body) = send(&s, &req);
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request: the request body could not be read"));
    req.body = Err(BodyError::TooLarge);
    assert_eq!(send(&s, &req).0, 413);
    req.body = Err(BodyError::TimedOut);
    assert_eq!(send(&s, &req).0, 408);
}

#[test]
fn a_fault_after_a_replay_keeps_it_a_replay_of_the_first_request() {
    let s = state(Config::default());
    let req = create_request("n", Some("retry-2"));
    let first = serve(&s, &req, &plan(&s, &req)).unwrap();
    s.push_fault(Fault::status(500).after_execution()).unwrap();
    let again = serve(&s, &req, &plan(&s, &req)).unwrap();
    assert_eq!(again.status, 500);
    let header = |name: &str| {
        again
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("original-request"), Some(first.request_id.clone()));
    assert_eq!(header("idempotent-replayed").as_deref(), Some("true"));
    assert!(s.received_requests()[1].replayed);
}

#[test]
fn a_fault_after_execution_keeps_the_answers_own_spec_violation() {
    // Lenient: a name the spec's pattern refuses is stored and answered,
    // with the violation logged; the injected 500 that replaces the answer
    // must not lose it.
    let s = state(Config {
        spec_json: Some(names_must_be_good()),
        strict: false,
        ..Config::default()
    });
    s.push_fault(Fault::status(500).after_execution()).unwrap();
    let req = request(
        "POST",
        "/v1/apps/secrets",
        Some("sk_test_1"),
        "name=bad&payload=v&scope[type]=account",
    );
    let planned = plan(&s, &req);
    let route = planned.route.as_ref().unwrap();
    let call = super::call::Call::new(&req, route);
    let key = route.partition.clone().unwrap();
    let (served, _) = s.in_partition(&key, |p| super::steps::run(&s, call, &planned, Some(p)));
    assert_eq!(served.answer.status.map(|s| s.as_u16()), Some(500));
    let violation = served.answer.violation.expect("the answer's violation");
    assert!(
        violation.contains("does not match the OpenAPI spec"),
        "{violation}"
    );
}

#[test]
fn a_close_after_execution_counts_as_closed_not_as_the_answer_it_dropped() {
    let s = state(Config::default());
    s.push_fault(Fault::close().after_execution()).unwrap();
    let req = create_request("n", None);
    assert!(
        serve(&s, &req, &plan(&s, &req)).is_none(),
        "closed unanswered"
    );
    let report = s.coverage();
    let set = report
        .operations
        .iter()
        .find(|o| o.operation == "postAppsSecrets")
        .unwrap();
    let count = |name: &str| {
        set.outcomes
            .iter()
            .find(|o| o.name == name)
            .map_or(0, |o| o.count)
    };
    assert_eq!((count("closed injected_fault"), count("200")), (1, 0));
    // The secret was stored: the answer was lost on the way back.
    assert_eq!(find(&s, "sk_test_1", "n"), 200);
}

#[test]
fn expires_at_is_refused_at_now_and_past_100_years_of_36525_days_and_taken_between() {
    let s = state(Config::default());
    let now = 1_700_000_000_i64;
    let set = |n: usize, at: i64| {
        let form = format!("name=n{n}&payload=v&scope[type]=account&expires_at={at}");
        let req = request("POST", "/v1/apps/secrets", Some("sk_test_1"), &form);
        send(&s, &req)
    };
    let limit = now + 36_525 * 86_400;
    assert_eq!(set(1, now).0, 400, "now is not in the future");
    assert_eq!(set(2, now + 1).0, 200);
    assert_eq!(set(3, limit).0, 200, "exactly 100 years ahead");
    let (status, body) = set(4, limit + 1);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "expires_at");
    assert_eq!(
        body["error"]["message"],
        "Invalid timestamp: can be no more than 100 years in the future."
    );
}

#[test]
fn expand_payload_shows_it_and_nothing_else_is_expandable() {
    let s = state(Config::default());
    let form = "name=k&payload=secret-value&scope[type]=account&expand[]=payload";
    let (status, body) = send(
        &s,
        &request("POST", "/v1/apps/secrets", Some("sk_test_1"), form),
    );
    assert_eq!(
        (status, body["payload"].as_str()),
        (200, Some("secret-value"))
    );
    let (_, hidden) = create(&s, "sk_test_1", "other");
    assert!(hidden.get("payload").is_none(), "{hidden}");
    let bad = "name=k&payload=v&scope[type]=account&expand[]=name";
    let (status, body) = send(
        &s,
        &request("POST", "/v1/apps/secrets", Some("sk_test_1"), bad),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "This property cannot be expanded (name)."
    );
    let list = "scope[type]=account&expand[]=data.payload";
    let (_, page) = send(
        &s,
        &request("GET", "/v1/apps/secrets", Some("sk_test_1"), list),
    );
    assert_eq!(page["data"][0]["payload"], "v", "{page}");
}

#[test]
fn a_spec_violation_is_logged_with_its_request_id_whether_strict_or_not() {
    // The bundled spec, except that secret ids must start with `sec_`,
    // which the store's `appsecret_` ids never do.
    let mut spec: Value = serde_json::from_str(BUNDLED_SPEC).unwrap();
    spec["components"]["schemas"]["apps.secret"]["properties"]["id"]["pattern"] =
        serde_json::json!("^sec_");
    for strict in [true, false] {
        let s = state(Config {
            spec_json: Some(spec.to_string()),
            strict,
            ..Config::default()
        });
        crate::log::LOGGED.with(|l| l.borrow_mut().clear());
        let req = create_request("n", None);
        let res = serve(&s, &req, &plan(&s, &req)).unwrap();
        assert_eq!(res.status, if strict { 500 } else { 200 });
        let logged = crate::log::LOGGED.with(|l| l.borrow().clone());
        assert_eq!(logged.len(), 1, "{logged:?}");
        let prefix = format!("stripe-secrets-mock: {}: ", res.request_id);
        assert!(logged[0].starts_with(&prefix), "{logged:?}");
        assert!(logged[0].contains("^sec_"), "{logged:?}");
    }
}

#[test]
fn a_journal_entry_written_late_still_goes_where_its_request_was_served() {
    // Two requests to one partition, served in turn; the second's entry is
    // written first (as when the first's worker is descheduled after its
    // lock): the journal still lists them in the order they were served.
    let s = state(Config::default());
    let first = create_request("first", None);
    let second = create_request("second", None);
    let (plan_first, plan_second) = (plan(&s, &first), plan(&s, &second));
    fn locked<'a>(
        s: &Arc<State>,
        req: &'a MockRequest,
        planned: &'a super::Plan<'a>,
    ) -> super::steps::Recorded {
        let route = planned.route.as_ref().unwrap();
        let call = super::call::Call::new(req, route);
        let key = route.partition.clone().unwrap();
        s.in_partition(&key, |p| super::steps::run(s, call, planned, Some(p)))
            .1
    }
    let recorded_first = locked(&s, &first, &plan_first);
    let recorded_second = locked(&s, &second, &plan_second);
    recorded_second.write(&s);
    recorded_first.write(&s);
    let journal: Vec<Value> = s
        .journal_records(Default::default())
        .0
        .iter()
        .map(|r| r.recorded().to_json())
        .collect();
    let names: Vec<&Value> = journal.iter().map(|e| &e["params"]["name"]).collect();
    assert_eq!(names, ["first", "second"]);
}

#[test]
fn the_store_wide_totals_follow_every_reset_and_import() {
    // Seeded with one secret of its own, counted from the start.
    let seeded = r#"{"secrets": [{"app": "sk_test_3", "name": "s", "payload": "p",
        "scope": {"type": "account"}}]}"#;
    let s = state(Config {
        fixtures: vec![crate::config::FixtureSource::Inline {
            name: "seed".into(),
            json: seeded.into(),
        }],
        ..Config::default()
    });
    assert_eq!(s.totals().get().0, 1);
    assert_eq!(s.totals().get(), s.footprint_of_all());
    s.reset(Some("sk_test_3"), None);
    assert_eq!(s.totals().get().0, 1, "the seeded secret is back");
    s.import(&serde_json::json!({"secrets": []})).unwrap();
    assert_eq!(s.totals().get(), (0, 0));
    assert_eq!(create(&s, "sk_test_1", "a").0, 200);
    assert_eq!(create(&s, "sk_test_2", "b").0, 200);
    let (secrets, bytes) = s.totals().get();
    assert_eq!(secrets, 2);
    // Counted exactly: the same as walking every partition.
    assert_eq!((secrets, bytes), s.footprint_of_all());
    // One app's reset takes its secret out of the totals; a full reset all.
    s.reset(Some("sk_test_1"), None);
    assert_eq!(s.totals().get(), s.footprint_of_all());
    assert_eq!(s.totals().get().0, 1);
    // A full reset restores the seeded secret and nothing else.
    s.reset(None, None);
    assert_eq!(s.totals().get().0, 1);
    assert_eq!(s.totals().get(), s.footprint_of_all());
    // An import counts what it brought in.
    let fixture = serde_json::json!({"secrets": [
        {"app": "sk_test_1", "name": "x", "payload": "y", "scope": {"type": "account"}}
    ]});
    assert_eq!(s.import(&fixture).unwrap(), 1);
    assert_eq!(s.totals().get().0, 1);
    assert_eq!(s.totals().get(), s.footprint_of_all());
}

/// App `sk_test_a` holds no secret but one saved answer and two journal
/// entries: a keyed create, then an unkeyed delete of the secret.
fn app_a_emptied(s: &Arc<State>) {
    let create = create_request("n", Some("key-a"));
    let req = MockRequest {
        authorization: Some("Bearer sk_test_a".into()),
        ..create
    };
    assert_eq!(send(s, &req).0, 200);
    let delete = request(
        "POST",
        "/v1/apps/secrets/delete",
        Some("sk_test_a"),
        "name=n&scope[type]=account",
    );
    assert_eq!(send(s, &delete).0, 200);
    assert_eq!(s.stats().saved_answers, 1);
}

#[test]
fn an_empty_app_is_kept_while_the_journal_names_it() {
    let s = state(Config {
        journal_entries: 20_000,
        journal_bytes: 64 << 20,
        ..Config::default()
    });
    app_a_emptied(&s);
    // Another app's keyed POSTs push `a`'s saved answer out of the budget.
    // The oldest answer, `a`'s, is the first the budget drops.
    let name = "n".repeat(4_000);
    let mut n = 0;
    while s.stats().saved_answers == n + 1 {
        assert!(n < 20_000, "the budget never filled: {:?}", s.stats());
        assert_eq!(
            send(&s, &create_request(&name, Some(&format!("k{n}")))).0,
            200
        );
        n += 1;
    }
    let stats = s.stats();
    // Its two journal entries still name it.
    assert_eq!(stats.partitions, 2, "{stats:?}");
}

#[test]
fn an_empty_app_is_kept_while_a_saved_answer_names_it() {
    let s = state(Config {
        journal_entries: 10,
        ..Config::default()
    });
    app_a_emptied(&s);
    // Another app's requests push `a`'s out of the journal.
    for _ in 0..10 {
        assert_eq!(find(&s, "sk_test_c", "n"), 404);
    }
    // Its saved answer still names it.
    assert_eq!(s.stats().partitions, 2, "{:?}", s.stats());
}

#[test]
fn an_empty_app_is_kept_while_a_request_is_in_it() {
    use std::sync::mpsc::channel;
    use std::time::Duration;
    let s = state(Config::default());
    let key = crate::secrets::store::PartitionKey::new("sk_test_a", None);
    let (entered, inside) = channel();
    let (leave, told) = channel::<()>();
    let busy = {
        let (s, key) = (s.clone(), key.clone());
        std::thread::spawn(move || {
            s.in_partition(&key, |_| {
                entered.send(()).unwrap();
                // Bounded: a forget that waits for this lock fails the
                // test below instead of hanging it.
                let _ = told.recv_timeout(Duration::from_secs(2));
            })
        })
    };
    inside.recv_timeout(Duration::from_secs(10)).unwrap();
    // Empty, named by nothing, but a request holds it: not forgotten.
    s.forget_idle(vec![key.clone()]);
    let _ = leave.send(());
    busy.join().unwrap();
    assert_eq!(s.stats().partitions, 1);
}

/// A keyed POST held in flight (here by its delay) refuses a duplicate
/// with 409, and is itself served: only the plan that took the key holds
/// it.
#[test]
fn a_key_in_flight_refuses_its_duplicate_but_not_its_holder() {
    let s = state(Config::default());
    s.push_fault(Fault::delay(400).operation("postAppsSecrets"))
        .unwrap();
    let req = create_request("n", Some("flight-1"));
    let first = plan(&s, &req);
    let (status, body) = send(&s, &req);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_in_use");
    let res = serve(&s, &req, &first).expect("an answer");
    assert_eq!(res.status.as_u16(), 200);
    drop(first);
    // Released: the retry replays the first answer.
    let (again, replayed) = send(&s, &req);
    assert_eq!(again, 200);
    assert_eq!(replayed["name"], "n");
}

/// The journal names the object a 200 answered and the account a request
/// acted in; an error answers no object, and an empty account header
/// names none.
#[test]
fn the_journal_names_the_object_answered_and_the_account() {
    let s = state(Config::default());
    let mut req = create_request("n", None);
    req.stripe_account = Some("acct_1".into());
    let (status, body) = send(&s, &req);
    assert_eq!(status, 200, "{body}");
    let (missing, _) = send(
        &s,
        &request(
            "GET",
            "/v1/apps/secrets/find",
            Some("sk_test_1"),
            "name=nope&scope[type]=account",
        ),
    );
    assert_eq!(missing, 404);
    let mut empty = create_request("m", None);
    empty.stripe_account = Some(String::new());
    let (status, _) = send(&s, &empty);
    let journal = s.received_requests();
    assert_eq!(journal[0].object_id.as_deref(), body["id"].as_str());
    assert_eq!(journal[0].account.as_deref(), Some("acct_1"));
    assert_eq!(
        (journal[1].object_id.as_deref(), journal[1].status),
        (None, Some(404))
    );
    assert_eq!(journal[1].account, None);
    assert_eq!(
        (journal[2].status, journal[2].account.as_deref()),
        (Some(status), None)
    );
}
