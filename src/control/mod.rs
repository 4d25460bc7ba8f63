//! The mock's own surface: the `/_mock/` endpoints (`endpoints`), fixtures
//! (`fixtures`), the request journal (`journal`) and injected faults
//! (`faults`).

pub(crate) mod endpoints;
pub mod faults;
pub mod fixtures;
pub mod journal;
