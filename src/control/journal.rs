//! The request journal: what the mock was asked and what it answered, so a
//! test can assert on the calls its code made.
//!
//! Bounded by entries and by bytes ([`JOURNAL_ENTRIES`], [`JOURNAL_BYTES`]),
//! oldest dropped first. An entry keeps what a person reads: payload values
//! are redacted, long strings abbreviated, and parameters too large to read
//! are replaced by a note saying how large they were.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Map, Value};

use crate::secrets::store::PartitionKey;

/// The journal keeps at most this many requests.
pub(crate) const JOURNAL_ENTRIES: usize = 10_000;

/// … and at most this many bytes of them (as counted by [`RecordedRequest`]'s
/// size estimate).
pub(crate) const JOURNAL_BYTES: usize = 4 << 20;

/// Strings longer than this (in characters) are abbreviated in the journal.
const MAX_VALUE_CHARS: usize = 200;

/// Parameters larger than this once abbreviated are replaced by a note.
const MAX_PARAMS_BYTES: usize = 4 << 10;

/// Fixed cost counted for each entry besides its strings.
const ENTRY_OVERHEAD: usize = 256;

/// The marker that replaces secret values in the journal.
pub(crate) const REDACTED: &str = "[redacted]";

/// One request served on the Stripe paths.
#[derive(Clone, Debug, PartialEq)]
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
    /// The partition it was served in (full key), for filtering and
    /// bookkeeping; never shown.
    pub(crate) partition: Option<PartitionKey>,
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

    /// Whether this request was made with API key `key`.
    pub fn made_with(&self, key: &str) -> bool {
        self.partition.as_ref().is_some_and(|p| p.key == key)
    }

    /// Bytes counted against [`JOURNAL_BYTES`].
    fn size(&self) -> usize {
        let strings = [
            self.request_id.len(),
            self.method.len(),
            self.path.len(),
            self.operation.as_ref().map_or(0, String::len),
            self.app.as_ref().map_or(0, String::len),
            self.account.as_ref().map_or(0, String::len),
            self.object_id.as_ref().map_or(0, String::len),
            self.fault.as_ref().map_or(0, String::len),
            self.partition.as_ref().map_or(0, |p| p.key.len()),
        ];
        let params = self.params.as_ref().map_or(0, value_size);
        ENTRY_OVERHEAD + strings.iter().sum::<usize>() + params
    }
}

/// Approximate heap bytes of a JSON value.
fn value_size(v: &Value) -> usize {
    32 + match v {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(value_size).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| 32 + k.len() + value_size(v)).sum(),
        _ => 0,
    }
}

/// The journal's entries and its bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Oldest first, each with its counted size.
    entries: VecDeque<(RecordedRequest, usize)>,
    /// Bytes counted against [`JOURNAL_BYTES`].
    bytes: usize,
    /// How many entries each partition has (a partition with none, no
    /// secrets and no saved answers is forgotten).
    per_partition: HashMap<PartitionKey, usize>,
    /// Partitions whose last entry went since last asked.
    released: Vec<PartitionKey>,
}

impl Journal {
    /// Appends an entry, dropping the oldest while over either bound.
    pub fn record(&mut self, entry: RecordedRequest) {
        let size = entry.size();
        if let Some(p) = &entry.partition {
            *self.per_partition.entry(p.clone()).or_default() += 1;
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.entries.len() > JOURNAL_ENTRIES || self.bytes > JOURNAL_BYTES {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((entry, size)) = self.entries.pop_front() {
            self.bytes -= size;
            self.unref(entry.partition);
        }
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

    /// Entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter().map(|(e, _)| e)
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
        *self = Journal::default();
    }

    /// Drops the entries `doomed` selects; returns how many went.
    pub fn remove(&mut self, doomed: impl Fn(&RecordedRequest) -> bool) -> usize {
        let before = self.entries.len();
        let mut kept = VecDeque::with_capacity(before);
        for (entry, size) in std::mem::take(&mut self.entries) {
            if doomed(&entry) {
                self.bytes -= size;
                self.unref(entry.partition);
            } else {
                kept.push_back((entry, size));
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

/// `s` as the journal keeps it: whole up to 200 characters, else its first
/// 200 and a note of how many more there were.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        None => s.to_string(),
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            format!("{}...[{more} more characters]", &s[..cut])
        }
    }
}

/// Parameters as the journal keeps them: every value under a `payload` key
/// (at any depth) redacted, long strings shortened, and the whole replaced by
/// a note if still too large to read.
pub(crate) fn journal_params(params: &Value) -> Value {
    let kept = redact(params);
    let size = value_size(&kept);
    if size <= MAX_PARAMS_BYTES {
        return kept;
    }
    let count = params.as_object().map_or(0, Map::len);
    json!({ "[abbreviated]": format!("{count} parameters, about {size} bytes") })
}

fn redact(params: &Value) -> Value {
    match params {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "payload" {
                        json!(REDACTED)
                    } else {
                        redact(v)
                    };
                    (shorten(k), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(shorten(s)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(partition: &str, path: &str) -> RecordedRequest {
        RecordedRequest {
            at: 0,
            request_id: "req_1".into(),
            method: "GET".into(),
            path: path.into(),
            operation: None,
            app: None,
            account: None,
            params: None,
            status: Some(200),
            object_id: None,
            fault: None,
            replayed: false,
            partition: Some(PartitionKey::new(partition, None)),
        }
    }

    #[test]
    fn payload_values_are_redacted_at_any_depth() {
        let v = json!({"name": "k", "payload": "s3cr3t", "i": [{"payload": {"x": 1}}]});
        assert_eq!(
            journal_params(&v),
            json!({"name": "k", "payload": REDACTED, "i": [{"payload": REDACTED}]})
        );
    }

    #[test]
    fn long_values_are_shortened_and_huge_params_summarised() {
        let v = json!({"name": "x".repeat(1000)});
        let kept = journal_params(&v);
        assert_eq!(
            kept["name"],
            format!("{}...[800 more characters]", "x".repeat(200))
        );
        let many: Map<String, Value> = (0..1000).map(|i| (format!("p{i}"), json!("v"))).collect();
        let kept = journal_params(&Value::Object(many));
        assert!(kept["[abbreviated]"]
            .as_str()
            .unwrap()
            .starts_with("1000 parameters, about "));
    }

    #[test]
    fn entries_and_bytes_stay_bounded_and_partitions_are_released() {
        let mut j = Journal::default();
        j.record(entry("first", "/"));
        for _ in 0..JOURNAL_ENTRIES {
            j.record(entry("other", "/"));
        }
        assert_eq!(j.len(), JOURNAL_ENTRIES);
        assert_eq!(j.count(&PartitionKey::new("first", None)), 0);
        assert_eq!(j.take_released(), [PartitionKey::new("first", None)]);
        let long = "p".repeat(150_000);
        for _ in 0..100 {
            j.record(entry("other", &long));
        }
        assert!(j.bytes() <= JOURNAL_BYTES);
        assert!(j.len() < 40);
    }
}
