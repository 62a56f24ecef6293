//! The validated config: what `config::validate` produces and the table
//! writer compiles. Every value here is in range and every reference
//! resolves; nothing here is read on the DNS hot path.

use std::{
    collections::BTreeMap, net::IpAddr, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration,
};

use crate::geo::{Continent, Coordinates, Country, Subdivision};
use crate::name::Name;
use crate::rdata::{Rdata, RecordType};

pub mod ddns;
pub mod file_override;
pub mod ns_answer;
pub mod target;

pub use file_override::{FileOverride, OverrideState};

/// A whole validated configuration, record files merged in.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-level settings.
    pub server: Server,
    /// Zones served, in config order.
    pub zones: Vec<Zone>,
    /// Health check templates by name.
    pub health_checks: BTreeMap<String, Arc<HealthCheck>>,
    /// Every record of the config and of its record files.
    pub records: Vec<Record>,
    /// The overrides the record files declare, at most one per (record,
    /// set); they take precedence over the admin API's.
    pub overrides: Vec<FileOverride>,
}

/// `server:` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// UDP and TCP listen addresses.
    pub dns_listen: Vec<SocketAddr>,
    /// Admin HTTP listen address, if any.
    pub admin_listen: Option<SocketAddr>,
    /// GeoIP database path, if any.
    pub geoip_database: Option<PathBuf>,
    /// Record files merged into the config.
    pub record_files: Vec<PathBuf>,
    /// UDP worker threads.
    pub udp_workers: usize,
    /// Largest UDP payload sent to EDNS clients (RFC 6891 §6.2.5).
    pub max_udp_payload: u16,
    /// Idle TCP connections are closed after this long.
    pub tcp_idle_timeout: Duration,
    /// Most TCP connections open at once (the file descriptor limit may
    /// lower it at start).
    pub tcp_max_connections: usize,
    /// Most TCP connections open at once from one client prefix.
    pub tcp_max_connections_per_ip: usize,
    /// Prefix length that groups IPv4 clients for the TCP caps.
    pub tcp_ipv4_prefix: u8,
    /// Prefix length that groups IPv6 clients for the TCP caps.
    pub tcp_ipv6_prefix: u8,
    /// After SIGTERM, how long DNS keeps answering with `/readyz` at 503, so
    /// load balancers stop sending before the listeners close.
    pub shutdown_grace: Duration,
    /// Largest config or record file read, in bytes.
    pub max_config_bytes: u64,
    /// Most records in the config and its record files together.
    pub max_records: usize,
    /// The admin API's bearer token file; without one (and without
    /// `GSLB_ADMIN_TOKEN`) only a loopback admin API accepts writes.
    pub admin_token_file: Option<PathBuf>,
    /// Most admin API connections open at once.
    pub admin_max_connections: usize,
    /// Admin API body-read and write-stall bound.
    pub admin_timeout: Duration,
    /// Most admin API connections open at once from one client prefix
    /// (IPv4 address, IPv6 /64).
    pub admin_max_connections_per_client: usize,
    /// Admin API bound on receiving a request's head and on an idle
    /// keep-alive connection: a slow client holds its slot this long.
    pub admin_header_timeout: Duration,
    /// Probe-only listener (`/healthz`, `/readyz`, no token), if any.
    pub probe_listen: Option<SocketAddr>,
    /// Overrides are saved here and restored at start, when set.
    pub state_file: Option<PathBuf>,
    /// Response rate limiting for UDP, when configured.
    pub rate_limit: Option<RateLimit>,
    /// Resolvers asked for hostname targets; empty: `/etc/resolv.conf`.
    pub resolvers: Vec<SocketAddr>,
    /// Refresh and staleness bounds of hostname targets.
    pub alias: AliasPolicy,
    /// The peer group: this instance's name, its peers and how health is
    /// decided among them.
    pub peering: Peering,
    /// HTTPS for the admin API (restart to change).
    pub admin_tls: Option<AdminTls>,
    /// `server.metrics.per_record`: operators' scrapes carry series by
    /// record, set and target address. Off, they carry sums by zone and set
    /// id, so a scrape stays small however many records there are.
    pub metrics_per_record: bool,
}

/// `server.instance`, `server.peers` and the keys that go with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Peering {
    /// This instance's name (default: the host name): named in the
    /// versions of its changes, in its probes' User-Agent and in logs.
    pub instance: String,
    /// The other instances serving the same zones.
    pub peers: Vec<Peer>,
    /// Bearer token sent to peers; `None`: the admin token.
    pub token_file: Option<PathBuf>,
    /// CA certificates trusted for `https://` peers, beside the system's.
    pub ca_file: Option<PathBuf>,
    /// How health is decided.
    pub health_quorum: HealthQuorum,
    /// A peer's view counts while younger than this.
    pub view_max_age: Duration,
}

impl Peering {
    /// What this instance's HTTP requests (probes, peer exchanges) send as
    /// `User-Agent`, so a backend's or a peer's logs show who asked.
    pub fn user_agent(&self) -> String {
        format!(
            "gslb/{} (instance {})",
            env!("CARGO_PKG_VERSION"),
            self.instance
        )
    }
}

/// One peer: a name and its admin API's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its `server.instance`.
    pub name: String,
    /// Base URL of its admin API (`http://` or `https://`), no trailing `/`.
    pub url: String,
}

/// How an instance with peers decides whether a target is up
/// (`server.health_quorum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthQuorum {
    /// Down only when more than half of the fresh views say down; a tie
    /// keeps it up.
    #[default]
    Majority,
    /// This instance's own probes decide; peer views are shown only.
    Own,
}

/// `server.admin_tls`: the admin API's certificate and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// `server.alias`: the refresh and staleness bounds of hostname targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AliasPolicy {
    /// Shortest time between two resolutions of one name.
    pub min_refresh: Duration,
    /// Longest time between two resolutions of one name.
    pub max_refresh: Duration,
    /// How long past their upstream TTL the last addresses are served
    /// while resolution fails.
    pub max_stale: Duration,
    /// Most addresses kept per name; the lowest are kept, so the choice
    /// does not change with the upstream's order.
    pub max_addresses: usize,
}

impl Default for AliasPolicy {
    fn default() -> Self {
        Self {
            min_refresh: Duration::from_secs(5),
            max_refresh: Duration::from_secs(300),
            max_stale: Duration::from_secs(3600),
            max_addresses: 32,
        }
    }
}

/// `server.rate_limit`: how UDP responses to one client prefix are limited
/// (see `rrl`). Comparing two of these tells whether a reload must
/// start the limiter afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Responses per second per (prefix, kind, name).
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated; 0 never, 1 always.
    pub slip: u8,
    /// Prefix length that groups IPv4 clients.
    pub ipv4_prefix: u8,
    /// Prefix length that groups IPv6 clients.
    pub ipv6_prefix: u8,
    /// Seconds a limited prefix's debt is remembered.
    pub window_secs: u32,
    /// Entries in the accounting table.
    pub table_size: u32,
}

/// A zone gslb is authoritative for.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Apex.
    pub origin: Name,
    /// TTL of SOA and NS, and default TTL of records.
    pub ttl: u32,
    /// Most TTL of answers that involve trouble: a chosen set with a
    /// target down or contested, or a record failing open. Resolvers then
    /// come back soon after things settle.
    pub degraded_ttl: u32,
    /// Start of authority.
    pub soa: Soa,
    /// Apex NS names with their glue (empty for names outside every zone).
    pub nameservers: Vec<(Name, Vec<IpAddr>)>,
    /// Records served as written (`static`), in config order.
    pub statics: Vec<StaticRecord>,
    /// Who may change the zone with RFC 2136 updates; `None`: nobody.
    pub updates: Option<ddns::UpdatePolicy>,
    /// DNSSEC keys and signature settings; `None`: the zone is unsigned.
    pub dnssec: Option<crate::dnssec::Policy>,
}

/// A record of a zone's `static` list: TXT, CNAME, MX, CAA, SRV, NS
/// (delegation), A or AAAA, answered as written, with no selection.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticRecord {
    /// Owner name, inside the zone.
    pub name: Name,
    /// Type.
    pub rtype: RecordType,
    /// TTL; the same for every record of the RRset.
    pub ttl: u32,
    /// Data in wire form.
    pub data: Rdata,
}

/// SOA fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Soa {
    /// Primary name server.
    pub mname: Name,
    /// Responsible mailbox.
    pub rname: Name,
    /// Zone serial.
    pub serial: u32,
    /// Refresh, seconds.
    pub refresh: u32,
    /// Retry, seconds.
    pub retry: u32,
    /// Expire, seconds.
    pub expire: u32,
    /// Negative-caching TTL, seconds.
    pub minimum: u32,
}

/// How a target is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// HTTP GET.
    Http,
    /// HTTP GET over TLS.
    Https,
    /// TCP connect.
    Tcp,
}

/// A health check template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheck {
    /// Template name, for logs and status.
    pub name: String,
    /// Protocol.
    pub kind: ProbeKind,
    /// Port dialled on each target.
    pub port: u16,
    /// HTTP path (starts with `/`).
    pub path: String,
    /// HTTP Host header and TLS SNI; the target IP when absent.
    pub host: Option<String>,
    /// Accepted HTTP statuses as inclusive ranges.
    pub expect_status: Vec<(u16, u16)>,
    /// A substring the HTTP body must contain.
    pub body_contains: Option<String>,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
    /// Time between probes.
    pub interval: Duration,
    /// Bound on one probe.
    pub timeout: Duration,
    /// Consecutive passes to turn healthy.
    pub rise: u32,
    /// Consecutive failures to turn unhealthy.
    pub fall: u32,
}

/// `fallback:` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Any set may answer any client.
    #[default]
    Any,
    /// Data residency: a client a set's geo matches is only answered from
    /// such sets.
    None,
}

/// A global hostname.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Answer TTL.
    pub ttl: u32,
    /// Most addresses per answer (`None`: every healthy one).
    pub answers: Option<u16>,
    /// Residency rule.
    pub fallback: Fallback,
    /// One set per cluster.
    pub sets: Vec<TargetSet>,
    /// Where it came from (config file or record file), for messages.
    pub source: Arc<str>,
}

/// A cluster's addresses for a record.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSet {
    /// Unique within its record.
    pub id: String,
    /// Addresses answered.
    pub targets: Vec<IpAddr>,
    /// Host names whose addresses are answered too (alias flattening),
    /// resolved in the background (by the `alias` module).
    pub hostnames: Vec<Name>,
    /// Relative share.
    pub weight: u32,
    /// Failover tier, lower first.
    pub priority: u32,
    /// Clients this set is for.
    pub geo: GeoScope,
    /// Where the cluster is.
    pub location: Option<Coordinates>,
    /// Health check, if any.
    pub health_check: Option<Arc<HealthCheck>>,
}

/// The clients a set is meant for; empty means "no geo".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GeoScope {
    /// Continents.
    pub continents: Vec<Continent>,
    /// Countries.
    pub countries: Vec<Country>,
    /// Subdivisions.
    pub subdivisions: Vec<Subdivision>,
}

impl GeoScope {
    /// True when the set has no `geo`.
    pub fn is_empty(&self) -> bool {
        self.continents.is_empty() && self.countries.is_empty() && self.subdivisions.is_empty()
    }
}

/// The zone that serves `name`: of the zones whose origin `name` is at or
/// below, the one with the longest origin (the nearest enclosing zone, RFC
/// 1034 §4.3.2), as an index into `origins`. Zones may nest: a child zone
/// served by the same server wins over its parent. Validation and the
/// table both place names with it, so they cannot disagree.
pub fn zone_of<'a>(name: &Name, origins: impl IntoIterator<Item = &'a Name>) -> Option<usize> {
    origins
        .into_iter()
        .enumerate()
        .filter(|(_, origin)| name.is_within(origin))
        .max_by_key(|(_, origin)| origin.wire().len())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod zone_of_tests {
    use super::*;

    #[test]
    fn a_name_belongs_to_the_nearest_enclosing_zone() {
        let origins: Vec<Name> = ["example.test", "sub.example.test", "other.test"]
            .iter()
            .map(|o| Name::parse(o).unwrap())
            .collect();
        let of = |name: &str| zone_of(&Name::parse(name).unwrap(), &origins);
        assert_eq!(of("www.example.test"), Some(0));
        assert_eq!(of("example.test"), Some(0));
        assert_eq!(of("a.sub.example.test"), Some(1), "the nested zone wins");
        assert_eq!(of("sub.example.test"), Some(1));
        assert_eq!(of("xsub.example.test"), Some(0), "whole labels only");
        assert_eq!(of("example.org"), None);
    }
}
