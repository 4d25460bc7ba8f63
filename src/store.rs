//! The in-memory secret store: one partition per app (API key) and connected
//! account, secrets grouped by scope, newest-first listing with cursors, and
//! expiry against the injected clock.
//!
//! Everything here is plain synchronous data; the caller holds the lock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use crate::faults::Faults;
use crate::ids::IdGen;
use crate::journal::RecordedRequest;

/// The journal keeps this many most recent requests; older ones are dropped
/// so a long-running standalone server does not grow without bound.
pub(crate) const JOURNAL_CAPACITY: usize = 10_000;

/// Which partition a request belongs to: BEHAVIOUR.md §2 isolation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PartitionKey {
    /// The API key: one key is one app.
    pub key: String,
    /// The `Stripe-Account` header, if any.
    pub account: Option<String>,
}

/// A secret's scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// Shared by the app backend and every Dashboard user.
    Account,
    /// Visible to the app backend and one Dashboard user.
    User(String),
}

/// Why a `scope[type]` / `scope[user]` pair is not a scope.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScopeError {
    /// User scope without a user.
    MissingUser,
    /// A user given for a scope other than user.
    UnexpectedUser,
}

impl Scope {
    /// The scope named by `type` (already checked against the spec's enum)
    /// and `user`: user scope needs a user, and only user scope may have one.
    pub fn parse(kind: Option<&str>, user: Option<&str>) -> Result<Scope, ScopeError> {
        match (kind, user) {
            (Some("user"), Some(u)) => Ok(Scope::User(u.to_string())),
            (Some("user"), None) => Err(ScopeError::MissingUser),
            (_, Some(_)) => Err(ScopeError::UnexpectedUser),
            _ => Ok(Scope::Account),
        }
    }

    /// The scope as the API shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Scope::Account => serde_json::json!({"type": "account"}),
            Scope::User(u) => serde_json::json!({"type": "user", "user": u}),
        }
    }
}

/// A stored secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Secret {
    /// `appsecret_…`, from the partition's seeded generator.
    pub id: String,
    /// Unique within its scope.
    pub name: String,
    /// The plaintext value.
    pub payload: String,
    /// Where it lives.
    pub scope: Scope,
    /// Creation instant (mock clock).
    pub created: i64,
    /// Expiry instant, if any; at or after it the secret is gone.
    pub expires_at: Option<i64>,
    /// Insertion order within the partition: breaks ties between secrets
    /// created in the same second, so listing order is total.
    pub seq: u64,
}

/// Why a secret could not be set.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetError {
    /// The scope already holds the maximum number of distinct names.
    ScopeFull(usize),
}

/// Why a list cursor was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cursor<'a> {
    /// Return items after this id.
    StartingAfter(&'a str),
    /// Return items before this id.
    EndingBefore(&'a str),
}

/// How long an idempotent result is kept, in mock seconds (24 hours).
pub(crate) const IDEMPOTENCY_TTL: i64 = 24 * 60 * 60;

/// The first response to a POST with an `Idempotency-Key`, kept for replay.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Saved {
    /// Method, path and parameters of the first request; a retry must match.
    pub fingerprint: Value,
    /// The status that was answered.
    pub status: u16,
    /// The body that was answered.
    pub body: Value,
    /// The first request's id, sent back as `Original-Request`.
    pub request_id: String,
    /// When it was saved (mock clock).
    pub at: i64,
}

/// One app's (and account's) secrets.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    /// Ids for this partition's secrets and requests.
    pub ids: IdGen,
    /// Live secrets, in insertion order.
    secrets: Vec<Secret>,
    /// The next `Secret::seq`.
    next_seq: u64,
    /// Saved idempotent results by `Idempotency-Key`.
    pub idempotency: BTreeMap<String, Saved>,
}

impl Partition {
    fn new(ids: IdGen) -> Self {
        Partition {
            ids,
            secrets: Vec::new(),
            next_seq: 0,
            idempotency: BTreeMap::new(),
        }
    }

    /// Creates or replaces the secret `name` in `scope`. A replacement is a
    /// new secret: new id, `created` = now.
    pub fn set(
        &mut self,
        scope: Scope,
        name: String,
        payload: String,
        expires_at: Option<i64>,
        now: i64,
        max_per_scope: usize,
    ) -> Result<Secret, SetError> {
        let existing = self
            .secrets
            .iter()
            .position(|s| s.scope == scope && s.name == name);
        let in_scope = self.count(&scope);
        if existing.is_none() && in_scope >= max_per_scope {
            return Err(SetError::ScopeFull(max_per_scope));
        }
        if let Some(i) = existing {
            self.secrets.remove(i);
        }
        let secret = Secret {
            id: self.new_secret_id(),
            name,
            payload,
            scope,
            created: now,
            expires_at,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.secrets.push(secret.clone());
        Ok(secret)
    }

    /// A fresh id from the partition's stream, skipping any already in use
    /// (imported state may hold ids this stream would produce).
    pub fn new_secret_id(&mut self) -> String {
        loop {
            let id = self.ids.secret_id();
            if !self.secrets.iter().any(|s| s.id == id) {
                return id;
            }
        }
    }

    /// Stores a fully formed secret as the newest; the caller has checked it.
    pub fn insert(&mut self, mut secret: Secret) {
        secret.seq = self.next_seq;
        self.next_seq += 1;
        self.secrets.push(secret);
    }

    /// All secrets, in insertion order.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// How many secrets `scope` holds.
    pub fn count(&self, scope: &Scope) -> usize {
        self.secrets.iter().filter(|s| &s.scope == scope).count()
    }

    /// The secret `name` in `scope`.
    pub fn find(&self, scope: &Scope, name: &str) -> Option<&Secret> {
        self.secrets
            .iter()
            .find(|s| &s.scope == scope && s.name == name)
    }

    /// Removes and returns the secret `name` in `scope`.
    pub fn delete(&mut self, scope: &Scope, name: &str) -> Option<Secret> {
        let i = self
            .secrets
            .iter()
            .position(|s| &s.scope == scope && s.name == name)?;
        Some(self.secrets.remove(i))
    }

    /// One page of `scope`, newest first (`created` descending, then most
    /// recently set first), and whether more follow in the direction of
    /// travel. `Err(id)` names a cursor that is not in this list.
    pub fn page<'a>(
        &self,
        scope: &Scope,
        limit: usize,
        cursor: Option<Cursor<'a>>,
    ) -> Result<(Vec<&Secret>, bool), &'a str> {
        let mut all: Vec<&Secret> = self.secrets.iter().filter(|s| &s.scope == scope).collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.seq.cmp(&a.seq)));
        let position = |id: &'a str| all.iter().position(|s| s.id == id).ok_or(id);
        let (start, end) = match cursor {
            None => (0, all.len().min(limit)),
            Some(Cursor::StartingAfter(id)) => {
                let from = position(id)? + 1;
                (from, all.len().min(from + limit))
            }
            Some(Cursor::EndingBefore(id)) => {
                let to = position(id)?;
                (to.saturating_sub(limit), to)
            }
        };
        let has_more = match cursor {
            Some(Cursor::EndingBefore(_)) => start > 0,
            _ => end < all.len(),
        };
        Ok((all[start..end].to_vec(), has_more))
    }

    /// Drops every secret whose expiry is at or before `now`, and idempotent
    /// results older than 24 hours.
    fn purge(&mut self, now: i64) {
        self.secrets
            .retain(|s| s.expires_at.is_none_or(|at| at > now));
        self.idempotency
            .retain(|_, saved| saved.at + IDEMPOTENCY_TTL > now);
    }
}

/// All partitions, and the journal.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    /// The server's seed: every partition's id stream derives from it.
    seed: u64,
    /// Partitions, created on first use.
    partitions: BTreeMap<PartitionKey, Partition>,
    /// Request ids for requests that belong to no app (no or bad key).
    anonymous: IdGen,
    /// Request ids for the control endpoints, apart from every app's stream.
    control: IdGen,
    /// Every request served on the Stripe paths, oldest first.
    pub journal: VecDeque<RecordedRequest>,
    /// Faults waiting for matching requests.
    pub faults: Faults,
    /// (partition, `Idempotency-Key`) of POSTs being served right now (held
    /// while an injected delay runs).
    pub in_flight: BTreeSet<(PartitionKey, String)>,
}

impl Store {
    /// An empty store whose ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Store {
            seed,
            partitions: BTreeMap::new(),
            anonymous: IdGen::new(seed, &["<anonymous>"]),
            control: IdGen::new(seed, &["<control>"]),
            journal: VecDeque::new(),
            faults: Faults::default(),
            in_flight: BTreeSet::new(),
        }
    }

    /// The seed this store was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A request id for a control endpoint.
    pub fn control_request_id(&mut self) -> String {
        self.control.request_id()
    }

    /// Appends to the journal, dropping the oldest entry when full.
    pub fn record(&mut self, entry: RecordedRequest) {
        if self.journal.len() == JOURNAL_CAPACITY {
            self.journal.pop_front();
        }
        self.journal.push_back(entry);
    }

    /// How many secrets the partitions `matches` selects hold.
    pub fn secret_count(&self, matches: impl Fn(&PartitionKey) -> bool) -> usize {
        self.partitions
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(_, p)| p.secrets.len())
            .sum()
    }

    /// All partitions, sorted by key.
    pub fn partitions(&self) -> impl Iterator<Item = (&PartitionKey, &Partition)> {
        self.partitions.iter()
    }

    /// Replaces every partition with `other`'s (journal and the request-id
    /// streams of control and anonymous requests stay).
    pub fn replace_partitions(&mut self, other: Store) {
        self.partitions = other.partitions;
    }

    /// Puts the partitions `matches` selects back as they are in `initial`
    /// (or removes them if `initial` has none).
    pub fn restore_partitions(&mut self, initial: &Store, matches: impl Fn(&PartitionKey) -> bool) {
        self.partitions.retain(|k, _| !matches(k));
        for (k, p) in initial.partitions.iter().filter(|(k, _)| matches(k)) {
            self.partitions.insert(k.clone(), p.clone());
        }
    }

    /// The partition for `key`, created empty on first use.
    pub fn partition(&mut self, key: &PartitionKey) -> &mut Partition {
        let seed = self.seed;
        self.partitions.entry(key.clone()).or_insert_with(|| {
            let account = key.account.as_deref().unwrap_or("");
            Partition::new(IdGen::new(seed, &[&key.key, account]))
        })
    }

    /// A request id from the partition's stream, or the anonymous one.
    pub fn request_id(&mut self, key: Option<&PartitionKey>) -> String {
        match key {
            Some(k) => self.partition(k).ids.request_id(),
            None => self.anonymous.request_id(),
        }
    }

    /// Drops every secret that has expired by `now`, in every partition.
    /// Expiry is permanent: a later, earlier `now` does not bring it back.
    pub fn purge(&mut self, now: i64) {
        for p in self.partitions.values_mut() {
            p.purge(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part() -> Partition {
        Partition::new(IdGen::new(1, &["k"]))
    }

    #[test]
    fn replacing_keeps_one_secret_with_a_new_id() {
        let mut p = part();
        let a = p
            .set(Scope::Account, "n".into(), "1".into(), None, 10, 10)
            .unwrap();
        let b = p
            .set(Scope::Account, "n".into(), "2".into(), None, 20, 10)
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(p.find(&Scope::Account, "n").unwrap().payload, "2");
        assert_eq!(p.page(&Scope::Account, 10, None).unwrap().0.len(), 1);
    }

    #[test]
    fn scope_limit_counts_distinct_names_per_scope() {
        let mut p = part();
        p.set(Scope::Account, "a".into(), "".into(), None, 0, 1)
            .unwrap();
        assert_eq!(
            p.set(Scope::Account, "b".into(), "".into(), None, 0, 1),
            Err(SetError::ScopeFull(1))
        );
        assert!(p
            .set(Scope::Account, "a".into(), "x".into(), None, 0, 1)
            .is_ok());
        assert!(p
            .set(Scope::User("u".into()), "b".into(), "".into(), None, 0, 1)
            .is_ok());
    }

    #[test]
    fn pages_walk_both_ways() {
        let mut p = part();
        let ids: Vec<String> = (0..5)
            .map(|i| {
                p.set(Scope::Account, format!("n{i}"), "".into(), None, 100, 10)
                    .unwrap()
                    .id
            })
            .collect();
        // Same second: most recently set first.
        let names = |v: &[&Secret]| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let (first, more) = p.page(&Scope::Account, 2, None).unwrap();
        assert_eq!(
            (names(&first), more),
            (vec!["n4".into(), "n3".into()], true)
        );
        let (next, more) = p
            .page(&Scope::Account, 2, Some(Cursor::StartingAfter(&ids[3])))
            .unwrap();
        assert_eq!((names(&next), more), (vec!["n2".into(), "n1".into()], true));
        let (prev, more) = p
            .page(&Scope::Account, 2, Some(Cursor::EndingBefore(&ids[2])))
            .unwrap();
        assert_eq!(
            (names(&prev), more),
            (vec!["n4".into(), "n3".into()], false)
        );
        let (prev, more) = p
            .page(&Scope::Account, 2, Some(Cursor::EndingBefore(&ids[0])))
            .unwrap();
        assert_eq!((names(&prev), more), (vec!["n2".into(), "n1".into()], true));
        assert_eq!(
            p.page(&Scope::Account, 2, Some(Cursor::StartingAfter("nope"))),
            Err("nope")
        );
    }

    #[test]
    fn idempotent_results_expire_after_24_hours() {
        let mut store = Store::new(0);
        let key = PartitionKey {
            key: "k".into(),
            account: None,
        };
        let saved = Saved {
            fingerprint: Value::Null,
            status: 200,
            body: Value::Null,
            request_id: "req_1".into(),
            at: 100,
        };
        store
            .partition(&key)
            .idempotency
            .insert("idem".into(), saved);
        store.purge(100 + IDEMPOTENCY_TTL - 1);
        assert_eq!(store.partition(&key).idempotency.len(), 1);
        store.purge(100 + IDEMPOTENCY_TTL);
        assert!(store.partition(&key).idempotency.is_empty());
    }

    #[test]
    fn purge_is_permanent() {
        let mut store = Store::new(0);
        let key = PartitionKey {
            key: "k".into(),
            account: None,
        };
        store
            .partition(&key)
            .set(Scope::Account, "n".into(), "".into(), Some(50), 0, 10)
            .unwrap();
        store.purge(49);
        assert!(store.partition(&key).find(&Scope::Account, "n").is_some());
        store.purge(50);
        store.purge(0);
        assert!(store.partition(&key).find(&Scope::Account, "n").is_none());
    }
}
