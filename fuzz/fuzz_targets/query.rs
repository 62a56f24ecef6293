//! Bytes → the whole query path: `Responder::respond` (wire parsing, table
//! lookup, GeoIP, selection, encoding) over UDP and TCP, against snapshots
//! of a representative config. Every response must parse with
//! hickory-proto, be a response with the query's id, fit its transport and
//! echo the question (`gslb_fuzz::check_response`).
//!
//! The input is the raw query, so the corpus is real queries. Its id picks
//! the client address (low 3 bits) and the snapshot (next 2 bits), so the
//! fuzzer reaches each client and health state by mutating the id.

#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use gslb::table::Snapshot;
use gslb_fuzz::{HealthState, geo, respond_and_check, snapshot};
use libfuzzer_sys::fuzz_target;

/// Several zones (one nested in another, a name server served as glue by
/// the parent), geo, weighted, failover, residency and IPv6-only records,
/// health checks, a wildcard-looking label, a record at an apex, static
/// records with CNAME chains and a sub-delegation; the first zone is
/// signed (DNSSEC) with the unit tests' keys.
const CONFIG: &str = include_str!("query-config.yaml");

/// Where the signed zone's key files are.
const KEY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/dnssec/testdata");

/// Client source addresses: no data, US, DE, IN, IPv6 DE, IPv4-mapped DE,
/// ZA (no coordinates), and IPv6 with no data.
const CLIENTS: [&str; 8] = [
    "127.0.0.1",
    "127.0.1.1",
    "127.0.2.1",
    "198.51.100.130",
    "2001:db8:2::1",
    "::ffff:198.51.100.70",
    "100.64.2.1",
    "::1",
];

/// All healthy with GeoIP; all down; mixed with overrides and a large UDP
/// payload; no GeoIP database and plain 512-byte UDP.
static SNAPSHOTS: LazyLock<[Snapshot; 4]> = LazyLock::new(|| {
    let text = CONFIG.replace("KEYDIR", KEY_DIR);
    let config = match gslb::config::load_from_text("query-config.yaml", &text, &[]) {
        Ok(config) => config,
        Err(errors) => panic!("fuzz set-up: the config does not load:\n{errors}"),
    };
    [
        snapshot(&config, HealthState::AllUp, Some(geo()), 1232),
        snapshot(&config, HealthState::AllDown, Some(geo()), 1232),
        snapshot(&config, HealthState::Mixed, Some(geo()), 4096),
        snapshot(&config, HealthState::AllUp, None, 512),
    ]
});

static CLIENT_ADDRS: LazyLock<Vec<IpAddr>> = LazyLock::new(|| {
    CLIENTS
        .iter()
        .map(|c| c.parse().unwrap_or_else(|e| panic!("{c}: {e}")))
        .collect()
});

fuzz_target!(|packet: &[u8]| {
    let id = match packet {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let client = CLIENT_ADDRS[usize::from(id & 7)];
    let snap = &SNAPSHOTS[usize::from((id >> 3) & 3)];
    respond_and_check(snap, packet, client, u64::from(id));
});
