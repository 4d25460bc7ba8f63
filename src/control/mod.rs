//! The mock's own surface: the `/_mock/` endpoints (`endpoints`), fixtures
//! (`documents` reads them, `fixtures` checks, loads and exports them), the
//! request journal (`journal`) and injected faults (`faults`).

pub mod documents;
pub(crate) mod endpoints;
pub mod faults;
pub mod fixtures;
pub mod journal;
