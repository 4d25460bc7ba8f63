//! What the mock records of the requests it serves, and the formats it
//! writes them in: the journal, the transcript format, and coverage.

pub mod coverage;
pub mod journal;
pub(crate) mod pretty;
pub mod transcript;
