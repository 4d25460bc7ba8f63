//! Fault injection: make the next N matching requests fail (a status with a
//! Stripe error body, optionally `Stripe-Should-Retry`), wait, or drop the
//! connection, to test a client's retry and error handling. Faults are
//! matched in the order they were added, so a test gets the same failures on
//! every run.

use serde_json::{json, Value};

use crate::error::{ApiError, ErrorType};
use crate::outcome::Reason;

/// What an injected fault does to the response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this HTTP status and a spec-valid Stripe error body.
    Status(u16),
    /// Close the connection without answering.
    Close,
    /// Only wait (`delay_ms`), then serve normally.
    DelayOnly,
}

/// A fault to inject, built with [`Fault::status`], [`Fault::close`] or
/// [`Fault::delay`].
///
/// ```
/// use stripe_secrets_mock::Fault;
/// // The next two creates by this app answer 500 after the secret is
/// // stored, as if the response were lost on the way back.
/// let fault = Fault::status(500)
///     .times(2)
///     .operation("postAppsSecrets")
///     .app("sk_test_123")
///     .after_execution();
/// # let _ = fault;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// How many more requests it applies to.
    pub(crate) remaining: u32,
    /// Only requests routed to this `operationId`.
    pub(crate) operation: Option<String>,
    /// Only requests made with this API key.
    pub(crate) app: Option<String>,
    /// What happens.
    pub(crate) kind: FaultKind,
    /// Wait this long before answering (or closing).
    pub(crate) delay_ms: u64,
    /// Run the request first (state changes, idempotent result saved), then
    /// fail: the client sees the fault, the server did the work.
    pub(crate) after: bool,
    /// Value of `Stripe-Should-Retry` on a status fault, if any.
    pub(crate) should_retry: Option<bool>,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            remaining: 1,
            operation: None,
            app: None,
            kind,
            delay_ms: 0,
            after: false,
            should_retry: None,
        }
    }

    /// Answer with `status` (e.g. 429, 500, 503) and a Stripe error body.
    pub fn status(status: u16) -> Fault {
        Fault::new(FaultKind::Status(status))
    }

    /// Close the connection without an answer.
    pub fn close() -> Fault {
        Fault::new(FaultKind::Close)
    }

    /// Serve normally, but only after `ms` milliseconds.
    pub fn delay(ms: u64) -> Fault {
        Fault::new(FaultKind::DelayOnly).with_delay(ms)
    }

    /// Apply to the next `n` matching requests (default 1).
    pub fn times(mut self, n: u32) -> Fault {
        self.remaining = n;
        self
    }

    /// Only requests routed to this `operationId` (e.g. `postAppsSecrets`).
    pub fn operation(mut self, operation_id: impl Into<String>) -> Fault {
        self.operation = Some(operation_id.into());
        self
    }

    /// Only requests made with this API key.
    pub fn app(mut self, api_key: impl Into<String>) -> Fault {
        self.app = Some(api_key.into());
        self
    }

    /// Wait `ms` milliseconds before failing.
    pub fn with_delay(mut self, ms: u64) -> Fault {
        self.delay_ms = ms;
        self
    }

    /// Execute the request before failing (the default fails before it).
    pub fn after_execution(mut self) -> Fault {
        self.after = true;
        self
    }

    /// Send `Stripe-Should-Retry: true|false` with a status fault.
    pub fn should_retry(mut self, retry: bool) -> Fault {
        self.should_retry = Some(retry);
        self
    }

    /// Checks the fault's own consistency.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.remaining == 0 {
            return Err("count must be at least 1".into());
        }
        if let FaultKind::Status(s) = self.kind {
            if !(400..=599).contains(&s) {
                return Err(format!("status must be an error status (400-599), not {s}"));
            }
        }
        if self.kind == FaultKind::DelayOnly && self.delay_ms == 0 {
            return Err("a fault needs a status, close, or a delay".into());
        }
        if self.delay_ms > 60_000 {
            return Err("delay_ms must be at most 60000".into());
        }
        Ok(())
    }

    /// Whether it applies to a request for `operation` by `key`.
    pub(crate) fn matches(&self, operation: Option<&str>, key: Option<&str>) -> bool {
        self.operation
            .as_deref()
            .is_none_or(|o| Some(o) == operation)
            && self.app.as_deref().is_none_or(|a| Some(a) == key)
    }

    /// A short description for the journal (`status 503 after execution`).
    pub(crate) fn describe(&self) -> String {
        let mut out = match self.kind {
            FaultKind::Status(s) => format!("status {s}"),
            FaultKind::Close => "close".to_string(),
            FaultKind::DelayOnly => "delay".to_string(),
        };
        if self.delay_ms > 0 && self.kind != FaultKind::DelayOnly {
            out.push_str(&format!(" after {} ms", self.delay_ms));
        } else if self.kind == FaultKind::DelayOnly {
            out.push_str(&format!(" {} ms", self.delay_ms));
        }
        if self.after {
            out.push_str(" after execution");
        }
        out
    }

    /// The pending fault as the control endpoint lists it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "object": "mock.fault",
            "remaining": self.remaining,
            "operation": self.operation,
            "app": self.app.as_deref().map(crate::secrets::auth::mask),
            "status": match self.kind { FaultKind::Status(s) => Some(s), _ => None },
            "close": self.kind == FaultKind::Close,
            "delay_ms": self.delay_ms,
            "after": self.after,
            "should_retry": self.should_retry,
        })
    }

    /// The error a status fault answers with: Stripe's body for the status
    /// where Stripe has one (429 `rate_limit`, 409 `lock_timeout`, 5xx
    /// `api_error`).
    pub(crate) fn error(&self, status: u16) -> ApiError {
        let mut e = match status {
            429 => ApiError::invalid(
                "Too many requests hit the API too quickly. We recommend an exponential backoff \
                 of your requests.",
                None,
            )
            .with_code("rate_limit"),
            409 => ApiError::invalid(
                "This object cannot be accessed right now because another API request or Stripe \
                 process is currently accessing it. If you see this error intermittently, retry \
                 the request.",
                None,
            )
            .with_code("lock_timeout"),
            s => ApiError::invalid(
                format!(
                    "Injected fault: the mock was told to answer this request with status {s}."
                ),
                None,
            ),
        };
        e.status =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        e.reason = Some(Reason::InjectedFault);
        // 5xx: an `api_error`, as Stripe's own failures are.
        if status >= 500 {
            e.kind = ErrorType::Api;
        }
        e
    }
}

/// Faults pending at once, at most: each request looks through them for the
/// first that matches, so the bound is also what that look costs.
pub(crate) const MAX_FAULTS: usize = 1_000;

/// Pending faults, in the order they were added.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    /// Each with its remaining count; spent ones are removed.
    pending: Vec<Fault>,
}

impl Faults {
    /// Adds a fault after the ones already pending, unless
    /// [`MAX_FAULTS`] are.
    pub fn push(&mut self, fault: Fault) -> Result<(), String> {
        if self.pending.len() >= MAX_FAULTS {
            return Err(format!(
                "the mock holds at most {MAX_FAULTS} pending faults; reset or spend some first"
            ));
        }
        self.pending.push(fault);
        Ok(())
    }

    /// Takes one use of the first fault matching the request.
    pub fn take(&mut self, operation: Option<&str>, key: Option<&str>) -> Option<Fault> {
        let i = self
            .pending
            .iter()
            .position(|f| f.matches(operation, key))?;
        let fault = self.pending[i].clone();
        self.pending[i].remaining -= 1;
        if self.pending[i].remaining == 0 {
            self.pending.remove(i);
        }
        Some(fault)
    }

    /// Drops the faults aimed at `key` (all of them when `None`).
    pub fn clear(&mut self, key: Option<&str>) {
        match key {
            Some(k) => self.pending.retain(|f| f.app.as_deref() != Some(k)),
            None => self.pending.clear(),
        }
    }

    /// Pending faults, in order.
    pub fn list(&self) -> &[Fault] {
        &self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_faults_stop_at_the_bound_and_room_comes_back_when_one_is_spent() {
        let mut faults = Faults::default();
        for _ in 0..MAX_FAULTS {
            faults.push(Fault::status(500)).unwrap();
        }
        let e = faults.push(Fault::status(500)).unwrap_err();
        assert!(e.contains("at most 1000 pending faults"), "{e}");
        assert_eq!(faults.list().len(), MAX_FAULTS);
        assert!(faults.take(None, None).is_some());
        faults.push(Fault::status(500)).unwrap();
    }

    #[test]
    fn faults_match_in_order_and_run_out() {
        let mut f = Faults::default();
        f.push(Fault::status(500).times(2).operation("a")).unwrap();
        f.push(Fault::close().app("k")).unwrap();
        assert_eq!(f.take(Some("b"), Some("x")), None);
        assert_eq!(f.take(Some("b"), Some("k")).unwrap().kind, FaultKind::Close);
        assert_eq!(
            f.take(Some("a"), Some("k")).unwrap().kind,
            FaultKind::Status(500)
        );
        assert!(f.take(Some("a"), None).is_some());
        assert!(f.take(Some("a"), None).is_none());
    }

    #[test]
    fn bad_faults_are_refused() {
        assert!(Fault::status(200).check().is_err());
        assert!(Fault::status(503).times(0).check().is_err());
        assert!(Fault::delay(0).check().is_err());
        assert!(Fault::delay(10).check().is_ok());
        // The delay's bound: a minute exactly, not a millisecond more.
        assert!(Fault::delay(60_000).check().is_ok());
        assert_eq!(
            Fault::delay(60_001).check().unwrap_err(),
            "delay_ms must be at most 60000"
        );
        // Status faults: the whole 4xx and 5xx range, nothing outside it.
        for ok in [400, 599] {
            assert!(Fault::status(ok).check().is_ok(), "{ok}");
        }
        assert_eq!(
            Fault::status(600).check().unwrap_err(),
            "status must be an error status (400-599), not 600"
        );
    }

    #[test]
    fn status_faults_carry_stripe_error_types() {
        let f = Fault::status(429);
        assert_eq!(f.error(429).code, Some("rate_limit"));
        assert_eq!(f.error(503).kind, ErrorType::Api);
        assert_eq!(f.error(503).status, 503);
        assert_eq!(f.error(409).code, Some("lock_timeout"));
    }

    #[test]
    fn a_fault_describes_itself_for_the_journal() {
        assert_eq!(Fault::status(500).describe(), "status 500");
        assert_eq!(
            Fault::status(503)
                .with_delay(10)
                .after_execution()
                .describe(),
            "status 503 after 10 ms after execution"
        );
        assert_eq!(Fault::close().describe(), "close");
        assert_eq!(Fault::delay(250).describe(), "delay 250 ms");
    }

    #[test]
    fn a_fault_lists_as_the_control_endpoint_shows_it() {
        let f = Fault::status(429)
            .times(2)
            .operation("postAppsSecrets")
            .app("sk_test_123")
            .with_delay(5)
            .should_retry(true);
        assert_eq!(
            f.to_json(),
            json!({
                "object": "mock.fault", "remaining": 2, "operation": "postAppsSecrets",
                "app": crate::secrets::auth::mask("sk_test_123"), "status": 429,
                "close": false, "delay_ms": 5, "after": false, "should_retry": true
            })
        );
        assert_eq!(
            Fault::close().after_execution().to_json(),
            json!({
                "object": "mock.fault", "remaining": 1, "operation": null, "app": null,
                "status": null, "close": true, "delay_ms": 0, "after": true,
                "should_retry": null
            })
        );
    }

    /// 5xx faults are `api_error`s, anything below is an
    /// `invalid_request_error`; the boundary is 500 exactly.
    #[test]
    fn status_faults_split_at_500() {
        let f = Fault::status(499);
        for (status, kind) in [
            (499, ErrorType::InvalidRequest),
            (500, ErrorType::Api),
            (599, ErrorType::Api),
        ] {
            let e = f.error(status);
            assert_eq!((e.status.as_u16(), e.kind, e.code), (status, kind, None));
            assert_eq!(
                e.message,
                format!(
                    "Injected fault: the mock was told to answer this request with status \
                     {status}."
                )
            );
            assert_eq!(e.reason, Some(Reason::InjectedFault));
        }
    }

    #[test]
    fn clearing_an_apps_faults_keeps_the_others() {
        let mut f = Faults::default();
        f.push(Fault::status(500).app("a")).unwrap();
        f.push(Fault::status(501).app("b")).unwrap();
        f.push(Fault::status(502)).unwrap();
        f.clear(Some("a"));
        let left: Vec<String> = f.list().iter().map(Fault::describe).collect();
        assert_eq!(left, ["status 501", "status 502"]);
        f.clear(None);
        assert!(f.list().is_empty());
    }
}
