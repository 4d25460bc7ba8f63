//! What a request came to, as one type: the operations return it (inside an
//! [`crate::error::ApiError`] or as a success), coverage enumerates and
//! counts it, and idempotency consults it to decide what is saved.
//!
//! Its text (`400 scope_full`, `200 has_more`, `404 replayed`) is what the
//! coverage report shows; it is made in one place, [`Outcome`]'s `Display`.

use std::fmt;

use hyper::StatusCode;

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// A 200 answer.
    Success,
    /// A 200 page of a listing with more after it.
    HasMore,
    /// A saved answer of this status, replayed for a retried
    /// `Idempotency-Key`.
    Replayed(StatusCode),
    /// An error answer, and why.
    Refused(StatusCode, Reason),
    /// The connection closed without an answer, by an injected fault.
    Closed,
}

/// Why a request was refused. The named reasons are the mock's behaviour
/// (docs/behaviour.md), one by one; any other error is named by its Stripe
/// `code`, else its `type`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reason {
    /// A new name in a scope already at its limit.
    ScopeFull,
    /// The store-wide bound on secrets or bytes is reached.
    StoreFull,
    /// `expires_at` not in the future.
    ExpiresAtPast,
    /// `expires_at` more than 100 years ahead.
    ExpiresAtTooFar,
    /// No secret of that name in the scope.
    SecretNotFound,
    /// A list cursor names no secret.
    CursorNotFound,
    /// Both list cursors at once.
    CursorsConflict,
    /// `scope[type]=user` without `scope[user]`.
    ScopeUserMissing,
    /// `scope[user]` with `scope[type]=account`.
    ScopeUserUnexpected,
    /// An `expand[]` value not expandable here.
    ExpandInvalid,
    /// An `Idempotency-Key` reused with other parameters.
    IdempotencyKeyReused,
    /// An `Idempotency-Key` still in flight.
    IdempotencyKeyInUse,
    /// A required parameter left out (the spec names it).
    ParameterMissing(String),
    /// A parameter the spec does not define.
    ParameterUnknown,
    /// A value the spec refuses.
    ParameterInvalid,
    /// More parameters than a request may send.
    TooManyParameters,
    /// No API key.
    ApiKeyMissing,
    /// A malformed or unaccepted API key.
    ApiKeyInvalid,
    /// A `Stripe-Version` that names no published version.
    ApiVersionInvalid,
    /// A UI extension's request for another user's secrets.
    UiExtensionScope,
    /// The app's manifest does not grant the Secret Store's permission.
    PermissionMissing,
    /// More request bodies held at once than the mock allows.
    RateLimit,
    /// An injected fault's status.
    InjectedFault,
    /// The mock's answer broke the spec (strict mode).
    SpecViolation,
    /// Any other error, by its Stripe `code` or else its `type`.
    Other(&'static str),
}

impl Reason {
    /// The status this reason always answers with; `None` for those whose
    /// status varies (an injected fault, another error).
    pub fn status(&self) -> Option<StatusCode> {
        use Reason::*;
        Some(match self {
            ScopeFull | StoreFull | ExpiresAtPast | ExpiresAtTooFar | CursorNotFound
            | CursorsConflict | ScopeUserMissing | ScopeUserUnexpected | ExpandInvalid
            | IdempotencyKeyReused | ParameterMissing(_) | ParameterUnknown | ParameterInvalid
            | TooManyParameters => StatusCode::BAD_REQUEST,
            SecretNotFound => StatusCode::NOT_FOUND,
            IdempotencyKeyInUse => StatusCode::CONFLICT,
            ApiKeyMissing | ApiKeyInvalid => StatusCode::UNAUTHORIZED,
            ApiVersionInvalid => StatusCode::BAD_REQUEST,
            UiExtensionScope | PermissionMissing => StatusCode::FORBIDDEN,
            RateLimit => StatusCode::TOO_MANY_REQUESTS,
            SpecViolation => StatusCode::INTERNAL_SERVER_ERROR,
            InjectedFault | Other(_) => return None,
        })
    }

    /// The name coverage shows after the status.
    fn name(&self) -> &str {
        use Reason::*;
        match self {
            ScopeFull => "scope_full",
            StoreFull => "store_full",
            ExpiresAtPast => "expires_at_past",
            ExpiresAtTooFar => "expires_at_too_far",
            SecretNotFound => "secret_not_found",
            CursorNotFound => "cursor_not_found",
            CursorsConflict => "cursors_conflict",
            ScopeUserMissing => "scope_user_missing",
            ScopeUserUnexpected => "scope_user_unexpected",
            ExpandInvalid => "expand_invalid",
            IdempotencyKeyReused => "idempotency_key_reused",
            IdempotencyKeyInUse => "idempotency_key_in_use",
            ParameterMissing(_) => "parameter_missing",
            ParameterUnknown => "parameter_unknown",
            ParameterInvalid => "parameter_invalid",
            TooManyParameters => "too_many_parameters",
            ApiKeyMissing => "api_key_missing",
            ApiKeyInvalid => "api_key_invalid",
            ApiVersionInvalid => "api_version_invalid",
            UiExtensionScope => "ui_extension_scope",
            PermissionMissing => "permission_missing",
            RateLimit => "rate_limit",
            InjectedFault => "injected_fault",
            SpecViolation => "spec_violation",
            Other(name) => name,
        }
    }

    /// What it means, in the coverage report.
    pub fn description(&self) -> Option<&'static str> {
        use Reason::*;
        Some(match self {
            ScopeFull => "a new name in a scope already at its limit",
            StoreFull => "the store-wide bound reached",
            ExpiresAtPast => "expires_at not in the future",
            ExpiresAtTooFar => "expires_at more than 100 years ahead",
            SecretNotFound => "no secret of that name in the scope",
            CursorNotFound => "starting_after or ending_before names no secret",
            CursorsConflict => "both starting_after and ending_before",
            ScopeUserMissing => "scope[type]=user without scope[user]",
            ScopeUserUnexpected => "scope[user] with scope[type]=account",
            ExpandInvalid => "an expand[] value not expandable here",
            IdempotencyKeyReused => "an Idempotency-Key reused with other parameters",
            IdempotencyKeyInUse => "an Idempotency-Key still in flight",
            ParameterMissing(_) => "a required parameter left out",
            ParameterUnknown => "a parameter the spec does not define",
            ParameterInvalid => "a value the spec refuses",
            ApiKeyMissing => "no API key",
            ApiKeyInvalid => "a malformed or unaccepted API key",
            ApiVersionInvalid => "a Stripe-Version that names no published version",
            UiExtensionScope => "a UI extension asking for another user's secrets",
            PermissionMissing => "an app whose manifest lacks secret_write",
            TooManyParameters | RateLimit | InjectedFault | SpecViolation | Other(_) => {
                return None
            }
        })
    }
}

impl Outcome {
    /// The outcome of refusing for `reason`, at the status it always has.
    /// `None` for a reason whose status varies.
    pub fn refused(reason: Reason) -> Option<Outcome> {
        Some(Outcome::Refused(reason.status()?, reason))
    }

    /// What it means, in the coverage report (`None` for outcomes the
    /// mock does not list for an operation: a fault, a malformed request).
    pub fn description(&self) -> Option<&'static str> {
        match self {
            Outcome::Success => Some("success"),
            Outcome::HasMore => Some("a page with more secrets after it"),
            Outcome::Replayed(_) => {
                Some("a retried Idempotency-Key answered from the saved response")
            }
            Outcome::Refused(_, reason) => reason.description(),
            Outcome::Closed => None,
        }
    }

    /// Whether an answer that came to this, after its operation started
    /// executing, is saved for a retried `Idempotency-Key`. Stripe saves
    /// those answers, except parameter errors (every 400 the operations
    /// give) and a response replaced for breaking the spec
    /// (docs/behaviour.md §6).
    pub fn saved_for_replay(&self) -> bool {
        match self {
            Outcome::Success | Outcome::HasMore => true,
            Outcome::Refused(status, reason) => {
                *status != StatusCode::BAD_REQUEST && *reason != Reason::SpecViolation
            }
            Outcome::Replayed(_) | Outcome::Closed => false,
        }
    }
}

/// `200`, `200 has_more`, `404 replayed`, `400 scope_full`,
/// `400 parameter_missing (name)`, `closed injected_fault`.
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("200"),
            Outcome::HasMore => f.write_str("200 has_more"),
            Outcome::Replayed(status) => write!(f, "{} replayed", status.as_u16()),
            Outcome::Refused(status, Reason::ParameterMissing(param)) => {
                write!(f, "{} parameter_missing ({param})", status.as_u16())
            }
            Outcome::Refused(status, reason) => write!(f, "{} {}", status.as_u16(), reason.name()),
            Outcome::Closed => f.write_str("closed injected_fault"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_coverage_shows_them() {
        let shown = [
            (Outcome::Success, "200"),
            (Outcome::HasMore, "200 has_more"),
            (Outcome::Replayed(StatusCode::NOT_FOUND), "404 replayed"),
            (
                Outcome::refused(Reason::ScopeFull).unwrap(),
                "400 scope_full",
            ),
            (
                Outcome::refused(Reason::ParameterMissing("name".into())).unwrap(),
                "400 parameter_missing (name)",
            ),
            (
                Outcome::Refused(StatusCode::SERVICE_UNAVAILABLE, Reason::InjectedFault),
                "503 injected_fault",
            ),
            (
                Outcome::Refused(
                    StatusCode::NOT_FOUND,
                    Reason::Other("invalid_request_error"),
                ),
                "404 invalid_request_error",
            ),
            (Outcome::Closed, "closed injected_fault"),
        ];
        for (outcome, text) in shown {
            assert_eq!(outcome.to_string(), text);
        }
        assert_eq!(Outcome::refused(Reason::InjectedFault), None);
    }

    #[test]
    fn parameter_errors_and_replaced_answers_are_not_saved() {
        assert!(Outcome::Success.saved_for_replay());
        assert!(Outcome::HasMore.saved_for_replay());
        assert!(Outcome::refused(Reason::SecretNotFound)
            .unwrap()
            .saved_for_replay());
        assert!(!Outcome::refused(Reason::ScopeFull)
            .unwrap()
            .saved_for_replay());
        assert!(!Outcome::refused(Reason::SpecViolation)
            .unwrap()
            .saved_for_replay());
        assert!(!Outcome::Closed.saved_for_replay());
    }
}
