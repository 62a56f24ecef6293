//! Raw YAML shapes → the typed model, collecting every problem with the file
//! and the path of the field (`records[3].sets[1].targets[0]: "10.0.0.300" is
//! not an IP address`) before failing, so an operator fixes a file in one go.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use super::raw::{
    RawConfig, RawGeo, RawHealthCheck, RawRecord, RawRecordFile, RawServer, RawSet, RawStatus,
    RawStatusItem, RawZone,
};
use crate::geo::{Continent, Coordinates, Country, Subdivision};
use crate::model::{
    Config, Fallback, GeoScope, HealthCheck, ProbeKind, Record, Server, Soa, TargetSet, Zone,
};
use crate::name::Name;

/// Largest TTL gslb accepts: a day. A longer TTL defeats failover.
pub const MAX_TTL: i64 = 86_400;
/// Largest `answers` value.
const MAX_ANSWERS: i64 = 64;
/// Largest set weight.
const MAX_WEIGHT: i64 = 1_000_000;
/// Default zone TTL.
const DEFAULT_TTL: i64 = 30;

mod alias;
mod rate_limit;
mod statics;
mod updates;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file it is in.
    pub file: Arc<str>,
    /// The field, e.g. `records[3].sets[1].targets[0]`; empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

/// Every problem found in a config and its record files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors for one file.
struct Checker<'e> {
    file: Arc<str>,
    errors: &'e mut Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, path: impl fmt::Display, message: impl fmt::Display) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            path: path.to_string(),
            message: message.to_string(),
        });
    }

    /// An integer in `min..=max`, or `default` when absent.
    fn int<T: TryFrom<i64>>(
        &mut self,
        path: impl fmt::Display,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Option<T> {
        let value = value.unwrap_or(default);
        if !(min..=max).contains(&value) {
            self.error(path, format!("{value} is out of range ({min} to {max})"));
            return None;
        }
        T::try_from(value).ok()
    }

    fn name(&mut self, path: impl fmt::Display, text: &str) -> Option<Name> {
        Name::parse(text)
            .map_err(|e| self.error(path, format!("{text:?} is not a domain name: it {e}")))
            .ok()
    }

    fn ip(&mut self, path: impl fmt::Display, text: &str) -> Option<IpAddr> {
        text.parse()
            .map_err(|_| self.error(path, format!("{text:?} is not an IP address")))
            .ok()
    }

    fn duration(
        &mut self,
        path: impl fmt::Display,
        text: Option<&str>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let Some(text) = text else {
            return Some(default);
        };
        let path = path.to_string();
        let value = humantime::parse_duration(text)
            .map_err(|e| {
                self.error(
                    &path,
                    format!("{text:?} is not a duration such as 5s or 500ms: {e}"),
                )
            })
            .ok()?;
        if value < min || value > max {
            self.error(
                path,
                format!(
                    "{text} is out of range ({} to {})",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            );
            return None;
        }
        Some(value)
    }
}

/// A record file read from disk, to be merged into the config.
pub struct RecordSource {
    /// Path shown in messages.
    pub file: Arc<str>,
    /// Its contents.
    pub raw: RawRecordFile,
}

/// Validates a config and its record files together. `default_serial` is
/// the SOA serial used where a zone sets none.
pub fn validate(
    raw: RawConfig,
    file: &str,
    record_files: Vec<RecordSource>,
    default_serial: u32,
) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let file: Arc<str> = file.into();
    let mut check = Checker {
        file: file.clone(),
        errors: &mut errors,
    };
    let server = server(&mut check, &raw.server);
    let zones = zones(&mut check, &raw.zones, default_serial);
    let health_checks = health_checks(&mut check, &raw.health_checks);
    let mut records = RecordChecker {
        zones: &zones,
        health_checks: &health_checks,
        seen: HashMap::new(),
        records: Vec::new(),
    };
    records.add_all(&mut check, &raw.records);
    for source in &record_files {
        let mut check = Checker {
            file: source.file.clone(),
            errors: &mut errors,
        };
        records.add_all(&mut check, &source.raw.records);
    }
    let records = records.records;
    let mut zones = zones;
    let mut check = Checker {
        file: file.clone(),
        errors: &mut errors,
    };
    let max_records = server.as_ref().map(|s| s.max_records);
    statics::check(&mut check, &raw.zones, &mut zones, &records, max_records);
    match server {
        Some(server) if errors.is_empty() => Ok(Config {
            server,
            zones,
            health_checks,
            records,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

fn server(check: &mut Checker<'_>, raw: &RawServer) -> Option<Server> {
    if raw.dns_listen.is_empty() {
        check.error(
            "server.dns_listen",
            "at least one address is required, e.g. \"0.0.0.0:53\"",
        );
    }
    let dns_listen: Vec<SocketAddr> = raw
        .dns_listen
        .iter()
        .enumerate()
        .filter_map(|(i, text)| socket_addr(check, format!("server.dns_listen[{i}]"), text))
        .collect();
    let admin_listen = raw
        .admin_listen
        .as_deref()
        .and_then(|text| socket_addr(check, "server.admin_listen", text));
    let default_workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let udp_workers = check.int(
        "server.udp_workers",
        raw.udp_workers,
        default_workers,
        1,
        256,
    );
    let max_udp_payload = check.int(
        "server.max_udp_payload",
        raw.max_udp_payload,
        1232,
        512,
        4096,
    );
    let tcp_idle_timeout = check.duration(
        "server.tcp_idle_timeout",
        raw.tcp_idle_timeout.as_deref(),
        Duration::from_secs(10),
        Duration::from_millis(100),
        Duration::from_secs(3600),
    );
    let tcp_max_connections = check.int(
        "server.tcp_max_connections",
        raw.tcp_max_connections,
        1_000,
        1,
        1_000_000,
    );
    let tcp_max_connections_per_ip = check.int(
        "server.tcp_max_connections_per_ip",
        raw.tcp_max_connections_per_ip,
        20,
        1,
        1_000_000,
    );
    let shutdown_grace = check.duration(
        "server.shutdown_grace",
        raw.shutdown_grace.as_deref(),
        Duration::from_secs(5),
        Duration::ZERO,
        Duration::from_secs(300),
    );
    let max_config_bytes = check.int(
        "server.max_config_bytes",
        raw.max_config_bytes,
        super::limits::DEFAULT_MAX_CONFIG_BYTES as i64,
        super::limits::MIN_MAX_CONFIG_BYTES as i64,
        super::limits::MAX_MAX_CONFIG_BYTES as i64,
    );
    let max_records = check.int(
        "server.max_records",
        raw.max_records,
        super::limits::DEFAULT_MAX_RECORDS as i64,
        1,
        super::limits::MAX_MAX_RECORDS as i64,
    );
    let admin_max_connections = check.int(
        "server.admin_max_connections",
        raw.admin_max_connections,
        64,
        1,
        10_000,
    );
    let admin_timeout = check.duration(
        "server.admin_timeout",
        raw.admin_timeout.as_deref(),
        Duration::from_secs(10),
        Duration::from_millis(100),
        Duration::from_secs(300),
    );
    let rate_limit = rate_limit::rate_limit(check, raw.rate_limit.as_ref());
    let resolvers: Vec<SocketAddr> = raw
        .resolvers
        .iter()
        .enumerate()
        .filter_map(|(i, text)| socket_addr(check, format!("server.resolvers[{i}]"), text))
        .collect();
    let resolvers_ok = resolvers.len() == raw.resolvers.len();
    let alias = alias::alias(check, raw.alias.as_ref());
    Some(Server {
        admin_token_file: raw.admin_token_file.as_ref().map(PathBuf::from),
        admin_max_connections: admin_max_connections?,
        admin_timeout: admin_timeout?,
        state_file: raw.state_file.as_ref().map(PathBuf::from),
        dns_listen,
        admin_listen,
        geoip_database: raw.geoip_database.as_ref().map(PathBuf::from),
        record_files: raw.record_files.iter().map(PathBuf::from).collect(),
        udp_workers: udp_workers?,
        max_udp_payload: max_udp_payload?,
        tcp_idle_timeout: tcp_idle_timeout?,
        tcp_max_connections: tcp_max_connections?,
        tcp_max_connections_per_ip: tcp_max_connections_per_ip?,
        shutdown_grace: shutdown_grace?,
        max_config_bytes: max_config_bytes?,
        max_records: max_records?,
        rate_limit: rate_limit?,
        resolvers: Some(resolvers).filter(|_| resolvers_ok)?,
        alias: alias?,
    })
}

fn socket_addr(check: &mut Checker<'_>, path: impl fmt::Display, text: &str) -> Option<SocketAddr> {
    text.parse()
        .map_err(|_| {
            check.error(
                path,
                format!("{text:?} is not an address with a port, such as \"127.0.0.1:53\" or \"[::1]:53\""),
            )
        })
        .ok()
}

fn zones(check: &mut Checker<'_>, raw: &[RawZone], default_serial: u32) -> Vec<Zone> {
    if raw.is_empty() {
        check.error("zones", "at least one zone is required");
    }
    let mut zones: Vec<Zone> = Vec::new();
    for (i, raw) in raw.iter().enumerate() {
        let path = format!("zones[{i}]");
        let Some(zone) = zone(check, &path, raw, default_serial) else {
            continue;
        };
        if let Some(j) = zones.iter().position(|z| z.origin == zone.origin) {
            check.error(
                format!("{path}.origin"),
                format!("{} is already zones[{j}]", zone.origin),
            );
            continue;
        }
        zones.push(zone);
    }
    let policies: Vec<(usize, &crate::model::update::UpdatePolicy)> = zones
        .iter()
        .enumerate()
        .filter_map(|(i, z)| Some((i, z.updates.as_ref()?)))
        .collect();
    updates::check_keys_agree(check, &policies);
    let origins: Vec<Name> = zones.iter().map(|z| z.origin.clone()).collect();
    for (i, zone) in zones.iter().enumerate() {
        for (ns, glue) in &zone.nameservers {
            let in_zone = origins.iter().any(|o| ns.is_within(o));
            if in_zone && glue.is_empty() {
                check.error(
                    format!("zones[{i}].nameservers.{ns}"),
                    "is inside a served zone, so it needs glue addresses",
                );
            } else if !in_zone && !glue.is_empty() {
                check.error(
                    format!("zones[{i}].nameservers.{ns}"),
                    "is outside every served zone: gslb cannot serve its addresses, list it with []",
                );
            }
        }
        let ns_len = crate::dns::answer::nameservers_response_len(&zone.origin, &zone.nameservers);
        if ns_len > usize::from(u16::MAX) {
            check.error(
                format!("zones[{i}].nameservers"),
                format!("the NS answer with all glue would take {ns_len} bytes, more than the 65535 a DNS message holds: list fewer name servers or addresses"),
            );
        }
    }
    zones
}

fn zone(check: &mut Checker<'_>, path: &str, raw: &RawZone, default_serial: u32) -> Option<Zone> {
    let origin = check.name(format!("{path}.origin"), &raw.origin);
    let ttl = check.int(format!("{path}.ttl"), raw.ttl, DEFAULT_TTL, 0, MAX_TTL);
    let s = &raw.soa;
    let mname = check.name(format!("{path}.soa.mname"), &s.mname);
    let rname = check.name(format!("{path}.soa.rname"), &s.rname);
    let u32_max = i64::from(u32::MAX);
    let serial = check.int(
        format!("{path}.soa.serial"),
        s.serial,
        i64::from(default_serial),
        0,
        u32_max,
    );
    let refresh = check.int(format!("{path}.soa.refresh"), s.refresh, 3600, 1, u32_max);
    let retry = check.int(format!("{path}.soa.retry"), s.retry, 600, 1, u32_max);
    let expire = check.int(format!("{path}.soa.expire"), s.expire, 604_800, 1, u32_max);
    let minimum = check.int(format!("{path}.soa.minimum"), s.minimum, 60, 0, MAX_TTL);
    if raw.nameservers.is_empty() {
        check.error(
            format!("{path}.nameservers"),
            "at least one name server is required",
        );
    }
    let mut nameservers = Vec::new();
    for (ns, addrs) in &raw.nameservers {
        let ns_path = format!("{path}.nameservers.{ns}");
        let Some(name) = check.name(&ns_path, ns) else {
            continue;
        };
        let glue: Vec<IpAddr> = addrs
            .iter()
            .enumerate()
            .filter_map(|(k, a)| check.ip(format!("{ns_path}[{k}]"), a))
            .collect();
        // A bad address is already reported; do not also call the glue missing.
        if glue.len() == addrs.len() {
            nameservers.push((name, glue));
        }
    }
    let updates = raw
        .updates
        .as_ref()
        .and_then(|u| updates::updates(check, &format!("{path}.updates"), u, origin.as_ref()));
    // Keep a zone whose origin parsed even if other fields did not, so its
    // records are still checked against it; the errors already fail the load.
    Some(Zone {
        origin: origin?,
        ttl: ttl.unwrap_or_default(),
        soa: Soa {
            mname: mname.unwrap_or_else(zone_fallback_name),
            rname: rname.unwrap_or_else(zone_fallback_name),
            serial: serial.unwrap_or_default(),
            refresh: refresh.unwrap_or_default(),
            retry: retry.unwrap_or_default(),
            expire: expire.unwrap_or_default(),
            minimum: minimum.unwrap_or_default(),
        },
        nameservers,
        statics: Vec::new(),
        updates,
    })
}

/// Stands in for a name that failed to parse in a zone kept for checking.
fn zone_fallback_name() -> Name {
    Name::parse("invalid").unwrap_or_else(|_| unreachable!("a constant valid name"))
}

fn health_checks(
    check: &mut Checker<'_>,
    raw: &BTreeMap<String, RawHealthCheck>,
) -> BTreeMap<String, Arc<HealthCheck>> {
    raw.iter()
        .filter_map(|(name, raw)| {
            health_check(check, &format!("health_checks.{name}"), name, raw)
                .map(|hc| (name.clone(), Arc::new(hc)))
        })
        .collect()
}

fn health_check(
    check: &mut Checker<'_>,
    path: &str,
    name: &str,
    raw: &RawHealthCheck,
) -> Option<HealthCheck> {
    let kind = match raw.kind.as_str() {
        "http" => Some(ProbeKind::Http),
        "https" => Some(ProbeKind::Https),
        "tcp" => Some(ProbeKind::Tcp),
        other => {
            check.error(
                format!("{path}.kind"),
                format!("{other:?} is not one of http, https, tcp"),
            );
            None
        }
    };
    let default_port = match kind {
        Some(ProbeKind::Http) => Some(80),
        Some(ProbeKind::Https) => Some(443),
        _ => None,
    };
    let port = match (raw.port, default_port) {
        (None, None) if kind.is_some() => {
            check.error(format!("{path}.port"), "is required for tcp checks");
            None
        }
        (port, default) => check.int(format!("{path}.port"), port, default.unwrap_or(0), 1, 65535),
    };
    if kind == Some(ProbeKind::Tcp) {
        for (field, set) in [
            ("path", raw.path.is_some()),
            ("host", raw.host.is_some()),
            ("expect_status", raw.expect_status.is_some()),
            ("body_contains", raw.body_contains.is_some()),
            ("insecure_skip_verify", raw.insecure_skip_verify.is_some()),
        ] {
            if set {
                check.error(
                    format!("{path}.{field}"),
                    "only applies to http and https checks",
                );
            }
        }
    }
    let http_path = raw.path.clone().unwrap_or_else(|| "/".into());
    if !http_path.starts_with('/')
        || http_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        check.error(
            format!("{path}.path"),
            format!("{http_path:?} must start with '/' and have no spaces"),
        );
    }
    if let Some(host) = &raw.host
        && Name::parse(host).is_err()
        && host.parse::<IpAddr>().is_err()
    {
        check.error(
            format!("{path}.host"),
            format!("{host:?} is not a host name"),
        );
    }
    let expect_status = expect_status(
        check,
        &format!("{path}.expect_status"),
        raw.expect_status.as_ref(),
    );
    let interval = check.duration(
        format!("{path}.interval"),
        raw.interval.as_deref(),
        Duration::from_secs(5),
        Duration::from_millis(100),
        Duration::from_secs(3600),
    );
    let timeout = check.duration(
        format!("{path}.timeout"),
        raw.timeout.as_deref(),
        Duration::from_secs(2),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    if let (Some(i), Some(t)) = (interval, timeout)
        && t > i
    {
        check.error(
            format!("{path}.timeout"),
            "must not be longer than interval",
        );
    }
    let rise = check.int(format!("{path}.rise"), raw.rise, 2, 1, 100);
    let fall = check.int(format!("{path}.fall"), raw.fall, 2, 1, 100);
    Some(HealthCheck {
        name: name.to_owned(),
        kind: kind?,
        port: port?,
        path: http_path,
        host: raw.host.clone(),
        expect_status: expect_status?,
        body_contains: raw.body_contains.clone(),
        insecure_skip_verify: raw.insecure_skip_verify.unwrap_or(false),
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
    })
}

fn expect_status(
    check: &mut Checker<'_>,
    path: &str,
    raw: Option<&RawStatus>,
) -> Option<Vec<(u16, u16)>> {
    let items: Vec<String> = match raw {
        None => return Some(vec![(200, 399)]),
        Some(RawStatus::Code(code)) => vec![code.to_string()],
        Some(RawStatus::Text(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        Some(RawStatus::List(list)) => list
            .iter()
            .map(|item| match item {
                RawStatusItem::Code(code) => code.to_string(),
                RawStatusItem::Text(text) => text.trim().to_owned(),
            })
            .collect(),
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
    };
    let mut ranges = Vec::new();
    for item in &items {
        let range = match item.split_once('-') {
            Some((lo, hi)) => parse(lo).zip(parse(hi)).filter(|(lo, hi)| lo <= hi),
            None => parse(item).map(|c| (c, c)),
        };
        match range {
            Some(range) => ranges.push(range),
            None => check.error(
                path,
                format!("{item:?} is not a status code (100-599) or a range such as 200-399"),
            ),
        }
    }
    (ranges.len() == items.len() && !ranges.is_empty()).then_some(ranges)
}

/// Validates records from every source against the zones and templates,
/// and rejects a name defined twice across sources.
struct RecordChecker<'a> {
    zones: &'a [Zone],
    health_checks: &'a BTreeMap<String, Arc<HealthCheck>>,
    /// Where each record name was first defined, for duplicate messages.
    seen: HashMap<Name, String>,
    records: Vec<Record>,
}

impl RecordChecker<'_> {
    fn add_all(&mut self, check: &mut Checker<'_>, raw: &[RawRecord]) {
        for (i, raw) in raw.iter().enumerate() {
            let path = format!("records[{i}]");
            // Duplicates are checked on the name alone, so a second
            // definition is reported even when the first has other errors.
            if let Ok(name) = Name::parse(&raw.name) {
                if let Some(first) = self.seen.get(&name) {
                    check.error(
                        format!("{path}.name"),
                        format!("{name} is already defined in {first}"),
                    );
                    continue;
                }
                self.seen.insert(name, format!("{} {path}", check.file));
            }
            if let Some(record) = self.record(check, &path, raw) {
                self.records.push(record);
            }
        }
    }

    fn record(&self, check: &mut Checker<'_>, path: &str, raw: &RawRecord) -> Option<Record> {
        let name = check.name(format!("{path}.name"), &raw.name);
        let zone = name.as_ref().and_then(|name| {
            let zone = self
                .zones
                .iter()
                .filter(|z| name.is_within(&z.origin))
                .max_by_key(|z| z.origin.wire().len());
            if zone.is_none() && !self.zones.is_empty() {
                let served: Vec<String> = self.zones.iter().map(|z| z.origin.to_string()).collect();
                check.error(
                    format!("{path}.name"),
                    format!("{name} is not inside a served zone ({})", served.join(", ")),
                );
            }
            if let Some(ns_zone) = self
                .zones
                .iter()
                .find(|z| z.nameservers.iter().any(|(ns, _)| ns == name))
            {
                check.error(
                    format!("{path}.name"),
                    format!(
                        "{name} is a name server of zone {}; gslb serves its glue",
                        ns_zone.origin
                    ),
                );
            }
            zone
        });
        let ttl = check.int(
            format!("{path}.ttl"),
            raw.ttl,
            zone.map_or(DEFAULT_TTL, |z| i64::from(z.ttl)),
            0,
            MAX_TTL,
        );
        let answers = match raw.answers {
            None => Some(None),
            Some(n) => check
                .int(format!("{path}.answers"), Some(n), 0, 1, MAX_ANSWERS)
                .map(Some),
        };
        let fallback = match raw.fallback.as_deref() {
            None | Some("any") => Some(Fallback::Any),
            Some("none") => Some(Fallback::None),
            Some(other) => {
                check.error(
                    format!("{path}.fallback"),
                    format!("{other:?} is not one of any, none"),
                );
                None
            }
        };
        if raw.sets.is_empty() {
            check.error(format!("{path}.sets"), "at least one set is required");
        }
        let mut sets: Vec<TargetSet> = Vec::new();
        for (j, raw_set) in raw.sets.iter().enumerate() {
            let set_path = format!("{path}.sets[{j}]");
            if let Some(k) = raw.sets[..j].iter().position(|s| s.id == raw_set.id) {
                check.error(
                    format!("{set_path}.id"),
                    format!("{:?} is already the id of sets[{k}]", raw_set.id),
                );
            }
            if let Some(set) = self.set(check, &set_path, raw_set) {
                sets.push(set);
            }
        }
        let (name, ttl, answers, fallback) = (name?, ttl?, answers?, fallback?);
        (sets.len() == raw.sets.len()).then(|| Record {
            name,
            ttl,
            answers,
            fallback,
            sets,
            source: check.file.clone(),
        })
    }

    fn set(&self, check: &mut Checker<'_>, path: &str, raw: &RawSet) -> Option<TargetSet> {
        let id_ok = !raw.id.is_empty()
            && raw.id.len() <= 253
            && raw
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c));
        if !id_ok {
            check.error(
                format!("{path}.id"),
                format!("{:?} must be 1-253 letters, digits or - _ . / :", raw.id),
            );
        }
        if raw.targets.is_empty() {
            check.error(
                format!("{path}.targets"),
                "at least one address is required",
            );
        }
        let mut targets: Vec<IpAddr> = Vec::new();
        let mut hostnames: Vec<Name> = Vec::new();
        for (k, text) in raw.targets.iter().enumerate() {
            let target_path = format!("{path}.targets[{k}]");
            let Some(target) = alias::target(check, &target_path, text) else {
                continue;
            };
            match target {
                alias::Target::Ip(ip) if targets.contains(&ip) => {
                    check.error(target_path, format!("{ip} is listed twice"));
                }
                alias::Target::Ip(ip) => targets.push(ip),
                alias::Target::Host(name) if hostnames.contains(&name) => {
                    check.error(target_path, format!("{name} is listed twice"));
                }
                alias::Target::Host(name) => hostnames.push(name),
            }
        }
        let weight = check.int(format!("{path}.weight"), raw.weight, 1, 0, MAX_WEIGHT);
        let priority = check.int(format!("{path}.priority"), raw.priority, 0, 0, 65535);
        let geo = geo_scope(check, &format!("{path}.geo"), raw.geo.as_ref());
        let location = raw.location.and_then(|l| {
            let ok = (-90.0..=90.0).contains(&l.lat) && (-180.0..=180.0).contains(&l.lon);
            if !ok {
                check.error(
                    format!("{path}.location"),
                    format!(
                        "lat {} lon {} is not on Earth (lat -90..90, lon -180..180)",
                        l.lat, l.lon
                    ),
                );
            }
            ok.then_some(Coordinates {
                lat: l.lat,
                lon: l.lon,
            })
        });
        let location_ok = raw.location.is_none() || location.is_some();
        let health_check = match &raw.health_check {
            None => Some(None),
            Some(name) => match self.health_checks.get(name) {
                Some(hc) => Some(Some(hc.clone())),
                None => {
                    let known: Vec<&str> = self.health_checks.keys().map(String::as_str).collect();
                    check.error(
                        format!("{path}.health_check"),
                        format!(
                            "{name:?} is not defined in health_checks (defined: {})",
                            known.join(", ")
                        ),
                    );
                    None
                }
            },
        };
        let all_ok = id_ok
            && targets.len() + hostnames.len() == raw.targets.len()
            && !raw.targets.is_empty()
            && location_ok;
        Some(TargetSet {
            id: raw.id.clone(),
            targets,
            hostnames,
            weight: weight?,
            priority: priority?,
            geo: geo?,
            location,
            health_check: health_check?,
        })
        .filter(|_| all_ok)
    }
}

fn geo_scope(check: &mut Checker<'_>, path: &str, raw: Option<&RawGeo>) -> Option<GeoScope> {
    let Some(raw) = raw else {
        return Some(GeoScope::default());
    };
    let mut ok = true;
    let mut codes = |field: &str, list: &[String], what: &str, parse: &dyn Fn(&str) -> bool| {
        for (k, code) in list.iter().enumerate() {
            if !parse(code) {
                check.error(
                    format!("{path}.{field}[{k}]"),
                    format!("{code:?} is not {what}"),
                );
                ok = false;
            }
        }
    };
    codes(
        "continents",
        &raw.continents,
        "a continent code (AF AN AS EU NA OC SA)",
        &|c| Continent::parse(c).is_some(),
    );
    codes(
        "countries",
        &raw.countries,
        "an ISO 3166-1 alpha-2 country code",
        &|c| Country::parse(c).is_some(),
    );
    codes(
        "subdivisions",
        &raw.subdivisions,
        "an ISO 3166-2 subdivision code such as US-CA",
        &|c| Subdivision::parse(c).is_some(),
    );
    let scope = GeoScope {
        continents: raw
            .continents
            .iter()
            .filter_map(|c| Continent::parse(c))
            .collect(),
        countries: raw
            .countries
            .iter()
            .filter_map(|c| Country::parse(c))
            .collect(),
        subdivisions: raw
            .subdivisions
            .iter()
            .filter_map(|c| Subdivision::parse(c))
            .collect(),
    };
    if ok && scope.is_empty() {
        check.error(
            path,
            "lists no continents, countries or subdivisions; leave geo out instead",
        );
        return None;
    }
    ok.then_some(scope)
}

/// What one record is checked against outside a full load: the zones and
/// health check templates of a config, and the names its own records define.
///
/// `gslb crd-sync` checks every record it is about to write with this, so it
/// never writes one the server would reject: the server rejects a whole
/// record file for one bad record, which would block every later update.
#[derive(Debug, Clone)]
pub struct RecordScope {
    zones: Vec<Zone>,
    health_checks: BTreeMap<String, Arc<HealthCheck>>,
    /// False when the scope was built from zone origins alone: then no
    /// health check name can be verified.
    health_checks_known: bool,
    /// Names the config's own `records` define, with where; a record file
    /// defining one of them again is rejected by the server.
    reserved: HashMap<Name, String>,
}

impl RecordScope {
    /// The zones, health checks and record names of a config file. Only
    /// `zones` and `health_checks` must be valid: `server` (including
    /// `record_files`, which need not exist) is not looked at.
    pub fn from_config(raw: &RawConfig, file: &str) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let mut check = Checker {
            file: file.into(),
            errors: &mut errors,
        };
        let zones = zones(&mut check, &raw.zones, 0);
        let health_checks = health_checks(&mut check, &raw.health_checks);
        let reserved = raw
            .records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((Name::parse(&r.name).ok()?, format!("{file} records[{i}]"))))
            .collect();
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Self {
            zones,
            health_checks,
            health_checks_known: true,
            reserved,
        })
    }

    /// Zones given by origin only (`global.example.test.`); health check
    /// names cannot be verified against such a scope.
    pub fn from_origins(origins: &[&str], source: &str) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let mut check = Checker {
            file: source.into(),
            errors: &mut errors,
        };
        if origins.is_empty() {
            check.error("", "at least one zone origin is required");
        }
        let mut zones: Vec<Zone> = Vec::new();
        for (i, text) in origins.iter().enumerate() {
            let Some(origin) = check.name(format!("[{i}]"), text) else {
                continue;
            };
            if zones.iter().all(|z| z.origin != origin) {
                zones.push(Zone {
                    origin,
                    ttl: DEFAULT_TTL as u32,
                    soa: Soa {
                        mname: zone_fallback_name(),
                        rname: zone_fallback_name(),
                        serial: 0,
                        refresh: 0,
                        retry: 0,
                        expire: 0,
                        minimum: 0,
                    },
                    nameservers: Vec::new(),
                    statics: Vec::new(),
                    updates: None,
                });
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Self {
            zones,
            health_checks: BTreeMap::new(),
            health_checks_known: false,
            reserved: HashMap::new(),
        })
    }

    /// Whether `health_check` names can be checked (the scope came from a
    /// config file, not from a list of origins).
    pub fn health_checks_known(&self) -> bool {
        self.health_checks_known
    }

    /// The served zone origins, for messages.
    pub fn origins(&self) -> Vec<String> {
        self.zones.iter().map(|z| z.origin.to_string()).collect()
    }

    /// Checks one record exactly as a load of a record file named `file`
    /// would, plus the clash with a name the config itself defines. Error
    /// paths are relative to the record (`name`, `sets[0].geo.countries[0]`).
    pub fn check(&self, file: &str, raw: &RawRecord) -> Result<Record, ConfigErrors> {
        let mut errors = Vec::new();
        let mut check = Checker {
            file: file.into(),
            errors: &mut errors,
        };
        let records = RecordChecker {
            zones: &self.zones,
            health_checks: &self.health_checks,
            seen: HashMap::new(),
            records: Vec::new(),
        };
        let record = records.record(&mut check, "", raw);
        if let Some(first) = record.as_ref().and_then(|r| self.reserved.get(&r.name)) {
            check.error(
                "name",
                format!("{} is already defined in {first}", raw.name),
            );
        }
        match record {
            Some(record) if errors.is_empty() => Ok(record),
            _ => Err(ConfigErrors(
                errors
                    .into_iter()
                    .map(|mut e| {
                        e.path = e.path.trim_start_matches('.').to_owned();
                        e
                    })
                    .collect(),
            )),
        }
    }
}
