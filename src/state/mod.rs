//! A running mock's state, and who may touch what at once.
//!
//! - Each partition (app × account) is its own `Mutex`, so requests of
//!   different apps never wait for each other's work. The map of partitions
//!   has its own short lock, taken only to find or create one.
//! - Saved idempotent answers, the journal and the fault list each have
//!   their own lock, held for a lookup or an append.
//! - A gate (`RwLock`) is held shared by every request and exclusively by
//!   what replaces state wholesale (reset, import), so no request sees half
//!   of one.
//! - Partitions are copy-on-write against the startup state: a reset puts
//!   back shared copies without copying a secret, and a partition is copied
//!   only when first written.
//! - A partition that holds nothing and is named by no saved answer and no
//!   journal entry is forgotten, so keys that come and go cost nothing.
//!
//! Lock order, always: gate → partition map → one partition → idempotency →
//! journal → coverage → faults → id streams ([`Level`]); every lock is taken
//! in this file or in `whole.rs` (reset, import, export), and a debug build
//! checks the order as it is taken (`sync`). No lock is held across an
//! `.await`.

pub(crate) mod documents;
pub(crate) mod faults;
pub(crate) mod fixtures;
pub(crate) mod manifests;
mod whole;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::clock::{self, Clock, ClockError, DEFAULT_NOW};
use crate::config::Config;
use crate::error::ApiError;
use crate::error::{BuildError, FixtureError, SpecError};
use crate::ids::IdGen;
use crate::openapi::spec::{Spec, SpecRef};
use crate::outcome::Outcome;
use crate::record::coverage;
use crate::record::journal::{Filter, Journal, Packed, Pending, Record, RecordedRequest};
use crate::record::transcript::Transcript;
use crate::secrets::idempotency::{Idempotency, Saved};
use crate::secrets::store::{Partition, PartitionKey, Totals, MAX_SECRETS, MAX_STORED_BYTES};
use crate::sync::{Gate, GateGuard, Level, Ordered};
use faults::{Fault, Faults};

/// Answers that grow with what the mock holds (the journal, a transcript,
/// the state export) written at once, at most; more wait their turn. Each
/// is bounded on its own (docs/limits.md), so this bounds their sum.
pub(crate) const EXPORTS: usize = 2;

/// One partition's lock.
type PartitionCell = Arc<Ordered<Partition>>;

/// Partitions by key, in key order (export order; an app's partitions are
/// one range).
type PartitionMap = BTreeMap<PartitionKey, Partition>;

/// Everything a running mock holds.
pub(crate) struct State {
    /// The Stripe OpenAPI document.
    spec: SpecRef,
    /// The control document.
    control: SpecRef,
    /// Options fixed at start.
    config: Config,
    /// The injected clock.
    clock: Clock,
    /// The clock's start instant, restored by a full reset.
    start: i64,
    /// The partitions as the fixtures seeded them, restored by reset.
    initial: PartitionMap,
    /// Shared by requests, exclusive for wholesale changes.
    gate: Gate,
    /// The live partitions.
    partitions: Ordered<BTreeMap<PartitionKey, PartitionCell>>,
    /// Saved idempotent answers and keys in flight.
    idempotency: Ordered<Idempotency>,
    /// Requests served on the Stripe paths.
    journal: Ordered<Journal>,
    /// The next [`State::journal_turn`].
    journal_turns: AtomicU64,
    /// Faults waiting for matching requests.
    faults: Ordered<Faults>,
    /// Outcomes and parameters exercised, per operation.
    coverage: Ordered<coverage::Counts>,
    /// Request ids for requests that belong to no app (no or bad key).
    anonymous: Ordered<IdGen>,
    /// Request ids for the control endpoints, apart from every app's stream.
    control_ids: Ordered<IdGen>,
    /// What all partitions hold, for the store-wide bound: kept by
    /// [`State::change`] around every change to a partition.
    totals: Totals,
    /// One permit per export being written ([`EXPORTS`]), held until its
    /// client has taken the answer.
    exports: Arc<tokio::sync::Semaphore>,
    /// Which apps' manifests grant the Secret Store.
    permissions: manifests::Permissions,
}

impl State {
    /// Compiles the spec (unless it is the bundled one) and loads the
    /// fixtures.
    pub fn new(config: Config) -> Result<State, BuildError> {
        let spec = match &config.spec_json {
            Some(text) => {
                let spec = Spec::from_json(text).map_err(|e| BuildError::Spec(SpecError(e)))?;
                SpecRef::Custom(Arc::new(spec))
            }
            None => SpecRef::Bundled(Spec::bundled),
        };
        let control = SpecRef::Bundled(Spec::control);
        let permissions = manifests::Permissions::load(&config.app_manifests)?;
        let docs = documents::read(&config.fixtures)?;
        let loaded = if docs.is_empty() {
            fixtures::Loaded::default()
        } else {
            fixtures::load(
                &docs,
                config.seed,
                config.now,
                &spec,
                &control,
                config.max_secrets_per_scope,
            )?
        };
        let start = config.now.or(loaded.clock).unwrap_or(DEFAULT_NOW);
        if !clock::in_range(start) {
            return Err(BuildError::Clock { start });
        }
        let clock = if config.system_clock {
            Clock::system()
        } else {
            Clock::fake(start)
        };
        let initial = loaded.partitions;
        let totals = Totals::default();
        let (secrets, bytes) = footprint(initial.values());
        check_bound(secrets, bytes)?;
        totals.reset(secrets, bytes);
        let seed = config.seed;
        let journal = Journal::new(config.journal_entries, config.journal_bytes);
        Ok(State {
            permissions,
            totals,
            exports: Arc::new(tokio::sync::Semaphore::new(EXPORTS)),
            spec,
            control,
            start,
            partitions: Ordered::new(Level::Partitions, cells(&initial)),
            initial,
            clock,
            config,
            gate: Gate::default(),
            idempotency: Ordered::new(Level::Idempotency, Idempotency::default()),
            journal: Ordered::new(Level::Journal, journal),
            journal_turns: AtomicU64::new(0),
            coverage: Ordered::new(Level::Coverage, coverage::Counts::default()),
            faults: Ordered::new(Level::Faults, Faults::default()),
            anonymous: Ordered::new(Level::Ids, IdGen::new(seed, &["<anonymous>"])),
            control_ids: Ordered::new(Level::Ids, IdGen::new(seed, &["<control>"])),
        })
    }

    /// The Stripe OpenAPI document served.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The control document.
    pub fn control(&self) -> &Spec {
        &self.control
    }

    /// Options fixed at start.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// What the whole store holds, for its bound.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The permits for exports being written ([`EXPORTS`]).
    pub fn exports(&self) -> Arc<tokio::sync::Semaphore> {
        self.exports.clone()
    }

    /// Whether the app with `key` may use the Secret Store (its manifest,
    /// if it has one, grants `secret_write`).
    pub fn permitted(&self, key: &str) -> bool {
        self.permissions.permitted(key)
    }

    /// Shared access for one request.
    pub fn enter(&self) -> GateGuard<'_> {
        self.gate.shared()
    }

    /// Exclusive access, for wholesale changes.
    fn exclusive(&self) -> GateGuard<'_> {
        self.gate.exclusive()
    }

    /// Runs `f` on the partition for `key` (created empty on first use),
    /// locked, and accounts what it changed in the store-wide [`Totals`].
    pub fn in_partition<R>(&self, key: &PartitionKey, f: impl FnOnce(&mut Partition) -> R) -> R {
        let cell = self.partition(key);
        self.change(&cell, f)
    }

    /// The partition for `key`, created empty on first use.
    fn partition(&self, key: &PartitionKey) -> PartitionCell {
        let mut map = self.partitions.lock();
        if let Some(cell) = map.get(key) {
            return cell.clone();
        }
        let account = key.account.as_deref().unwrap_or("");
        let fresh = Partition::new(IdGen::new(self.config.seed, &[&key.key, account]));
        let cell = Arc::new(Ordered::new(Level::Partition, fresh));
        map.insert(key.clone(), cell.clone());
        cell
    }

    /// Runs `f` on the partition in `cell`, locked, and accounts what it
    /// changed in the store-wide [`Totals`].
    fn change<R>(&self, cell: &PartitionCell, f: impl FnOnce(&mut Partition) -> R) -> R {
        let mut p = cell.lock();
        let before = p.footprint();
        let out = f(&mut p);
        self.totals.apply(before, p.footprint());
        out
    }

    /// Counts the totals again from every partition, after a wholesale
    /// change (under the exclusive gate).
    fn recount(&self) {
        let map = self.partitions.lock();
        let (secrets, bytes) = map.values().fold((0, 0), |(n, b), cell| {
            let (pn, pb) = cell.lock().footprint();
            (n + pn, b + pb)
        });
        self.totals.reset(secrets, bytes);
    }

    /// `(secrets, bytes)` of every partition, walked (for tests to check
    /// the totals against).
    #[cfg(test)]
    pub fn footprint_of_all(&self) -> (usize, usize) {
        let map = self.partitions.lock();
        let each: Vec<(usize, usize)> = map.values().map(|c| c.lock().footprint()).collect();
        (
            each.iter().map(|f| f.0).sum(),
            each.iter().map(|f| f.1).sum(),
        )
    }

    /// Forgets each of `keys` that holds nothing, has no saved answer, no
    /// key in flight and no journal entry, and that no request is using.
    /// Its id streams start over if it is used again, as after a reset of
    /// that app.
    pub fn forget_idle(&self, keys: Vec<PartitionKey>) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.partitions.lock();
        for key in keys {
            let Some(cell) = map.get(&key) else { continue };
            // Requests take their clone under the map's lock, which we hold.
            if Arc::strong_count(cell) > 1 || !cell.lock().is_empty() {
                continue;
            }
            let idem = self.idempotency.lock();
            if idem.count(&key) > 0 || idem.busy(&key) || self.journal.lock().count(&key) > 0 {
                continue;
            }
            drop(idem);
            map.remove(&key);
        }
    }

    /// What the state holds, in counts and counted bytes.
    pub fn stats(&self) -> Stats {
        let (saved_answers, saved_bytes) = {
            let idem = self.idempotency.lock();
            (idem.len(), idem.bytes())
        };
        let (journal_entries, journal_bytes) = {
            let journal = self.journal.lock();
            (journal.len(), journal.bytes())
        };
        let partitions = self.partitions.lock().len();
        Stats {
            partitions,
            secrets: self.secret_count(|_| true),
            saved_answers,
            saved_bytes,
            journal_entries,
            journal_bytes,
        }
    }

    /// A request id for a request that belongs to no app.
    pub fn anonymous_request_id(&self) -> String {
        self.anonymous.lock().request_id()
    }

    /// A request id for a control endpoint.
    pub fn control_request_id(&self) -> String {
        self.control_ids.lock().request_id()
    }

    /// Moves the fake clock. What the move passes stays expired even if the
    /// clock later goes back (the clock's high-water mark). Refused on the
    /// system clock and outside 1970..=9999.
    pub fn move_clock(&self, t: i64) -> Result<(), ClockError> {
        self.clock.set(t)
    }

    /// What the requests so far exercised, against the spec.
    pub fn coverage(&self) -> coverage::Coverage {
        self.coverage.lock().report(&self.spec)
    }

    /// The journal's interactions that `filter` keeps, as a transcript.
    pub fn transcript(&self, filter: Filter<'_>) -> Transcript {
        let (records, dropped) = self.journal.lock().records(filter);
        let mut t = Transcript::new(self.spec.version.clone());
        t.dropped = dropped;
        t.interactions = records.iter().map(|r| r.interaction()).collect();
        t
    }

    /// Every journal entry, oldest first.
    pub fn received_requests(&self) -> Vec<RecordedRequest> {
        let (records, _) = self.journal.lock().records(Filter::default());
        records.iter().map(|r| r.recorded()).collect()
    }

    /// Takes one use of the first fault that applies to a request for
    /// `operation` by `key`.
    pub fn take_fault(&self, operation: Option<&str>, key: Option<&str>) -> Option<Fault> {
        self.faults.lock().take(operation, key)
    }

    /// Adds a fault behind those waiting; refused past the bound.
    pub fn push_fault(&self, fault: Fault) -> Result<(), String> {
        self.faults.lock().push(fault)
    }

    /// The faults waiting, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.lock().list().to_vec()
    }

    /// Marks (partition, `Idempotency-Key`) in flight; `false` if it already
    /// was.
    pub fn hold_in_flight(&self, key: &PartitionKey, idem: &str) -> bool {
        self.idempotency.lock().hold(key, idem)
    }

    /// Releases what [`State::hold_in_flight`] marked.
    pub fn release_in_flight(&self, key: &PartitionKey, idem: &str) {
        self.idempotency.lock().release(key, idem);
    }

    /// The idempotency rules for a keyed POST (expired answers dropped
    /// first): the saved answer to replay, or the error that stops it.
    pub fn check_idempotency(
        &self,
        key: &PartitionKey,
        idem: &str,
        fingerprint: u64,
        held: bool,
        through: i64,
    ) -> Result<Option<Saved>, ApiError> {
        let mut store = self.idempotency.lock();
        store.purge(through);
        store.check(key, idem, fingerprint, held)
    }

    /// Saves a keyed POST's answer. Returns the partitions that lost their
    /// last saved answer to the bound.
    pub fn save_answer(&self, key: &PartitionKey, idem: &str, saved: Saved) -> Vec<PartitionKey> {
        let mut store = self.idempotency.lock();
        store.save(key, idem, saved);
        store.take_released()
    }

    /// A request's place in the journal, taken with its partition locked so
    /// that the journal keeps each partition's requests in the order they
    /// changed it, though each is written after the lock is released.
    pub fn journal_turn(&self) -> u64 {
        self.journal_turns.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a request's outcome for coverage and journals it (its entry
    /// measured before the journal's lock is taken). Returns the partitions
    /// that lost their last journal entry to the bound.
    pub fn record(
        &self,
        entry: Record,
        outcome: Outcome,
        sent: &coverage::Sent,
    ) -> Vec<PartitionKey> {
        self.coverage
            .lock()
            .count(entry.operation.as_deref(), outcome, sent);
        let pending = Pending::new(entry);
        let (released, evicted) = {
            let mut journal = self.journal.lock();
            let evicted = journal.insert(pending);
            (journal.take_released(), evicted)
        };
        // Freed with the journal unlocked.
        drop(evicted);
        released
    }

    /// The journal's records that `filter` keeps, oldest first, and how
    /// many entries were dropped for the bound.
    pub fn journal_records(&self, filter: Filter<'_>) -> (Vec<Packed>, u64) {
        self.journal.lock().records(filter)
    }

    /// How many live secrets the partitions `matches` selects hold.
    pub fn secret_count(&self, matches: impl Fn(&PartitionKey) -> bool) -> usize {
        let through = self.clock.high_water();
        self.partitions
            .lock()
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(_, cell)| {
                self.change(cell, |p| {
                    p.purge(through);
                    p.len()
                })
            })
            .sum()
    }
}

/// What a running mock holds: each figure that grows with traffic, against
/// its bound (docs/limits.md).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = stripe_secrets_mock::MockServer::start().await;
/// let stats = server.stats();
/// assert_eq!((stats.secrets, stats.journal_entries), (0, 0));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Partitions (app × account) in memory; one that holds nothing and is
    /// named by no saved answer and no journal entry is forgotten.
    pub partitions: usize,
    /// Live secrets.
    pub secrets: usize,
    /// Saved idempotent answers.
    pub saved_answers: usize,
    /// Bytes counted for them (bounded by 8 MiB).
    pub saved_bytes: usize,
    /// Journal entries (bounded by `--journal-entries`, 2,000 by default).
    pub journal_entries: usize,
    /// Bytes counted for them, as the journal's answers write them (bounded
    /// by `--journal-bytes`, 4 MiB by default).
    pub journal_bytes: usize,
}

/// `(secrets, counted bytes)` of `partitions` together.
fn footprint<'p>(partitions: impl Iterator<Item = &'p Partition>) -> (usize, usize) {
    partitions.fold((0, 0), |(n, b), p| {
        let (pn, pb) = p.footprint();
        (n + pn, b + pb)
    })
}

/// Refuses fixtures that hold more than the store may.
fn check_bound(secrets: usize, bytes: usize) -> Result<(), FixtureError> {
    if secrets > MAX_SECRETS || bytes > MAX_STORED_BYTES {
        return Err(FixtureError(format!(
            "the fixtures hold {secrets} secrets ({bytes} counted bytes); the store holds at \
             most {MAX_SECRETS} secrets and {MAX_STORED_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Fresh cells sharing `partitions`' data.
fn cells(partitions: &PartitionMap) -> BTreeMap<PartitionKey, PartitionCell> {
    partitions
        .iter()
        .map(|(k, p)| {
            (
                k.clone(),
                Arc::new(Ordered::new(Level::Partition, p.clone())),
            )
        })
        .collect()
}

/// The keys of `app`'s partitions in `map`: one contiguous range.
fn app_range<'m, V>(
    map: &'m BTreeMap<PartitionKey, V>,
    app: &str,
) -> impl Iterator<Item = (&'m PartitionKey, &'m V)> + 'm {
    let app = app.to_string();
    let from = PartitionKey {
        key: app.clone(),
        account: None,
    };
    map.range(from..).take_while(move |(k, _)| k.key == app)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store-wide bound on what fixtures load: exactly at each limit
    /// loads, one past it is refused with both limits named.
    #[test]
    fn fixtures_bound_is_inclusive() {
        assert!(check_bound(MAX_SECRETS, MAX_STORED_BYTES).is_ok());
        assert!(check_bound(0, 0).is_ok());
        for (secrets, bytes) in [(MAX_SECRETS + 1, 0), (0, MAX_STORED_BYTES + 1)] {
            let FixtureError(e) = check_bound(secrets, bytes).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "the fixtures hold {secrets} secrets ({bytes} counted bytes); the store \
                     holds at most 100000 secrets and 134217728 bytes"
                )
            );
        }
    }
}
