//! DNS: wire parsing, the answer engine, response rate limiting, and the
//! UDP and TCP listeners.

pub mod answer;
pub mod message;
pub mod rrl;
pub mod signed;
pub mod tcp;
pub mod tsig;
pub mod udp;
pub mod update;
pub mod wire;
