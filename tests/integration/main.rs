//! Integration tests: the real server on loopback sockets, queried by real
//! DNS clients (raw hickory-proto messages, hickory-resolver and `dig`).

mod backend;
mod cli;
mod dig;
mod dns;
mod geo;
mod harness;
mod health;
mod malformed;
mod reload;
mod rrl;
