use super::kept::kept;
use super::*;
use crate::record::pretty::tests::{json_value, pretty_at};
use crate::record::transcript::Transcript;
use serde_json::Map;

fn record(partition: &str, path: &str) -> Record {
    Record {
        request_id: "req_1".into(),
        method: "GET".into(),
        path: path.into(),
        partition: Some(PartitionKey::new(partition, None)),
        response: Some(Answered {
            status: 200,
            headers: Vec::new(),
            body: Bytes::from_static(b"{}\n"),
        }),
        ..Record::blank()
    }
}

/// The bytes `r`'s entry adds to `GET /_mock/requests` as written.
fn line_written(r: &Record) -> usize {
    pretty_at(&Packed::of(r).recorded().to_json(), LINE_DEPTH)
}

/// The bytes `r`'s interaction adds to a transcript as written, as it is
/// and redacted as `GET /_mock/transcript?redact=all` redacts it: after
/// the first item, `,` and a line break, then the interaction indented
/// four spaces (it sits two levels deep).
fn written(r: &Record) -> [usize; 2] {
    let as_is = Packed::of(r).interaction();
    let mut t = Transcript::new("v");
    t.interactions.push(as_is.clone());
    t.redact_payloads();
    t.mask_keys();
    [as_is, t.interactions.remove(0)].map(|i| {
        let v = serde_json::to_value(i).unwrap();
        6 + pretty_at(&v, 2)
    })
}

fn exchange(
    params: Value,
    headers: &[(&'static str, &str)],
    body: Value,
    fault: Option<&str>,
) -> Record {
    Record {
        operation: Some("postAppsSecrets".into()),
        method: "POST".into(),
        path: "/v1/apps/secrets".into(),
        headers: vec![("authorization", "Bearer sk_test_\"q\\".into())],
        sent: Sent::params(&params),
        response: Some(Answered {
            status: 200,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: Bytes::from(crate::body::render(&body)),
        }),
        fault: fault.map(String::from),
        ..Record::blank()
    }
}

#[test]
fn an_interaction_counts_at_least_what_a_transcript_writes_of_it() {
    let nested = json!({"scope": {"type": "user", "user": {"a": {"b": ["x", "y"]}}}, "name": "k"});
    let typical = exchange(
        nested.clone(),
        &[("request-id", "req_1"), ("stripe-version", "2023-10-16")],
        json!({"id": "appsecret_1", "scope": {"type": "account"}, "list": [1, 2, {"a": null}]}),
        None,
    );
    // Strings that JSON escapes: each control byte is written as six.
    let control = "\u{1}".repeat(300);
    let escaped = exchange(
        json!({"name": control.clone()}),
        &[
            ("request-id", &"\"\\".repeat(100)),
            ("idempotency-key", &control),
        ],
        json!({"error": {"message": control.clone()}}),
        Some(&control),
    );
    // Redacting writes `[redacted]` for each short payload: longer.
    let payloads: Map<String, Value> = (0..50)
        .map(|i| (format!("p{i}"), json!({"payload": ""})))
        .collect();
    let answers: Vec<Value> = (0..50).map(|_| json!({"payload": ""})).collect();
    let redacted = exchange(
        Value::Object(payloads),
        &[],
        json!({ "data": answers }),
        None,
    );
    // A payload longer than `[redacted]`, nested: counted as sent, each of
    // its lines at its depth.
    let fields: Map<String, Value> = (0..40).map(|i| (format!("f{i}"), json!("v"))).collect();
    let nested_payload = exchange(json!({ "payload": fields }), &[], json!({}), None);
    let mut raw = exchange(json!({}), &[], json!({}), None);
    raw.sent = Sent::raw(b"a=%zz", b"x");
    let mut closed = exchange(nested, &[], json!({}), Some("close"));
    closed.response = None;
    for (what, r) in [
        ("typical", &typical),
        ("escaped", &escaped),
        ("redacted", &redacted),
        ("nested payload", &nested_payload),
        ("raw", &raw),
        ("closed", &closed),
    ] {
        for w in written(r) {
            let counted = r.interaction_len();
            assert!(counted >= w, "{what}: counted {counted} < written {w}");
        }
    }
    // The count itself, pinned: a change to it must be deliberate (the
    // journal's documented bound, docs/limits.md, is this count).
    assert_eq!(
        (typical.interaction_len(), written(&typical)),
        (936, [890, 890])
    );
}

proptest::proptest! {
    #[test]
    fn an_entry_counts_exactly_what_the_journal_writes_of_it(
        params in json_value(),
        method in "[A-Z]{0,8}",
        at in proptest::num::i64::ANY,
        status in proptest::option::of(100u16..600),
        text in proptest::option::of("[a-z\"\\\\\u{1}é]{0,8}"),
        replayed in proptest::bool::ANY,
    ) {
        let r = Record {
            at,
            method,
            operation: text.clone().map(Into::into),
            app: text.clone(),
            account: text.clone(),
            object_id: text.clone(),
            fault: text,
            sent: Sent::params(&params),
            replayed,
            response: status.map(|status| Answered { status, headers: Vec::new(), body: Bytes::new() }),
            ..record("k", "/v1/apps/secrets")
        };
        proptest::prop_assert_eq!(r.line_len(), line_written(&r));
    }
}

#[test]
fn long_paths_and_huge_params_are_counted_as_written_shortened() {
    let many: Map<String, Value> = (0..1000).map(|i| (format!("p{i}"), json!("v"))).collect();
    for r in [
        record("k", &"p".repeat(1000)),
        record("k", &"é".repeat(201)),
        Record {
            sent: Sent::params(&Value::Object(many)),
            ..record("k", "/")
        },
        Record {
            sent: Sent::params(&json!({"name": "x".repeat(1000), "payload": "s"})),
            ..record("k", "/")
        },
    ] {
        assert_eq!(r.line_len(), line_written(&r), "{}", r.path);
    }
}

#[test]
fn payload_values_are_redacted_at_any_depth() {
    let v = json!({"name": "k", "payload": "s3cr3t", "i": [{"payload": {"x": 1}}]});
    assert_eq!(
        kept(&v),
        json!({"name": "k", "payload": REDACTED, "i": [{"payload": REDACTED}]})
    );
}

#[test]
fn long_values_are_shortened_and_huge_params_summarised() {
    let v = json!({"name": "x".repeat(1000)});
    assert_eq!(
        kept(&v)["name"],
        format!("{}...[800 more characters]", "x".repeat(200))
    );
    let many: Map<String, Value> = (0..1000).map(|i| (format!("p{i}"), json!("v"))).collect();
    let many_value = Value::Object(many);
    let note = kept(&many_value);
    let bytes = serde_json::to_string(&many_value).unwrap().len();
    assert_eq!(
        note["[abbreviated]"],
        format!("1000 parameters, {bytes} bytes as JSON")
    );
}

#[test]
fn entries_read_back_as_recorded() {
    let mut j = Journal::default();
    let mut r = record("k", "/v1/x");
    r.sent = Sent::params(&json!({"name": "n", "payload": "p"}));
    r.app = Some("sk_test_****".into());
    j.record(r);
    let (records, dropped) = j.records(Filter::default());
    let back = records[0].recorded();
    assert_eq!((back.path.as_str(), dropped), ("/v1/x", 0));
    assert_eq!(back.app.as_deref(), Some("sk_test_****"));
    assert_eq!(back.params, Some(json!({"name": "n", "payload": REDACTED})));
    // The transcript keeps them as sent.
    let sent = records[0].interaction().request.params;
    assert_eq!(sent, Some(json!({"name": "n", "payload": "p"})));
    let app = |k| Filter {
        app: Some(k),
        ..Filter::default()
    };
    assert_eq!(j.records(app("k")).0.len(), 1);
    assert!(j.records(app("other")).0.is_empty());
}

#[test]
fn an_entry_written_late_goes_where_its_turn_says() {
    // The paths a journal of at most `max` entries keeps, recorded in
    // the order given with the turns given.
    let kept = |max: usize, recorded: &[(u64, &str)]| -> Vec<String> {
        let mut j = Journal::new(max, JOURNAL_BYTES);
        for &(turn, path) in recorded {
            j.record(Record {
                turn,
                ..record("sk_test_1", path)
            });
        }
        j.records(Filter::default())
            .0
            .iter()
            .map(|r| r.recorded().path)
            .collect()
    };
    let late = [(0, "/a"), (2, "/c"), (1, "/b"), (3, "/d"), (3, "/e")];
    assert_eq!(kept(10, &late), ["/a", "/b", "/c", "/d", "/e"]);
    // The oldest by turn is the one the bound drops first.
    let late = [(5, "/new"), (4, "/old"), (6, "/newest")];
    assert_eq!(kept(2, &late), ["/new", "/newest"]);
}

#[test]
fn entries_and_bytes_stay_bounded_and_partitions_are_released() {
    let mut j = Journal::default();
    j.record(record("first", "/"));
    for _ in 0..JOURNAL_ENTRIES {
        j.record(record("other", "/"));
    }
    assert_eq!(j.len(), JOURNAL_ENTRIES);
    assert_eq!(j.count(&PartitionKey::new("first", None)), 0);
    assert_eq!(j.take_released(), [PartitionKey::new("first", None)]);
    let long = "p".repeat(150_000);
    for _ in 0..200 {
        j.record(record("other", &long));
    }
    assert!(j.bytes() <= JOURNAL_BYTES);
    assert!(j.len() <= JOURNAL_BYTES / 150_000, "{}", j.len());
}

#[test]
fn bounds_given_apply_exactly_and_survive_a_clear() {
    let mut j = Journal::new(3, usize::MAX);
    for _ in 0..5 {
        j.record(record("k", "/"));
    }
    assert_eq!((j.len(), j.dropped), (3, 2));
    j.clear();
    for _ in 0..4 {
        j.record(record("k", "/"));
    }
    assert_eq!(j.len(), 3);
    let one = {
        let mut probe = Journal::new(1, usize::MAX);
        probe.record(record("k", "/"));
        probe.bytes()
    };
    let mut exact = Journal::new(usize::MAX, 2 * one);
    for _ in 0..3 {
        exact.record(record("k", "/"));
    }
    assert_eq!((exact.len(), exact.bytes()), (2, 2 * one));
    let mut short = Journal::new(usize::MAX, 2 * one - 1);
    for _ in 0..3 {
        short.record(record("k", "/"));
    }
    assert_eq!(short.len(), 1);
}

#[test]
fn the_interaction_frame_is_the_most_any_shape_has() {
    // Values counted exactly: raw text as long as `[redacted]`, no headers,
    // a body of one line.
    let ten = b"0123456789";
    let shape = |decoded: bool, answered: bool| Record {
        sent: if decoded {
            Sent::params(&json!({}))
        } else {
            Sent::raw(ten, ten)
        },
        response: answered.then(|| Answered {
            status: 0,
            headers: Vec::new(),
            body: Bytes::from_static(b"{}"),
        }),
        ..Record::blank()
    };
    let frames = [(true, true), (true, false), (false, true), (false, false)].map(|(d, a)| {
        let r = shape(d, a);
        let values = r.interaction_len() - INTERACTION_FRAME;
        written(&r).map(|w| w - values)
    });
    assert_eq!(frames.into_iter().flatten().max(), Some(INTERACTION_FRAME));
}

#[test]
fn a_basic_key_masked_is_counted_as_written() {
    use base64::Engine;
    // A user of control characters: masked, its last four are written
    // in six bytes each, behind `Bearer `, longer than the header sent.
    let user = base64::engine::general_purpose::STANDARD.encode("\u{1}\u{1}\u{1}\u{1}:");
    let ten = b"0123456789";
    for auth in [
        format!("Basic {user}"),
        format!("  basic {user}"),
        "Bearer sk_test_\u{1}x".into(),
    ] {
        // The shape whose frame is the largest, with every other value
        // counted exactly.
        let r = Record {
            headers: vec![("authorization", auth.clone())],
            sent: Sent::raw(ten, ten),
            response: Some(Answered {
                status: 0,
                headers: Vec::new(),
                body: Bytes::from_static(b"{}"),
            }),
            ..Record::blank()
        };
        let [as_is, masked] = written(&r);
        assert!(r.interaction_len() >= masked.max(as_is), "{auth}");
        if auth.contains("asic") {
            assert!(
                masked > as_is,
                "{auth}: masking wrote {masked}, not more than {as_is}"
            );
            // Pinned: 27 bytes of room, 17 of them used here (and the two
            // spaces before the scheme, which masking drops).
            let unused = if auth.starts_with(' ') { 12 } else { 10 };
            assert_eq!(r.interaction_len() - masked, unused, "{auth}");
        }
    }
}

#[test]
fn an_entry_counts_what_it_writes_and_what_it_holds() {
    let mut j = Journal::new(1, usize::MAX);
    let r = record("k", "/");
    let written = line_written(&r) + written(&r)[0];
    let held = std::mem::size_of::<Entry>() + Packed::of(&r).held();
    j.record(r);
    // Pinned: the documented bound is this count (docs/limits.md), the
    // bytes written and the entry held beside them.
    assert_eq!((written, j.bytes()), (597, 939));
    assert!(held <= j.bytes() - written, "{held} held");
}

#[test]
fn parameters_of_exactly_4_kib_as_kept_are_kept_whole() {
    // Strings short enough to be kept as they are: 3,928 bytes of JSON
    // around `b`'s value.
    let at = |n: usize| json!({"a": vec!["x".repeat(100); 38], "b": "y".repeat(n)});
    let whole = at(MAX_PARAMS_BYTES - 3928);
    assert_eq!(
        serde_json::to_string(&whole).unwrap().len(),
        MAX_PARAMS_BYTES
    );
    assert_eq!(kept(&whole), whole);
    let over = at(MAX_PARAMS_BYTES - 3927);
    assert_eq!(
        kept(&over)["[abbreviated]"],
        format!("2 parameters, {} bytes as JSON", MAX_PARAMS_BYTES + 1)
    );
    // And each entry is counted as the journal writes it.
    for params in [whole, over] {
        let r = Record {
            sent: Sent::params(&params),
            ..record("k", "/")
        };
        assert_eq!(r.line_len(), line_written(&r));
    }
}

#[test]
fn removing_a_partitions_entries_uncounts_them() {
    let mut j = Journal::default();
    j.record(record("a", "/"));
    let one = j.bytes();
    j.record(record("b", "/"));
    j.record(record("a", "/"));
    assert_eq!(j.bytes(), 3 * one);
    let gone = j.remove(|p| p.key == "a");
    assert_eq!((gone, j.len(), j.bytes()), (2, 1, one));
    assert_eq!(j.count(&PartitionKey::new("a", None)), 0);
}

#[test]
fn a_packed_record_reads_back_every_part_it_was_given() {
    let full = Record {
        at: 7,
        request_id: "req_9".into(),
        method: "POST".into(),
        path: "/v1/apps/secrets".into(),
        operation: Some("postAppsSecrets".into()),
        app: Some("sk_test_***123".into()),
        account: Some("acct_1".into()),
        sent: Sent::params(&json!({"name": "n", "payload": "p"})),
        headers: vec![
            ("authorization", "Bearer k".into()),
            ("stripe-version", "v".into()),
        ],
        response: Some(Answered {
            status: 402,
            headers: vec![
                ("request-id", "req_9".into()),
                ("idempotent-replayed", "true".into()),
            ],
            body: Bytes::from_static(b"{\"a\": 1}"),
        }),
        object_id: Some("appsecret_1".into()),
        fault: Some("status 402".into()),
        replayed: true,
        partition: None,
        turn: 0,
    };
    let p = Packed::of(&full);
    assert_eq!(p.operation(), Some("postAppsSecrets"));
    let shown = p.recorded();
    assert_eq!(
        shown.to_json(),
        json!({
            "object": "mock.request", "at": 7, "request_id": "req_9", "method": "POST",
            "path": "/v1/apps/secrets", "operation": "postAppsSecrets",
            "app": "sk_test_***123", "account": "acct_1",
            "params": {"name": "n", "payload": "[redacted]"}, "status": 402,
            "object_id": "appsecret_1", "fault": "status 402", "replayed": true,
        })
    );
    let i = p.interaction();
    let pairs = |h: &[(&str, &str)]| {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(i.operation.as_deref(), Some("postAppsSecrets"));
    assert_eq!(i.fault.as_deref(), Some("status 402"));
    assert_eq!(
        i.request.headers,
        pairs(&[("authorization", "Bearer k"), ("stripe-version", "v")])
    );
    assert_eq!(i.request.params, Some(json!({"name": "n", "payload": "p"})));
    assert_eq!((i.request.query, i.request.body), (None, None));
    let response = i.response.unwrap();
    assert_eq!((response.status, response.body), (402, json!({"a": 1})));
    assert_eq!(
        response.headers,
        pairs(&[("request-id", "req_9"), ("idempotent-replayed", "true")])
    );

    // Absent parts stay absent and empty ones empty; raw parameters come
    // back raw; a closed connection has no answer.
    let bare = Record {
        operation: Some("".into()),
        sent: Sent::raw(b"a=%zz", b""),
        ..Record::blank()
    };
    let p = Packed::of(&bare);
    assert_eq!(p.operation(), Some(""));
    let shown = p.recorded();
    assert_eq!(
        (shown.app, shown.account, shown.object_id),
        (None, None, None)
    );
    assert_eq!(
        (shown.params, shown.status, shown.replayed),
        (None, None, false)
    );
    let i = p.interaction();
    assert_eq!(i.request.query.as_deref(), Some("a=%zz"));
    assert_eq!(i.request.body.as_deref(), Some(""));
    assert!(i.response.is_none() && i.request.headers.is_empty());
    assert_eq!(Packed::of(&Record::blank()).operation(), None);
}

#[test]
fn the_operation_filter_keeps_that_operation_only() {
    let mut j = Journal::new(10, JOURNAL_BYTES);
    for op in [Some("getAppsSecretsFind"), Some("postAppsSecrets"), None] {
        j.record(Record {
            operation: op.map(Into::into),
            ..record("k", "/v1/apps/secrets")
        });
    }
    let kept = |o| {
        let filter = Filter {
            operation: Some(o),
            ..Filter::default()
        };
        let (records, _) = j.records(filter);
        records
            .iter()
            .map(|r| r.recorded().operation)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kept("postAppsSecrets"),
        [Some("postAppsSecrets".to_string())]
    );
    assert!(kept("deleteAppsSecrets").is_empty());
}
