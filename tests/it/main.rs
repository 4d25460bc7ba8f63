//! Integration tests, compiled into one binary so linking happens once.
//! Each module is one behaviour of docs/behaviour.md; `support` is the client.

mod apps;
mod auth;
mod bounds;
mod browser;
mod cli;
mod concurrency;
mod control;
mod coverage;
mod determinism;
mod encoding;
mod expect;
mod expiry;
mod faults;
mod fidelity;
mod find_delete;
mod fixtures;
mod hostile;
mod idempotency;
mod inspector;
mod isolation;
mod journal;
mod layers;
mod list;
mod proxy;
mod set;
mod strict;
mod support;
mod transcript;
mod verify;
