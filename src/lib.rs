//! gslb: an authoritative DNS server that answers global hostnames with the
//! ingress addresses of the clusters that serve them.

pub mod geo;
