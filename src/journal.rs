//! The request journal: what the mock was asked and what it answered, so a
//! test can assert on the calls its code made. Payload values are redacted.

use serde_json::{json, Map, Value};

/// One request served on the Stripe paths.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// Mock clock when it was served.
    pub at: i64,
    /// The response's `Request-Id`.
    pub request_id: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The spec's `operationId`, or `None` for an unknown route.
    pub operation: Option<String>,
    /// The API key, masked as in Stripe's errors; `None` without a valid key.
    pub app: Option<String>,
    /// The `Stripe-Account` header.
    pub account: Option<String>,
    /// Decoded parameters (strings as sent), with every `payload` value
    /// replaced by `"[redacted]"`; `None` if they could not be decoded.
    pub params: Option<Value>,
    /// Response status; `None` when an injected fault closed the connection.
    pub status: Option<u16>,
    /// The `id` of the object in the response body, if any.
    pub object_id: Option<String>,
    /// The injected fault applied to it, described (`status 503`), if any.
    pub fault: Option<String>,
    /// Whether the answer was an idempotent replay of an earlier one.
    pub replayed: bool,
    /// The full key, for filtering by app; never shown.
    pub(crate) key: Option<String>,
}

impl RecordedRequest {
    /// The entry as the control endpoint shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "object": "mock.request",
            "at": self.at,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "app": self.app,
            "account": self.account,
            "params": self.params,
            "status": self.status,
            "object_id": self.object_id,
            "fault": self.fault,
            "replayed": self.replayed,
        })
    }

    /// Whether this request was made with API key `key`.
    pub fn made_with(&self, key: &str) -> bool {
        self.key.as_deref() == Some(key)
    }
}

/// The marker that replaces secret values in the journal.
pub(crate) const REDACTED: &str = "[redacted]";

/// `params` with every value under a `payload` key, at any depth, redacted.
pub(crate) fn redact(params: &Value) -> Value {
    match params {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "payload" {
                        json!(REDACTED)
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_values_are_redacted_at_any_depth() {
        let v = json!({"name": "k", "payload": "s3cr3t", "i": [{"payload": {"x": 1}}]});
        assert_eq!(
            redact(&v),
            json!({"name": "k", "payload": REDACTED, "i": [{"payload": REDACTED}]})
        );
    }
}
