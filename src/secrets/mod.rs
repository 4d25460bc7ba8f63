//! The Secret Store itself: API keys (`auth`), the Stripe Apps context of a
//! request (`context`: API version, account, UI-extension caller,
//! permissions), the indexed per-partition store (`store`), the four
//! operations (`api`) and `Idempotency-Key` (`idempotency`). Plain
//! synchronous code; the pipeline holds the locks.

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod context;
pub(crate) mod idempotency;
pub(crate) mod store;
