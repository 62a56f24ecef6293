//! gslb: an authoritative DNS server that answers global hostnames with the
//! ingress addresses of the clusters that serve them.

pub mod admin;
pub mod app;
pub mod config;
pub mod crd_sync;
pub mod dns;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod model;
pub mod select;
pub mod table;
