//! The Stripe Apps context a request runs in (docs/behaviour.md §12): the
//! API version it names, the account it acts in (`Stripe-Account` or
//! `Stripe-Context`), whether it comes from a UI extension on behalf of a
//! Dashboard user, and whether the app's manifest grants what the Secret
//! Store needs.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::error::{echo, ApiError};
use crate::outcome::Reason;
use crate::secrets::store::Scope;

/// Every published API version, with its source: the one table.
const VERSIONS: &str = include_str!("../../spec/stripe_api_versions.json");

/// The longest account context accepted. Stripe's account ids are `acct_`
/// and 16 characters; the bound keeps a header from naming a partition
/// with kilobytes (it is written into every export of that partition).
pub(crate) const MAX_ACCOUNT_CHARS: usize = 255;

/// The permission the Secret Store needs in an app's manifest.
pub(crate) const SECRET_PERMISSION: &str = "secret_write";

fn versions() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Table {
            versions: Vec<String>,
        }
        serde_json::from_str::<Table>(VERSIONS)
            .map(|t| t.versions.into_iter().collect())
            .unwrap_or_default()
    })
}

/// Whether `sent` is a `Stripe-Version` the mock serves: a published
/// version (or the spec's own); with `strict`, only the spec's.
pub(crate) fn version_accepted(sent: &str, spec_version: &str, strict: bool) -> bool {
    sent == spec_version || (!strict && versions().contains(sent))
}

/// Refuses a `Stripe-Version` as Stripe does: a value that is no published
/// version (a date without its release name since 2024-09-30, a typo) is
/// `Invalid Stripe API version: <value>`; a beta suffix
/// (`2025-07-30.basil; foo_beta=v1`) names a beta this mock's account may
/// not use. With `strict` (stripe-mock's `-strict-version-check`), any
/// version but the spec's is refused, naming both.
pub(crate) fn check_version(sent: &str, spec_version: &str, strict: bool) -> Result<(), ApiError> {
    if version_accepted(sent, spec_version, strict) {
        return Ok(());
    }
    let shown = echo(sent);
    let mut parts = sent.split(';').map(str::trim);
    let base = parts.next().unwrap_or_default();
    let beta = parts
        .next()
        .map(|b| b.split('=').next().unwrap_or(b).trim());
    let message = match beta {
        Some(beta) if version_accepted(base, spec_version, strict) => format!(
            "Invalid Stripe API version: {shown}. You do not have permission to pass this beta \
             header: {}.",
            echo(beta)
        ),
        _ if strict => format!(
            "Invalid Stripe API version: {shown}. This mock runs with --strict-version-check: \
             it serves only {spec_version}, the version of its OpenAPI document."
        ),
        _ => format!("Invalid Stripe API version: {shown}"),
    };
    Err(ApiError::invalid(message, None).because(Reason::ApiVersionInvalid))
}

/// The account a request acts in: `Stripe-Context` (its `/`-separated
/// segments, as sent) or `Stripe-Account`; the same account by either
/// header is the same partition. Both sent and naming different contexts
/// is refused, as is a context with an empty segment or one longer than
/// [`MAX_ACCOUNT_CHARS`]. `None`: the platform.
pub(crate) fn account<'a>(
    stripe_account: Option<&'a str>,
    stripe_context: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    let too_long = |header: &str, what: &str| {
        ApiError::invalid(
            format!("Invalid {header} header: {what} is at most {MAX_ACCOUNT_CHARS} characters."),
            None,
        )
    };
    let account = stripe_account.filter(|a| !a.is_empty());
    if account.is_some_and(|a| a.len() > MAX_ACCOUNT_CHARS) {
        return Err(too_long("Stripe-Account", "an account id"));
    }
    let Some(context) = stripe_context.filter(|c| !c.is_empty()) else {
        return Ok(account);
    };
    if context.len() > MAX_ACCOUNT_CHARS {
        return Err(too_long("Stripe-Context", "an account context"));
    }
    if context.split('/').any(|segment| segment.trim().is_empty()) {
        return Err(ApiError::invalid(
            format!(
                "Invalid Stripe-Context header: {}: each `/`-separated segment must name an \
                 account.",
                echo(context)
            ),
            None,
        ));
    }
    match account {
        Some(a) if a != context => Err(ApiError::invalid(
            format!(
                "The Stripe-Account header ({}) and the Stripe-Context header ({}) name different \
                 accounts. Send one of them, or the same account in both.",
                echo(a),
                echo(context)
            ),
            None,
        )),
        _ => Ok(Some(context)),
    }
}

/// Who sends a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The app's backend, with its secret key.
    Backend,
    /// The app's UI extension, rendered in the Dashboard for this user
    /// (the mock-only `Stripe-Mock-UI-Extension-User` header).
    UiExtension(String),
}

/// The header that marks a request as a UI extension's, for a user.
pub(crate) const UI_EXTENSION_HEADER: &str = "stripe-mock-ui-extension-user";

/// "Requests originating from UI extensions can only access account-scoped
/// secrets or secrets scoped to their own user" (Stripe's API reference):
/// any other scope is refused (the wording is the mock's).
pub(crate) fn check_scope(caller: &Caller, scope: &Scope) -> Result<(), ApiError> {
    let (Caller::UiExtension(me), Scope::User(user)) = (caller, scope) else {
        return Ok(());
    };
    if me == user {
        return Ok(());
    }
    Err(ApiError::invalid(
        format!(
            "Requests originating from UI extensions can only access account-scoped secrets or \
             secrets scoped to their own user ({}); this one names the user {}.",
            echo(me),
            echo(user)
        ),
        Some("scope[user]".into()),
    )
    .because(Reason::UiExtensionScope))
}

/// Stripe's answer to an app whose manifest lacks [`SECRET_PERMISSION`]:
/// its status, type, code and sentence, naming the permission (Stripe's
/// own message names a scope that misleads app developers).
pub(crate) fn permission_missing(account: Option<&str>) -> ApiError {
    let on = match account {
        Some(a) => format!("account '{}'", echo(a)),
        None => "the platform account".to_string(),
    };
    ApiError::invalid(
        format!(
            "This application does not have the required permissions for this endpoint on \
             {on}. Having the '{SECRET_PERMISSION}' permission would allow this request to \
             continue."
        ),
        None,
    )
    .with_code("more_permissions_required_for_application")
    .because(Reason::PermissionMissing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_published_ones_with_their_release_names() {
        let ok = |v: &str| check_version(v, "2023-10-16", false).is_ok();
        assert!(ok("2023-10-16"));
        assert!(ok("2020-08-27"));
        assert!(ok("2025-07-30.basil"));
        assert!(ok("2026-10-28.endive"));
        let refused = |v: &str| check_version(v, "2023-10-16", false).unwrap_err().message;
        assert_eq!(
            refused("2019-2-19"),
            "Invalid Stripe API version: 2019-2-19"
        );
        assert_eq!(
            refused("2022-08-02"),
            "Invalid Stripe API version: 2022-08-02"
        );
        assert_eq!(
            refused("2025-07-30"),
            "Invalid Stripe API version: 2025-07-30"
        );
        assert_eq!(
            refused("2025-07-30.acacia"),
            "Invalid Stripe API version: 2025-07-30.acacia"
        );
        assert_eq!(
            refused("2025-07-30.basil; foo_beta=v1"),
            "Invalid Stripe API version: 2025-07-30.basil; foo_beta=v1. You do not have \
             permission to pass this beta header: foo_beta."
        );
        // A beta on an unpublished version: the version is what is wrong.
        assert_eq!(
            refused("2025-07-30; foo_beta=v1"),
            "Invalid Stripe API version: 2025-07-30; foo_beta=v1"
        );
        let e = check_version("2020-08-27", "2023-10-16", true).unwrap_err();
        assert!(
            e.message.contains("serves only 2023-10-16"),
            "{}",
            e.message
        );
        assert_eq!(e.status, 400);
        // The spec's own version is always served, listed or not.
        assert!(check_version("2099-01-01", "2099-01-01", true).is_ok());
    }

    #[test]
    fn either_header_names_the_account_and_they_must_agree() {
        assert_eq!(account(Some("acct_1"), None).unwrap(), Some("acct_1"));
        assert_eq!(account(None, Some("acct_1")).unwrap(), Some("acct_1"));
        assert_eq!(
            account(Some("acct_1"), Some("acct_1")).unwrap(),
            Some("acct_1")
        );
        assert_eq!(
            account(None, Some("acct_1/acct_2")).unwrap(),
            Some("acct_1/acct_2")
        );
        assert_eq!(account(Some(""), None).unwrap(), None);
        assert!(account(Some("acct_1"), Some("acct_2")).is_err());
        assert!(account(None, Some("acct_1//acct_2")).is_err());
        assert!(account(None, Some("/acct_1")).is_err());
        let long = "a".repeat(MAX_ACCOUNT_CHARS + 1);
        assert!(account(None, Some(&long)).is_err());
        assert!(account(Some(&long), None).is_err());
        assert!(account(Some(&long[1..]), None).is_ok());
        assert!(
            account(None, Some(&long[1..])).is_ok(),
            "255 characters is the bound"
        );
    }

    #[test]
    fn a_ui_extension_reaches_the_account_and_its_own_user_only() {
        let ui = Caller::UiExtension("usr_me".into());
        assert!(check_scope(&ui, &Scope::Account).is_ok());
        assert!(check_scope(&ui, &Scope::User("usr_me".into())).is_ok());
        let e = check_scope(&ui, &Scope::User("usr_other".into())).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.param.as_deref()),
            (403, Some("scope[user]"))
        );
        assert!(check_scope(&Caller::Backend, &Scope::User("usr_other".into())).is_ok());
    }
}
