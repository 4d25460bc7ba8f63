//! `Idempotency-Key` on POST (BEHAVIOUR.md §6): when a saved answer is
//! replayed, when a key is refused, and how two requests' parameters are
//! compared. Saving happens in the pipeline (`mock.rs`), which knows whether
//! the request executed.

use serde_json::Value;

use crate::error::{abbreviate, ApiError, ErrorType};
use crate::store::{PartitionKey, Saved, Store};

/// Idempotency-Key rules (BEHAVIOUR.md §6) for a POST about to run: the
/// saved result to replay, if any, or the error that stops it.
pub(crate) fn idempotent_result(
    store: &mut Store,
    key: &PartitionKey,
    idem: &str,
    fingerprint: &Value,
    held: Option<&(PartitionKey, String)>,
) -> Result<Option<Saved>, ApiError> {
    if idem.chars().count() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::invalid(
            format!(
                "Invalid Idempotency-Key: keys must be at most {MAX_IDEMPOTENCY_KEY} characters \
                 long."
            ),
            None,
        ));
    }
    let entry = (key.clone(), idem.to_string());
    // Held in flight by another request (not by this one, delayed).
    if store.in_flight.contains(&entry) && held != Some(&entry) {
        return Err(ApiError {
            status: 409,
            kind: ErrorType::Idempotency,
            code: Some("idempotency_key_in_use"),
            message: format!(
                "There is currently another in-progress request using this Idempotent Key \
                 (that probably means you submitted twice, and the other request is still going \
                 through): {}. Please try again later.",
                abbreviate(idem)
            ),
            param: None,
        });
    }
    match store.partition(key).idempotency.get(idem) {
        None => Ok(None),
        Some(saved) if &saved.fingerprint == fingerprint => Ok(Some(saved.clone())),
        Some(_) => Err(ApiError {
            status: 400,
            kind: ErrorType::Idempotency,
            code: None,
            message: format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{}' if you meant to execute a \
                 different request.",
                abbreviate(idem)
            ),
            param: None,
        }),
    }
}

/// `Idempotency-Key` values longer than this are refused.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Decoded parameters with indexed hashes (`expand[0]`) turned into arrays,
/// so a retry that encodes arrays the other way still matches.
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

    #[test]
    fn indexed_hashes_normalize_to_arrays() {
        assert_eq!(
            normalize(&json!({"expand": {"1": "b", "0": "a"}, "scope": {"type": "x"}})),
            json!({"expand": ["a", "b"], "scope": {"type": "x"}})
        );
    }
}
