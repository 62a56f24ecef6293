//! DNS: wire parsing, the answer engine, and the UDP and TCP listeners.

pub mod answer;
pub mod name;
pub mod wire;
