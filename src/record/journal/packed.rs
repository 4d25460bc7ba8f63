//! A [`Record`] as the journal keeps it: every text it has (ids, path,
//! parameters, headers, the answer's body) one after another in a single
//! allocation. A kept entry is then two blocks however many parts its
//! request had, so making one costs two allocations and dropping the
//! oldest (long since out of the caches when the journal is full) two
//! frees, where a [`Record`] has a block for each text (docs/benchmarks.md).
//! What the journal shows is read back from it ([`Packed::recorded`],
//! [`Packed::interaction`]).

use serde_json::Value;

use super::kept::{kept, shorten};
use super::{Record, RecordedRequest, Sent};
use crate::record::transcript::{Interaction, TranscriptRequest, TranscriptResponse};

/// The length that stands for an absent text.
const ABSENT: u32 = u32::MAX;

/// A record's texts in one block, and its numbers beside them.
#[derive(Debug)]
pub(crate) struct Packed {
    /// Mock clock when it was served.
    at: i64,
    /// The answer's status; `None` when the connection was closed.
    status: Option<u16>,
    /// Whether the answer was a replay.
    replayed: bool,
    /// Whether the parameters are decoded JSON ([`Sent::Params`]) rather
    /// than the raw query and body.
    decoded: bool,
    /// Each text as its length (4 bytes, little-endian; [`ABSENT`] for
    /// `None`) then its bytes, in the order [`Packed::of`] writes them.
    texts: Box<[u8]>,
}

/// Writes texts one after another, each behind its length.
struct Writer(Vec<u8>);

impl Writer {
    fn put(&mut self, text: Option<&[u8]>) {
        match text {
            Some(t) => {
                // A text longer than u32 can count is cut: no request part
                // comes near (bodies are bounded far below), and the cut
                // keeps the framing whole.
                let len = t.len().min(ABSENT as usize - 1);
                self.0.extend_from_slice(&(len as u32).to_le_bytes());
                self.0.extend_from_slice(&t[..len]);
            }
            None => self.0.extend_from_slice(&ABSENT.to_le_bytes()),
        }
    }

    fn text(&mut self, text: &str) {
        self.put(Some(text.as_bytes()));
    }

    fn opt(&mut self, text: Option<&str>) {
        self.put(text.map(str::as_bytes));
    }

    fn headers(&mut self, headers: &[(&'static str, String)]) {
        self.0
            .extend_from_slice(&(headers.len() as u32).to_le_bytes());
        for (k, v) in headers {
            self.text(k);
            self.text(v);
        }
    }
}

/// Reads back what a [`Writer`] wrote, in the same order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len);
        if len == ABSENT {
            self.0 = rest;
            return None;
        }
        let (text, rest) = rest.split_at_checked(len as usize)?;
        self.0 = rest;
        Some(text)
    }

    /// A text; every one was written from a `&str`.
    fn opt(&mut self) -> Option<&'a str> {
        self.take()
            .map(|t| std::str::from_utf8(t).unwrap_or_default())
    }

    fn text(&mut self) -> &'a str {
        self.opt().unwrap_or_default()
    }

    fn headers(&mut self) -> Vec<(&'a str, &'a str)> {
        let Some((n, rest)) = self.0.split_first_chunk::<4>() else {
            return Vec::new();
        };
        self.0 = rest;
        (0..u32::from_le_bytes(*n))
            .map(|_| (self.text(), self.text()))
            .collect()
    }
}

/// The texts of a [`Packed`], borrowed.
struct Texts<'a> {
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    operation: Option<&'a str>,
    app: Option<&'a str>,
    account: Option<&'a str>,
    object_id: Option<&'a str>,
    fault: Option<&'a str>,
    /// The decoded parameters' JSON text, or the raw query.
    params_or_query: &'a str,
    /// The raw body (empty for decoded parameters).
    raw_body: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    response_headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

impl Packed {
    /// `record`'s texts, packed.
    pub fn of(record: &Record) -> Packed {
        let (decoded, first, second) = match &record.sent {
            Sent::Params { text, .. } => (true, &**text, ""),
            Sent::Raw { query, body } => (false, query.as_str(), body.as_str()),
        };
        let response = record.response.as_ref();
        let headers_len = |h: &[(&str, String)]| -> usize {
            4 + h.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>()
        };
        let texts = [
            Some(record.request_id.as_str()),
            Some(record.method.as_str()),
            Some(record.path.as_str()),
            record.operation.as_deref(),
            record.app.as_deref(),
            record.account.as_deref(),
            record.object_id.as_deref(),
            record.fault.as_deref(),
            Some(first),
            Some(second),
        ];
        let size = texts
            .iter()
            .map(|t| 4 + t.map_or(0, str::len))
            .sum::<usize>()
            + headers_len(&record.headers)
            + response.map_or(0, |a| headers_len(&a.headers) + 4 + a.body.len());
        let mut w = Writer(Vec::with_capacity(size));
        for t in texts {
            w.opt(t);
        }
        w.headers(&record.headers);
        if let Some(a) = response {
            w.headers(&a.headers);
            w.put(Some(&a.body));
        }
        debug_assert_eq!(w.0.len(), size, "Packed::of measures what it writes");
        Packed {
            at: record.at,
            status: response.map(|a| a.status),
            replayed: record.replayed,
            decoded,
            texts: w.0.into_boxed_slice(),
        }
    }

    /// The spec's `operationId` it was routed to.
    pub fn operation(&self) -> Option<&str> {
        let mut r = Reader(&self.texts);
        let _ = (r.take(), r.take(), r.take());
        r.opt()
    }

    fn texts(&self) -> Texts<'_> {
        let mut r = Reader(&self.texts);
        Texts {
            request_id: r.text(),
            method: r.text(),
            path: r.text(),
            operation: r.opt(),
            app: r.opt(),
            account: r.opt(),
            object_id: r.opt(),
            fault: r.opt(),
            params_or_query: r.text(),
            raw_body: r.text(),
            headers: r.headers(),
            response_headers: r.headers(),
            body: r.take().unwrap_or_default(),
        }
    }

    /// The entry as the journal shows it.
    pub fn recorded(&self) -> RecordedRequest {
        let t = self.texts();
        RecordedRequest {
            at: self.at,
            request_id: t.request_id.to_string(),
            method: shorten(t.method).into_owned(),
            path: shorten(t.path).into_owned(),
            operation: t.operation.map(String::from),
            app: t.app.map(String::from),
            account: t.account.map(String::from),
            params: self.params(&t).map(|p| kept(&p)),
            status: self.status,
            object_id: t.object_id.map(String::from),
            fault: t.fault.map(String::from),
            replayed: self.replayed,
        }
    }

    /// The decoded parameters, read back.
    fn params(&self, t: &Texts<'_>) -> Option<Value> {
        match self.decoded {
            true => serde_json::from_str(t.params_or_query).ok(),
            false => None,
        }
    }

    /// The whole interaction, as sent.
    pub fn interaction(&self) -> Interaction {
        let t = self.texts();
        let (params, query, body) = match self.decoded {
            true => (self.params(&t), None, None),
            false => (
                None,
                Some(t.params_or_query.to_string()),
                Some(t.raw_body.to_string()),
            ),
        };
        let owned = |h: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            h.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let response = self.status.map(|status| TranscriptResponse {
            status,
            headers: owned(&t.response_headers),
            body: serde_json::from_slice(t.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(t.body).into_owned())),
        });
        Interaction {
            operation: t.operation.map(String::from),
            request: TranscriptRequest {
                method: t.method.to_string(),
                path: t.path.to_string(),
                headers: owned(&t.headers),
                params,
                query,
                body,
            },
            response,
            fault: t.fault.map(String::from),
            violations: Vec::new(),
        }
    }
}
