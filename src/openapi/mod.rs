//! The OpenAPI side: the bundled documents compiled once per process
//! (`spec`), their schema dialect (`schema`), Stripe's bracket-notation
//! inputs (`form`) and schema violations turned into Stripe's errors
//! (`validate`). Nothing here knows about secrets.

pub(crate) mod compiled;
pub(crate) mod form;
pub(crate) mod schema;
pub(crate) mod spec;
pub(crate) mod validate;
