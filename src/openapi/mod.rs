//! The OpenAPI side: a document reduced to what is served (`prepare`, which
//! the build script also runs over the bundled documents), compiled once per
//! process (`spec`), their schema dialect (`schema`), the checks compiled
//! from it (`rules`, or the `jsonschema` library for what they do not
//! cover: `compiled`), the shape of an operation's parameters (`shape`),
//! Stripe's bracket-notation inputs (`form`) and schema violations turned
//! into Stripe's errors (`validate`). Nothing here knows about secrets.

pub(crate) mod compiled;
pub(crate) mod form;
pub(crate) mod prepare;
pub(crate) mod rules;
pub(crate) mod schema;
pub(crate) mod shape;
pub(crate) mod spec;
pub(crate) mod validate;
