//! Contract checks: transcripts of what a server was asked and answered,
//! and replaying them against another server to verify it answers alike.

mod client;
mod compare;
pub mod coverage;
pub mod expect;
pub mod proxy;
pub mod transcript;
pub mod verify;
