//! Stripe App manifests (`stripe-app.json`): which apps the mock treats as
//! lacking the Secret Store's permission (docs/behaviour.md §12).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::error::BuildError;
use crate::secrets::context::SECRET_PERMISSION;
use crate::state::documents::read_regular;

/// The most a manifest file may hold.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Whether each app may use the Secret Store, from its manifest.
#[derive(Debug, Default)]
pub(crate) struct Permissions {
    /// By API key.
    per_key: HashMap<String, bool>,
    /// For every key without a manifest of its own (`None`: no manifest,
    /// every app may, as without this feature).
    others: Option<bool>,
}

impl Permissions {
    /// Reads every manifest: `(Some(key), path)` for one key, `(None,
    /// path)` for the others. The error names the file and what is wrong.
    pub fn load(manifests: &[(Option<String>, std::path::PathBuf)]) -> Result<Self, BuildError> {
        let mut out = Permissions::default();
        for (key, path) in manifests {
            let grants = grants_secret_write(path)?;
            match key {
                Some(key) => {
                    out.per_key.insert(key.clone(), grants);
                }
                None => out.others = Some(grants),
            }
        }
        Ok(out)
    }

    /// Whether the app with `key` may use the Secret Store.
    pub fn permitted(&self, key: &str) -> bool {
        self.per_key
            .get(key)
            .copied()
            .or(self.others)
            .unwrap_or(true)
    }
}

/// Whether the manifest at `path` lists [`SECRET_PERMISSION`] in its
/// `permissions`.
fn grants_secret_write(path: &Path) -> Result<bool, BuildError> {
    let fail = |reason: String| BuildError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let text = read_regular(path, MAX_MANIFEST_BYTES, "a manifest").map_err(fail)?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    let Value::Object(fields) = &manifest else {
        return Err(fail("a manifest is a JSON object".into()));
    };
    let permissions = match fields.get("permissions") {
        None => return Ok(false),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(fail("`permissions` must be an array".into())),
    };
    let mut grants = false;
    for (i, item) in permissions.iter().enumerate() {
        let Some(name) = item.get("permission").and_then(Value::as_str) else {
            return Err(fail(format!(
                "/permissions/{i}: each permission is an object with a `permission` string"
            )));
        };
        grants |= name == SECRET_PERMISSION;
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ssm-manifests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_manifest_grants_the_store_only_with_secret_write() {
        let with = manifest(
            "with.json",
            r#"{"id": "com.example", "permissions": [
                {"permission": "customer_read", "purpose": "x"},
                {"permission": "secret_write", "purpose": "y"}]}"#,
        );
        let without = manifest(
            "without.json",
            r#"{"permissions": [{"permission": "customer_read", "purpose": "x"}]}"#,
        );
        let p = Permissions::load(&[(None, without.clone()), (Some("sk_test_a".into()), with)])
            .unwrap();
        assert!(p.permitted("sk_test_a"));
        assert!(!p.permitted("sk_test_b"));
        assert!(Permissions::default().permitted("sk_test_b"));
        let none = manifest("none.json", r#"{"id": "com.example"}"#);
        assert!(!Permissions::load(&[(None, none)]).unwrap().permitted("k"));
        for bad in [
            "[]",
            "{",
            r#"{"permissions": {}}"#,
            r#"{"permissions": [{"purpose": "x"}]}"#,
        ] {
            let path = manifest("bad.json", bad);
            let e = Permissions::load(&[(None, path)]).unwrap_err().to_string();
            assert!(e.contains("bad.json"), "{e}");
        }
    }
}
