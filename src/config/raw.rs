//! The YAML shapes of the config file and of record files, as serde reads
//! them. Nothing here is checked beyond its type: `validate` turns these into
//! the typed model and reports every problem with its path.
//!
//! Scalars that need a range or a format check are read loosely (integers as
//! `i64`, durations and addresses as strings) so that validation, not serde,
//! reports them, and reports all of them at once.
//!
//! The same shapes give `gslb config-schema` its JSON Schema (`schema`), so
//! an editor's view of the file cannot drift from what serde accepts; the
//! `///` comments become the schema's descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole config file.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Process-level settings; `GSLB_SERVER__*` variables override these.
    #[serde(default)]
    pub server: RawServer,
    /// The zones gslb is authoritative for.
    #[serde(default)]
    pub zones: Vec<RawZone>,
    /// Named health check templates that sets refer to.
    #[serde(default)]
    pub health_checks: BTreeMap<String, RawHealthCheck>,
    /// Global hostnames.
    #[serde(default, deserialize_with = "super::limits::counted_records")]
    #[schemars(with = "Vec<RawRecord>")]
    pub records: Vec<RawRecord>,
}

/// A record file: extra records merged into the config's, such as the one
/// `gslb crd-sync` writes.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRecordFile {
    /// Records, in the same shape as the config's `records`.
    #[serde(default, deserialize_with = "super::limits::counted_records")]
    #[schemars(with = "Vec<RawRecord>")]
    pub records: Vec<RawRecord>,
    /// Overrides declared outside gslb (crd-sync writes one per
    /// GslbOverride object in force); they take precedence over the admin
    /// API's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<RawFileOverride>,
}

/// One entry of a record file's `overrides:`.
#[derive(Debug, Default, Deserialize, Serialize, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFileOverride {
    /// Record name.
    pub record: String,
    /// Set id.
    pub set: String,
    /// `down` or `up`.
    pub state: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The GslbOverride it comes from: `CLUSTER/NAMESPACE/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// When it was declared (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// `server:`.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// UDP and TCP listen addresses.
    #[serde(default)]
    pub dns_listen: Vec<String>,
    /// Admin HTTP listen address.
    pub admin_listen: Option<String>,
    /// GeoIP2/GeoLite2 City or Country database.
    pub geoip_database: Option<String>,
    /// Extra record files merged into `records`.
    #[serde(default)]
    pub record_files: Vec<String>,
    /// UDP worker threads (each with its own SO_REUSEPORT socket).
    pub udp_workers: Option<i64>,
    /// Largest UDP response gslb sends to EDNS clients.
    pub max_udp_payload: Option<i64>,
    /// How long an idle TCP connection is kept.
    pub tcp_idle_timeout: Option<String>,
    /// Most TCP connections open at once, over all listen addresses.
    pub tcp_max_connections: Option<i64>,
    /// Most TCP connections open at once from one client prefix.
    pub tcp_max_connections_per_ip: Option<i64>,
    /// Prefix length that groups IPv4 clients for the TCP caps.
    pub tcp_ipv4_prefix: Option<i64>,
    /// Prefix length that groups IPv6 clients for the TCP caps.
    pub tcp_ipv6_prefix: Option<i64>,
    /// How long DNS keeps answering after SIGTERM while readiness is off.
    pub shutdown_grace: Option<String>,
    /// Largest config or record file, in bytes.
    pub max_config_bytes: Option<i64>,
    /// Most records in the config and its record files together.
    pub max_records: Option<i64>,
    /// File holding the admin API's bearer token.
    pub admin_token_file: Option<String>,
    /// Most admin API connections open at once.
    pub admin_max_connections: Option<i64>,
    /// Bound on reading a request's body and on a stalled response write
    /// on the admin API.
    pub admin_timeout: Option<String>,
    /// Most admin API connections open at once from one client prefix.
    pub admin_max_connections_per_client: Option<i64>,
    /// Bound on receiving a request's head (and on an idle keep-alive
    /// connection) on the admin API.
    pub admin_header_timeout: Option<String>,
    /// Listen address of the probe-only HTTP listener (`/healthz`,
    /// `/readyz`).
    pub probe_listen: Option<String>,
    /// Where overrides are kept across restarts.
    pub state_file: Option<String>,
    /// Response rate limiting for UDP; off when absent.
    pub rate_limit: Option<RawRateLimit>,
    /// Resolvers asked for hostname targets (`IP:port`); the servers of
    /// `/etc/resolv.conf` when empty.
    #[serde(default)]
    pub resolvers: Vec<String>,
    /// How hostname targets are refreshed.
    pub alias: Option<RawAlias>,
    /// This instance's name in its peer group; default: the host name.
    pub instance: Option<String>,
    /// The other instances that serve the same zones.
    #[serde(default)]
    pub peers: Vec<RawPeer>,
    /// Bearer token sent to peers; default: the admin token.
    pub peer_token_file: Option<String>,
    /// CA certificates (PEM) trusted for `https://` peers.
    pub peer_ca_file: Option<String>,
    /// `majority` or `own`.
    pub health_quorum: Option<String>,
    /// How long a peer's health view counts without news, e.g. `15s`.
    pub peer_view_max_age: Option<String>,
    /// HTTPS for the admin API.
    pub admin_tls: Option<RawAdminTls>,
    /// What `/metrics` shows.
    pub metrics: Option<RawMetrics>,
}

/// `server.metrics`.
#[derive(Debug, Default, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Series by record, set and target address for operators; off by
    /// default, since they grow with the table.
    pub per_record: Option<bool>,
}

/// One entry of `server.peers`.
#[derive(Debug, Default, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    /// The peer's `server.instance`.
    pub name: String,
    /// Base URL of its admin API.
    pub url: String,
}

/// `server.admin_tls`.
#[derive(Debug, Default, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAdminTls {
    /// Certificate chain (PEM).
    pub cert_file: String,
    /// Private key (PEM).
    pub key_file: String,
}

/// `server.alias`: refresh and staleness bounds of hostname targets.
#[derive(Debug, Default, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    /// Shortest time between two resolutions of one name, e.g. `5s`.
    pub min_refresh: Option<String>,
    /// Longest time between two resolutions of one name, e.g. `5m`.
    pub max_refresh: Option<String>,
    /// How long past their TTL the last addresses are served while
    /// resolution fails, e.g. `1h`.
    pub max_stale: Option<String>,
    /// Most addresses kept per name.
    pub max_addresses: Option<i64>,
}

/// One entry of `zones:`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    /// Zone apex.
    pub origin: String,
    /// Default TTL of the zone's records, and the TTL of SOA and NS.
    pub ttl: Option<i64>,
    /// Most TTL of answers given while a chosen set has a target down, the
    /// peer group's views disagree about one, or the record fails open.
    pub degraded_ttl: Option<i64>,
    /// Start of authority.
    pub soa: RawSoa,
    /// NS names at the apex with their glue addresses.
    #[serde(default)]
    pub nameservers: BTreeMap<String, Vec<String>>,
    /// Records served as written: TXT, CNAME, MX, CAA, SRV, NS, A, AAAA, and DS at a
    /// delegation.
    #[serde(default, rename = "static", skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<RawStatic>,
    /// RFC 2136 dynamic updates signed with TSIG; refused when absent.
    pub updates: Option<RawUpdates>,
    /// DNSSEC: answers signed online with these keys when a query sets DO;
    /// the zone is unsigned when absent.
    pub dnssec: Option<RawDnssec>,
}

/// `dnssec:` of a zone.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDnssec {
    /// BIND key-file pairs, each as the base path `dnssec-keygen` prints
    /// (`keys/Kglobal.example.test.+013+30471`) or the path of its `.key`
    /// or `.private` file. Algorithms 13 and 15; the timing lines decide
    /// when each key is published and signs.
    #[serde(default)]
    pub key_files: Vec<String>,
    /// Lifetime of a signature from its inception (an hour back, aligned
    /// to the hour), e.g. `7d`.
    pub signature_validity: Option<String>,
    /// A cached signature with less than this left is made anew, e.g. `2d`.
    pub signature_refresh: Option<String>,
    /// Most RRsets whose signatures are kept in memory.
    pub rrsig_cache: Option<i64>,
}

/// `updates:` of a zone.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpdates {
    /// TSIG keys that may sign updates.
    #[serde(default)]
    pub keys: Vec<RawTsigKey>,
    /// What each key may write.
    #[serde(default)]
    pub allow: Vec<RawAllow>,
    /// Largest TTL of a dynamic record, seconds.
    pub max_ttl: Option<i64>,
    /// Most dynamic records one key may have in the zone.
    pub max_records_per_key: Option<i64>,
    /// Largest TSIG fudge accepted, seconds.
    pub max_fudge: Option<i64>,
    /// Most bytes of dynamic records at one name.
    pub max_rrset_bytes: Option<i64>,
}

/// One entry of `updates.keys`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTsigKey {
    /// Key name, as clients send it.
    pub name: String,
    /// `hmac-sha256` (default) or `hmac-sha512`.
    pub algorithm: Option<String>,
    /// File holding the base64 secret.
    pub secret_file: String,
}

/// One entry of `updates.allow`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    /// Key name.
    pub key: String,
    /// Owner-name patterns.
    pub names: Vec<String>,
    /// RR types.
    pub types: Vec<String>,
}

/// One entry of a zone's `static:`.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStatic {
    /// Owner: `@` for the apex, relative to the origin, or absolute.
    pub name: String,
    /// Record type mnemonic, e.g. `TXT`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL; defaults to the zone's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Record data in zone-file (presentation) format.
    pub data: String,
}

/// `soa:` of a zone.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSoa {
    /// Primary name server.
    pub mname: String,
    /// Responsible mailbox, as a name.
    pub rname: String,
    /// Serial; defaults to the Unix time of the load.
    pub serial: Option<i64>,
    /// SOA refresh, seconds.
    pub refresh: Option<i64>,
    /// SOA retry, seconds.
    pub retry: Option<i64>,
    /// SOA expire, seconds.
    pub expire: Option<i64>,
    /// SOA minimum: the negative-caching TTL (RFC 2308).
    pub minimum: Option<i64>,
}

/// One named entry of `health_checks:`.
#[derive(Debug, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// `http`, `https` or `tcp`.
    pub kind: String,
    /// Port dialled on every target.
    pub port: Option<i64>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP Host header and TLS SNI.
    pub host: Option<String>,
    /// Accepted HTTP statuses: `"200-399"`, `"200,204"`, `200` or a list.
    pub expect_status: Option<RawStatus>,
    /// A substring the HTTP body must contain.
    pub body_contains: Option<String>,
    /// Skip TLS certificate checks (self-signed ingress certificates).
    pub insecure_skip_verify: Option<bool>,
    /// Time between probes, e.g. `5s`.
    pub interval: Option<String>,
    /// Bound on one probe, e.g. `2s`.
    pub timeout: Option<String>,
    /// Consecutive passes to become healthy.
    pub rise: Option<i64>,
    /// Consecutive failures to become unhealthy.
    pub fall: Option<i64>,
}

/// `expect_status` in any of its spellings.
#[derive(Debug, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(untagged)]
pub enum RawStatus {
    /// One code.
    Code(i64),
    /// `"200-399"` or `"200,204,300-399"`.
    Text(String),
    /// `[200, "300-399"]`.
    List(Vec<RawStatusItem>),
}

/// An item of an `expect_status` list.
#[derive(Debug, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(untagged)]
pub enum RawStatusItem {
    /// One code.
    Code(i64),
    /// A code or range as text.
    Text(String),
}

/// One entry of `records:`.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRecord {
    /// Owner name.
    pub name: String,
    /// Answer TTL; defaults to the zone's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Most addresses per answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<i64>,
    /// `any` or `none` (data residency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// One set per cluster.
    #[serde(default)]
    pub sets: Vec<RawSet>,
}

/// One entry of a record's `sets:`.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSet {
    /// Unique within the record.
    pub id: String,
    /// IPv4 and IPv6 addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Relative share of answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Failover tier: lower serves first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Clients this set is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<RawGeo>,
    /// Where the cluster is, for nearest-cluster fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<RawLocation>,
    /// Name of a `health_checks` template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
}

/// A set's `geo:`.
#[derive(Debug, Default, Deserialize, Serialize, Clone, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGeo {
    /// Continent codes (AF AN AS EU NA OC SA).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continents: Vec<String>,
    /// ISO 3166-1 alpha-2 country codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// ISO 3166-2 subdivision codes such as `US-CA`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subdivisions: Vec<String>,
}

/// A set's `location:`.
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLocation {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// `server.rate_limit:`, response rate limiting (see `rrl`).
#[derive(Debug, Default, Deserialize, Serialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Responses per second to one client prefix for one name and kind.
    pub responses_per_second: Option<i64>,
    /// Every this many limited responses one is sent truncated (TC=1).
    pub slip: Option<i64>,
    /// IPv4 clients are counted together per prefix of this length.
    pub ipv4_prefix: Option<i64>,
    /// IPv6 clients are counted together per prefix of this length.
    pub ipv6_prefix: Option<i64>,
    /// How long a limited prefix's debt is remembered, e.g. `15s`.
    pub window: Option<String>,
    /// Entries in the accounting table (8 bytes each).
    pub table_size: Option<i64>,
}

/// The JSON Schema (draft 7, which yaml-language-server and most editors
/// read) of the config file: what `gslb config-schema` prints and
/// `config/gslb.schema.json` holds. Types only, like serde: ranges and
/// cross-references are validation's.
pub fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<RawConfig>();
    schema.insert("title".to_owned(), "gslb.yaml".into());
    schema.to_value()
}
