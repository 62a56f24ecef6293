//! gslb: an authoritative DNS server that answers global hostnames with the
//! ingress addresses of the clusters that serve them, chosen by health,
//! failover priority, client location and weight.
//!
//! # Layout
//!
//! ```text
//! config/gslb.yaml ─┐
//! record files ─────┼─ config::reload (watch, SIGHUP, load, validate) ──Reloaded──▶ table::writer
//! crd_sync ─────────┘                                      (the one writer) ◀── health::prober (flips)
//!  (writes a record file)                                                   ◀── alias (addresses)
//!                                                                           ◀── admin (overrides)
//!                                                                           ◀── peer (documents)
//!                                                        │ table::SnapshotCell (load only)
//!  geoip/*.mmdb ─▶ geo                                   ▼
//!  dns::udp (own threads) ─┐
//!  dns::tcp (own tasks) ───┴─▶ dns::request: triage → query parse → TSIG verify → dns::answer
//!                              (table lookup → geo → select → encode, each RRset signed
//!                              when DO is set and the zone is signed) → TSIG sign → count;
//!                              UDP answers then pass rrl::response (response rate limiting)
//! ```
//!
//! # Layers
//!
//! Each module uses only those below it (`tests/layers.rs` checks it):
//!
//! ```text
//! leaves         name  geo  metrics  atomic_file  tls  fd_limit  iana
//! domain         rdata → name, iana;  dnssec → name, iana;  model → name, geo, rdata, iana, dnssec;
//!                rrl → model, metrics, iana
//! loading        config → model, dnssec (key files; and the leaves: tls checks certificates)
//! serving        table → config, model, rrl, dnssec;  select → table;  dns → select, table, rrl, dnssec
//! feeding        health → table;  alias → table;  peer → table
//!                (they send the writer flips, addresses, the peers' documents)
//! operating      explain → select, health;  admin → table, health, alias, explain, config, dnssec
//! sidecar        crd_sync → config, model             (the config schema, nothing of the server)
//! wiring         app, main → anything
//!
//! inside dns      query, message;  tsig → message;  answer → query;  update → message, tsig;
//!                 request → answer, query, message, tsig;  udp, tcp → request, answer, update
//! ```
//!
//! * [`name`]: domain names in wire form, shared by the model, the table and
//!   the DNS path (the model knows no transport).
//! * [`iana`]: the DNS codes (record types, classes, rcodes, opcodes, TSIG
//!   errors) named once.
//! * [`geo`]: client location from GeoIP2/GeoLite2 databases.
//! * [`metrics`]: every counter and its name; callers hand it plain values.
//! * [`atomic_file`]: replace-by-rename for the files gslb and the sidecar
//!   write.
//! * [`rdata`]: record data of static records, presentation format to wire.
//! * [`dnssec`]: DNSSEC's data side: BIND key files and their timing, key
//!   tags and DS, RRsets in canonical form, RRSIGs and the per-zone RRSIG
//!   cache (the answer engine signs with it and writes compact denial).
//! * [`model`]: the validated config, the zones' longest-match rule and the
//!   size of the NS answer a zone must fit.
//! * [`rrl`]: response rate limiting: the accounting (the stream table),
//!   what counts as one stream and what a verdict does to a response.
//! * [`config`]: the YAML schema ([`config::raw`]), validation into [`model`]
//!   with every error's file and field, size and record caps
//!   ([`config::limits`]), secret files ([`config::secret`]), and the
//!   reload task ([`config::reload`](mod@config::reload)) that watches the files and hands each
//!   valid config to the table writer.
//! * [`table`]: the compiled, immutable [`table::Snapshot`] with its health
//!   bits and overrides ([`table::liveness`]), and the writer task
//!   ([`table::writer`]) that alone publishes new ones; readers hold a
//!   load-only [`table::SnapshotCell`].
//! * [`select`]: the selection rules as a pure function.
//! * [`dns`]: the request path every message takes ([`dns::request`]): the
//!   hot query reader, TSIG, the answer engine, RFC 2136 updates and the
//!   UDP/TCP listeners.
//! * [`health`]: rise/fall, the probes and the prober, which sends flips to
//!   the writer.
//! * [`alias`]: hostname targets: the background refresher that resolves
//!   host names in `targets` and reports their addresses to the writer.
//! * [`peer`]: the peer group's exchange: follows each peer's document
//!   (health view, overrides, dynamic records) and hands it to the
//!   writer, which votes on health and merges the rest
//!   ([`table::shared`]).
//! * [`explain`]: why a client gets its answer: the DNS path's selection
//!   traced rule by rule, with what-if assumptions (`/explain`,
//!   `gslb explain`).
//! * [`admin`]: the admin HTTP(S) API (bearer token, Host check, connection
//!   limits, TLS handshakes under a deadline, shared `/status` and `/metrics` bodies, the Prometheus
//!   exposition), its client for `gslb status` and `gslb override`, the
//!   status report and the status page (`GET /`).
//! * [`fd_limit`]: the open-file limit, raised at start, and the reserve
//!   that caps DNS-over-TCP connections.
//! * [`tls`]: the process-wide rustls crypto provider, and certificates and
//!   keys read from PEM (the config checks `server.admin_tls` with it).
//! * `crd_sync`: the DNSEndpoint sidecar (cargo feature `kubernetes`, off by
//!   default: the server alone builds without kube).
//! * [`app`]: wiring for `gslb serve`.

pub mod admin;
pub mod alias;
pub mod app;
pub mod atomic_file;
pub mod config;
#[cfg(feature = "kubernetes")]
pub mod crd_sync;
pub mod dns;
pub mod dnssec;
pub mod explain;
pub mod fd_limit;
pub mod geo;
pub mod health;
pub mod iana;
pub mod metrics;
pub mod model;
pub mod name;
pub mod peer;
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
