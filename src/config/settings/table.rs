//! The rows: one constant per key with a range (validation names them),
//! one static per other key, and [`ALL`] in the order the page shows them.

use std::time::Duration;

use super::{
    Apply::{Reload, Restart},
    Doc, DurationSetting, FloatSetting, IntSetting, OtherSetting, Setting,
    Unit::{Bits, Bytes, Count, Seconds},
};
use crate::model::ddns;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A day: the longest TTL of a GSLB record. A longer TTL defeats failover.
const DAY: i64 = 86_400;
/// The largest SOA timer and serial: they are 32-bit on the wire.
const U32_MAX: i64 = u32::MAX as i64;

const fn doc(default: Option<&'static str>, apply: super::Apply, meaning: &'static str) -> Doc {
    Doc {
        default,
        apply,
        meaning,
    }
}

// --- server ---------------------------------------------------------------

/// `server.dns_listen`.
pub static DNS_LISTEN: OtherSetting = OtherSetting {
    key: "server.dns_listen",
    range: "list of `ip:port`",
    doc: doc(
        None,
        Restart,
        "UDP and TCP listen addresses; at least one. Port 0 picks a free port. IPv4 and IPv6 sockets are separate: list `[::]:53` beside `0.0.0.0:53` for both.",
    ),
};
/// `server.admin_listen`.
pub static ADMIN_LISTEN: OtherSetting = OtherSetting {
    key: "server.admin_listen",
    range: "`ip:port`",
    doc: doc(Some("none"), Restart, "address of the admin HTTP API"),
};
/// `server.geoip_database`.
pub static GEOIP_DATABASE: OtherSetting = OtherSetting {
    key: "server.geoip_database",
    range: "file",
    doc: doc(
        Some("none"),
        Reload,
        "GeoIP2/GeoLite2 City or Country `.mmdb`. Without one, clients cannot be located: sets' `geo` match nobody and nearest-cluster fallback is off (gslb says so at start-up, and `check-config` and every reload warn when sets use `geo` or `location` without one).",
    ),
};
/// `server.record_files`.
pub static RECORD_FILES: OtherSetting = OtherSetting {
    key: "server.record_files",
    range: "list of files",
    doc: doc(
        Some("`[]`"),
        Reload,
        "extra files of `records:` merged into the config (e.g. the one `gslb crd-sync` writes), YAML or JSON (`{\"records\": [...]}`, read about three times faster: use it for large generated files). A file that does not exist yet is skipped with a warning and picked up when it appears.",
    ),
};
/// `server.udp_workers`.
pub static UDP_WORKERS: IntSetting = IntSetting {
    key: "server.udp_workers",
    default: None,
    min: 1,
    max: 256,
    unit: Count,
    doc: doc(
        Some("CPU count"),
        Restart,
        "UDP worker threads, each with its own `SO_REUSEPORT` socket",
    ),
};
/// `server.max_udp_payload`.
pub static MAX_UDP_PAYLOAD: IntSetting = IntSetting {
    key: "server.max_udp_payload",
    default: Some(1232),
    min: 512,
    max: 4096,
    unit: Bytes,
    doc: doc(
        None,
        Reload,
        "largest UDP response to EDNS clients; 1232 avoids IP fragmentation",
    ),
};
/// `server.tcp_idle_timeout`.
pub static TCP_IDLE_TIMEOUT: DurationSetting = DurationSetting {
    key: "server.tcp_idle_timeout",
    default: Some(secs(10)),
    min: millis(100),
    max: secs(3600),
    doc: doc(
        None,
        Restart,
        "idle TCP connections are closed after this; a message must arrive whole within this or 5 s, whichever is shorter, of its first byte",
    ),
};
/// `server.tcp_max_connections`.
pub static TCP_MAX_CONNECTIONS: IntSetting = IntSetting {
    key: "server.tcp_max_connections",
    default: Some(1_000),
    min: 1,
    max: 1_000_000,
    unit: Count,
    doc: doc(
        None,
        Restart,
        "most TCP connections open at once, over all `dns_listen` addresses; lowered at start to fit the open-file limit",
    ),
};
/// `server.tcp_max_connections_per_ip`.
pub static TCP_MAX_CONNECTIONS_PER_IP: IntSetting = IntSetting {
    key: "server.tcp_max_connections_per_ip",
    default: Some(20),
    min: 1,
    max: 1_000_000,
    unit: Count,
    doc: doc(
        None,
        Restart,
        "most TCP connections open at once from one client prefix",
    ),
};
/// `server.tcp_ipv4_prefix`.
pub static TCP_IPV4_PREFIX: IntSetting = IntSetting {
    key: "server.tcp_ipv4_prefix",
    default: Some(24),
    min: 1,
    max: 32,
    unit: Bits,
    doc: doc(
        None,
        Restart,
        "IPv4 clients in one prefix of this length are one client under `tcp_max_connections_per_ip`, as response rate limiting groups them",
    ),
};
/// `server.tcp_ipv6_prefix`.
pub static TCP_IPV6_PREFIX: IntSetting = IntSetting {
    key: "server.tcp_ipv6_prefix",
    default: Some(56),
    min: 1,
    max: 128,
    unit: Bits,
    doc: doc(
        None,
        Restart,
        "IPv6 clients in one prefix of this length are one client under `tcp_max_connections_per_ip`",
    ),
};
/// `server.shutdown_grace`.
pub static SHUTDOWN_GRACE: DurationSetting = DurationSetting {
    key: "server.shutdown_grace",
    default: Some(secs(5)),
    min: Duration::ZERO,
    max: secs(300),
    doc: doc(
        None,
        Restart,
        "after SIGTERM/SIGINT, how long DNS keeps answering with `/readyz` at 503",
    ),
};
/// `server.max_config_bytes`.
pub static MAX_CONFIG_BYTES: IntSetting = IntSetting {
    key: "server.max_config_bytes",
    default: Some(64 << 20),
    min: 1024,
    max: 4 << 30,
    unit: Bytes,
    doc: doc(
        None,
        Reload,
        "largest config or record file (JSON ones too). A larger file is rejected without being read, and no YAML file may expand through aliases to more text than this. The main config is read with the running config's value, so a raised cap applies to it from the reload after the one that raised it; record files get it at once.",
    ),
};
/// `server.max_records`.
pub static MAX_RECORDS: IntSetting = IntSetting {
    key: "server.max_records",
    default: Some(1_000_000),
    min: 1,
    max: 10_000_000,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "most records in the config and its record files together; counted while reading, so an oversized file is rejected at its first record over the cap",
    ),
};
/// `server.admin_token_file`.
pub static ADMIN_TOKEN_FILE: OtherSetting = OtherSetting {
    key: "server.admin_token_file",
    range: "file of 16-4096 printable characters",
    doc: doc(
        Some("none"),
        Restart,
        "file holding the admin API's bearer token (surrounding whitespace ignored). Without it `GSLB_ADMIN_TOKEN` is used. A file that cannot be read, or is larger than 64 KiB, is a config error (`check-config --no-secrets` skips it).",
    ),
};
/// `server.admin_max_connections`.
pub static ADMIN_MAX_CONNECTIONS: IntSetting = IntSetting {
    key: "server.admin_max_connections",
    default: Some(64),
    min: 1,
    max: 10_000,
    unit: Count,
    doc: doc(
        None,
        Restart,
        "admin API connections open at once; when full, a client holding fewer connections than the heaviest client takes that client's oldest connection, others are closed at once",
    ),
};
/// `server.admin_max_connections_per_client`.
pub static ADMIN_MAX_CONNECTIONS_PER_CLIENT: IntSetting = IntSetting {
    key: "server.admin_max_connections_per_client",
    default: Some(8),
    min: 1,
    max: 10_000,
    unit: Count,
    doc: doc(
        None,
        Restart,
        "admin API connections open at once from one client: one IPv4 address, one IPv6 /64; more are closed at once",
    ),
};
/// `server.admin_header_timeout`.
pub static ADMIN_HEADER_TIMEOUT: DurationSetting = DurationSetting {
    key: "server.admin_header_timeout",
    default: Some(secs(3)),
    min: millis(100),
    max: secs(60),
    doc: doc(
        None,
        Restart,
        "admin API bound on receiving a request's head (request line and headers) and on an idle keep-alive connection: a client trickling a request holds its connection no longer",
    ),
};
/// `server.admin_timeout`.
pub static ADMIN_TIMEOUT: DurationSetting = DurationSetting {
    key: "server.admin_timeout",
    default: Some(secs(10)),
    min: millis(100),
    max: secs(300),
    doc: doc(
        None,
        Restart,
        "admin API bound on reading a body and on a response write that makes no progress",
    ),
};
/// `server.probe_listen`.
pub static PROBE_LISTEN: OtherSetting = OtherSetting {
    key: "server.probe_listen",
    range: "`ip:port`",
    doc: doc(
        Some("none"),
        Restart,
        "a listener that serves only `GET /healthz` and `GET /readyz` (no token; anything else 404), with its own caps, for the kubelet or a load balancer; its own port, not `admin_listen`'s. Without it the probes stay on `admin_listen`.",
    ),
};
/// `server.state_file`.
pub static STATE_FILE: OtherSetting = OtherSetting {
    key: "server.state_file",
    range: "file",
    doc: doc(
        Some("none"),
        Restart,
        "where overrides, dynamic (RFC 2136) records and the MACs of recent signed updates (replay protection) are kept across restarts; temporary files of a write that a crash interrupted are removed at start",
    ),
};
/// `server.resolvers`.
pub static RESOLVERS: OtherSetting = OtherSetting {
    key: "server.resolvers",
    range: "list of `ip:port`",
    doc: doc(
        Some("`/etc/resolv.conf`"),
        Restart,
        "recursive resolvers asked for hostname targets, in order; empty: the `nameserver` lines of `/etc/resolv.conf`",
    ),
};
/// `server.instance`.
pub static INSTANCE: OtherSetting = OtherSetting {
    key: "server.instance",
    range: "1-63 letters, digits, `-`, `.`, `_`",
    doc: doc(
        Some("host name"),
        Reload,
        "this instance's name in its peer group: sent in probes' `User-Agent` and stamped on its changes",
    ),
};
/// `server.peers`.
pub static PEERS: OtherSetting = OtherSetting {
    key: "server.peers",
    range: "list of `{name, url}`",
    doc: doc(
        Some("`[]`"),
        Reload,
        "the other instances serving the same zones, each with its `server.instance` and admin API base URL",
    ),
};
/// `server.peers[].name`.
pub static PEER_NAME: OtherSetting = OtherSetting {
    key: "server.peers[].name",
    range: "1-63 letters, digits, `-`, `.`, `_`",
    doc: doc(
        None,
        Reload,
        "the peer's `server.instance`; not this instance's own, each listed once",
    ),
};
/// `server.peers[].url`.
pub static PEER_URL: OtherSetting = OtherSetting {
    key: "server.peers[].url",
    range: "`http://` or `https://` URL",
    doc: doc(
        None,
        Reload,
        "the peer's admin API base URL, e.g. `https://ns2.example.net:9153`; no query, no credentials (the token goes in `peer_token_file`)",
    ),
};
/// `server.peer_token_file`.
pub static PEER_TOKEN_FILE: OtherSetting = OtherSetting {
    key: "server.peer_token_file",
    range: "file of 16-4096 printable characters",
    doc: doc(
        Some("admin token"),
        Restart,
        "bearer token sent to peers (and accepted on `/peer/v1/document` beside the admin token); a file that cannot be read is a config error (`check-config --no-secrets` skips it)",
    ),
};
/// `server.peer_ca_file`.
pub static PEER_CA_FILE: OtherSetting = OtherSetting {
    key: "server.peer_ca_file",
    range: "PEM file",
    doc: doc(
        Some("none"),
        Reload,
        "CA certificates trusted for `https://` peers, beside the system's roots (the peers' `admin_tls` certificates come from it); a file that cannot be read or holds no certificate is a config error (`check-config --no-secrets` skips it)",
    ),
};
/// `server.health_quorum`.
pub static HEALTH_QUORUM: OtherSetting = OtherSetting {
    key: "server.health_quorum",
    range: "`majority` or `own`",
    doc: doc(
        Some("`majority`"),
        Reload,
        "`majority`: a target is down when more than half of the fresh views say so (a tie keeps it up); `own`: this instance's probes decide",
    ),
};
/// `server.peer_view_max_age`.
pub static PEER_VIEW_MAX_AGE: DurationSetting = DurationSetting {
    key: "server.peer_view_max_age",
    default: Some(secs(15)),
    min: secs(1),
    max: secs(3600),
    doc: doc(
        None,
        Reload,
        "a peer's view counts while its last exchange is younger than this",
    ),
};
/// `server.admin_tls`.
pub static ADMIN_TLS: OtherSetting = OtherSetting {
    key: "server.admin_tls",
    range: "`{cert_file, key_file}`",
    doc: doc(
        Some("none"),
        Restart,
        "HTTPS for the admin API, which then serves HTTPS only; needs `admin_listen`. Setting it or changing the file names needs a restart; a renewed pair in the same files is served from the next handshake.",
    ),
};
/// `server.admin_tls.cert_file`.
pub static ADMIN_TLS_CERT_FILE: OtherSetting = OtherSetting {
    key: "server.admin_tls.cert_file",
    range: "PEM file",
    doc: doc(
        None,
        Restart,
        "certificate chain, leaf first; read and checked with the config (`check-config --no-secrets` skips it)",
    ),
};
/// `server.admin_tls.key_file`.
pub static ADMIN_TLS_KEY_FILE: OtherSetting = OtherSetting {
    key: "server.admin_tls.key_file",
    range: "PEM file",
    doc: doc(
        None,
        Restart,
        "private key (PKCS#8, RSA or EC) of the certificate; a missing file, a bad key or a key that is not the certificate's is a config error naming the field (`check-config --no-secrets` skips it)",
    ),
};
/// `server.metrics.per_record`.
pub static METRICS_PER_RECORD: OtherSetting = OtherSetting {
    key: "server.metrics.per_record",
    range: "`true` or `false`",
    doc: doc(
        Some("`false`"),
        Reload,
        "`/metrics` for operators carries series by record, set and target (`gslb_answers_total{record,set}`, `gslb_target_up`, per-target probes); off, it carries sums by zone and set id, a few series per set id however many records",
    ),
};

// --- server.rate_limit ----------------------------------------------------

/// `server.rate_limit`.
pub static RATE_LIMIT: OtherSetting = OtherSetting {
    key: "server.rate_limit",
    range: "table of the keys below",
    doc: doc(
        Some("off"),
        Reload,
        "response rate limiting for UDP; on when present",
    ),
};
/// `server.rate_limit.responses_per_second`.
pub static RATE_LIMIT_RESPONSES_PER_SECOND: IntSetting = IntSetting {
    key: "server.rate_limit.responses_per_second",
    default: None,
    min: 1,
    max: 1_000_000,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "responses per second to one client prefix for one name, type and kind",
    ),
};
/// `server.rate_limit.slip`.
pub static RATE_LIMIT_SLIP: IntSetting = IntSetting {
    key: "server.rate_limit.slip",
    default: Some(2),
    min: 0,
    max: 10,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "every `slip`-th limited response is sent empty with TC=1 instead of dropped (0 never, 1 always)",
    ),
};
/// `server.rate_limit.ipv4_prefix`.
pub static RATE_LIMIT_IPV4_PREFIX: IntSetting = IntSetting {
    key: "server.rate_limit.ipv4_prefix",
    default: Some(24),
    min: 1,
    max: 32,
    unit: Bits,
    doc: doc(
        None,
        Reload,
        "IPv4 clients in one prefix of this length share their limits",
    ),
};
/// `server.rate_limit.ipv6_prefix`.
pub static RATE_LIMIT_IPV6_PREFIX: IntSetting = IntSetting {
    key: "server.rate_limit.ipv6_prefix",
    default: Some(56),
    min: 1,
    max: 128,
    unit: Bits,
    doc: doc(
        None,
        Reload,
        "IPv6 clients in one prefix of this length share their limits",
    ),
};
/// `server.rate_limit.window`.
pub static RATE_LIMIT_WINDOW: DurationSetting = DurationSetting {
    key: "server.rate_limit.window",
    default: Some(secs(15)),
    min: secs(1),
    max: secs(3600),
    doc: doc(
        None,
        Reload,
        "how long a limited prefix's debt is remembered; whole seconds",
    ),
};
/// `server.rate_limit.table_size`.
pub static RATE_LIMIT_TABLE_SIZE: IntSetting = IntSetting {
    key: "server.rate_limit.table_size",
    default: Some(1 << 18),
    min: 1024,
    max: 1 << 24,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "streams the limiter tracks, 8 bytes each (the default is 2 MiB)",
    ),
};

// --- server.alias ---------------------------------------------------------

/// `server.alias.min_refresh`.
pub static ALIAS_MIN_REFRESH: DurationSetting = DurationSetting {
    key: "server.alias.min_refresh",
    default: Some(secs(5)),
    min: secs(1),
    max: secs(7 * 86_400),
    doc: doc(
        None,
        Restart,
        "shortest time between two resolutions of one hostname target, whatever its TTL; also the first retry after a failure, doubling up to `max_refresh`",
    ),
};
/// `server.alias.max_refresh`.
pub static ALIAS_MAX_REFRESH: DurationSetting = DurationSetting {
    key: "server.alias.max_refresh",
    default: Some(secs(300)),
    min: secs(1),
    max: secs(7 * 86_400),
    doc: doc(
        None,
        Restart,
        "longest time between two resolutions, whatever its TTL; at least `min_refresh`",
    ),
};
/// `server.alias.max_stale`.
pub static ALIAS_MAX_STALE: DurationSetting = DurationSetting {
    key: "server.alias.max_stale",
    default: Some(secs(3600)),
    min: Duration::ZERO,
    max: secs(7 * 86_400),
    doc: doc(
        None,
        Restart,
        "how long past its upstream TTL a hostname's last addresses keep serving while resolution fails; after that they count as down",
    ),
};
/// `server.alias.max_addresses`.
pub static ALIAS_MAX_ADDRESSES: IntSetting = IntSetting {
    key: "server.alias.max_addresses",
    default: Some(32),
    min: 1,
    max: 1024,
    unit: Count,
    doc: doc(
        None,
        Restart,
        "most addresses kept per hostname; the lowest are kept, so the choice does not depend on the upstream's order",
    ),
};

// --- zones ----------------------------------------------------------------

/// `zones[].origin`.
pub static ZONE_ORIGIN: OtherSetting = OtherSetting {
    key: "zones[].origin",
    range: "domain name",
    doc: doc(
        None,
        Reload,
        "zone apex, e.g. `global.example.test.` (trailing dot optional); each zone once",
    ),
};
/// `zones[].ttl`.
pub static ZONE_TTL: IntSetting = IntSetting {
    key: "zones[].ttl",
    default: Some(30),
    min: 0,
    max: DAY,
    unit: Seconds,
    doc: doc(
        None,
        Reload,
        "TTL of SOA and NS, and default TTL of the zone's records",
    ),
};
/// `zones[].degraded_ttl`.
pub static ZONE_DEGRADED_TTL: IntSetting = IntSetting {
    key: "zones[].degraded_ttl",
    default: Some(10),
    min: 0,
    max: DAY,
    unit: Seconds,
    doc: doc(
        None,
        Reload,
        "most TTL of answers that involve trouble: the chosen set has a target down, the peer group's views disagree about one, or the record fails open",
    ),
};
/// `zones[].soa.mname`.
pub static SOA_MNAME: OtherSetting = OtherSetting {
    key: "zones[].soa.mname",
    range: "domain name",
    doc: doc(None, Reload, "the primary name server, as the SOA names it"),
};
/// `zones[].soa.rname`.
pub static SOA_RNAME: OtherSetting = OtherSetting {
    key: "zones[].soa.rname",
    range: "domain name",
    doc: doc(
        None,
        Reload,
        "the responsible mailbox written as a name (`hostmaster.example.test.`)",
    ),
};
/// `zones[].soa.serial`.
pub static SOA_SERIAL: IntSetting = IntSetting {
    key: "zones[].soa.serial",
    default: None,
    min: 0,
    max: U32_MAX,
    unit: Count,
    doc: doc(
        Some("Unix time of the load"),
        Reload,
        "zone serial; by default it grows on every reload",
    ),
};
/// `zones[].soa.refresh`.
pub static SOA_REFRESH: IntSetting = IntSetting {
    key: "zones[].soa.refresh",
    default: Some(3600),
    min: 1,
    max: U32_MAX,
    unit: Seconds,
    doc: doc(None, Reload, "SOA refresh"),
};
/// `zones[].soa.retry`.
pub static SOA_RETRY: IntSetting = IntSetting {
    key: "zones[].soa.retry",
    default: Some(600),
    min: 1,
    max: U32_MAX,
    unit: Seconds,
    doc: doc(None, Reload, "SOA retry"),
};
/// `zones[].soa.expire`.
pub static SOA_EXPIRE: IntSetting = IntSetting {
    key: "zones[].soa.expire",
    default: Some(604_800),
    min: 1,
    max: U32_MAX,
    unit: Seconds,
    doc: doc(None, Reload, "SOA expire"),
};
/// `zones[].soa.minimum`.
pub static SOA_MINIMUM: IntSetting = IntSetting {
    key: "zones[].soa.minimum",
    default: Some(60),
    min: 0,
    max: DAY,
    unit: Seconds,
    doc: doc(
        None,
        Reload,
        "the negative-caching TTL: NXDOMAIN and NODATA carry the SOA with TTL min(`ttl`, `minimum`)",
    ),
};
/// `zones[].nameservers`.
pub static ZONE_NAMESERVERS: OtherSetting = OtherSetting {
    key: "zones[].nameservers",
    range: "map of name → list of IPs",
    doc: doc(
        None,
        Reload,
        "NS names at the apex with their glue addresses; at least one. Names inside a served zone need glue (gslb answers A/AAAA for them); names outside must have `[]`.",
    ),
};
/// `zones[].static`.
pub static ZONE_STATIC: OtherSetting = OtherSetting {
    key: "zones[].static",
    range: "list of `{name, type, ttl, data}`",
    doc: doc(
        Some("`[]`"),
        Reload,
        "records served as written, no selection: TXT, CNAME, MX, CAA, SRV, NS (sub-delegation), A, AAAA",
    ),
};
/// `zones[].static[].name`.
pub static STATIC_NAME: OtherSetting = OtherSetting {
    key: "zones[].static[].name",
    range: "`@`, relative or absolute name",
    doc: doc(
        None,
        Reload,
        "owner: `@` for the apex, a name relative to the origin, or an absolute name inside the zone",
    ),
};
/// `zones[].static[].type`.
pub static STATIC_TYPE: OtherSetting = OtherSetting {
    key: "zones[].static[].type",
    range: "TXT CNAME MX CAA SRV NS DS A AAAA",
    doc: doc(
        None,
        Reload,
        "record type; NS delegates the name below the zone, DS (only where a static NS is) gives a signed child's DS",
    ),
};
/// `zones[].static[].ttl`.
pub static STATIC_TTL: IntSetting = IntSetting {
    key: "zones[].static[].ttl",
    default: None,
    min: 0,
    max: 604_800,
    unit: Seconds,
    doc: doc(
        Some("zone `ttl`"),
        Reload,
        "TTL; these records do not fail over, so they may be cached up to a week",
    ),
};
/// `zones[].static[].data`.
pub static STATIC_DATA: OtherSetting = OtherSetting {
    key: "zones[].static[].data",
    range: "zone-file syntax",
    doc: doc(
        None,
        Reload,
        "record data as in a zone file, e.g. `10 mail.example.test.` for MX",
    ),
};
/// `zones[].dnssec`.
pub static ZONE_DNSSEC: OtherSetting = OtherSetting {
    key: "zones[].dnssec",
    range: "table of the keys below",
    doc: doc(
        Some("off"),
        Reload,
        "DNSSEC online signing of the zone's answers (see the DNSSEC chapter); answers to queries without DO are unchanged",
    ),
};
/// `zones[].dnssec.key_files`.
pub static DNSSEC_KEY_FILES: OtherSetting = OtherSetting {
    key: "zones[].dnssec.key_files",
    range: "1-64 files",
    doc: doc(
        None,
        Reload,
        "BIND key-file pairs, each the base path `dnssec-keygen` prints or its `.key` or `.private` path; algorithms 13 (ECDSAP256SHA256) and 15 (ED25519); the timing lines decide when a key is published and signs; the files are watched with the config (`check-config --no-secrets` skips them)",
    ),
};
/// `zones[].dnssec.signature_validity`.
pub static DNSSEC_SIGNATURE_VALIDITY: DurationSetting = DurationSetting {
    key: "zones[].dnssec.signature_validity",
    default: Some(secs(7 * 86_400)),
    min: secs(2 * 3600),
    max: secs(365 * 86_400),
    doc: doc(
        None,
        Reload,
        "lifetime of a signature, from its inception (an hour before the start of the hour it is made in)",
    ),
};
/// `zones[].dnssec.signature_refresh`.
pub static DNSSEC_SIGNATURE_REFRESH: DurationSetting = DurationSetting {
    key: "zones[].dnssec.signature_refresh",
    default: Some(secs(2 * 86_400)),
    min: secs(3600),
    max: secs(365 * 86_400),
    doc: doc(
        None,
        Reload,
        "a cached signature with less than this left is made anew; at least 2h shorter than `signature_validity`",
    ),
};
/// `zones[].dnssec.rrsig_cache`.
pub static DNSSEC_RRSIG_CACHE: IntSetting = IntSetting {
    key: "zones[].dnssec.rrsig_cache",
    default: Some(100_000),
    min: 1,
    max: 10_000_000,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "RRsets whose signatures are kept (about 200 bytes each); a miss signs on the query path",
    ),
};
/// `zones[].updates`.
pub static ZONE_UPDATES: OtherSetting = OtherSetting {
    key: "zones[].updates",
    range: "table of the keys below",
    doc: doc(
        Some("off"),
        Reload,
        "RFC 2136 dynamic updates signed with TSIG; refused when absent",
    ),
};
/// `zones[].updates.keys`.
pub static UPDATES_KEYS: OtherSetting = OtherSetting {
    key: "zones[].updates.keys",
    range: "list of `{name, algorithm, secret_file}`",
    doc: doc(
        None,
        Reload,
        "the TSIG keys that may sign updates; at least one. A key name means one key: the same name in two zones must have the same algorithm and secret.",
    ),
};
/// `zones[].updates.keys[].name`.
pub static UPDATES_KEY_NAME: OtherSetting = OtherSetting {
    key: "zones[].updates.keys[].name",
    range: "domain name",
    doc: doc(None, Reload, "the key name clients sign with"),
};
/// `zones[].updates.keys[].algorithm`.
pub static UPDATES_KEY_ALGORITHM: OtherSetting = OtherSetting {
    key: "zones[].updates.keys[].algorithm",
    range: "`hmac-sha256` or `hmac-sha512`",
    doc: doc(Some("`hmac-sha256`"), Reload, "the MAC algorithm"),
};
/// `zones[].updates.keys[].secret_file`.
pub static UPDATES_KEY_SECRET_FILE: OtherSetting = OtherSetting {
    key: "zones[].updates.keys[].secret_file",
    range: "file",
    doc: doc(
        None,
        Reload,
        "a file holding the base64 secret (at least 16 / 32 bytes decoded for sha256 / sha512; surrounding white space ignored); read with the config (`check-config --no-secrets` skips it)",
    ),
};
/// `zones[].updates.allow`.
pub static UPDATES_ALLOW: OtherSetting = OtherSetting {
    key: "zones[].updates.allow",
    range: "list of `{key, names, types}`",
    doc: doc(None, Reload, "what each key may write; at least one rule"),
};
/// `zones[].updates.allow[].key`.
pub static UPDATES_ALLOW_KEY: OtherSetting = OtherSetting {
    key: "zones[].updates.allow[].key",
    range: "a name in `keys`",
    doc: doc(None, Reload, "the key the rule is for"),
};
/// `zones[].updates.allow[].names`.
pub static UPDATES_ALLOW_NAMES: OtherSetting = OtherSetting {
    key: "zones[].updates.allow[].names",
    range: "list of patterns",
    doc: doc(
        None,
        Reload,
        "patterns relative to the origin: `www`, `@` (apex), `*` (any name), `_acme-challenge.*` (that label in front of the apex or of any name), `*.dyn` (one or more labels in front of `dyn`); a trailing dot makes a pattern absolute (it must lie in the zone)",
    ),
};
/// `zones[].updates.allow[].types`.
pub static UPDATES_ALLOW_TYPES: OtherSetting = OtherSetting {
    key: "zones[].updates.allow[].types",
    range: "`TXT`",
    doc: doc(
        None,
        Reload,
        "record types the key may write (other data belongs in static records)",
    ),
};
/// `zones[].updates.max_ttl`.
pub static UPDATES_MAX_TTL: IntSetting = IntSetting {
    key: "zones[].updates.max_ttl",
    default: Some(ddns::DEFAULT_MAX_TTL as i64),
    min: 0,
    max: 3600,
    unit: Seconds,
    doc: doc(None, Reload, "larger TTLs in updates are lowered to this"),
};
/// `zones[].updates.max_records_per_key`.
pub static UPDATES_MAX_RECORDS_PER_KEY: IntSetting = IntSetting {
    key: "zones[].updates.max_records_per_key",
    default: Some(ddns::DEFAULT_MAX_RECORDS_PER_KEY as i64),
    min: 1,
    max: 100_000,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "most dynamic records one key may hold in the zone; an update that would pass it is REFUSED",
    ),
};
/// `zones[].updates.max_fudge`.
pub static UPDATES_MAX_FUDGE: IntSetting = IntSetting {
    key: "zones[].updates.max_fudge",
    default: Some(ddns::DEFAULT_MAX_FUDGE as i64),
    min: 1,
    max: ddns::MAX_MAX_FUDGE as i64,
    unit: Seconds,
    doc: doc(
        None,
        Reload,
        "largest TSIG fudge accepted: a request whose time signed is further from gslb's clock than the smaller of this and its own fudge is NOTAUTH/BADTIME. A key listed in several zones takes the smallest of their values.",
    ),
};
/// `zones[].updates.max_rrset_bytes`.
pub static UPDATES_MAX_RRSET_BYTES: IntSetting = IntSetting {
    key: "zones[].updates.max_rrset_bytes",
    default: Some(ddns::DEFAULT_MAX_RRSET_BYTES as i64),
    min: 512,
    max: ddns::MAX_MAX_RRSET_BYTES as i64,
    unit: Bytes,
    doc: doc(
        None,
        Reload,
        "most bytes the dynamic records at one name may take in an answer, 12 bytes plus the RDATA per record; an update that would pass it is REFUSED, so every name stays answerable whole over TCP",
    ),
};

// --- health_checks --------------------------------------------------------

/// `health_checks.<name>.kind`.
pub static CHECK_KIND: OtherSetting = OtherSetting {
    key: "health_checks.<name>.kind",
    range: "`http`, `https` or `tcp`",
    doc: doc(None, Reload, "the probe's protocol"),
};
/// `health_checks.<name>.port`.
pub static CHECK_PORT: IntSetting = IntSetting {
    key: "health_checks.<name>.port",
    default: None,
    min: 1,
    max: 65_535,
    unit: Count,
    doc: doc(
        Some("80 / 443"),
        Reload,
        "port dialled on every target IP (required for `tcp`)",
    ),
};
/// `health_checks.<name>.path`.
pub static CHECK_PATH: OtherSetting = OtherSetting {
    key: "health_checks.<name>.path",
    range: "starts with `/`, no spaces",
    doc: doc(Some("`/`"), Reload, "HTTP path"),
};
/// `health_checks.<name>.host`.
pub static CHECK_HOST: OtherSetting = OtherSetting {
    key: "health_checks.<name>.host",
    range: "host name or IP",
    doc: doc(
        Some("target IP"),
        Reload,
        "HTTP Host header and TLS SNI; the target IP is dialled",
    ),
};
/// `health_checks.<name>.expect_status`.
pub static CHECK_EXPECT_STATUS: OtherSetting = OtherSetting {
    key: "health_checks.<name>.expect_status",
    range: "codes 100-599",
    doc: doc(
        Some("`200-399`"),
        Reload,
        "accepted HTTP statuses: `\"200-399\"`, `\"200,204\"`, `200` or a list",
    ),
};
/// `health_checks.<name>.body_contains`.
pub static CHECK_BODY_CONTAINS: OtherSetting = OtherSetting {
    key: "health_checks.<name>.body_contains",
    range: "",
    doc: doc(Some("none"), Reload, "substring the body must contain"),
};
/// `health_checks.<name>.insecure_skip_verify`.
pub static CHECK_INSECURE_SKIP_VERIFY: OtherSetting = OtherSetting {
    key: "health_checks.<name>.insecure_skip_verify",
    range: "`true` or `false`",
    doc: doc(
        Some("`false`"),
        Reload,
        "accept any TLS certificate (self-signed ingress)",
    ),
};
/// `health_checks.<name>.interval`.
pub static CHECK_INTERVAL: DurationSetting = DurationSetting {
    key: "health_checks.<name>.interval",
    default: Some(secs(5)),
    min: millis(100),
    max: secs(3600),
    doc: doc(None, Reload, "time between probes"),
};
/// `health_checks.<name>.timeout`.
pub static CHECK_TIMEOUT: DurationSetting = DurationSetting {
    key: "health_checks.<name>.timeout",
    default: Some(secs(2)),
    min: millis(10),
    max: secs(60),
    doc: doc(None, Reload, "bound on one probe; at most `interval`"),
};
/// `health_checks.<name>.rise`.
pub static CHECK_RISE: IntSetting = IntSetting {
    key: "health_checks.<name>.rise",
    default: Some(2),
    min: 1,
    max: 100,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "consecutive passes to become healthy; the first result decides outright",
    ),
};
/// `health_checks.<name>.fall`.
pub static CHECK_FALL: IntSetting = IntSetting {
    key: "health_checks.<name>.fall",
    default: Some(2),
    min: 1,
    max: 100,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "consecutive failures to become unhealthy; the first result decides outright",
    ),
};

// --- records --------------------------------------------------------------

/// `records[].name`.
pub static RECORD_NAME: OtherSetting = OtherSetting {
    key: "records[].name",
    range: "domain name",
    doc: doc(
        None,
        Reload,
        "owner name; must be inside a served zone, unique across the config and all record files",
    ),
};
/// `records[].ttl`.
pub static RECORD_TTL: IntSetting = IntSetting {
    key: "records[].ttl",
    default: None,
    min: 0,
    max: DAY,
    unit: Seconds,
    doc: doc(Some("zone `ttl`"), Reload, "answer TTL"),
};
/// `records[].answers`.
pub static RECORD_ANSWERS: IntSetting = IntSetting {
    key: "records[].answers",
    default: None,
    min: 1,
    max: 64,
    unit: Count,
    doc: doc(
        Some("all"),
        Reload,
        "at most this many addresses per answer",
    ),
};
/// `records[].fallback`.
pub static RECORD_FALLBACK: OtherSetting = OtherSetting {
    key: "records[].fallback",
    range: "`any` or `none`",
    doc: doc(
        Some("`any`"),
        Reload,
        "`none` turns on data residency: a client that matches some set's `geo` is only ever answered from those sets",
    ),
};
/// `records[].sets`.
pub static RECORD_SETS: OtherSetting = OtherSetting {
    key: "records[].sets",
    range: "list",
    doc: doc(None, Reload, "one set per cluster; at least one"),
};
/// `records[].sets[].id`.
pub static SET_ID: OtherSetting = OtherSetting {
    key: "records[].sets[].id",
    range: "1-253 letters, digits, `- _ . / :`",
    doc: doc(None, Reload, "unique in the record"),
};
/// `records[].sets[].targets`.
pub static SET_TARGETS: OtherSetting = OtherSetting {
    key: "records[].sets[].targets",
    range: "list of IPs and host names",
    doc: doc(
        None,
        Reload,
        "IPv4 and IPv6 addresses, and host names such as `lb-1234.eu-west-1.elb.example.test.` (resolved in the background); at least one. Addresses no client can connect to are refused: `0.0.0.0/8` and `::`, `255.255.255.255`, multicast, link-local (`169.254.0.0/16`, `fe80::/10`). Loopback, private and documentation ranges are allowed.",
    ),
};
/// `records[].sets[].weight`.
pub static SET_WEIGHT: IntSetting = IntSetting {
    key: "records[].sets[].weight",
    default: Some(1),
    min: 0,
    max: 1_000_000,
    unit: Count,
    doc: doc(
        None,
        Reload,
        "share of answers; 0 serves only when nothing else is left",
    ),
};
/// `records[].sets[].priority`.
pub static SET_PRIORITY: IntSetting = IntSetting {
    key: "records[].sets[].priority",
    default: Some(0),
    min: 0,
    max: 65_535,
    unit: Count,
    doc: doc(None, Reload, "failover tier; lower serves first"),
};
/// `records[].sets[].geo`.
pub static SET_GEO: OtherSetting = OtherSetting {
    key: "records[].sets[].geo",
    range: "`{continents, countries, subdivisions}`",
    doc: doc(
        Some("none"),
        Reload,
        "the clients this set is for, by `continents`, `countries` and `subdivisions`; at least one code",
    ),
};
/// `records[].sets[].geo.continents`.
pub static GEO_CONTINENTS: OtherSetting = OtherSetting {
    key: "records[].sets[].geo.continents",
    range: "AF AN AS EU NA OC SA",
    doc: doc(Some("`[]`"), Reload, "continent codes"),
};
/// `records[].sets[].geo.countries`.
pub static GEO_COUNTRIES: OtherSetting = OtherSetting {
    key: "records[].sets[].geo.countries",
    range: "ISO 3166-1 alpha-2",
    doc: doc(Some("`[]`"), Reload, "country codes such as `US`, `DE`"),
};
/// `records[].sets[].geo.subdivisions`.
pub static GEO_SUBDIVISIONS: OtherSetting = OtherSetting {
    key: "records[].sets[].geo.subdivisions",
    range: "ISO 3166-2",
    doc: doc(
        Some("`[]`"),
        Reload,
        "subdivision codes such as `US-CA`; a client matching a subdivision beats one matching its country, which beats its continent",
    ),
};
/// `records[].sets[].location.lat`.
pub static SET_LAT: FloatSetting = FloatSetting {
    key: "records[].sets[].location.lat",
    min: -90.0,
    max: 90.0,
    doc: doc(
        Some("none"),
        Reload,
        "latitude of the cluster in degrees, for nearest-cluster fallback (with `lon`)",
    ),
};
/// `records[].sets[].location.lon`.
pub static SET_LON: FloatSetting = FloatSetting {
    key: "records[].sets[].location.lon",
    min: -180.0,
    max: 180.0,
    doc: doc(
        Some("none"),
        Reload,
        "longitude of the cluster in degrees (with `lat`)",
    ),
};
/// `records[].sets[].health_check`.
pub static SET_HEALTH_CHECK: OtherSetting = OtherSetting {
    key: "records[].sets[].health_check",
    range: "a `health_checks` name",
    doc: doc(
        Some("none"),
        Reload,
        "the probe template; without one the set's targets are always up",
    ),
};

// --- record files ---------------------------------------------------------

/// `overrides` of record files.
pub static FILE_OVERRIDES: OtherSetting = OtherSetting {
    key: "overrides",
    range: "list of `{record, set, state, reason, object, at}`",
    doc: doc(
        Some("`[]`"),
        Reload,
        "record files only (as `gslb crd-sync` writes them from `GslbOverride` objects): overrides in force over the admin API's for as long as the file holds them. `state` `down` or `up`, `reason` at most 256 characters, `object` the `CLUSTER/NAMESPACE/NAME` it comes from, `at` an RFC 3339 time; a set may be overridden once over all record files.",
    ),
};

/// Every key, in the order of the reference page.
pub static ALL: &[Setting] = &[
    Setting::Other(&DNS_LISTEN),
    Setting::Other(&ADMIN_LISTEN),
    Setting::Other(&PROBE_LISTEN),
    Setting::Other(&GEOIP_DATABASE),
    Setting::Other(&RECORD_FILES),
    Setting::Int(&UDP_WORKERS),
    Setting::Int(&MAX_UDP_PAYLOAD),
    Setting::Duration(&TCP_IDLE_TIMEOUT),
    Setting::Int(&TCP_MAX_CONNECTIONS),
    Setting::Int(&TCP_MAX_CONNECTIONS_PER_IP),
    Setting::Int(&TCP_IPV4_PREFIX),
    Setting::Int(&TCP_IPV6_PREFIX),
    Setting::Duration(&SHUTDOWN_GRACE),
    Setting::Int(&MAX_CONFIG_BYTES),
    Setting::Int(&MAX_RECORDS),
    Setting::Other(&ADMIN_TOKEN_FILE),
    Setting::Int(&ADMIN_MAX_CONNECTIONS),
    Setting::Int(&ADMIN_MAX_CONNECTIONS_PER_CLIENT),
    Setting::Duration(&ADMIN_HEADER_TIMEOUT),
    Setting::Duration(&ADMIN_TIMEOUT),
    Setting::Other(&STATE_FILE),
    Setting::Other(&RESOLVERS),
    Setting::Other(&INSTANCE),
    Setting::Other(&PEERS),
    Setting::Other(&PEER_NAME),
    Setting::Other(&PEER_URL),
    Setting::Other(&PEER_TOKEN_FILE),
    Setting::Other(&PEER_CA_FILE),
    Setting::Other(&HEALTH_QUORUM),
    Setting::Duration(&PEER_VIEW_MAX_AGE),
    Setting::Other(&ADMIN_TLS),
    Setting::Other(&ADMIN_TLS_CERT_FILE),
    Setting::Other(&ADMIN_TLS_KEY_FILE),
    Setting::Other(&METRICS_PER_RECORD),
    Setting::Other(&RATE_LIMIT),
    Setting::Int(&RATE_LIMIT_RESPONSES_PER_SECOND),
    Setting::Int(&RATE_LIMIT_SLIP),
    Setting::Int(&RATE_LIMIT_IPV4_PREFIX),
    Setting::Int(&RATE_LIMIT_IPV6_PREFIX),
    Setting::Duration(&RATE_LIMIT_WINDOW),
    Setting::Int(&RATE_LIMIT_TABLE_SIZE),
    Setting::Duration(&ALIAS_MIN_REFRESH),
    Setting::Duration(&ALIAS_MAX_REFRESH),
    Setting::Duration(&ALIAS_MAX_STALE),
    Setting::Int(&ALIAS_MAX_ADDRESSES),
    Setting::Other(&ZONE_ORIGIN),
    Setting::Int(&ZONE_TTL),
    Setting::Int(&ZONE_DEGRADED_TTL),
    Setting::Other(&ZONE_NAMESERVERS),
    Setting::Other(&ZONE_STATIC),
    Setting::Other(&ZONE_UPDATES),
    Setting::Other(&SOA_MNAME),
    Setting::Other(&SOA_RNAME),
    Setting::Int(&SOA_SERIAL),
    Setting::Int(&SOA_REFRESH),
    Setting::Int(&SOA_RETRY),
    Setting::Int(&SOA_EXPIRE),
    Setting::Int(&SOA_MINIMUM),
    Setting::Other(&STATIC_NAME),
    Setting::Other(&STATIC_TYPE),
    Setting::Int(&STATIC_TTL),
    Setting::Other(&STATIC_DATA),
    Setting::Other(&ZONE_DNSSEC),
    Setting::Other(&DNSSEC_KEY_FILES),
    Setting::Duration(&DNSSEC_SIGNATURE_VALIDITY),
    Setting::Duration(&DNSSEC_SIGNATURE_REFRESH),
    Setting::Int(&DNSSEC_RRSIG_CACHE),
    Setting::Other(&UPDATES_KEYS),
    Setting::Other(&UPDATES_ALLOW),
    Setting::Int(&UPDATES_MAX_TTL),
    Setting::Int(&UPDATES_MAX_RECORDS_PER_KEY),
    Setting::Int(&UPDATES_MAX_FUDGE),
    Setting::Int(&UPDATES_MAX_RRSET_BYTES),
    Setting::Other(&UPDATES_KEY_NAME),
    Setting::Other(&UPDATES_KEY_ALGORITHM),
    Setting::Other(&UPDATES_KEY_SECRET_FILE),
    Setting::Other(&UPDATES_ALLOW_KEY),
    Setting::Other(&UPDATES_ALLOW_NAMES),
    Setting::Other(&UPDATES_ALLOW_TYPES),
    Setting::Other(&CHECK_KIND),
    Setting::Int(&CHECK_PORT),
    Setting::Other(&CHECK_PATH),
    Setting::Other(&CHECK_HOST),
    Setting::Other(&CHECK_EXPECT_STATUS),
    Setting::Other(&CHECK_BODY_CONTAINS),
    Setting::Other(&CHECK_INSECURE_SKIP_VERIFY),
    Setting::Duration(&CHECK_INTERVAL),
    Setting::Duration(&CHECK_TIMEOUT),
    Setting::Int(&CHECK_RISE),
    Setting::Int(&CHECK_FALL),
    Setting::Other(&RECORD_NAME),
    Setting::Int(&RECORD_TTL),
    Setting::Int(&RECORD_ANSWERS),
    Setting::Other(&RECORD_FALLBACK),
    Setting::Other(&RECORD_SETS),
    Setting::Other(&SET_ID),
    Setting::Other(&SET_TARGETS),
    Setting::Int(&SET_WEIGHT),
    Setting::Int(&SET_PRIORITY),
    Setting::Other(&SET_GEO),
    Setting::Other(&GEO_CONTINENTS),
    Setting::Other(&GEO_COUNTRIES),
    Setting::Other(&GEO_SUBDIVISIONS),
    Setting::Float(&SET_LAT),
    Setting::Float(&SET_LON),
    Setting::Other(&SET_HEALTH_CHECK),
    Setting::Other(&FILE_OVERRIDES),
];
