//! The Secret Store itself: API keys (`auth`), the indexed per-partition
//! store (`store`), the four operations (`api`) and `Idempotency-Key`
//! (`idempotency`). Plain synchronous code; the pipeline holds the locks.

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod idempotency;
pub(crate) mod store;
