//! Integration tests: the real server on loopback sockets, queried by real
//! DNS clients (raw hickory-proto messages, hickory-resolver and `dig`).
//!
//! * `dns/`: what resolvers see: answers, geo, glue, static records,
//!   delegation, hostname targets, malformed input, rate limiting, TCP.
//! * `ddns/`: RFC 2136 updates under attack.
//! * `dnssec/`: signed answers validated by real resolvers (Unbound,
//!   `delv`) under a signed root, through failover, key rollover, forgery
//!   and bad key files.
//! * `acme/`: certificates by ACME DNS-01 with pebble and certbot.
//! * `ops/`: what operators touch: the admin API, the CLI, health checks,
//!   reloads, drains, explain, the status page, the dashboard, the peer group.
//! * `docs/`: the README's and the book's commands, run; the book's links.
//! * `support/`: no tests: the harness, child processes, backends, the
//!   browser, the DNS tree, ACME and update clients the tests share.

mod acme;
mod ddns;
mod dns;
mod dnssec;
mod docs;
mod ops;
mod support;

/// Under `GSLB_REQUIRE_TOOLS=1` (`.ci/run`) every integration test runs: a
/// tool `build.rs` did not find fails here instead of leaving its tests
/// ignored.
#[test]
fn required_tools_are_installed() {
    support::harness::check_required_tools(&[
        "dig",
        "nsupdate",
        "curl",
        "prlimit",
        "knotd",
        "knotc",
        "keymgr",
        "delv",
        "dnssec-keygen",
        "dnssec-settime",
        "unbound",
        "unbound-control",
        "chromium",
        "pebble",
        "certbot",
        "port-53",
    ]);
}
