//! The request journal: what the mock was asked and what it answered, so a
//! test can assert on the calls its code made.
//!
//! Bounded by entries and by bytes (by default [`JOURNAL_ENTRIES`] and
//! [`JOURNAL_BYTES`]; `Config::journal_entries` and `journal_bytes`), oldest
//! dropped first. An entry keeps what a person reads: payload values
//! are redacted, long strings abbreviated, and parameters too large to read
//! are replaced by a note saying how large they were. Each entry is kept as
//! its compact JSON text, so what is counted is what is held.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use hyper::body::Bytes;
use serde::Deserialize;

use crate::record::pretty::{self, Written};
use crate::record::transcript::{Interaction, TranscriptRequest, TranscriptResponse, REDACTED};
use crate::secrets::store::PartitionKey;

pub(crate) use crate::config::{JOURNAL_BYTES, JOURNAL_ENTRIES};

/// Strings longer than this (in characters) are abbreviated in the journal.
const MAX_VALUE_CHARS: usize = 200;

/// Parameters longer than this as JSON, once abbreviated, are replaced by a
/// note.
const MAX_PARAMS_BYTES: usize = 4 << 10;

/// Fixed cost counted for each entry besides its text: the entry itself and
/// its allocations' headers.
const ENTRY_OVERHEAD: usize = 96;

/// One request served on the Stripe paths, as the journal shows it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Mock clock when it was served.
    pub at: i64,
    /// The response's `Request-Id`.
    pub request_id: String,
    /// HTTP method.
    pub method: String,
    /// Request path (abbreviated past 200 characters).
    pub path: String,
    /// The spec's `operationId`, or `None` for an unknown route.
    pub operation: Option<String>,
    /// The API key, masked as in Stripe's errors; `None` without a valid key.
    pub app: Option<String>,
    /// The `Stripe-Account` header.
    pub account: Option<String>,
    /// Decoded parameters (strings as sent, long ones abbreviated), with
    /// every `payload` value replaced by `"[redacted]"`; `None` if they could
    /// not be decoded.
    pub params: Option<Value>,
    /// Response status; `None` when an injected fault closed the connection.
    pub status: Option<u16>,
    /// The `id` of the object in the response body, if any.
    pub object_id: Option<String>,
    /// The injected fault applied to it, described (`status 503`), if any.
    pub fault: Option<String>,
    /// Whether the answer was an idempotent replay of an earlier one.
    pub replayed: bool,
}

impl RecordedRequest {
    /// The entry as the control endpoint shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "object": "mock.request",
            "at": self.at,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "app": self.app,
            "account": self.account,
            "params": self.params,
            "status": self.status,
            "object_id": self.object_id,
            "fault": self.fault,
            "replayed": self.replayed,
        })
    }

    /// Reads back what [`Record`] wrote.
    fn from_json(v: &Value) -> RecordedRequest {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        RecordedRequest {
            at: v["at"].as_i64().unwrap_or_default(),
            request_id: text("request_id").unwrap_or_default(),
            method: text("method").unwrap_or_default(),
            path: text("path").unwrap_or_default(),
            operation: text("operation"),
            app: text("app"),
            account: text("account"),
            params: v.get("params").filter(|p| !p.is_null()).cloned(),
            status: v["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
            object_id: text("object_id"),
            fault: text("fault"),
            replayed: v["replayed"].as_bool().unwrap_or_default(),
        }
    }
}

/// What the pipeline records about one request, borrowed from it; written
/// into the journal as JSON text in the shape of [`RecordedRequest`].
#[derive(Serialize)]
pub(crate) struct Record<'a> {
    /// Always `mock.request`.
    pub object: &'static str,
    /// Mock clock when it was served.
    pub at: i64,
    /// The response's `Request-Id`.
    pub request_id: String,
    /// HTTP method, shortened.
    pub method: Cow<'a, str>,
    /// Request path, shortened.
    pub path: Cow<'a, str>,
    /// The spec's `operationId`.
    pub operation: Option<&'a str>,
    /// The API key, masked.
    pub app: Option<String>,
    /// The `Stripe-Account` header, shortened.
    pub account: Option<Cow<'a, str>>,
    /// Parameters as [`params_json`] keeps them.
    pub params: Option<Box<RawValue>>,
    /// Response status.
    pub status: Option<u16>,
    /// The `id` of the object answered.
    pub object_id: Option<String>,
    /// The injected fault, described.
    pub fault: Option<String>,
    /// Whether the answer was a replay.
    pub replayed: bool,
    /// The partition it was served in (full key), for filtering and
    /// bookkeeping; never shown.
    #[serde(skip)]
    pub partition: Option<PartitionKey>,
    /// The request and its answer, for transcripts (parameters as sent,
    /// payloads kept); never shown by the journal.
    #[serde(skip)]
    pub exchange: Option<Exchange>,
    /// Its place in the order requests were served (taken with the
    /// partition locked, [`crate::state::State::journal_turn`]): an entry
    /// written after its lock was released still goes where it was served.
    #[serde(skip)]
    pub turn: u64,
}

/// Entries the bounds dropped, freed when this is dropped.
pub(crate) struct Evicted(Vec<Entry>);

/// A [`Record`] made into an entry, before the journal's lock is taken.
pub(crate) struct Pending {
    entry: Entry,
}

impl Pending {
    /// Writes `record`'s text and counts its bytes: the costly part of
    /// recording, done with no lock held.
    pub fn new(record: Record<'_>) -> Pending {
        let written = pretty::to_string(&record, 2);
        let operation = record.operation.map(Box::from);
        let partition = record.partition;
        let exchange = record.exchange;
        let size = ENTRY_OVERHEAD
            + written.pretty_len
            + exchange.as_ref().map_or(0, Exchange::size)
            + operation.as_deref().map_or(0, str::len)
            + partition.as_ref().map_or(0, |p| {
                p.key.len() + p.account.as_ref().map_or(0, String::len)
            });
        Pending {
            entry: Entry {
                text: written.text.into(),
                operation,
                partition,
                exchange: exchange.map(Arc::new),
                size,
                turn: record.turn,
            },
        }
    }
}

/// A request and its answer as the journal keeps them for transcripts: the
/// request half already written (before any lock) and the answer's parts,
/// its body shared with the response sent. Put together into an
/// [`Interaction`] only when a transcript is asked for.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// `{"operation": …, "request": {…}}` as JSON text, and its length as
    /// a transcript writes it.
    pub request: Written,
    /// The answer; `None` when the connection was closed unanswered.
    pub response: Option<Answered>,
    /// The injected fault that shaped it, described.
    pub fault: Option<String>,
}

/// An answer as sent.
#[derive(Debug)]
pub(crate) struct Answered {
    /// Status.
    pub status: u16,
    /// The headers a transcript keeps, by lower-case name.
    pub headers: Vec<(&'static str, String)>,
    /// The body, shared with the response.
    pub body: Bytes,
}

/// Room counted for an interaction's fixed parts as a transcript writes
/// them: the `response`, `status`, `headers`, `body` and `fault` keys,
/// their punctuation and indentation.
const INTERACTION_FRAME: usize = 256;

impl Exchange {
    /// At least the bytes its interaction adds to a transcript as written
    /// (inside `interactions`, pretty-printed), and so at least what it
    /// holds. Counted against [`JOURNAL_BYTES`].
    fn size(&self) -> usize {
        // A JSON string as written: each byte at most 6 (`\u0001`), quotes.
        let string = |s: &str| 6 * s.len() + 2;
        // The request half's fields sit in the interaction as in the half.
        self.request.pretty_len
            + INTERACTION_FRAME
            + self.fault.as_deref().map_or(0, string)
            + self.response.as_ref().map_or(0, |a| {
                // The body, pretty already, is indented 8 more per line.
                let lines = a.body.iter().filter(|b| **b == b'\n').count();
                a.body.len()
                    + 8 * lines
                    + a.headers
                        .iter()
                        .map(|(k, v)| string(k) + string(v) + 12)
                        .sum::<usize>()
            })
    }

    /// The whole interaction.
    pub fn interaction(&self) -> Option<Interaction> {
        #[derive(Deserialize)]
        struct Half {
            operation: Option<String>,
            request: TranscriptRequest,
        }
        let half: Half = serde_json::from_str(&self.request.text).ok()?;
        let response = self.response.as_ref().map(|a| TranscriptResponse {
            status: a.status,
            headers: a
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: serde_json::from_slice(&a.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&a.body).into_owned())),
        });
        Some(Interaction {
            operation: half.operation,
            request: half.request,
            response,
            fault: self.fault.clone(),
            violations: Vec::new(),
        })
    }
}

/// One kept entry.
#[derive(Debug)]
struct Entry {
    /// The entry's JSON text (shared, so a reader copies it out of the
    /// lock cheaply and parses it after).
    text: Arc<str>,
    /// Its `operationId`, for filtering.
    operation: Option<Box<str>>,
    /// Its partition, for filtering and bookkeeping.
    partition: Option<PartitionKey>,
    /// Its request and answer, for transcripts (shared, as `text`).
    exchange: Option<Arc<Exchange>>,
    /// Bytes counted against [`JOURNAL_BYTES`].
    size: usize,
    /// Its [`Record::turn`].
    turn: u64,
}

impl Entry {
    fn made_with(&self, key: &str) -> bool {
        self.partition.as_ref().is_some_and(|p| p.key == key)
    }
}

/// The journal's entries and its bookkeeping.
#[derive(Debug)]
pub(crate) struct Journal {
    /// At most this many entries …
    max_entries: usize,
    /// … and this many bytes counted.
    max_bytes: usize,
    /// Oldest first.
    entries: VecDeque<Entry>,
    /// Bytes counted against [`JOURNAL_BYTES`].
    bytes: usize,
    /// How many entries each partition has (a partition with none, no
    /// secrets and no saved answers is forgotten).
    per_partition: HashMap<PartitionKey, usize>,
    /// Partitions whose last entry went since last asked.
    released: Vec<PartitionKey>,
    /// Entries dropped to stay within the bounds since the last clear.
    dropped: u64,
}

/// Which entries a listing or a transcript shows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filter<'a> {
    /// Only requests routed to this `operationId`.
    pub operation: Option<&'a str>,
    /// Only requests made with this API key (in full).
    pub app: Option<&'a str>,
    /// Only requests with this `Stripe-Account` header.
    pub account: Option<&'a str>,
}

impl Filter<'_> {
    fn keeps(&self, e: &Entry) -> bool {
        self.operation
            .is_none_or(|o| e.operation.as_deref() == Some(o))
            && self.app.is_none_or(|k| e.made_with(k))
            && self.account.is_none_or(|a| {
                e.partition
                    .as_ref()
                    .is_some_and(|p| p.account.as_deref() == Some(a))
            })
    }
}

impl Default for Journal {
    fn default() -> Journal {
        Journal::new(JOURNAL_ENTRIES, JOURNAL_BYTES)
    }
}

impl Journal {
    /// An empty journal with these bounds.
    pub fn new(max_entries: usize, max_bytes: usize) -> Journal {
        Journal {
            max_entries,
            max_bytes,
            entries: VecDeque::new(),
            bytes: 0,
            per_partition: HashMap::new(),
            released: Vec::new(),
            dropped: 0,
        }
    }

    /// Appends a record, dropping the oldest entries while over either
    /// bound.
    #[cfg(test)]
    pub fn record(&mut self, record: Record<'_>) {
        drop(self.insert(Pending::new(record)));
    }

    /// Adds an entry made by [`Pending::new`] in its turn's place (the
    /// newest but for requests still being written, so the search from the
    /// end stops within as many entries as requests run at once), and takes
    /// out the oldest entries while over either bound: they are returned,
    /// for the caller to drop once the lock is released.
    #[must_use = "the entries dropped for the bounds, to free after the lock"]
    pub fn insert(&mut self, pending: Pending) -> Evicted {
        let Pending { entry } = pending;
        if let Some(p) = &entry.partition {
            match self.per_partition.get_mut(p) {
                Some(n) => *n += 1,
                None => {
                    self.per_partition.insert(p.clone(), 1);
                }
            }
        }
        self.bytes += entry.size;
        let at = self
            .entries
            .iter()
            .rposition(|e| e.turn <= entry.turn)
            .map_or(0, |i| i + 1);
        self.entries.insert(at, entry);
        let mut evicted = Evicted(Vec::new());
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(mut oldest) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= oldest.size;
            self.dropped += 1;
            self.unref(oldest.partition.take());
            evicted.0.push(oldest);
        }
        evicted
    }

    fn unref(&mut self, partition: Option<PartitionKey>) {
        let Some(p) = partition else { return };
        if let Some(n) = self.per_partition.get_mut(&p) {
            *n -= 1;
            if *n == 0 {
                self.per_partition.remove(&p);
                self.released.push(p);
            }
        }
    }

    /// The texts of the entries `filter` keeps, oldest first: shared, so the
    /// caller parses them ([`parse`]) after releasing the lock, and a long
    /// journal never holds requests up while it is read.
    pub fn texts(&self, filter: Filter<'_>) -> Vec<Arc<str>> {
        self.entries
            .iter()
            .filter(|e| filter.keeps(e))
            .map(|e| e.text.clone())
            .collect()
    }

    /// The exchanges of the entries `filter` keeps, oldest first, shared
    /// (put together with [`Exchange::interaction`] after the lock is
    /// released), and how many entries the bounds have dropped.
    pub fn exchanges(&self, filter: Filter<'_>) -> (Vec<Arc<Exchange>>, u64) {
        let kept = self
            .entries
            .iter()
            .filter(|e| filter.keeps(e))
            .filter_map(|e| e.exchange.clone())
            .collect();
        (kept, self.dropped)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many entries partition `key` has.
    pub fn count(&self, key: &PartitionKey) -> usize {
        self.per_partition.get(key).copied().unwrap_or(0)
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        *self = Journal::new(self.max_entries, self.max_bytes);
    }

    /// Drops the entries of the partitions `doomed` selects; returns how
    /// many went.
    pub fn remove(&mut self, doomed: impl Fn(&PartitionKey) -> bool) -> usize {
        let before = self.entries.len();
        let mut kept = VecDeque::with_capacity(before);
        for entry in std::mem::take(&mut self.entries) {
            if entry.partition.as_ref().is_some_and(&doomed) {
                self.bytes -= entry.size;
                self.unref(entry.partition);
            } else {
                kept.push_back(entry);
            }
        }
        self.entries = kept;
        before - self.entries.len()
    }

    /// Partitions that lost their last entry since the last call.
    pub fn take_released(&mut self) -> Vec<PartitionKey> {
        std::mem::take(&mut self.released)
    }
}

/// Entries' texts as the control endpoint shows them.
pub(crate) fn parse(texts: &[Arc<str>]) -> Vec<Value> {
    texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
        .collect()
}

/// Entries' texts as [`RecordedRequest`]s.
pub(crate) fn requests(texts: &[Arc<str>]) -> Vec<RecordedRequest> {
    parse(texts)
        .iter()
        .map(RecordedRequest::from_json)
        .collect()
}

/// `s` as the journal keeps it: whole up to 200 characters, else its first
/// 200 and a note of how many more there were.
pub(crate) fn shorten(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            Cow::Owned(format!("{}...[{more} more characters]", &s[..cut]))
        }
    }
}

/// Parameters as the journal keeps them, as JSON text: every value under a
/// `payload` key (at any depth) redacted, long strings shortened, and the
/// whole replaced by a note if still too large to read. One pass, no copy of
/// the parameters.
pub(crate) fn params_json(params: &Value) -> Box<RawValue> {
    // `to_raw_value` wraps the text it writes; `RawValue::from_string`
    // would parse it again (a tenth of what a find costs in this module).
    let kept = serde_json::value::to_raw_value(&Kept {
        value: params,
        redact: false,
    });
    match kept {
        Ok(text) if text.get().len() <= MAX_PARAMS_BYTES => text,
        Ok(text) => {
            let count = params.as_object().map_or(0, serde_json::Map::len);
            let note = format!("{count} parameters, {} bytes as JSON", text.get().len());
            serde_json::value::to_raw_value(&json!({ "[abbreviated]": note }))
                .unwrap_or_else(|_| empty_object())
        }
        Err(_) => empty_object(),
    }
}

/// `{}`, for parameters that cannot be written.
fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap_or_default()
}

/// A value written as the journal keeps it.
struct Kept<'a> {
    /// The value.
    value: &'a Value,
    /// Whether it sits under a `payload` key.
    redact: bool,
}

impl Serialize for Kept<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.redact {
            return s.serialize_str(REDACTED);
        }
        match self.value {
            Value::String(t) => s.serialize_str(&shorten(t)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Kept {
                        value,
                        redact: false,
                    })?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, value) in fields {
                    let redact = k == "payload";
                    map.serialize_entry(&shorten(k), &Kept { value, redact })?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: &str, path: &str) -> Record<'static> {
        Record {
            object: "mock.request",
            at: 0,
            request_id: "req_1".into(),
            method: "GET".into(),
            path: path.to_string().into(),
            operation: None,
            app: None,
            account: None,
            params: None,
            status: Some(200),
            object_id: None,
            fault: None,
            replayed: false,
            partition: Some(PartitionKey::new(partition, None)),
            exchange: None,
            turn: 0,
        }
    }

    fn kept(v: &Value) -> Value {
        serde_json::from_str(params_json(v).get()).unwrap()
    }

    /// The bytes `e`'s interaction adds to a transcript as written: after
    /// the first item, `,` and a line break, then the interaction indented
    /// four spaces (it sits two levels deep).
    fn written(e: &Exchange) -> usize {
        let v = serde_json::to_value(e.interaction().unwrap()).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        6 + pretty.len() + 4 * pretty.matches('\n').count()
    }

    fn exchange(
        params: Value,
        headers: &[(&'static str, &str)],
        body: Value,
        fault: Option<&str>,
    ) -> Exchange {
        let half = json!({
            "operation": "postAppsSecrets",
            "request": {
                "method": "POST",
                "path": "/v1/apps/secrets",
                "headers": {"authorization": "Bearer sk_test_\"q\\"},
                "params": params,
            },
        });
        Exchange {
            request: pretty::to_string(&half, 2),
            response: Some(Answered {
                status: 200,
                headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
                body: Bytes::from(crate::body::render(&body)),
            }),
            fault: fault.map(String::from),
        }
    }

    #[test]
    fn an_exchange_counts_at_least_what_its_interaction_writes() {
        let nested =
            json!({"scope": {"type": "user", "user": {"a": {"b": ["x", "y"]}}}, "name": "k"});
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
        let mut closed = exchange(nested, &[], json!({}), Some("close"));
        closed.response = None;
        for (what, e) in [
            ("typical", &typical),
            ("escaped", &escaped),
            ("closed", &closed),
        ] {
            assert!(
                e.size() >= written(e),
                "{what}: counted {} < written {}",
                e.size(),
                written(e)
            );
        }
        // The count itself, pinned: a change to it must be deliberate (the
        // journal's documented bound, docs/limits.md, is this count).
        assert_eq!((typical.size(), written(&typical)), (1240, 890));
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
        let many: serde_json::Map<String, Value> =
            (0..1000).map(|i| (format!("p{i}"), json!("v"))).collect();
        let note = kept(&Value::Object(many));
        assert!(note["[abbreviated]"]
            .as_str()
            .unwrap()
            .starts_with("1000 parameters, "));
    }

    #[test]
    fn entries_read_back_as_recorded() {
        let mut j = Journal::default();
        let mut r = record("k", "/v1/x");
        r.params = Some(params_json(&json!({"name": "n", "payload": "p"})));
        r.app = Some("sk_test_****".into());
        j.record(r);
        let back = &requests(&j.texts(Filter::default()))[0];
        assert_eq!(back.path, "/v1/x");
        assert_eq!(back.app.as_deref(), Some("sk_test_****"));
        assert_eq!(back.params, Some(json!({"name": "n", "payload": REDACTED})));
        let app = |k| Filter {
            app: Some(k),
            ..Filter::default()
        };
        assert_eq!(j.texts(app("k")).len(), 1);
        assert!(j.texts(app("other")).is_empty());
    }

    #[test]
    fn an_entry_written_late_goes_where_its_turn_says() {
        // The paths a journal of at most `max` entries keeps, recorded in
        // the order given with the turns given.
        let kept = |max: usize, recorded: &[(u64, &str)]| -> Vec<Value> {
            let mut j = Journal::new(max, JOURNAL_BYTES);
            for &(turn, path) in recorded {
                j.record(Record {
                    turn,
                    ..record("sk_test_1", path)
                });
            }
            parse(&j.texts(Filter::default()))
                .into_iter()
                .map(|e| e["path"].clone())
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
}
