//! DNS: wire parsing, the answer engine, and the UDP and TCP listeners.

pub mod answer;
pub mod name;
pub mod tcp;
pub mod udp;
pub mod wire;
