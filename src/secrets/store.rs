//! One partition's secrets (one app, one connected account), indexed so that
//! every operation costs what it touches:
//!
//! - `secrets`: seq → secret, in the order they were set (export order);
//! - `scopes`: per scope, name → seq (find, set, delete, the per-scope
//!   count) and the listing order `(created desc, seq desc)` as an ordered
//!   set, so a page is O(log n + limit) from either cursor;
//! - `by_id`: id → seq, for cursors and for fresh ids without a scan;
//! - `expiry`: `(expires_at, seq)` in time order, so a purge visits only
//!   what is due.
//!
//! Plain synchronous data: the caller holds the partition's lock.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::body::Json;
use crate::ids::IdGen;

/// Which partition a request belongs to (docs/behaviour.md §2, isolation).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PartitionKey {
    /// The API key: one key is one app.
    pub key: String,
    /// The `Stripe-Account` header, if any.
    pub account: Option<String>,
}

impl PartitionKey {
    /// The partition of `key` under `account`; an absent or empty account
    /// means the platform (the one place this rule lives).
    pub fn new(key: &str, account: Option<&str>) -> PartitionKey {
        PartitionKey {
            key: key.to_string(),
            account: account.filter(|a| !a.is_empty()).map(String::from),
        }
    }
}

/// A secret's scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    pub fn to_tree(&self) -> Json {
        match self {
            Scope::Account => Json::Object(vec![("type", Json::Static("account"))]),
            Scope::User(u) => Json::Object(vec![
                ("type", Json::Static("user")),
                ("user", Json::String(u.clone())),
            ]),
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
}

/// Why a secret could not be set.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetError {
    /// The scope already holds the maximum number of distinct names.
    ScopeFull(usize),
    /// The whole store is at its bound ([`MAX_SECRETS`], [`MAX_STORED_BYTES`]).
    StoreFull,
}

/// Secrets the whole store may hold (every app and account together).
pub(crate) const MAX_SECRETS: usize = 100_000;

/// Bytes the whole store may hold, each secret counted as its name, payload
/// and user plus [`SECRET_OVERHEAD`].
pub(crate) const MAX_STORED_BYTES: usize = 128 << 20;

/// What a stored secret costs besides its strings: its id, its entries in
/// four indexes and their nodes (measured at 700–800 bytes, `benches/run`).
pub(crate) const SECRET_OVERHEAD: usize = 800;

/// A secret's counted bytes: its strings as JSON writes them (the state
/// export and every answer), so a payload of control characters, each
/// written as six bytes, counts six bytes each.
fn cost(s: &Secret) -> usize {
    strings_cost(&s.name, &s.payload, &s.scope)
}

/// [`cost`] of a secret with these strings.
fn strings_cost(name: &str, payload: &str, scope: &Scope) -> usize {
    let user = match scope {
        Scope::User(u) => json_len(u),
        Scope::Account => 0,
    };
    json_len(name) + json_len(payload) + user + SECRET_OVERHEAD
}

/// The bytes serde_json writes for the string `s`, quotes excluded.
fn json_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// The bounds a set must respect.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits<'a> {
    /// Distinct names per scope.
    pub per_scope: usize,
    /// What the whole store holds, against [`MAX_SECRETS`] and
    /// [`MAX_STORED_BYTES`].
    pub store: &'a Totals,
}

/// What the whole store holds, against its bound. Kept by the caller from
/// each partition's [`Partition::footprint`] before and after a change.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Secrets in every partition.
    secrets: std::sync::atomic::AtomicUsize,
    /// Their counted bytes.
    bytes: std::sync::atomic::AtomicUsize,
}

impl Totals {
    /// Applies one partition's change from `before` to `after`.
    pub fn apply(&self, before: (usize, usize), after: (usize, usize)) {
        use std::sync::atomic::Ordering::Relaxed;
        let shift = |c: &std::sync::atomic::AtomicUsize, from: usize, to: usize| {
            if to >= from {
                c.fetch_add(to - from, Relaxed);
            } else {
                c.fetch_sub(from - to, Relaxed);
            }
        };
        shift(&self.secrets, before.0, after.0);
        shift(&self.bytes, before.1, after.1);
    }

    /// Replaces the totals (after a wholesale change).
    pub fn reset(&self, secrets: usize, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.secrets.store(secrets, Relaxed);
        self.bytes.store(bytes, Relaxed);
    }

    /// `(secrets, bytes)` held.
    pub fn get(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.secrets.load(Relaxed), self.bytes.load(Relaxed))
    }

    /// Whether `more` secrets of `bytes` more bytes fit. Requests in other
    /// partitions may pass the check at the same moment, so the bound can
    /// be passed by at most one secret per request being served at once.
    fn has_room(&self, more: usize, bytes: usize) -> bool {
        let (secrets, held) = self.get();
        secrets + more <= MAX_SECRETS && held + bytes <= MAX_STORED_BYTES
    }
}

/// A list cursor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cursor<'a> {
    /// Return items after this id.
    StartingAfter(&'a str),
    /// Return items before this id.
    EndingBefore(&'a str),
}

/// What one change did, so that exactly that change can be taken back (a
/// response that broke the spec in strict mode) without copying anything.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Undo {
    /// The secret the change added (by seq).
    added: Option<u64>,
    /// The secret the change removed, with its seq, to put back as it was.
    removed: Option<(u64, Secret)>,
}

/// Listing position: newest first, then most recently set first.
type Rank = (Reverse<i64>, Reverse<u64>);

/// One scope's secrets.
#[derive(Clone, Debug, Default)]
#[cfg_attr(test, derive(PartialEq))]
struct ScopeIndex {
    /// Name → seq: lookups, and the per-scope count.
    names: HashMap<String, u64>,
    /// Listing order.
    order: BTreeSet<Rank>,
}

/// One app's (and account's) secrets and id stream. Cloning is cheap: the
/// secrets are shared until one of the copies is written (a reset puts the
/// startup partitions back without copying a secret).
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    /// Ids for this partition's secrets and requests, in one stream.
    pub ids: IdGen,
    /// The secrets and their indexes, copied on first write when shared.
    index: Arc<Index>,
}

/// A partition's secrets and indexes.
#[derive(Clone, Debug, Default)]
#[cfg_attr(test, derive(PartialEq))]
struct Index {
    /// The next seq: insertion order, and the tie-break for listing.
    next_seq: u64,
    /// Live secrets by seq.
    secrets: BTreeMap<u64, Secret>,
    /// Per-scope indexes; a scope with no secrets has no entry.
    scopes: HashMap<Scope, ScopeIndex>,
    /// Id → seq.
    by_id: HashMap<String, u64>,
    /// `(expires_at, seq)` of every secret that expires.
    expiry: BTreeSet<(i64, u64)>,
    /// Counted bytes of the secrets ([`cost`]).
    bytes: usize,
}

fn rank(s: &Secret, seq: u64) -> Rank {
    (Reverse(s.created), Reverse(seq))
}

impl Index {
    fn insert_at(&mut self, seq: u64, secret: Secret) {
        let index = self.scopes.entry(secret.scope.clone()).or_default();
        index.names.insert(secret.name.clone(), seq);
        index.order.insert(rank(&secret, seq));
        self.by_id.insert(secret.id.clone(), seq);
        if let Some(at) = secret.expires_at {
            self.expiry.insert((at, seq));
        }
        self.bytes += cost(&secret);
        self.secrets.insert(seq, secret);
    }

    fn insert(&mut self, secret: Secret) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.insert_at(seq, secret);
        seq
    }

    fn remove(&mut self, seq: u64) -> Option<Secret> {
        let secret = self.secrets.remove(&seq)?;
        self.bytes -= cost(&secret);
        if let Some(index) = self.scopes.get_mut(&secret.scope) {
            index.names.remove(&secret.name);
            index.order.remove(&rank(&secret, seq));
            if index.names.is_empty() {
                self.scopes.remove(&secret.scope);
            }
        }
        self.by_id.remove(&secret.id);
        if let Some(at) = secret.expires_at {
            self.expiry.remove(&(at, seq));
        }
        Some(secret)
    }

    /// Puts `secret` (same scope and name as the secret at `seq`) in that
    /// secret's place, as the most recently set, with a fresh id drawn from
    /// `ids` once the old one is out of use: what [`Index::remove`] then
    /// [`Index::insert`] would do, without dropping and making again the
    /// scope's index and the name's entry. Returns the secret replaced and
    /// the new seq; with no secret at `seq`, it is an insert.
    fn replace(&mut self, seq: u64, ids: &mut IdGen, secret: Secret) -> (Option<Secret>, u64) {
        let Some(old) = self.secrets.remove(&seq) else {
            let secret = Secret {
                id: fresh_id(ids, self),
                ..secret
            };
            return (None, self.insert(secret));
        };
        self.bytes -= cost(&old);
        self.by_id.remove(&old.id);
        if let Some(at) = old.expires_at {
            self.expiry.remove(&(at, seq));
        }
        let secret = Secret {
            id: fresh_id(ids, self),
            ..secret
        };
        let new = self.next_seq;
        self.next_seq += 1;
        if let Some(index) = self.scopes.get_mut(&old.scope) {
            index.order.remove(&rank(&old, seq));
            index.order.insert(rank(&secret, new));
            if let Some(entry) = index.names.get_mut(&old.name) {
                *entry = new;
            }
        }
        self.by_id.insert(secret.id.clone(), new);
        if let Some(at) = secret.expires_at {
            self.expiry.insert((at, new));
        }
        self.bytes += cost(&secret);
        self.secrets.insert(new, secret);
        (Some(old), new)
    }

    fn seq_of(&self, scope: &Scope, name: &str) -> Option<u64> {
        self.scopes.get(scope)?.names.get(name).copied()
    }

    fn count(&self, scope: &Scope) -> usize {
        self.scopes.get(scope).map_or(0, |s| s.names.len())
    }
}

/// A fresh id from `ids`, skipping any already in use in `index` (imported
/// state may hold ids this stream would produce).
fn fresh_id(ids: &mut IdGen, index: &Index) -> String {
    loop {
        let id = ids.secret_id();
        if !index.by_id.contains_key(&id) {
            return id;
        }
    }
}

impl Partition {
    /// An empty partition drawing ids from `ids`.
    pub fn new(ids: IdGen) -> Self {
        Partition {
            ids,
            index: Arc::default(),
        }
    }

    /// The index, copied first if another partition shares it.
    fn index_mut(&mut self) -> &mut Index {
        Arc::make_mut(&mut self.index)
    }

    /// Whether it holds no secret.
    pub fn is_empty(&self) -> bool {
        self.index.secrets.is_empty()
    }

    /// How many secrets it holds.
    pub fn len(&self) -> usize {
        self.index.secrets.len()
    }

    /// `(secrets, counted bytes)`, for the store-wide [`Totals`].
    pub fn footprint(&self) -> (usize, usize) {
        (self.index.secrets.len(), self.index.bytes)
    }

    /// All secrets, in the order they were set.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.index.secrets.values()
    }

    /// The first secret set at or after `seq`, with its seq (a cursor
    /// over [`Partition::secrets`] that borrows nothing between calls).
    pub fn secret_from(&self, seq: u64) -> Option<(u64, &Secret)> {
        self.index
            .secrets
            .range(seq..)
            .next()
            .map(|(s, secret)| (*s, secret))
    }

    /// How many secrets `scope` holds.
    pub fn count(&self, scope: &Scope) -> usize {
        self.index.count(scope)
    }

    /// Whether a secret has this id.
    #[cfg(test)]
    pub fn contains_id(&self, id: &str) -> bool {
        self.index.by_id.contains_key(id)
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
        limits: Limits<'_>,
    ) -> Result<(&Secret, Undo), SetError> {
        let Limits {
            per_scope: max_per_scope,
            store: totals,
        } = limits;
        let existing = self.index.seq_of(&scope, &name);
        if existing.is_none() && self.count(&scope) >= max_per_scope {
            return Err(SetError::ScopeFull(max_per_scope));
        }
        let adds = strings_cost(&name, &payload, &scope);
        let frees = existing
            .and_then(|seq| self.index.secrets.get(&seq))
            .map_or(0, cost);
        if !totals.has_room(usize::from(existing.is_none()), adds.saturating_sub(frees)) {
            return Err(SetError::StoreFull);
        }
        let Partition { ids, index } = self;
        let index = Arc::make_mut(index);
        let secret = Secret {
            id: String::new(),
            name,
            payload,
            scope,
            created: now,
            expires_at,
        };
        let (removed, seq) = match existing {
            Some(old) => {
                let (removed, seq) = index.replace(old, ids, secret);
                (removed.map(|s| (old, s)), seq)
            }
            None => {
                let secret = Secret {
                    id: fresh_id(ids, index),
                    ..secret
                };
                (None, index.insert(secret))
            }
        };
        let undo = Undo {
            added: Some(seq),
            removed,
        };
        Ok((&index.secrets[&seq], undo))
    }

    /// A fresh secret id from the partition's stream.
    pub fn new_secret_id(&mut self) -> String {
        fresh_id(&mut self.ids, &self.index)
    }

    /// Stores a fully formed secret as the most recently set; the caller has
    /// checked it.
    pub fn insert(&mut self, secret: Secret) {
        self.index_mut().insert(secret);
    }

    /// The secret `name` in `scope`.
    pub fn find(&self, scope: &Scope, name: &str) -> Option<&Secret> {
        self.index.secrets.get(&self.index.seq_of(scope, name)?)
    }

    /// Removes and returns the secret `name` in `scope`.
    pub fn delete(&mut self, scope: &Scope, name: &str) -> Option<(Secret, Undo)> {
        let seq = self.index.seq_of(scope, name)?;
        let secret = self.index_mut().remove(seq)?;
        let undo = Undo {
            added: None,
            removed: Some((seq, secret.clone())),
        };
        Some((secret, undo))
    }

    /// Takes back one change: what it added goes, what it removed returns
    /// with its original position.
    pub fn undo(&mut self, undo: Undo) {
        let index = self.index_mut();
        if let Some(seq) = undo.added {
            index.remove(seq);
        }
        if let Some((seq, secret)) = undo.removed {
            index.insert_at(seq, secret);
        }
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
        let index = &*self.index;
        let empty = BTreeSet::new();
        let order = index.scopes.get(scope).map_or(&empty, |s| &s.order);
        // The cursor's listing position, if it is a secret of this scope.
        let position = |id: &'a str| -> Result<Rank, &'a str> {
            let seq = *index.by_id.get(id).ok_or(id)?;
            let s = &index.secrets[&seq];
            if &s.scope != scope {
                return Err(id);
            }
            Ok(rank(s, seq))
        };
        let secret = |r: &Rank| &index.secrets[&r.1 .0];
        Ok(match cursor {
            None => collect(order.iter(), limit, secret),
            Some(Cursor::StartingAfter(id)) => {
                let from = position(id)?;
                collect(
                    order.range((Bound::Excluded(from), Bound::Unbounded)),
                    limit,
                    secret,
                )
            }
            Some(Cursor::EndingBefore(id)) => {
                let to = position(id)?;
                let (mut page, more) = collect(order.range(..to).rev(), limit, secret);
                page.reverse();
                (page, more)
            }
        })
    }

    /// Whether a purge through `through` would remove anything.
    pub fn has_expired(&self, through: i64) -> bool {
        self.index
            .expiry
            .first()
            .is_some_and(|(at, _)| *at <= through)
    }

    /// Drops every secret whose expiry is at or before `through`, visiting
    /// only those (and copying a shared index only if one is due).
    pub fn purge(&mut self, through: i64) {
        if !self.has_expired(through) {
            return;
        }
        let index = self.index_mut();
        // Each due entry is taken off the expiry set first, so the loop
        // ends whatever removing its secret does.
        while index.expiry.first().is_some_and(|&(at, _)| at <= through) {
            let Some((_, seq)) = index.expiry.pop_first() else {
                break;
            };
            index.remove(seq);
        }
    }
}

/// Up to `limit` secrets from `ranks`, and whether another follows.
fn collect<'s, 'r>(
    ranks: impl Iterator<Item = &'r Rank>,
    limit: usize,
    secret: impl Fn(&Rank) -> &'s Secret,
) -> (Vec<&'s Secret>, bool) {
    let mut page: Vec<&Secret> = ranks.take(limit.saturating_add(1)).map(secret).collect();
    let more = page.len() > limit;
    page.truncate(limit);
    (page, more)
}

#[cfg(test)]
mod tests;
