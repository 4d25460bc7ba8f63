//! A [`Record`] as the journal keeps it: its numbers and every text it has
//! (ids, path, parameters, headers, the answer's body) one after another in
//! a single shared block. Making an entry costs one allocation however many
//! parts its request had, and dropping the oldest (long since out of the
//! caches when the journal is full) one free, where a [`Record`] has a
//! block for each text (docs/benchmarks.md).
//! What the journal shows is read back from it ([`Packed::recorded`],
//! [`Packed::interaction`]).

use std::sync::Arc;

use serde_json::Value;

use super::kept::{kept, shorten};
use super::{Record, RecordedRequest, Sent};
use crate::record::transcript::{Interaction, TranscriptRequest, TranscriptResponse};

/// The length that stands for an absent text.
const ABSENT: u32 = u32::MAX;

/// A record in one block, shared (a reader clones it out of the journal's
/// lock and reads it after): [`HEAD`] bytes of numbers, then each text as
/// its length (4 bytes, little-endian; [`ABSENT`] for `None`) and its
/// bytes, in the order [`Packed::of`] writes them.
#[derive(Clone, Debug)]
pub(crate) struct Packed(Arc<[u8]>);

/// The numbers before the texts: the mock clock when it was served (8
/// bytes), the answer's status (2), and [`Flags`] (1).
const HEAD: usize = 11;

/// What the flags byte says.
struct Flags;

impl Flags {
    /// There is an answer (the connection was not closed unanswered).
    const ANSWERED: u8 = 1;
    /// The answer was a replay.
    const REPLAYED: u8 = 2;
    /// The parameters are decoded JSON ([`Sent::Params`]), not the raw
    /// query and body.
    const DECODED: u8 = 4;
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
    operation: Option<&'a str>,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
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
        // The operation first: a filter reads it alone.
        let texts = [
            record.operation.as_deref(),
            Some(record.request_id.as_str()),
            Some(record.method.as_str()),
            Some(record.path.as_str()),
            record.app.as_deref(),
            record.account.as_deref(),
            record.object_id.as_deref(),
            record.fault.as_deref(),
            Some(first),
            Some(second),
        ];
        let size = HEAD
            + texts
                .iter()
                .map(|t| 4 + t.map_or(0, str::len))
                .sum::<usize>()
            + headers_len(&record.headers)
            + response.map_or(0, |a| headers_len(&a.headers) + 4 + a.body.len());
        let mut w = Writer(Vec::with_capacity(size));
        w.0.extend_from_slice(&record.at.to_le_bytes());
        w.0.extend_from_slice(&response.map_or(0, |a| a.status).to_le_bytes());
        let flags = [
            (response.is_some(), Flags::ANSWERED),
            (record.replayed, Flags::REPLAYED),
            (decoded, Flags::DECODED),
        ];
        w.0.push(flags.iter().filter(|(on, _)| *on).map(|(_, f)| f).sum());
        for t in texts {
            w.opt(t);
        }
        w.headers(&record.headers);
        if let Some(a) = response {
            w.headers(&a.headers);
            w.put(Some(&a.body));
        }
        debug_assert_eq!(w.0.len(), size, "Packed::of measures what it writes");
        Packed(Arc::from(w.0))
    }

    /// Bytes its block holds (the shared counts, then the record).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        2 * std::mem::size_of::<usize>() + self.0.len()
    }

    /// Mock clock when it was served.
    fn at(&self) -> i64 {
        i64::from_le_bytes(self.0[..8].try_into().unwrap_or_default())
    }

    /// Whether the flags byte has `flag`.
    fn has(&self, flag: u8) -> bool {
        self.0[HEAD - 1] & flag != 0
    }

    /// The answer's status; `None` when the connection was closed.
    fn status(&self) -> Option<u16> {
        let status = u16::from_le_bytes([self.0[8], self.0[9]]);
        self.has(Flags::ANSWERED).then_some(status)
    }

    /// The spec's `operationId` it was routed to: the first text, read
    /// without the rest.
    pub fn operation(&self) -> Option<&str> {
        Reader(&self.0[HEAD..]).opt()
    }

    fn texts(&self) -> Texts<'_> {
        let mut r = Reader(&self.0[HEAD..]);
        Texts {
            operation: r.opt(),
            request_id: r.text(),
            method: r.text(),
            path: r.text(),
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
            at: self.at(),
            request_id: t.request_id.to_string(),
            method: shorten(t.method).into_owned(),
            path: shorten(t.path).into_owned(),
            operation: t.operation.map(String::from),
            app: t.app.map(String::from),
            account: t.account.map(String::from),
            params: self.params(&t).map(|p| kept(&p)),
            status: self.status(),
            object_id: t.object_id.map(String::from),
            fault: t.fault.map(String::from),
            replayed: self.has(Flags::REPLAYED),
        }
    }

    /// The decoded parameters, read back.
    fn params(&self, t: &Texts<'_>) -> Option<Value> {
        match self.has(Flags::DECODED) {
            true => serde_json::from_str(t.params_or_query).ok(),
            false => None,
        }
    }

    /// The whole interaction, as sent.
    pub fn interaction(&self) -> Interaction {
        let t = self.texts();
        let (params, query, body) = match self.has(Flags::DECODED) {
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
        let response = self.status().map(|status| TranscriptResponse {
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
