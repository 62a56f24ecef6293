//! What resolvers see, over real UDP and TCP sockets.

mod alias;
mod answers;
mod delegation;
mod dig;
mod geo;
mod glue;
mod listen;
mod malformed;
mod rrl;
mod signed;
mod statics;
pub(crate) mod tcp_limits;
