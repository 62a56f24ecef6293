//! RFC 2136 updates against the real server.

mod attacks;
