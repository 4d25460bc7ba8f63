//! The request journal: what the mock was asked and what it answered, so a
//! test can assert on the calls its code made, and a transcript can be
//! written from it.
//!
//! Bounded by entries and by bytes (by default [`JOURNAL_ENTRIES`] and
//! [`JOURNAL_BYTES`]; `Config::journal_entries` and `journal_bytes`), oldest
//! dropped first. An entry holds the request's parts as sent and its answer
//! as sent ([`Record`], kept packed in one block: [`Packed`]); what a person
//! reads is made from them when the journal is read: payload values redacted, long strings abbreviated, and
//! parameters too large to read replaced by a note saying how large they
//! were. Each entry is counted as the bytes it adds to both answers that
//! show it, as written (measured, not written, when it is recorded), which
//! is at least what it holds.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock};

use serde_json::{json, Value};

use hyper::body::Bytes;
use memchr::memmem;

use crate::record::pretty::{self, int_len, str_len, Container, Lens};

pub(crate) use self::kept::shorten;
#[cfg(test)]
use self::kept::MAX_PARAMS_BYTES;
use self::kept::{kept_len, lens, shortened_len, View};
pub(crate) use self::packed::Packed;
use crate::record::transcript::REDACTED;
use crate::secrets::store::PartitionKey;

pub(crate) use crate::config::{JOURNAL_BYTES, JOURNAL_ENTRIES};

/// Longest raw query or body kept (bytes) when the parameters could not be
/// decoded; past it the text is cut and a note says how much was left out.
pub(crate) const MAX_RAW_BYTES: usize = 16 << 10;

/// Fixed cost counted for each entry besides what it writes: the entry and
/// its record, and room for their allocations' rounding.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + std::mem::size_of::<Packed>() + 256;

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
}

/// A request's parameters as the journal holds them.
#[derive(Debug)]
pub(crate) enum Sent {
    /// Decoded, as sent (before validation coerced them): compact JSON
    /// text, with the lengths of what the journal and a transcript write
    /// for them (see [`Sent::params`]).
    Params {
        /// The text.
        text: Box<str>,
        /// As the journal shows them, at an entry's depth.
        kept: usize,
        /// As a transcript writes them, redacted or not, at its depth.
        sent: usize,
    },
    /// Not decodable: the raw query and body, each cut at
    /// [`MAX_RAW_BYTES`].
    Raw {
        /// The query string.
        query: String,
        /// The body.
        body: String,
    },
}

/// Depth of an entry in `GET /_mock/requests` (in `data`), and of its
/// parameters.
const LINE_DEPTH: usize = 2;
/// Depth of a request's parameters in a transcript (`interactions`, the
/// interaction, its `request`, then `params`).
const SENT_DEPTH: usize = 4;

impl Sent {
    /// Decoded parameters, measured as both answers write them.
    pub fn params(params: &Value) -> Sent {
        Sent::Params {
            text: serde_json::to_string(params)
                .unwrap_or_else(|_| "{}".into())
                .into(),
            kept: kept_len(params),
            sent: lens(params, View::Sent, SENT_DEPTH).pretty,
        }
    }

    /// Parameters that could not be decoded: the raw text, cut.
    pub fn raw(query: &[u8], body: &[u8]) -> Sent {
        Sent::Raw {
            query: cut(query).into_owned(),
            body: cut(body).into_owned(),
        }
    }
}

/// Bytes as text (lossy), cut at [`MAX_RAW_BYTES`] with a note.
fn cut(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.len() <= MAX_RAW_BYTES {
        return String::from_utf8_lossy(bytes);
    }
    let kept = String::from_utf8_lossy(&bytes[..MAX_RAW_BYTES]);
    Cow::Owned(format!(
        "{kept}...[{} more bytes]",
        bytes.len() - MAX_RAW_BYTES
    ))
}

/// What the pipeline records about one request: its parts as sent and its
/// answer as sent, owned; what the journal shows and what a transcript
/// writes are made from it when they are read.
#[derive(Debug)]
pub(crate) struct Record {
    /// Mock clock when it was served.
    pub at: i64,
    /// The response's `Request-Id`.
    pub request_id: String,
    /// HTTP method.
    pub method: String,
    /// Request path, whole.
    pub path: String,
    /// The spec's `operationId`.
    pub operation: Option<Box<str>>,
    /// The API key, masked.
    pub app: Option<String>,
    /// The account it acted in, shortened.
    pub account: Option<String>,
    /// Its parameters.
    pub sent: Sent,
    /// The headers of `REQUEST_HEADERS` that were sent, in that order.
    pub headers: Vec<(&'static str, String)>,
    /// The answer; `None` when the connection was closed unanswered.
    pub response: Option<Answered>,
    /// The `id` of the object answered.
    pub object_id: Option<String>,
    /// The injected fault, described.
    pub fault: Option<String>,
    /// Whether the answer was a replay.
    pub replayed: bool,
    /// The partition it was served in (full key), for filtering and
    /// bookkeeping; never shown.
    pub partition: Option<PartitionKey>,
    /// Its place in the order requests were served (taken with the
    /// partition locked, [`crate::state::State::journal_turn`]): an entry
    /// written after its lock was released still goes where it was served.
    pub turn: u64,
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
/// them: the keys of the interaction, its request and its response, their
/// punctuation and indentation (the most any shape of interaction has; a
/// test measures each).
const INTERACTION_FRAME: usize = 259;

/// Depth of the headers of a request or an answer in a transcript.
const HEADERS_DEPTH: usize = 4;

/// What headers add to an interaction as written.
fn headers_len(headers: &[(&'static str, String)]) -> usize {
    let mut c = Container::new(HEADERS_DEPTH);
    for (k, v) in headers {
        c.field(str_len(k), Lens::flat(str_len(v)));
    }
    c.end().pretty
}

/// What masking the key in `Authorization` header `v` may add to it as
/// written: nothing to a bearer key (masked character for character, behind
/// a scheme as long). A basic one is decoded first, into at most three
/// bytes for four of `v`, and masked behind `Bearer `; of it, only the last
/// four characters are kept as they are, and each may be a control
/// character written in six bytes.
fn masked_room(v: &str) -> usize {
    let basic = v
        .trim_start()
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("basic"));
    if basic {
        "Bearer ".len() + 4 * 5
    } else {
        0
    }
}

impl Record {
    /// The bytes its entry adds to `GET /_mock/requests` (inside `data`,
    /// pretty-printed): the fixed frame of keys and punctuation, measured
    /// once, and its values.
    fn line_len(&self) -> usize {
        static FRAME: LazyLock<usize> = LazyLock::new(|| {
            let blank = Record::blank();
            let written = pretty::lens(&Packed::of(&blank).recorded().to_json(), LINE_DEPTH).pretty;
            written - blank.line_values_len()
        });
        *FRAME + self.line_values_len()
    }

    /// What its values add to its entry as written.
    fn line_values_len(&self) -> usize {
        let opt = |s: &Option<String>| s.as_deref().map_or(4, str_len);
        int_len(self.at)
            + str_len(&self.request_id)
            + shortened_len(&self.method)
            + shortened_len(&self.path)
            + self.operation.as_deref().map_or(4, str_len)
            + opt(&self.app)
            + opt(&self.account)
            + match &self.sent {
                Sent::Params { kept, .. } => *kept,
                Sent::Raw { .. } => 4,
            }
            + self
                .response
                .as_ref()
                .map_or(4, |a| int_len(i64::from(a.status)))
            + opt(&self.object_id)
            + opt(&self.fault)
            + if self.replayed { 4 } else { 5 }
    }

    /// A record with nothing in it, whose entry is all frame.
    fn blank() -> Record {
        Record {
            at: 0,
            request_id: String::new(),
            method: String::new(),
            path: String::new(),
            operation: None,
            app: None,
            account: None,
            sent: Sent::Raw {
                query: String::new(),
                body: String::new(),
            },
            headers: Vec::new(),
            response: None,
            object_id: None,
            fault: None,
            replayed: false,
            partition: None,
            turn: 0,
        }
    }

    /// At least the bytes its interaction adds to a transcript as written
    /// (inside `interactions`, pretty-printed), as it is and as
    /// `GET /_mock/transcript?redact=` rewrites it (payloads redacted, the
    /// key masked).
    fn interaction_len(&self) -> usize {
        let opt = |s: Option<&str>| s.map_or(4, str_len);
        let raw = |s: &str| str_len(s).max(str_len(REDACTED));
        let request_headers = headers_len(&self.headers)
            + self
                .headers
                .iter()
                .find(|(k, _)| *k == "authorization")
                .map_or(0, |(_, v)| masked_room(v));
        INTERACTION_FRAME
            + opt(self.operation.as_deref())
            + str_len(&self.method)
            + str_len(&self.path)
            + request_headers
            + match &self.sent {
                Sent::Params { sent, .. } => *sent,
                Sent::Raw { query, body } => 4 + raw(query) + raw(body),
            }
            + opt(self.fault.as_deref())
            + self.response.as_ref().map_or(4, |a| {
                // The body, pretty already, is indented 8 more a line; each
                // `payload` it shows may be redacted (`"[redacted]"`, 12
                // bytes, replacing at least `""`).
                let lines = memchr::memchr_iter(b'\n', &a.body).count();
                static PAYLOAD: LazyLock<memmem::Finder<'static>> =
                    LazyLock::new(|| memmem::Finder::new(b"\"payload\": "));
                let payloads = PAYLOAD.find_iter(&a.body).count();
                int_len(i64::from(a.status))
                    + headers_len(&a.headers)
                    + a.body.len()
                    + 8 * lines
                    + 10 * payloads
            })
    }
}

/// Entries the bounds dropped, freed when this is dropped. A full journal
/// drops one entry for each it takes, so the first is held without a
/// `Vec` (nothing allocated a request).
pub(crate) struct Evicted {
    first: Option<Entry>,
    more: Vec<Entry>,
}

/// A [`Record`] made into an entry, before the journal's lock is taken.
pub(crate) struct Pending {
    /// Its texts.
    packed: Packed,
    /// The partition it was served in.
    partition: Option<PartitionKey>,
    /// Its place in the order requests were served.
    turn: u64,
    /// Bytes counted against [`JOURNAL_BYTES`].
    size: usize,
}

impl Pending {
    /// Measures `record`: what it adds to the journal's answers, counted
    /// with no lock held.
    pub fn new(record: Record) -> Pending {
        let size = ENTRY_OVERHEAD
            + record.line_len()
            + record.interaction_len()
            + record.partition.as_ref().map_or(0, |p| {
                p.key.len() + p.account.as_ref().map_or(0, String::len)
            });
        Pending {
            packed: Packed::of(&record),
            partition: record.partition,
            turn: record.turn,
            size,
        }
    }
}

/// One kept entry.
#[derive(Debug)]
struct Entry {
    /// The record (shared, so a reader copies it out of the lock cheaply
    /// and reads it after).
    record: Packed,
    /// The partition it was served in: the journal's one copy of each
    /// partition's key, shared by its entries.
    partition: Option<Arc<PartitionKey>>,
    /// Its place in the order requests were served.
    turn: u64,
    /// Bytes counted against [`JOURNAL_BYTES`].
    size: usize,
}

impl Entry {
    fn made_with(&self, key: &str) -> bool {
        self.partition().is_some_and(|p| p.key == key)
    }

    fn partition(&self) -> Option<&PartitionKey> {
        self.partition.as_deref()
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
    /// secrets and no saved answers is forgotten), beside the copy of its
    /// key its entries share: an entry's key is found with one lookup by
    /// the key it was served with.
    per_partition: HashMap<PartitionKey, (Arc<PartitionKey>, usize)>,
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
            .is_none_or(|o| e.record.operation() == Some(o))
            && self.app.is_none_or(|k| e.made_with(k))
            && self.account.is_none_or(|a| {
                e.partition()
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
    pub fn record(&mut self, record: Record) {
        drop(self.insert(Pending::new(record)));
    }

    /// Adds an entry made by [`Pending::new`] in its turn's place (the
    /// newest but for requests still being written, so the search from the
    /// end stops within as many entries as requests run at once), and takes
    /// out the oldest entries while over either bound: they are returned,
    /// for the caller to drop once the lock is released.
    #[must_use = "the entries dropped for the bounds, to free after the lock"]
    pub fn insert(&mut self, pending: Pending) -> Evicted {
        let partition = pending.partition.map(|p| {
            let (shared, n) = self
                .per_partition
                .entry(p)
                .or_insert_with_key(|p| (Arc::new(p.clone()), 0));
            *n += 1;
            shared.clone()
        });
        let entry = Entry {
            record: pending.packed,
            partition,
            turn: pending.turn,
            size: pending.size,
        };
        self.bytes += entry.size;
        let at = self
            .entries
            .iter()
            .rposition(|e| e.turn <= entry.turn)
            .map_or(0, |i| i + 1);
        self.entries.insert(at, entry);
        let mut evicted = Evicted {
            first: None,
            more: Vec::new(),
        };
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= oldest.size;
            self.dropped += 1;
            self.unref(oldest.partition());
            match evicted.first {
                None => evicted.first = Some(oldest),
                Some(_) => evicted.more.push(oldest),
            }
        }
        evicted
    }

    fn unref(&mut self, partition: Option<&PartitionKey>) {
        let Some(p) = partition else { return };
        if let Some((_, n)) = self.per_partition.get_mut(p) {
            *n -= 1;
            if *n == 0 {
                self.per_partition.remove(p);
                self.released.push(p.clone());
            }
        }
    }

    /// The records of the entries `filter` keeps, oldest first, and how
    /// many entries the bounds have dropped: shared, so the caller makes
    /// what it shows of them ([`Packed::recorded`], [`Packed::interaction`])
    /// after releasing the lock, and a long journal never holds requests up
    /// while it is read.
    pub fn records(&self, filter: Filter<'_>) -> (Vec<Packed>, u64) {
        let kept = self
            .entries
            .iter()
            .filter(|e| filter.keeps(e))
            .map(|e| e.record.clone())
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
        self.per_partition.get(key).map_or(0, |(_, n)| *n)
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
            if entry.partition().is_some_and(&doomed) {
                self.bytes -= entry.size;
                self.unref(entry.partition());
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

mod kept;
mod packed;

#[cfg(test)]
mod tests;
