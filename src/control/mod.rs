//! The `/_mock/` endpoints: what each control operation does, once the
//! pipeline has validated its input against the control spec.

pub(crate) mod endpoints;
