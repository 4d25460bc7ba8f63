//! Property tests (proptest): the form decoder never panics on any input,
//! every request the mock can be sent gets a well-formed answer that its
//! spec accepts, and decoding inverts the official SDKs' encoding.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::openapi::form;
use crate::pipeline::{plan, serve, MockRequest};
use crate::secrets::idempotency::normalize;
use crate::state::State;

/// One server for all cases (its state grows a little; that is fine).
fn state() -> &'static Arc<State> {
    static STATE: OnceLock<Arc<State>> = OnceLock::new();
    STATE.get_or_init(|| Arc::new(State::new(Config::default()).unwrap()))
}

/// Parameter trees as SDK callers build them: hashes with letter keys,
/// arrays of strings, string leaves; no empty hash or array (the SDKs send
/// nothing for those).
fn params() -> impl Strategy<Value = Value> {
    let leaf = "[ -~]{0,12}".prop_map(Value::String);
    let array = prop::collection::vec("[a-z0-9_.]{1,8}".prop_map(Value::String), 1..4)
        .prop_map(Value::Array);
    let node = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop::collection::btree_map("[a-z]{1,6}", inner, 1..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    });
    prop::collection::btree_map("[a-z]{1,6}", prop_oneof![node, array], 1..5)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

/// Query strings made of the API's own parameter names and hostile values.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name".to_string()),
        Just("payload".to_string()),
        Just("scope[type]".to_string()),
        Just("scope[user]".to_string()),
        Just("scope".to_string()),
        Just("expand[]".to_string()),
        Just("expand[0]".to_string()),
        Just("expand[1]".to_string()),
        Just("expand".to_string()),
        Just("limit".to_string()),
        Just("starting_after".to_string()),
        Just("ending_before".to_string()),
        Just("expires_at".to_string()),
        "[a-z\\[\\]%]{1,8}",
    ];
    let value = prop_oneof![
        Just("account".to_string()),
        Just("user".to_string()),
        Just("payload".to_string()),
        Just("1700000060".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        "[ -~]{0,10}",
        "[0-9]{1,4}",
    ];
    prop::collection::vec((key, value), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #[test]
    fn decoding_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = form::decode_into(&mut Map::new(), &text);
    }

    #[test]
    fn decoding_inverts_the_sdk_encoding(v in params()) {
        let mut decoded = Map::new();
        form::decode_into(&mut decoded, &form::encode(&v)).unwrap();
        prop_assert_eq!(normalize(&Value::Object(decoded)), v);
    }

    #[test]
    fn every_request_gets_a_well_formed_answer_its_spec_accepts(
        op in 0usize..4,
        query in query(),
        key in prop_oneof![Just(Some("sk_test_prop")), Just(None), Just(Some("sk_test_x y"))],
    ) {
        let (method, path) = [
            ("POST", "/v1/apps/secrets"),
            ("GET", "/v1/apps/secrets/find"),
            ("POST", "/v1/apps/secrets/delete"),
            ("GET", "/v1/apps/secrets"),
        ][op];
        let (query_string, body) = if method == "GET" {
            (query, Vec::new())
        } else {
            (String::new(), query.into_bytes())
        };
        let req = MockRequest {
            method: method.into(),
            path: path.into(),
            query: query_string,
            authorization: key.map(|k| format!("Bearer {k}")),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: Ok(body),
            ..MockRequest::default()
        };
        let state = state();
        let planned = plan(state, &req);
        let res = serve(state, &req, &planned).expect("an answer");
        // A 500 is what strict mode makes of an answer the spec refuses.
        prop_assert!([200, 400, 401, 404].contains(&res.status.as_u16()), "{} {}", res.status, String::from_utf8_lossy(&res.body));
        let body: Value = serde_json::from_slice(&res.body).unwrap();
        let operation = state.spec().route(method, path).unwrap();
        prop_assert!(operation.validate_response(res.status.as_u16(), &body).is_ok(), "{}", String::from_utf8_lossy(&res.body));
    }
}
