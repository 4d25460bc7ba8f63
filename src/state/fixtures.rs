//! Fixtures: JSON files that seed the store and the clock at startup, the same
//! format the control API imports and exports.
//!
//! ```json
//! {
//!   "clock": {"now": 1700000000},
//!   "secrets": [
//!     {"app": "sk_test_123", "name": "api-key", "payload": "s3cr3t",
//!      "scope": {"type": "account"}, "expires_at": 1700000060}
//!   ]
//! }
//! ```
//!
//! The document's own fields are checked against the control spec's
//! `fixture` schema, and each secret, read one at a time, against its
//! `fixture_secret` schema; each secret is then turned into the `apps.secret`
//! it will be served as and checked against the Stripe spec's schema (so
//! lengths and scope types come from the spec), and finally against the
//! store's own rules. The first problem is reported as
//! `SOURCE: POINTER: RULE`. Loading is linear in the number of secrets.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::clock::DEFAULT_NOW;
use crate::error::FixtureError;
use crate::ids::IdGen;
use crate::openapi::spec::Spec;
use crate::secrets::api;
use crate::secrets::auth;
use crate::secrets::store::{Partition, PartitionKey, Scope, ScopeError, Secret};
use crate::state::documents::Doc;

/// What loading produced: the seeded partitions and the clock's start, if a
/// fixture set it.
#[derive(Default)]
pub(crate) struct Loaded {
    /// The seeded partitions, by key.
    pub partitions: BTreeMap<PartitionKey, Partition>,
    /// `clock.now` of the fixtures, if any names one.
    pub clock: Option<i64>,
}

/// Where a secret came from: (document, entry), for error messages.
type Origin = (usize, usize);

/// Checks `docs` and builds partitions seeded with their secrets, in time
/// linear in the number of secrets. `now` is the clock's start when no
/// fixture sets it (and the default `created`).
pub(crate) fn load(
    docs: &[Doc],
    seed: u64,
    now: Option<i64>,
    spec: &Spec,
    control: &Spec,
    max_per_scope: usize,
) -> Result<Loaded, FixtureError> {
    let mut clock: Option<(i64, &str)> = None;
    for doc in docs {
        let source = doc.name.as_str();
        let head = doc.head()?;
        if let Some(v) = control.violations("fixture", &head).first() {
            return Err(FixtureError(format!(
                "{source}: {}: {}",
                pointer(&v.pointer),
                v.rule
            )));
        }
        if let Some(t) = head.pointer("/clock/now").and_then(Value::as_i64) {
            if !crate::clock::in_range(t) {
                return Err(FixtureError(format!(
                    "{source}: /clock/now: must be between {} (1970-01-01) and {} (9999-12-31)",
                    crate::clock::EARLIEST,
                    crate::clock::LATEST
                )));
            }
            match clock {
                Some((other, from)) if other != t => {
                    return Err(FixtureError(format!(
                        "{source}: /clock/now: {t} conflicts with {other} set by {from}"
                    )))
                }
                _ => clock = Some((t, source)),
            }
        }
    }
    let start = now.or(clock.map(|c| c.0)).unwrap_or(DEFAULT_NOW);
    let mut partitions: BTreeMap<PartitionKey, Partition> = BTreeMap::new();
    let mut origins: HashMap<String, Origin> = HashMap::new();
    let ctx = Check {
        start,
        spec,
        max_per_scope,
        docs,
    };
    for (d, doc) in docs.iter().enumerate() {
        doc.each_secret(|i, entry| {
            let fail = |field: &str, rule: &str| {
                FixtureError(format!("{}: /secrets/{i}{field}: {rule}", doc.name))
            };
            if let Some(v) = control.violations("fixture_secret", entry).first() {
                return Err(fail(&v.pointer, &v.rule));
            }
            let key = partition_key(entry);
            let partition = partitions
                .entry(key.clone())
                .or_insert_with(|| Partition::new(IdGen::new(seed, &[&key.key, account(&key)])));
            let secret = ctx
                .secret(entry, partition, &origins)
                .map_err(|(field, rule)| fail(&field, &rule))?;
            origins.insert(secret.id.clone(), (d, i));
            partition.insert(secret);
            Ok(())
        })?;
    }
    Ok(Loaded {
        partitions,
        clock: clock.map(|c| c.0),
    })
}

fn account(key: &PartitionKey) -> &str {
    key.account.as_deref().unwrap_or("")
}

fn pointer(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

fn partition_key(entry: &Value) -> PartitionKey {
    PartitionKey::new(
        entry["app"].as_str().unwrap_or_default(),
        entry.get("account").and_then(Value::as_str),
    )
}

/// What checking one fixture secret needs.
struct Check<'a> {
    /// The clock's start: the default `created`.
    start: i64,
    /// The Stripe spec, whose `apps.secret` each secret must match.
    spec: &'a Spec,
    /// The per-scope limit.
    max_per_scope: usize,
    /// All documents, to name where an earlier secret came from.
    docs: &'a [Doc],
}

impl Check<'_> {
    /// Checks one fixture secret against the spec and the store's rules, and
    /// returns it, or the field at fault (relative to the entry) and the rule
    /// it breaks.
    fn secret(
        &self,
        entry: &Value,
        partition: &mut Partition,
        origins: &HashMap<String, Origin>,
    ) -> Result<Secret, (String, String)> {
        let key = partition_key(entry);
        let Some(livemode) = auth::mode(&key.key) else {
            return Err((
                "/app".into(),
                "must be an API key such as sk_test_… (sk_ or rk_, then test_ or live_)".into(),
            ));
        };
        let id = match entry.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => partition.new_secret_id(),
        };
        let created = entry
            .get("created")
            .and_then(Value::as_i64)
            .unwrap_or(self.start);
        let expires_at = entry.get("expires_at").and_then(Value::as_i64);
        let text = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
        let kind = entry.pointer("/scope/type").and_then(Value::as_str);
        let user = entry.pointer("/scope/user").and_then(Value::as_str);

        // The secret exactly as the API would serve it (payload expanded):
        // lengths and scope types come from the spec.
        let served = api::render_parts(
            &id,
            created,
            expires_at,
            livemode,
            &entry["name"],
            Some(&entry["payload"]),
            entry["scope"].clone(),
        );
        if let Some(v) = self.spec.violations("apps.secret", &served).first() {
            return Err((v.pointer.clone(), v.rule.clone()));
        }

        let id_tail = id.strip_prefix("appsecret_").unwrap_or("");
        if id_tail.is_empty() || !id_tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err((
                "/id".into(),
                "must be appsecret_ followed by letters and digits".into(),
            ));
        }
        if origins.contains_key(&id) {
            return Err(("/id".into(), "is used by another secret".into()));
        }
        let scope = Scope::parse(kind, user).map_err(|e| {
            let rule = match e {
                ScopeError::MissingUser => "is required when scope.type is user",
                ScopeError::UnexpectedUser => "must be absent unless scope.type is user",
            };
            ("/scope/user".to_string(), rule.to_string())
        })?;
        if let Some(at_expiry) = expires_at {
            if at_expiry <= created {
                return Err((
                    "/expires_at".into(),
                    format!("must be after created ({created})"),
                ));
            }
        }
        let name = text("name");
        if let Some(first) = partition.find(&scope, &name) {
            let (d, i) = origins[&first.id];
            return Err((
                "/name".into(),
                format!(
                    "duplicates {}: /secrets/{i} (same app, account and scope)",
                    self.docs[d].name
                ),
            ));
        }
        if partition.count(&scope) >= self.max_per_scope {
            return Err((
                String::new(),
                format!(
                    "its scope already holds {} secrets, the limit per scope",
                    self.max_per_scope
                ),
            ));
        }
        Ok(Secret {
            id,
            name,
            payload: text("payload"),
            scope,
            created,
            expires_at,
        })
    }
}

/// Secrets and the clock in the fixture format: partitions in key order,
/// each partition's secrets in the order they were set.
pub(crate) fn export<'a>(
    partitions: impl Iterator<Item = (&'a PartitionKey, &'a Partition)>,
    now: i64,
) -> Value {
    let secrets: Vec<Value> = partitions
        .flat_map(|(key, partition)| partition.secrets().map(move |s| export_secret(key, s)))
        .collect();
    json!({ "clock": { "now": now }, "secrets": secrets })
}

/// The fixture format's envelope, its `secrets` empty (see [`export`]).
pub(crate) fn export_envelope(now: i64) -> Value {
    json!({ "clock": { "now": now }, "secrets": [] })
}

/// One secret of `key`'s partition in the fixture format.
pub(crate) fn export_secret(key: &PartitionKey, s: &Secret) -> Value {
    let mut e = Map::new();
    e.insert("app".into(), json!(key.key));
    if let Some(account) = &key.account {
        e.insert("account".into(), json!(account));
    }
    e.insert("id".into(), json!(s.id));
    e.insert("name".into(), json!(s.name));
    e.insert("payload".into(), json!(s.payload));
    e.insert("scope".into(), s.scope.to_tree().to_value());
    e.insert("created".into(), json!(s.created));
    e.insert("expires_at".into(), json!(s.expires_at));
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_load(doc: Value) -> Result<Loaded, FixtureError> {
        load(
            &[Doc::parsed("a.json", doc)],
            0,
            None,
            Spec::bundled(),
            Spec::control(),
            10,
        )
    }

    fn secret(extra: Value) -> Value {
        let mut base =
            json!({"app": "sk_test_1", "name": "k", "payload": "v", "scope": {"type": "account"}});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    fn error_of(entries: Vec<Value>) -> String {
        try_load(json!({ "secrets": entries }))
            .err()
            .expect("load fails")
            .0
    }

    #[test]
    fn a_bad_scope_type_names_file_pointer_and_rule() {
        let e = error_of(vec![
            secret(json!({})),
            secret(json!({"name": "j", "scope": {"type": "team"}})),
        ]);
        assert_eq!(
            e,
            "a.json: /secrets/1/scope/type: must be one of account, user"
        );
    }

    #[test]
    fn store_rules_are_checked() {
        assert_eq!(
            error_of(vec![secret(json!({"app": "pk_test_1"}))]),
            "a.json: /secrets/0/app: must be an API key such as sk_test_… (sk_ or rk_, then test_ or live_)"
        );
        assert_eq!(
            error_of(vec![secret(json!({})), secret(json!({}))]),
            "a.json: /secrets/1/name: duplicates a.json: /secrets/0 (same app, account and scope)"
        );
        assert_eq!(
            error_of(vec![secret(json!({"id": "sec_1"}))]),
            "a.json: /secrets/0/id: must be appsecret_ followed by letters and digits"
        );
        assert_eq!(
            error_of(vec![secret(json!({"created": 100, "expires_at": 100}))]),
            "a.json: /secrets/0/expires_at: must be after created (100)"
        );
        assert_eq!(
            error_of(vec![secret(json!({"scope": {"type": "user"}}))]),
            "a.json: /secrets/0/scope/user: is required when scope.type is user"
        );
        let eleven: Vec<Value> = (0..11)
            .map(|i| secret(json!({"name": format!("n{i}")})))
            .collect();
        assert_eq!(
            error_of(eleven),
            "a.json: /secrets/10: its scope already holds 10 secrets, the limit per scope"
        );
        assert_eq!(
            error_of(vec![secret(json!({"colour": "red"}))]),
            "a.json: /secrets/0/colour: is not a known field"
        );
        assert_eq!(
            error_of(vec![secret(json!({"name": "x".repeat(5001)}))]),
            "a.json: /secrets/0/name: must be at most 5000 characters"
        );
    }

    #[test]
    fn a_clock_outside_1970_to_9999_is_refused() {
        let e = try_load(json!({"clock": {"now": 9_223_372_036_854_700_000_i64}, "secrets": []}));
        assert_eq!(
            e.err().unwrap().0,
            "a.json: /clock/now: must be between 0 (1970-01-01) and 253402300799 (9999-12-31)"
        );
    }

    #[test]
    fn the_same_name_in_other_partitions_or_scopes_is_fine() {
        let loaded = try_load(json!({"clock": {"now": 5}, "secrets": [
            secret(json!({})),
            secret(json!({"app": "sk_test_2"})),
            secret(json!({"account": "acct_1"})),
            secret(json!({"scope": {"type": "user", "user": "u"}})),
        ]}))
        .unwrap();
        assert_eq!(loaded.clock, Some(5));
        assert_eq!(loaded.partitions.len(), 3);
    }

    #[test]
    fn export_then_load_gives_the_same_secrets() {
        let loaded = try_load(json!({"clock": {"now": 50}, "secrets": [
            secret(json!({"expires_at": 60})),
            secret(json!({"name": "j", "account": "acct_1", "scope": {"type": "user", "user": "u"}})),
        ]}))
        .unwrap();
        let exported = export(loaded.partitions.iter(), 50);
        let again = try_load(exported.clone()).unwrap();
        assert_eq!(export(again.partitions.iter(), 50), exported);
        assert_eq!(exported["secrets"][0]["created"], 50);
    }

    fn load_all(docs: &[(&str, Value)]) -> Result<Loaded, FixtureError> {
        let docs: Vec<Doc> = docs
            .iter()
            .map(|(n, v)| Doc::parsed(n, v.clone()))
            .collect();
        load(&docs, 0, None, Spec::bundled(), Spec::control(), 10)
    }

    #[test]
    fn documents_may_repeat_a_clock_but_not_contradict_it() {
        let at = |now: i64| json!({"clock": {"now": now}, "secrets": []});
        assert_eq!(
            load_all(&[("a.json", at(5)), ("b.json", at(5))])
                .unwrap()
                .clock,
            Some(5)
        );
        assert_eq!(
            load_all(&[("a.json", at(5)), ("b.json", at(6))])
                .err()
                .unwrap()
                .0,
            "b.json: /clock/now: 6 conflicts with 5 set by a.json"
        );
    }

    #[test]
    fn a_document_that_is_not_an_object_is_refused_at_its_root() {
        assert_eq!(
            try_load(json!(5)).err().unwrap().0,
            "a.json: /: must be of type object"
        );
    }

    #[test]
    fn the_envelope_is_an_export_of_nothing() {
        assert_eq!(export_envelope(7), export(std::iter::empty(), 7));
        assert_eq!(
            export_envelope(7),
            json!({"clock": {"now": 7}, "secrets": []})
        );
    }
}
