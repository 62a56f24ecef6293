//! Integration tests: the real server on loopback sockets, queried by real
//! DNS clients (raw hickory-proto messages, hickory-resolver and `dig`).

mod backend;
mod browser;
mod cli;
mod dashboard;
mod delegation;
mod dig;
mod dns;
mod dns_tree;
mod geo;
mod harness;
mod health;
mod malformed;
mod reload;
mod status_page;
