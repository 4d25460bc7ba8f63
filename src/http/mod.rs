//! The HTTP edge (`server`: accept loop, graceful shutdown, hyper ⇄ owned
//! types) and the Rust test harness built on it (`harness`).

pub(crate) mod conn;
pub mod harness;
pub(crate) mod json_errors;
pub(crate) mod server;
