//! Contract checks: the transcript format (what a server was asked and
//! answered), replaying one against another server to verify it answers
//! alike ([`verify`]), the recording [`Proxy`], [`Coverage`] of what a suite
//! exercised, and [`Expectation`]s on what it sent.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use stripe_secrets_mock::contract::{verify, VerifyOptions};
//! use stripe_secrets_mock::MockServer;
//!
//! let recorded = MockServer::start().await;
//! // ... a suite runs against recorded.url() ...
//! let transcript = recorded.transcript();
//! let fresh = MockServer::start().await;
//! let report = verify(&transcript, &VerifyOptions::new(fresh.url())).await.unwrap();
//! assert!(report.passed());
//! # }
//! ```

mod client;
mod compare;
mod expect;
mod proxy;
mod verify;

pub use crate::error::ContractError;
pub use crate::record::coverage::{Coverage, CoverageItem, OperationCoverage};
pub use crate::record::transcript::{
    Interaction, Transcript, TranscriptRequest, TranscriptResponse, REQUEST_HEADERS,
    RESPONSE_HEADERS, TRANSCRIPT_VERSION,
};
pub use expect::{Expectation, Unmet};
pub use proxy::{Proxy, ProxyOptions};
pub use verify::{verify, Outcome, Step, VerifyOptions, VerifyReport};
