//! Integration tests: the real server on loopback sockets, queried by real
//! DNS clients (raw hickory-proto messages, hickory-resolver and `dig`).

mod acme;
mod acme_e2e;
mod acme_gslb;
mod admin;
mod admin_abuse;
mod admin_tls;
mod alias;
mod backend;
mod bounded_input;
mod browser;
mod cli;
mod dashboard;
mod declared_overrides;
mod delegation;
mod deploy;
mod dig;
mod dns;
mod dns_tree;
mod dns_update;
mod drain;
mod explain;
mod geo;
mod glue;
mod harness;
mod health;
mod malformed;
mod peers;
mod process;
mod readme;
mod reload;
mod rrl;
mod statics;
mod status_page;
mod tcp_limits;
mod update_attack;
mod update_client;

/// Under `GSLB_REQUIRE_TOOLS=1` (`.ci/run`) every integration test runs: a
/// tool `build.rs` did not find fails here instead of leaving its tests
/// ignored.
#[test]
fn required_tools_are_installed() {
    harness::check_required_tools(&[
        "dig",
        "nsupdate",
        "curl",
        "prlimit",
        "knotd",
        "knotc",
        "unbound",
        "unbound-control",
        "chromium",
        "pebble",
        "certbot",
        "port-53",
    ]);
}
