//! The HTTP edge: the accept loop and graceful shutdown, hyper ⇄ owned
//! types (`server`), the bounds on connections and bodies (`conn`), and
//! hyper's own error answers rewritten as Stripe errors (`json_errors`).

pub(crate) mod conn;
pub(crate) mod json_errors;
pub(crate) mod server;
