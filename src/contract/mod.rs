//! Contract checks: transcripts of what a server was asked and answered,
//! and (in later modules) replaying them against another server.

pub mod transcript;
