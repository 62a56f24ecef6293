//! DNS on the wire: the listeners, the request path every message takes,
//! and the steps it calls.
//!
//! ```text
//! udp (recvmmsg batches) ─┐
//! tcp (a task per conn.) ─┴─▶ request::handle ─ triage ─▶ update (UPDATE: verified, queued for the writer)
//!                                    │ query::parse → tsig (verify) → answer (the engine) → tsig (sign) → count
//!                                    ▼
//!                           udp: rrl (rate limiting) → sendmmsg;  tcp: length-prefixed write
//! ```
//!
//! * [`query`]: the hot reader of queries; [`message`]: the general reader
//!   of records, for updates and TSIG.

pub mod answer;
pub mod message;
pub mod query;
pub mod request;
pub mod tcp;
pub mod tsig;
pub mod udp;
pub mod update;
