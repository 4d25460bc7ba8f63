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
//! The document's shape is checked against the control spec's `fixture`
//! schema; each secret is then turned into the `apps.secret` it will be served
//! as and checked against the Stripe spec's schema (so lengths and scope types
//! come from the spec), and finally against the store's own rules. The first
//! problem is reported as `SOURCE: POINTER: RULE`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::auth;
use crate::clock::DEFAULT_NOW;
use crate::spec::Spec;
use crate::store::{PartitionKey, Scope, ScopeError, Secret, Store};

/// Where a fixture comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FixtureSource {
    /// A JSON file, or a folder whose `*.json` files are read in name order.
    Path(PathBuf),
    /// JSON text, named for error messages.
    Inline {
        /// Shown in error messages in place of a file name.
        name: String,
        /// The fixture document.
        json: String,
    },
}

/// A parsed fixture document and the name its errors carry.
pub(crate) type Doc = (String, Value);

/// Reads every source into parsed documents, in order.
pub(crate) fn read(sources: &[FixtureSource]) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for source in sources {
        match source {
            FixtureSource::Path(path) if path.is_dir() => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| format!("{}: cannot read folder: {e}", path.display()))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                files.sort();
                for file in files {
                    docs.push(read_file(&file)?);
                }
            }
            FixtureSource::Path(path) => docs.push(read_file(path)?),
            FixtureSource::Inline { name, json } => docs.push((name.clone(), parse(name, json)?)),
        }
    }
    Ok(docs)
}

fn read_file(path: &Path) -> Result<Doc, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    Ok((name.clone(), parse(&name, &text)?))
}

fn parse(name: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{name}: not valid JSON: {e}"))
}

/// What loading produced: a store and the clock's start, if a fixture set it.
pub(crate) struct Loaded {
    /// The seeded store.
    pub store: Store,
    /// `clock.now` of the fixtures, if any names one.
    pub clock: Option<i64>,
}

/// Checks `docs` and builds a store seeded with their secrets. `now` is the
/// clock's start when no fixture sets it (and the default `created`).
pub(crate) fn load(
    docs: &[Doc],
    seed: u64,
    now: Option<i64>,
    spec: &Spec,
    control: &Spec,
    max_per_scope: usize,
) -> Result<Loaded, String> {
    let mut clock: Option<(i64, &str)> = None;
    for (source, doc) in docs {
        if let Some(v) = control.violations("fixture", doc).first() {
            return Err(format!("{source}: {}: {}", pointer(&v.pointer), v.rule));
        }
        if let Some(t) = doc.pointer("/clock/now").and_then(Value::as_i64) {
            match clock {
                Some((other, from)) if other != t => {
                    return Err(format!(
                        "{source}: /clock/now: {t} conflicts with {other} set by {from}"
                    ))
                }
                _ => clock = Some((t, source)),
            }
        }
    }
    let start = now.or(clock.map(|c| c.0)).unwrap_or(DEFAULT_NOW);
    let mut store = Store::new(seed);
    let mut ids = HashSet::new();
    let mut names: BTreeMap<(PartitionKey, Scope, String), String> = BTreeMap::new();
    for (source, doc) in docs {
        let secrets = doc.get("secrets").and_then(Value::as_array);
        for (i, entry) in secrets.into_iter().flatten().enumerate() {
            let at = format!("/secrets/{i}");
            let fail = |field: &str, rule: String| format!("{source}: {at}{field}: {rule}");
            let secret = check_secret(
                entry,
                &mut store,
                start,
                spec,
                max_per_scope,
                &mut ids,
                &mut names,
                source,
                &at,
            )
            .map_err(|(field, rule)| fail(&field, rule))?;
            let key = partition_key(entry);
            store.partition(&key).insert(secret);
        }
    }
    Ok(Loaded {
        store,
        clock: clock.map(|c| c.0),
    })
}

fn pointer(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

fn partition_key(entry: &Value) -> PartitionKey {
    PartitionKey {
        key: entry["app"].as_str().unwrap_or_default().to_string(),
        account: entry
            .get("account")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(String::from),
    }
}

/// Checks one fixture secret and returns it, or the field at fault (relative
/// to the entry) and the rule it breaks.
#[allow(clippy::too_many_arguments)]
fn check_secret(
    entry: &Value,
    store: &mut Store,
    start: i64,
    spec: &Spec,
    max_per_scope: usize,
    ids: &mut HashSet<String>,
    names: &mut BTreeMap<(PartitionKey, Scope, String), String>,
    source: &str,
    at: &str,
) -> Result<Secret, (String, String)> {
    let key = partition_key(entry);
    let Some(livemode) = auth::mode(&key.key) else {
        return Err((
            "/app".into(),
            "must be an API key such as sk_test_… (sk_ or rk_, then test_ or live_)".into(),
        ));
    };
    let partition = store.partition(&key);
    let id = match entry.get("id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => partition.new_secret_id(),
    };
    let created = entry
        .get("created")
        .and_then(Value::as_i64)
        .unwrap_or(start);
    let expires_at = entry.get("expires_at").and_then(Value::as_i64);

    // The secret exactly as the API would serve it (payload expanded).
    let mut served = Map::new();
    served.insert("id".into(), json!(id));
    served.insert("object".into(), json!("apps.secret"));
    served.insert("created".into(), json!(created));
    served.insert("expires_at".into(), json!(expires_at));
    served.insert("livemode".into(), json!(livemode));
    served.insert("name".into(), entry["name"].clone());
    served.insert("payload".into(), entry["payload"].clone());
    served.insert("scope".into(), entry["scope"].clone());
    if let Some(v) = spec
        .violations("apps.secret", &Value::Object(served))
        .first()
    {
        return Err((v.pointer.clone(), v.rule.clone()));
    }

    let id_tail = id.strip_prefix("appsecret_").unwrap_or("");
    if id_tail.is_empty() || !id_tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err((
            "/id".into(),
            "must be appsecret_ followed by letters and digits".into(),
        ));
    }
    if !ids.insert(id.clone()) {
        return Err(("/id".into(), "is used by another secret".into()));
    }
    let kind = entry.pointer("/scope/type").and_then(Value::as_str);
    let user = entry.pointer("/scope/user").and_then(Value::as_str);
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
    let name = entry["name"].as_str().unwrap_or_default().to_string();
    let slot = (key.clone(), scope.clone(), name.clone());
    if let Some(first) = names.get(&slot) {
        return Err((
            "/name".into(),
            format!("duplicates {first} (same app, account and scope)"),
        ));
    }
    if partition.count(&scope) >= max_per_scope {
        return Err((
            String::new(),
            format!("its scope already holds {max_per_scope} secrets, the limit per scope"),
        ));
    }
    names.insert(slot, format!("{source}: {at}"));
    Ok(Secret {
        id,
        name,
        payload: entry["payload"].as_str().unwrap_or_default().to_string(),
        scope,
        created,
        expires_at,
        seq: 0,
    })
}

/// The store's secrets and the clock, in the fixture format: partitions in
/// key order, each partition's secrets in the order they were set.
pub(crate) fn export(store: &Store, now: i64) -> Value {
    let mut secrets = Vec::new();
    for (key, partition) in store.partitions() {
        for s in partition.secrets() {
            let mut e = Map::new();
            e.insert("app".into(), json!(key.key));
            if let Some(account) = &key.account {
                e.insert("account".into(), json!(account));
            }
            e.insert("id".into(), json!(s.id));
            e.insert("name".into(), json!(s.name));
            e.insert("payload".into(), json!(s.payload));
            e.insert("scope".into(), s.scope.to_json());
            e.insert("created".into(), json!(s.created));
            e.insert("expires_at".into(), json!(s.expires_at));
            secrets.push(Value::Object(e));
        }
    }
    json!({ "clock": { "now": now }, "secrets": secrets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_load(doc: Value) -> Result<Loaded, String> {
        load(
            &[("a.json".into(), doc)],
            0,
            None,
            &Spec::bundled(),
            &Spec::control(),
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
    fn the_same_name_in_other_partitions_or_scopes_is_fine() {
        let loaded = try_load(json!({"clock": {"now": 5}, "secrets": [
            secret(json!({})),
            secret(json!({"app": "sk_test_2"})),
            secret(json!({"account": "acct_1"})),
            secret(json!({"scope": {"type": "user", "user": "u"}})),
        ]}))
        .unwrap();
        assert_eq!(loaded.clock, Some(5));
        assert_eq!(loaded.store.partitions().count(), 3);
    }

    #[test]
    fn export_then_load_gives_the_same_secrets() {
        let loaded = try_load(json!({"clock": {"now": 50}, "secrets": [
            secret(json!({"expires_at": 60})),
            secret(json!({"name": "j", "account": "acct_1", "scope": {"type": "user", "user": "u"}})),
        ]}))
        .unwrap();
        let exported = export(&loaded.store, 50);
        let again = try_load(exported.clone()).unwrap();
        assert_eq!(export(&again.store, 50), exported);
        assert_eq!(exported["secrets"][0]["created"], 50);
    }
}
