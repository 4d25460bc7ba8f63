//! The state as a whole: reset to how it started (all of it, or one app's
//! partitions), replaced by a fixture, exported in the fixture format.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::body::Listing;
use crate::error::FixtureError;
use crate::ids::IdGen;
use crate::secrets::auth;
use crate::secrets::idempotency::Idempotency;
use crate::secrets::store::{Partition, PartitionKey};
use crate::sync::{Level, Ordered};

use super::documents::Doc;
use super::{app_range, cells, check_bound, fixtures, footprint, PartitionCell, State};

impl State {
    /// Restores the startup state: everything, or one app's partitions (one
    /// account of it if `account` is given; `""` names the platform).
    pub fn reset(&self, app: Option<&str>, account: Option<&str>) -> Value {
        let _gate = self.exclusive();
        self.faults.lock().clear(app);
        let Some(key) = app else {
            let removed = self.journal.lock().len();
            self.journal.lock().clear();
            self.coverage.lock().clear();
            *self.idempotency.lock() = Idempotency::default();
            *self.partitions.lock() = cells(&self.initial);
            *self.anonymous.lock() = IdGen::new(self.config.seed, &["<anonymous>"]);
            self.recount();
            self.clock.reset(self.start);
            return json!({
                "object": "mock.reset", "app": null,
                "secrets": self.secret_count(|_| true), "requests_removed": removed,
            });
        };
        let account = account.map(|a| PartitionKey::new(key, Some(a)).account);
        let matches =
            |k: &PartitionKey| k.key == key && account.as_ref().is_none_or(|a| &k.account == a);
        {
            let mut map = self.partitions.lock();
            let doomed: Vec<PartitionKey> = app_range(&map, key)
                .filter(|(k, _)| matches(k))
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                map.remove(&k);
            }
            for (k, p) in app_range(&self.initial, key).filter(|(k, _)| matches(k)) {
                map.insert(
                    k.clone(),
                    Arc::new(Ordered::new(Level::Partition, p.clone())),
                );
            }
        }
        self.recount();
        self.idempotency.lock().forget(matches);
        let removed = self.journal.lock().remove(matches);
        json!({
            "object": "mock.reset",
            "app": auth::mask(key),
            "secrets": self.secret_count(matches),
            "requests_removed": removed,
        })
    }

    /// Replaces every secret with those of `fixture` (and moves the clock if
    /// it names an instant). Nothing changes unless the whole fixture is
    /// valid. An import starts a new history: what the clock had passed
    /// before no longer counts as expired.
    pub fn import(&self, fixture: &Value) -> Result<usize, FixtureError> {
        let _gate = self.exclusive();
        let loaded = fixtures::load(
            &[Doc::parsed("request body", fixture.clone())],
            self.config.seed,
            Some(self.clock.now()),
            &self.spec,
            &self.control,
            self.config.max_secrets_per_scope,
        )?;
        let (count, bytes) = footprint(loaded.partitions.values());
        check_bound(count, bytes)?;
        *self.partitions.lock() = cells(&loaded.partitions);
        self.totals.reset(count, bytes);
        let now = loaded.clock.unwrap_or_else(|| self.clock.now());
        self.clock.reset(now);
        Ok(count)
    }

    /// All secrets and the clock, in the fixture format.
    pub fn export(&self) -> Value {
        let (partitions, now) = self.snapshot();
        fixtures::export(partitions.iter().map(|(k, p)| (k, p)), now)
    }

    /// [`State::export`] as a listing, each secret rendered as it is
    /// written, from a snapshot of the partitions.
    pub fn export_listing(&self) -> Listing {
        let (partitions, now) = self.snapshot();
        let partitions = Arc::new(partitions);
        Listing {
            envelope: fixtures::export_envelope(now),
            field: "secrets",
            item_schema: "fixture_secret",
            items: Arc::new(move || {
                let partitions = partitions.clone();
                // A cursor (partition, seq): it borrows nothing between items.
                let (mut at, mut seq) = (0, 0);
                Box::new(std::iter::from_fn(move || loop {
                    let (key, p) = partitions.get(at)?;
                    match p.secret_from(seq) {
                        Some((s, secret)) => {
                            seq = s + 1;
                            return Some(fixtures::export_secret(key, secret));
                        }
                        None => (at, seq) = (at + 1, 0),
                    }
                }))
            }),
        }
    }

    /// Every partition, expired secrets purged, and the clock. The copies
    /// are taken under the gate and share every secret (copy-on-write), so
    /// whatever is done with them afterwards holds no request up.
    fn snapshot(&self) -> (Vec<(PartitionKey, Partition)>, i64) {
        let _gate = self.exclusive();
        let through = self.clock.high_water();
        let cells: Vec<(PartitionKey, PartitionCell)> = self
            .partitions
            .lock()
            .iter()
            .map(|(k, cell)| (k.clone(), cell.clone()))
            .collect();
        let partitions = cells
            .iter()
            .map(|(k, cell)| {
                let copy = self.change(cell, |p| {
                    p.purge(through);
                    p.clone()
                });
                (k.clone(), copy)
            })
            .collect();
        (partitions, self.clock.now())
    }
}
