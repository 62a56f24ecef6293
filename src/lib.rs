//! gslb: an authoritative DNS server that answers global hostnames with the
//! ingress addresses of the clusters that serve them, chosen by health,
//! failover priority, client location and weight.
//!
//! # Layout
//!
//! ```text
//! config/gslb.yaml ─┐                                  geoip/*.mmdb ─▶ geo
//! record files ─────┼─ config (load, validate) ──▶ table::writer ◀── health::prober (flips)
//! crd_sync ─────────┘   ▲ SIGHUP, file change      (the one writer)  ◀── admin (overrides)
//!  (writes a record file)                               │ ArcSwap<table::Snapshot>
//!                                                       ▼
//!  dns::udp (own threads) ─┐
//!  dns::tcp (own tasks) ───┴─▶ dns::answer: dns::wire parse → table lookup → geo → select → encode
//!                              UDP answers then pass dns::rrl (response rate limiting) ─┘
//! ```
//!
//! * [`name`]: domain names in wire form, shared by the model, the table and
//!   the DNS path (the model knows no transport).
//! * [`atomic_file`]: replace-by-rename for the files gslb and the sidecar
//!   write.
//! * [`config`]: the YAML schema ([`config::raw`]), validation into [`model`]
//!   with every error's file and field, size and record caps
//!   ([`config::limits`]), and file watching.
//! * [`table`]: the compiled, immutable [`table::Snapshot`] and the writer
//!   task that alone publishes new ones.
//! * [`rdata`]: record data of static records, presentation format to wire.
//! * [`select`]: the selection rules as a pure function.
//! * [`dns`]: the wire reader, the answer engine, response rate limiting
//!   (UDP only) and the UDP/TCP listeners.
//! * [`explain`]: why a client gets its answer: the DNS path's selection
//!   traced rule by rule, with what-if assumptions (`/explain`,
//!   `gslb explain`).
//! * [`geo`]: client location from GeoIP2/GeoLite2 databases.
//! * [`health`]: probe state in snapshots, rise/fall, and the prober.
//! * [`alias`]: hostname targets: the background refresher that resolves
//!   host names in `targets` and reports their addresses to the writer.
//! * [`admin`]: the admin HTTP API (bearer token, Host check, connection
//!   limits, shared `/status` and `/metrics` bodies), its client for
//!   `gslb status` and `gslb override`, the status report and the status
//!   page (`GET /`).
//! * [`metrics`]: every counter, rendered for Prometheus.
//! * [`fd_limit`]: the open-file limit, raised at start, and the reserve
//!   that caps DNS-over-TCP connections.
//! * `crd_sync`: the DNSEndpoint sidecar (cargo feature `kubernetes`, on by
//!   default).
//! * [`tls`]: the process-wide rustls crypto provider.
//! * [`app`]: wiring for `gslb serve`.

pub mod admin;
pub mod alias;
pub mod app;
pub mod atomic_file;
pub mod config;
#[cfg(feature = "kubernetes")]
pub mod crd_sync;
pub mod dns;
pub mod explain;
pub mod fd_limit;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod model;
pub mod name;
pub mod rdata;
pub mod rrl;
pub mod select;
pub mod table;
pub mod tls;

/// An error and its causes on one line, each cause once, as operators read
/// them in logs, `/status` and config errors: "error sending request for url
/// (...): client error (Connect): tcp connect error: Connection refused".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
