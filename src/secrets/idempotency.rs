//! `Idempotency-Key` on POST (docs/behaviour.md §6): the saved first
//! answers, when one is replayed, when a key is refused, and how two
//! requests' parameters are compared.
//!
//! Saved answers are kept apart from the partitions, behind their own lock,
//! and bounded: 24 hours of mock time, and at most [`SAVED_BYTES`] in all,
//! oldest evicted first. Both are found from one age-ordered index, so an
//! expiry or an eviction costs what it removes.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{abbreviate, ApiError};
use crate::outcome::Reason;
use crate::secrets::store::PartitionKey;

/// How long an idempotent result is kept, in mock seconds (24 hours).
pub(crate) const IDEMPOTENCY_TTL: i64 = 24 * 60 * 60;

/// `Idempotency-Key` values longer than this are refused.
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 255;

/// At most this many bytes of saved answers are kept, server-wide; the
/// oldest go first. Stripe keeps them "at least 24 hours"; the mock keeps
/// fewer when this fills (about 10,000 typical answers).
pub(crate) const SAVED_BYTES: usize = 8 << 20;

/// Fixed cost counted for each saved answer besides its strings: map and
/// index entries.
const ENTRY_OVERHEAD: usize = 192;

/// The first response to a POST with an `Idempotency-Key`, kept for replay.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Saved {
    /// Hash of method, path and normalised parameters; a retry must match.
    pub fingerprint: u64,
    /// The status that was answered.
    pub status: hyper::StatusCode,
    /// The body that was answered, as sent.
    pub body: Arc<str>,
    /// The `id` of the object answered, for the journal of a replay.
    pub object_id: Option<String>,
    /// The first request's id, sent back as `Original-Request`.
    pub request_id: String,
    /// When it was saved (mock clock).
    pub at: i64,
}

/// (partition, `Idempotency-Key`).
type Slot = (PartitionKey, String);

/// Every saved answer, the keys in flight, and the bookkeeping for bounds.
#[derive(Debug, Default)]
pub(crate) struct Idempotency {
    /// Saved answers with the age-index position of each.
    saved: HashMap<Slot, (Saved, (i64, u64))>,
    /// `(saved at, ticket)` → slot: oldest first, for expiry and eviction.
    by_age: BTreeMap<(i64, u64), Slot>,
    /// Breaks ties between answers saved in the same second.
    next_ticket: u64,
    /// Bytes counted against [`SAVED_BYTES`].
    bytes: usize,
    /// How many saved answers each partition has (a partition with none,
    /// no secrets and no journal entries is forgotten).
    per_partition: HashMap<PartitionKey, usize>,
    /// Partitions whose last saved answer went since last asked.
    released: Vec<PartitionKey>,
    /// POSTs being served right now (held while an injected delay runs).
    in_flight: HashSet<Slot>,
}

fn cost(slot: &Slot, saved: &Saved) -> usize {
    let key = slot.0.key.len() + slot.0.account.as_ref().map_or(0, String::len) + slot.1.len();
    2 * key
        + saved.body.len()
        + saved.request_id.len()
        + saved.object_id.as_ref().map_or(0, String::len)
        + ENTRY_OVERHEAD
}

impl Idempotency {
    /// The rules for a POST about to run with key `idem` in partition `key`:
    /// the saved answer to replay, if any, or the error that stops it.
    /// `held`: this very request holds the key in flight.
    pub fn check(
        &mut self,
        key: &PartitionKey,
        idem: &str,
        fingerprint: u64,
        held: bool,
    ) -> Result<Option<Saved>, ApiError> {
        if idem.chars().count() > MAX_IDEMPOTENCY_KEY {
            return Err(ApiError::invalid(
                format!(
                    "Invalid Idempotency-Key: keys must be at most {MAX_IDEMPOTENCY_KEY} \
                     characters long."
                ),
                None,
            ));
        }
        let slot = (key.clone(), idem.to_string());
        if !held && self.in_flight.contains(&slot) {
            return Err(ApiError::idempotency(
                Reason::IdempotencyKeyInUse,
                format!(
                    "There is currently another in-progress request using this Idempotent Key \
                     (that probably means you submitted twice, and the other request is still \
                     going through): {}. Please try again later.",
                    abbreviate(idem)
                ),
            )
            .with_code("idempotency_key_in_use"));
        }
        match self.saved.get(&slot) {
            None => Ok(None),
            Some((saved, _)) if saved.fingerprint == fingerprint => Ok(Some(saved.clone())),
            Some(_) => Err(ApiError::idempotency(
                Reason::IdempotencyKeyReused,
                format!(
                    "Keys for idempotent requests can only be used with the same parameters \
                     they were first used with. Try using a key other than '{}' if you meant \
                     to execute a different request.",
                    abbreviate(idem)
                ),
            )),
        }
    }

    /// Saves the first answer for `idem`, evicting the oldest answers while
    /// over budget.
    pub fn save(&mut self, key: &PartitionKey, idem: &str, saved: Saved) {
        let slot = (key.clone(), idem.to_string());
        self.remove(&slot);
        let age = (saved.at, self.next_ticket);
        self.next_ticket += 1;
        self.bytes += cost(&slot, &saved);
        *self.per_partition.entry(key.clone()).or_default() += 1;
        self.by_age.insert(age, slot.clone());
        self.saved.insert(slot, (saved, age));
        while self.bytes > SAVED_BYTES {
            let Some((_, oldest)) = self.by_age.first_key_value() else {
                break;
            };
            let oldest = oldest.clone();
            self.remove(&oldest);
        }
    }

    fn remove(&mut self, slot: &Slot) {
        let Some((saved, age)) = self.saved.remove(slot) else {
            return;
        };
        self.by_age.remove(&age);
        self.bytes -= cost(slot, &saved);
        if let Some(n) = self.per_partition.get_mut(&slot.0) {
            *n -= 1;
            if *n == 0 {
                self.per_partition.remove(&slot.0);
                self.released.push(slot.0.clone());
            }
        }
    }

    /// Forgets answers saved 24 hours or more before `through`, visiting
    /// only those.
    pub fn purge(&mut self, through: i64) {
        let cutoff = through.saturating_sub(IDEMPOTENCY_TTL);
        while let Some((&(at, _), slot)) = self.by_age.first_key_value() {
            if at > cutoff {
                break;
            }
            let slot = slot.clone();
            self.remove(&slot);
        }
    }

    /// How many answers `key` has saved.
    pub fn count(&self, key: &PartitionKey) -> usize {
        self.per_partition.get(key).copied().unwrap_or(0)
    }

    /// Whether `key` has a request in flight.
    pub fn busy(&self, key: &PartitionKey) -> bool {
        self.in_flight.iter().any(|(k, _)| k == key)
    }

    /// Bytes counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many answers are saved.
    pub fn len(&self) -> usize {
        self.saved.len()
    }

    /// Partitions that lost their last saved answer since the last call.
    pub fn take_released(&mut self) -> Vec<PartitionKey> {
        std::mem::take(&mut self.released)
    }

    /// Marks `(key, idem)` in flight; false if it already was.
    pub fn hold(&mut self, key: &PartitionKey, idem: &str) -> bool {
        self.in_flight.insert((key.clone(), idem.to_string()))
    }

    /// Releases a key marked in flight.
    pub fn release(&mut self, key: &PartitionKey, idem: &str) {
        self.in_flight.remove(&(key.clone(), idem.to_string()));
    }

    /// Forgets every saved answer of the partitions `matches` selects.
    pub fn forget(&mut self, matches: impl Fn(&PartitionKey) -> bool) {
        let doomed: Vec<Slot> = self
            .by_age
            .values()
            .filter(|(k, _)| matches(k))
            .cloned()
            .collect();
        for slot in doomed {
            self.remove(&slot);
        }
    }
}

/// A fingerprint of a request: method, path and parameters, with indexed
/// hashes (`expand[0]`) read as arrays and object keys in sorted order, so a
/// retry that encodes arrays or orders fields the other way still matches.
pub(crate) fn fingerprint(method: &str, path: &str, params: Option<&Value>) -> u64 {
    let mut h = DefaultHasher::new();
    method.hash(&mut h);
    path.hash(&mut h);
    match params {
        Some(v) => hash_value(&normalize(v), &mut h),
        None => 0u8.hash(&mut h),
    }
    h.finish()
}

fn hash_value(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 1u8.hash(h),
        Value::Bool(b) => (2u8, b).hash(h),
        Value::Number(n) => (3u8, n.to_string()).hash(h),
        Value::String(s) => (4u8, s).hash(h),
        Value::Array(items) => {
            (5u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_value(i, h));
        }
        Value::Object(map) => {
            (6u8, map.len()).hash(h);
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                k.hash(h);
                hash_value(&map[k], h);
            }
        }
    }
}

/// Decoded parameters with indexed hashes (`expand[0]`) turned into arrays.
pub(crate) fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let indexed = !map.is_empty() && map.keys().all(|k| k.parse::<u64>().is_ok());
            if indexed {
                let mut items: Vec<(u64, &Value)> = map
                    .iter()
                    .map(|(k, v)| (k.parse().unwrap_or(0), v))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| normalize(v)).collect())
            } else {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> PartitionKey {
        PartitionKey::new(k, None)
    }

    fn saved(at: i64, body: &str) -> Saved {
        Saved {
            fingerprint: 7,
            status: hyper::StatusCode::OK,
            body: body.into(),
            object_id: None,
            request_id: "req_1".into(),
            at,
        }
    }

    #[test]
    fn fingerprints_ignore_array_encoding_and_field_order() {
        let a = json!({"expand": {"1": "b", "0": "a"}, "name": "n", "scope": {"type": "x"}});
        let b = json!({"scope": {"type": "x"}, "name": "n", "expand": ["a", "b"]});
        let c = json!({"scope": {"type": "x"}, "name": "m", "expand": ["a", "b"]});
        let f = |v| fingerprint("POST", "/p", Some(v));
        assert_eq!(f(&a), f(&b));
        assert_ne!(f(&a), f(&c));
        assert_ne!(f(&a), fingerprint("POST", "/q", Some(&a)));
    }

    #[test]
    fn answers_replay_then_expire_after_24_hours() {
        let mut idem = Idempotency::default();
        idem.save(&key("k"), "i", saved(100, "{}"));
        assert!(idem.check(&key("k"), "i", 7, false).unwrap().is_some());
        assert!(idem.check(&key("other"), "i", 7, false).unwrap().is_none());
        assert_eq!(
            idem.check(&key("k"), "i", 8, false).unwrap_err().status,
            400
        );
        // 24 hours: 86,400 seconds after it was saved, and not one before.
        idem.purge(100 + 86_399);
        assert_eq!(idem.count(&key("k")), 1);
        idem.purge(100 + 86_400);
        assert_eq!(idem.count(&key("k")), 0);
        assert_eq!(idem.take_released(), [key("k")]);
        assert_eq!(idem.bytes(), 0);
    }

    #[test]
    fn the_oldest_answers_are_evicted_when_the_budget_fills() {
        let mut idem = Idempotency::default();
        let body = "x".repeat(100_000);
        let n = SAVED_BYTES / 100_000 + 10;
        for i in 0..n {
            idem.save(&key("k"), &format!("i{i}"), saved(0, &body));
        }
        assert!(idem.bytes() <= SAVED_BYTES);
        assert!(idem.check(&key("k"), "i0", 7, false).unwrap().is_none());
        let last = format!("i{}", n - 1);
        assert!(idem.check(&key("k"), &last, 7, false).unwrap().is_some());
    }

    /// What one saved answer counts: its slot's strings twice (the map and
    /// the age index each hold the slot), the body, the request id, the
    /// object id and the fixed overhead, taken back exactly when it goes.
    #[test]
    fn a_saved_answer_costs_its_strings_and_the_overhead_exactly() {
        let mut idem = Idempotency::default();
        let account = PartitionKey::new("k", Some("acct_1"));
        let mut answer = saved(0, "{}");
        answer.object_id = Some("sec_1".into());
        idem.save(&account, "i", answer.clone());
        // 2 × ("k" + "acct_1" + "i") + "{}" + "req_1" + "sec_1" + overhead.
        assert_eq!(idem.bytes(), 2 * 8 + 2 + 5 + 5 + ENTRY_OVERHEAD);
        idem.save(&account, "i", answer);
        assert_eq!(
            (idem.len(), idem.bytes()),
            (1, 2 * 8 + 2 + 5 + 5 + ENTRY_OVERHEAD)
        );
        idem.forget(|_| true);
        assert_eq!((idem.len(), idem.bytes()), (0, 0));
        assert_eq!(idem.take_released().last(), Some(&account));
    }

    /// The budget holds answers that fill it exactly; one byte more evicts
    /// the oldest, and only as many as it takes.
    #[test]
    fn the_budget_is_full_at_exactly_saved_bytes() {
        // Slot "k"/"a": 2 × 2 bytes, "req_1": 5, no object id.
        let fixed = 2 * 2 + 5 + ENTRY_OVERHEAD;
        let half = "x".repeat(SAVED_BYTES / 2 - fixed);
        let mut idem = Idempotency::default();
        idem.save(&key("k"), "a", saved(0, &half));
        idem.save(&key("k"), "b", saved(0, &half));
        assert_eq!((idem.len(), idem.bytes()), (2, SAVED_BYTES));
        idem.save(&key("k"), "c", saved(0, ""));
        assert_eq!(idem.len(), 2);
        assert!(idem.check(&key("k"), "a", 7, false).unwrap().is_none());
        assert!(idem.check(&key("k"), "b", 7, false).unwrap().is_some());
        assert_eq!(idem.bytes(), SAVED_BYTES / 2 + fixed);
    }

    #[test]
    fn keys_of_255_characters_are_taken_and_256_refused() {
        let mut idem = Idempotency::default();
        // Characters, not bytes: 255 of a two-byte character is still 255.
        for short in ["k".repeat(255), "é".repeat(255)] {
            assert!(idem.check(&key("k"), &short, 7, false).is_ok());
        }
        for long in ["k".repeat(256), "é".repeat(256)] {
            let e = idem.check(&key("k"), &long, 7, false).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(
                e.message.contains("at most 255 characters"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn busy_means_a_key_of_that_partition_is_in_flight() {
        let mut idem = Idempotency::default();
        assert!(!idem.busy(&key("k")));
        idem.hold(&key("k"), "i");
        assert!(idem.busy(&key("k")) && !idem.busy(&key("other")));
        idem.release(&key("k"), "i");
        assert!(!idem.busy(&key("k")));
    }

    #[test]
    fn forget_takes_only_the_partitions_it_matches() {
        let mut idem = Idempotency::default();
        idem.save(&key("a"), "i", saved(0, "{}"));
        idem.save(&key("b"), "i", saved(0, "{}"));
        idem.forget(|k| k.key == "a");
        assert_eq!((idem.count(&key("a")), idem.count(&key("b"))), (0, 1));
        assert_eq!(idem.bytes(), 2 * 2 + 2 + 5 + ENTRY_OVERHEAD);
    }

    #[test]
    fn a_key_in_flight_is_refused_to_others_only() {
        let mut idem = Idempotency::default();
        assert!(idem.hold(&key("k"), "i"));
        assert!(!idem.hold(&key("k"), "i"));
        let e = idem.check(&key("k"), "i", 7, false).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code),
            (409, Some("idempotency_key_in_use"))
        );
        assert!(idem.check(&key("k"), "i", 7, true).is_ok());
        idem.release(&key("k"), "i");
        assert!(idem.check(&key("k"), "i", 7, false).is_ok());
    }
}
