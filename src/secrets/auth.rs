//! API keys: where they are read from (Bearer or Basic), which shapes are
//! accepted, the optional allow-list, and Stripe's masked error messages.

use base64::Engine;

use crate::error::ApiError;
use crate::outcome::Reason;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct App {
    /// The key as sent; one key is one app.
    pub key: String,
    /// `true` for `_live_` keys.
    pub livemode: bool,
}

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the \
Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See \
https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/// Authenticates the `Authorization` header value. `allow` empty means any
/// well-formed key.
pub(crate) fn authenticate(header: Option<&str>, allow: &[String]) -> Result<App, ApiError> {
    let key = header.and_then(key_from_header).filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(ApiError::invalid(NO_KEY, None).because(Reason::ApiKeyMissing));
    };
    let livemode = match mode(&key) {
        Some(live) if allow.is_empty() || allow.contains(&key) => live,
        _ => {
            return Err(ApiError::invalid(
                format!("Invalid API Key provided: {}", mask(&key)),
                None,
            )
            .because(Reason::ApiKeyInvalid))
        }
    };
    Ok(App { key, livemode })
}

/// `Bearer KEY`, `Basic base64(KEY:)` or `Basic KEY`. Any other scheme
/// counts as no key.
pub(crate) fn key_from_header(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return Some(match decoded {
            Some(pair) => pair
                .split_once(':')
                .map(|(u, _)| u)
                .unwrap_or(&pair)
                .to_string(),
            None => rest.to_string(),
        });
    }
    None
}

/// The longest key that is well formed. Stripe's keys today are 107
/// characters (`sk_test_` and 99 more) and its guidance is to expect up to
/// 255 for its identifiers; a longer "key" is malformed (docs/behaviour.md
/// §2), so no request can name a partition with tens of kilobytes.
pub(crate) const MAX_KEY_CHARS: usize = 255;

/// `Some(livemode)` for a well-formed key: `(sk|rk)_(test|live)_[A-Za-z0-9]+`,
/// at most [`MAX_KEY_CHARS`] long.
pub(crate) fn mode(key: &str) -> Option<bool> {
    if key.len() > MAX_KEY_CHARS {
        return None;
    }
    let rest = key
        .strip_prefix("sk_")
        .or_else(|| key.strip_prefix("rk_"))?;
    let (live, tail) = if let Some(t) = rest.strip_prefix("test_") {
        (false, t)
    } else {
        (true, rest.strip_prefix("live_")?)
    };
    // Stripe issues letters and digits after the prefix; the Stripe CLI
    // also takes `_` there (`sk_test_cli_0123456789`), and so does the mock.
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (tail.bytes().all(word) && tail.bytes().any(|b| b.is_ascii_alphanumeric())).then_some(live)
}

/// At most this many `*` in a masked key.
const MAX_MASK: usize = 1_000;

/// The longest key kind (`sk`, `rk`, `pk`, …) shown unmasked.
const MAX_KIND: usize = 4;

/// Every character after the `xx_mode_` prefix becomes `*` but the last 4.
pub(crate) fn mask(key: &str) -> String {
    // The `xx_test_` / `xx_live_` prefix stays readable, whatever `xx` is
    // (a publishable `pk_` key sent by mistake is shown as such), if `xx`
    // is a short word: a long one would make the message as long as the key.
    let prefix_len = key
        .split_once('_')
        .filter(|(kind, _)| {
            (1..=MAX_KIND).contains(&kind.len()) && kind.bytes().all(|b| b.is_ascii_lowercase())
        })
        .and_then(|(kind, rest)| {
            ["test_", "live_"]
                .iter()
                .find(|m| rest.starts_with(*m))
                .map(|m| kind.len() + 1 + m.len())
        })
        .unwrap_or(0);
    let (prefix, rest) = key.split_at(prefix_len);
    let hidden = rest.chars().count().saturating_sub(4);
    let tail = rest
        .char_indices()
        .nth(hidden)
        .map_or("", |(at, _)| &rest[at..]);
    // An absurdly long key still yields an error body within the spec's limits.
    let stars = hidden.min(MAX_MASK);
    let mut masked = String::with_capacity(prefix.len() + stars + tail.len());
    masked.push_str(prefix);
    masked.extend(std::iter::repeat_n('*', stars));
    masked.push_str(tail);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_both_basic_forms_are_read() {
        let app = authenticate(Some("Bearer sk_test_123"), &[]).unwrap();
        assert_eq!(
            app,
            App {
                key: "sk_test_123".into(),
                livemode: false
            }
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("sk_live_abc:");
        assert!(
            authenticate(Some(&format!("Basic {b64}")), &[])
                .unwrap()
                .livemode
        );
        assert_eq!(
            authenticate(Some("Basic sk_test_1"), &[]).unwrap().key,
            "sk_test_1"
        );
    }

    #[test]
    fn missing_key_is_401_with_stripe_wording() {
        for h in [None, Some("Bearer "), Some("Token sk_test_1")] {
            let e = authenticate(h, &[]).unwrap_err();
            assert_eq!(e.status, 401);
            assert!(
                e.message.starts_with("You did not provide an API key."),
                "{h:?}"
            );
        }
    }

    #[test]
    fn malformed_or_unlisted_keys_are_masked() {
        let e = authenticate(Some("Bearer sk_test_abc-def1234"), &[]).unwrap_err();
        assert_eq!(e.message, "Invalid API Key provided: sk_test_*******1234");
        assert!(authenticate(Some("Bearer pk_test_1"), &[]).is_err());
        let allow = vec!["sk_test_good".to_string()];
        assert!(authenticate(Some("Bearer sk_test_good"), &allow).is_ok());
        let e = authenticate(Some("Bearer sk_test_other1234"), &allow).unwrap_err();
        assert_eq!(e.message, "Invalid API Key provided: sk_test_*****1234");
        let huge = format!("Bearer sk_test_{}", "-".repeat(50_000));
        let e = authenticate(Some(&huge), &[]).unwrap_err();
        assert!(e.message.len() < 1_100, "{}", e.message.len());
        // A long lowercase "kind" is not kept readable: it is masked too.
        let long_kind = format!("Bearer {}_test_1234", "a".repeat(50_000));
        let e = authenticate(Some(&long_kind), &[]).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(e.message.len() < 1_100, "{}", e.message.len());
        assert!(e.message.ends_with("*_1234") || e.message.ends_with("1234"));
        assert_eq!(mask("pk_live_abcd1234"), "pk_live_****1234");
        assert_eq!(mask("abcd_test_x1234"), "abcd_test_*1234");
        assert_eq!(mask("abcde_test_1234"), "***********1234");
    }

    #[test]
    fn keys_are_well_formed_up_to_255_characters_and_not_beyond() {
        let at_bound = format!("sk_test_{}", "a".repeat(MAX_KEY_CHARS - "sk_test_".len()));
        assert_eq!(at_bound.len(), MAX_KEY_CHARS);
        assert!(authenticate(Some(&format!("Bearer {at_bound}")), &[]).is_ok());
        let past = format!("{at_bound}a");
        let e = authenticate(Some(&format!("Bearer {past}")), &[]).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(e
            .message
            .starts_with("Invalid API Key provided: sk_test_***"));
        // Stripe's current keys: `sk_test_` and 99 alphanumerics.
        let stripe_shaped = format!("sk_test_51{}", "A1b2C3".repeat(17))
            .chars()
            .take(107)
            .collect::<String>();
        assert_eq!(stripe_shaped.len(), 107);
        assert_eq!(mode(&stripe_shaped), Some(false));
        // What the Stripe CLI takes: `_` after the prefix.
        assert_eq!(mode("sk_test_cli_0123456789"), Some(false));
        assert_eq!(mode("rk_live_a_b"), Some(true));
        assert_eq!(mode("sk_test___"), None);
        assert_eq!(mode("sk_test_a-b"), None);
    }
}
