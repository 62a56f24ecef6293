//! DNSEndpoint objects → the record file gslb serves: a pure function of the
//! objects and the served zones, with every endpoint it leaves out named and
//! explained. No I/O, no clock, no logging: the watcher logs what this
//! returns.
//!
//! # Steps
//!
//! 1. Each endpoint is mapped on its own to a candidate set (see the module
//!    docs of [`crate::crd_sync`] for the table) and checked, as a one-set
//!    record, with [`RecordScope::check`]: the very checks the server runs on
//!    a record file. A failing endpoint is rejected; the others go on.
//! 2. Each name belongs to one namespace ([`ownership`]): candidates from
//!    namespaces the owner does not share the name with are rejected.
//! 3. Candidates are grouped by (record name, set id). The owner
//!    namespace's objects come first, then the oldest object
//!    (`creationTimestamp`, then namespace/name) owns a set id; endpoints of
//!    other objects claiming it are rejected. Endpoints of the owning object
//!    with the same set id (an `A` and an `AAAA` endpoint, say) merge their
//!    targets when their routing keys agree, and are rejected otherwise.
//! 4. The sets of a name become one record, sets sorted by id and targets
//!    sorted, so equal input gives byte-equal output. Its TTL is the lowest
//!    `recordTTL` among the owner namespace's endpoints (a notice says when
//!    they differ, or when another namespace asked for one).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::IpAddr,
};

use super::endpoint::{DnsEndpoint, Endpoint, ObjectKey};
use super::ownership::{self, Ownership, SHARED_WITH};
use super::unsupported::Unsupported;
use crate::config::RecordScope;
use crate::config::raw::{RawGeo, RawLocation, RawRecord, RawRecordFile, RawSet};

/// What the scope check calls the file its errors are in.
const SOURCE: &str = "DNSEndpoint";

/// The result of one conversion.
#[derive(Debug, Default, PartialEq)]
pub struct Conversion {
    /// What to write.
    pub file: RawRecordFile,
    /// Every endpoint left out and why, sorted by object then endpoint.
    pub rejections: Vec<Rejection>,
    /// Things worth a log line that do not reject anything.
    pub notices: Vec<Notice>,
    /// Properties gslb does not honour (the endpoints are still served),
    /// sorted by object and place.
    pub unsupported: Vec<Unsupported>,
    /// Endpoints whose targets are in `file`.
    pub accepted_endpoints: usize,
    /// Objects with every endpoint accepted: these get
    /// `status.observedGeneration`.
    pub accepted_objects: Vec<ObjectKey>,
}

/// One endpoint left out of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The object it is in.
    pub object: ObjectKey,
    /// Its index in `spec.endpoints`.
    pub endpoint: usize,
    /// Its `dnsName` as written.
    pub dns_name: String,
    /// Category, for metrics.
    pub reason: Reason,
    /// What is wrong, in words for the object's author.
    pub detail: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} spec.endpoints[{}] ({}): {}",
            self.object, self.endpoint, self.dns_name, self.detail
        )
    }
}

/// Why an endpoint was rejected, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The endpoint's JSON does not have the expected shape.
    Decode,
    /// Not A or AAAA.
    RecordType,
    /// No targets, a target that is not an IP, or of the wrong family.
    Target,
    /// A bad `gslb/*` or `aws/*` value, or an unknown `gslb/*` key.
    ProviderSpecific,
    /// `gslb/health-check` names no check, or cannot be verified.
    HealthCheck,
    /// The name is malformed, outside the zones, or owned by the config.
    Name,
    /// `recordTTL` out of range.
    Ttl,
    /// `setIdentifier` has characters a set id cannot have.
    SetId,
    /// Another endpoint owns the same set id.
    Conflict,
    /// The name belongs to another namespace, which does not share it.
    Owner,
    /// Anything else the server's checks refuse.
    Invalid,
}

impl Reason {
    /// Every reason, for zeroing metrics.
    pub const ALL: [Self; 11] = [
        Self::Decode,
        Self::RecordType,
        Self::Target,
        Self::ProviderSpecific,
        Self::HealthCheck,
        Self::Name,
        Self::Ttl,
        Self::SetId,
        Self::Conflict,
        Self::Owner,
        Self::Invalid,
    ];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::RecordType => "record_type",
            Self::Target => "target",
            Self::ProviderSpecific => "provider_specific",
            Self::HealthCheck => "health_check",
            Self::Name => "name",
            Self::Ttl => "ttl",
            Self::SetId => "set_id",
            Self::Conflict => "conflict",
            Self::Owner => "owner",
            Self::Invalid => "invalid",
        }
    }
}

/// Something worth telling that rejects nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Endpoints of one name ask for different TTLs; the lowest wins.
    TtlConflict {
        /// Record name.
        name: String,
        /// The TTL written.
        chosen: i64,
        /// Every TTL asked for, by object.
        asked: Vec<(ObjectKey, i64)>,
    },
    /// Endpoints from a namespace the owner shares a name with ask for a
    /// TTL; only the owner's objects set it.
    TtlIgnored {
        /// Record name.
        name: String,
        /// The TTL written (`None`: the zone's).
        chosen: Option<i64>,
        /// The TTLs not taken, by object.
        ignored: Vec<(ObjectKey, i64)>,
    },
}

/// An endpoint that passed its own checks, waiting to be grouped.
struct Candidate<'a> {
    object: &'a DnsEndpoint,
    endpoint: usize,
    dns_name: String,
    /// Lower-cased, with a trailing dot.
    name: String,
    ttl: Option<i64>,
    set: RawSet,
    /// From the namespace that owns `name` (set in step 2).
    owner: bool,
}

/// A mapping failure before grouping.
type Refusal = (Reason, String);

/// Converts `objects` into a record file for the zones of `scope`.
pub fn convert<'a>(
    objects: impl IntoIterator<Item = &'a DnsEndpoint>,
    scope: &RecordScope,
) -> Conversion {
    let objects: Vec<&DnsEndpoint> = objects.into_iter().collect();
    let mut out = Conversion::default();
    let mut candidates = Vec::new();
    for &object in &objects {
        out.unsupported.extend(
            object
                .annotation_keys
                .iter()
                .filter_map(|key| Unsupported::annotation(&object.key, key)),
        );
        for (i, endpoint) in object.endpoints.iter().enumerate() {
            let mapped = match endpoint {
                Ok(endpoint) => map_endpoint(object, i, endpoint, scope, &mut out.unsupported),
                Err(error) => Err((Reason::Decode, error.clone())),
            };
            match mapped {
                Ok(candidate) => candidates.push(candidate),
                Err((reason, detail)) => out.rejections.push(Rejection {
                    object: object.key.clone(),
                    endpoint: i,
                    dns_name: endpoint
                        .as_ref()
                        .map(|e| e.dns_name.clone())
                        .unwrap_or_default(),
                    reason,
                    detail,
                }),
            }
        }
    }
    let owners = ownership::owners(objects.iter().copied());
    let candidates = admit(candidates, &owners, &mut out);
    let records = group(candidates, &mut out);
    let looping = looping(&records, scope);
    for (name, sets) in records {
        match looping.get(&name) {
            Some(detail) => reject_all(sets, Reason::Target, detail, &mut out),
            None => build_record(name, sets, scope, &mut out),
        }
    }
    out.rejections
        .sort_by(|a, b| (&a.object, a.endpoint).cmp(&(&b.object, b.endpoint)));
    // By object and place; keys of one endpoint as written.
    out.unsupported
        .sort_by(|a, b| (&a.object, &a.place).cmp(&(&b.object, &b.place)));
    let rejected: BTreeSet<&ObjectKey> = out.rejections.iter().map(|r| &r.object).collect();
    out.accepted_objects = objects
        .iter()
        .map(|o| &o.key)
        .filter(|k| !rejected.contains(k))
        .cloned()
        .collect();
    out.accepted_objects.sort();
    out
}

/// The sets of one name, each with the candidates merged into it.
type NameSets<'a> = BTreeMap<String, Vec<Candidate<'a>>>;

/// Keeps the candidates whose namespace may use their name (step 2),
/// marking those of the owner namespace.
fn admit<'a>(
    candidates: Vec<Candidate<'a>>,
    owners: &Ownership,
    out: &mut Conversion,
) -> Vec<Candidate<'a>> {
    let mut admitted = Vec::with_capacity(candidates.len());
    for mut candidate in candidates {
        let namespace = candidate.object.key.namespace.as_str();
        // Every candidate's name is claimed by its own object, so it has an
        // owner; `None` cannot happen and would mean "unowned".
        match owners.get(&candidate.name) {
            Some(owner) if !owner.admits(namespace) => out.rejections.push(Rejection {
                object: candidate.object.key.clone(),
                endpoint: candidate.endpoint,
                dns_name: candidate.dns_name,
                reason: Reason::Owner,
                detail: format!(
                    "{} belongs to namespace {} (its object {} claimed it first); \
                     namespace {namespace} may add endpoints to it only if {}'s objects \
                     list it in the annotation {SHARED_WITH}",
                    candidate.name, owner.namespace, owner.object, owner.namespace
                ),
            }),
            owner => {
                candidate.owner = owner.is_none_or(|o| o.namespace == namespace);
                admitted.push(candidate);
            }
        }
    }
    admitted
}

/// Groups candidates by name and set id, resolving conflicts (step 3).
fn group<'a>(
    mut candidates: Vec<Candidate<'a>>,
    out: &mut Conversion,
) -> BTreeMap<String, NameSets<'a>> {
    // The owner namespace first, so a namespace it shares the name with
    // cannot take one of its set ids; then the oldest object.
    candidates.sort_by(|a, b| {
        (!a.owner, a.object.seniority(), a.endpoint).cmp(&(
            !b.owner,
            b.object.seniority(),
            b.endpoint,
        ))
    });
    let mut records: BTreeMap<String, NameSets<'a>> = BTreeMap::new();
    for candidate in candidates {
        let members = records
            .entry(candidate.name.clone())
            .or_default()
            .entry(candidate.set.id.clone())
            .or_default();
        let Some(owner) = members.first() else {
            members.push(candidate);
            continue;
        };
        let refusal = if owner.object.key != candidate.object.key {
            Some(format!(
                "set {:?} of {} is already claimed by {} (the older object wins)",
                candidate.set.id, candidate.name, owner.object.key
            ))
        } else if !same_routing(&owner.set, &candidate.set) {
            Some(format!(
                "set {:?} of {} is also spec.endpoints[{}] of this object, with different routing keys",
                candidate.set.id, candidate.name, owner.endpoint
            ))
        } else {
            None
        };
        match refusal {
            Some(detail) => out.rejections.push(Rejection {
                object: candidate.object.key.clone(),
                endpoint: candidate.endpoint,
                dns_name: candidate.dns_name,
                reason: Reason::Conflict,
                detail,
            }),
            None => members.push(candidate),
        }
    }
    records
}

/// True when two sets differ at most in id and targets.
fn same_routing(a: &RawSet, b: &RawSet) -> bool {
    (a.weight, a.priority, &a.geo, a.location, &a.health_check)
        == (b.weight, b.priority, &b.geo, b.location, &b.health_check)
}

/// The names that would be in a loop of hostname targets, among
/// themselves or through the config's records, with the loop in words:
/// the server rejects a record file with a loop, so each name in one is
/// left out whole.
fn looping(
    records: &BTreeMap<String, NameSets<'_>>,
    scope: &RecordScope,
) -> BTreeMap<String, String> {
    use crate::name::Name;
    let mut keys: std::collections::HashMap<Name, &String> = std::collections::HashMap::new();
    let mut graph: Vec<(Name, Vec<Name>)> = Vec::new();
    for (key, sets) in records {
        let hostnames: Vec<Name> = sets
            .values()
            .flatten()
            .flat_map(|c| &c.set.targets)
            .filter(|t| t.parse::<IpAddr>().is_err())
            .filter_map(|t| Name::parse(t).ok())
            .collect();
        if let (false, Ok(name)) = (hostnames.is_empty(), Name::parse(key)) {
            keys.insert(name.clone(), key);
            graph.push((name, hostnames));
        }
    }
    let mut looping = BTreeMap::new();
    if graph.is_empty() {
        return looping;
    }
    for found in scope.target_loops(&graph) {
        let detail = format!(
            "hostname targets loop through records gslb serves: {found}; each name would resolve only through the others"
        );
        for key in found.names.iter().filter_map(|n| keys.get(n)) {
            looping
                .entry((*key).clone())
                .or_insert_with(|| detail.clone());
        }
    }
    looping
}

/// Rejects every endpoint of one name for `reason`.
fn reject_all(sets: NameSets<'_>, reason: Reason, detail: &str, out: &mut Conversion) {
    for c in sets.into_values().flatten() {
        out.rejections.push(Rejection {
            object: c.object.key.clone(),
            endpoint: c.endpoint,
            dns_name: c.dns_name,
            reason,
            detail: detail.to_owned(),
        });
    }
}

/// Builds and checks the record of one name (step 4).
fn build_record(name: String, sets: NameSets<'_>, scope: &RecordScope, out: &mut Conversion) {
    let raw_sets = sets.values().map(|members| merged_set(members)).collect();
    let ttl = record_ttl(&name, &sets, &mut out.notices);
    let record = RawRecord {
        name,
        ttl,
        answers: None,
        fallback: None,
        sets: raw_sets,
    };
    let members = sets.into_values().flatten();
    match scope.check(SOURCE, &record) {
        Ok(_) => {
            out.accepted_endpoints += members.count();
            out.file.records.push(record);
        }
        // Each set passed alone, so this is a clash between them that
        // the per-endpoint checks cannot see; leave the name out whole.
        Err(errors) => {
            let (reason, detail) = explain(&errors);
            for c in members {
                out.rejections.push(Rejection {
                    object: c.object.key.clone(),
                    endpoint: c.endpoint,
                    dns_name: c.dns_name,
                    reason,
                    detail: detail.clone(),
                });
            }
        }
    }
}

/// One set with the targets of all its members, in a canonical order so
/// that equal input gives byte-equal output: addresses sorted as
/// addresses, then host names (already canonical) sorted as text.
fn merged_set(members: &[Candidate<'_>]) -> RawSet {
    let mut set = members[0].set.clone();
    let targets: BTreeSet<IpAddr> = members
        .iter()
        .flat_map(|c| &c.set.targets)
        .filter_map(|t| t.parse().ok())
        .collect();
    let hosts: BTreeSet<&String> = members
        .iter()
        .flat_map(|c| &c.set.targets)
        .filter(|t| t.parse::<IpAddr>().is_err())
        .collect();
    set.targets = targets
        .iter()
        .map(IpAddr::to_string)
        .chain(hosts.into_iter().cloned())
        .collect();
    set
}

/// The TTL of the record `name`: the lowest `recordTTL` of the owner
/// namespace's endpoints, with a notice when they differ or when another
/// namespace asked for one that is not taken.
fn record_ttl(name: &str, sets: &NameSets<'_>, notices: &mut Vec<Notice>) -> Option<i64> {
    let mut asked: Vec<(ObjectKey, i64)> = Vec::new();
    let mut others: Vec<(ObjectKey, i64)> = Vec::new();
    for c in sets.values().flatten() {
        let list = if c.owner { &mut asked } else { &mut others };
        if let Some(ttl) = c.ttl
            && !list.iter().any(|(k, t)| *k == c.object.key && *t == ttl)
        {
            list.push((c.object.key.clone(), ttl));
        }
    }
    let ttl = asked.iter().map(|(_, t)| *t).min();
    others.retain(|(_, t)| Some(*t) != ttl);
    if !others.is_empty() {
        others.sort();
        notices.push(Notice::TtlIgnored {
            name: name.to_owned(),
            chosen: ttl,
            ignored: others,
        });
    }
    if let Some(chosen) = ttl
        && asked.iter().any(|(_, t)| *t != chosen)
    {
        notices.push(Notice::TtlConflict {
            name: name.to_owned(),
            chosen,
            asked,
        });
    }
    ttl
}

/// Maps one endpoint to a candidate set and checks it alone (step 1).
fn map_endpoint<'a>(
    object: &'a DnsEndpoint,
    index: usize,
    endpoint: &Endpoint,
    scope: &RecordScope,
    unsupported: &mut Vec<Unsupported>,
) -> Result<Candidate<'a>, Refusal> {
    let name = endpoint
        .record_name()
        .ok_or_else(|| (Reason::Name, "dnsName is empty".to_owned()))?;
    let targets = targets(endpoint)?;
    let routing = Routing::read(object, index, endpoint, scope, unsupported)?;
    let id = match endpoint.set_identifier.trim() {
        "" => object.key.to_string(),
        id => id.to_owned(),
    };
    let ttl = endpoint.record_ttl.filter(|t| *t != 0);
    let set = routing.into_set(id, targets)?;
    let one = RawRecord {
        name: name.clone(),
        ttl,
        answers: None,
        fallback: None,
        sets: vec![set.clone()],
    };
    if let Err(errors) = scope.check(SOURCE, &one) {
        return Err(explain(&errors));
    }
    Ok(Candidate {
        object,
        endpoint: index,
        dns_name: endpoint.dns_name.clone(),
        name,
        ttl,
        set,
        owner: false,
    })
}

/// The targets: sorted, de-duplicated addresses of the record type's
/// family, then sorted host names. An empty `recordType` takes the family
/// of each address. A `CNAME` endpoint's targets are host names (alias
/// flattening: gslb resolves them and answers their addresses, never a
/// CNAME); an `A`/`AAAA` endpoint may name hosts too, as ExternalDNS
/// writes for a load balancer with a hostname.
fn targets(endpoint: &Endpoint) -> Result<Vec<String>, Refusal> {
    let rtype = endpoint.record_type.trim().to_ascii_uppercase();
    let family = match rtype.as_str() {
        "A" => Some(false),
        "AAAA" => Some(true),
        "" | "CNAME" => None,
        other => {
            return Err((
                Reason::RecordType,
                format!(
                    "recordType {other} is not served: gslb answers A and AAAA only (CNAME targets are resolved and answered as A and AAAA)"
                ),
            ));
        }
    };
    if endpoint.targets.is_empty() {
        return Err((Reason::Target, "targets is empty".into()));
    }
    let mut addrs = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for text in &endpoint.targets {
        let text = text.trim();
        let Ok(ip) = text.parse::<IpAddr>() else {
            let host = crate::name::Name::parse(text).map_err(|e| {
                (
                    Reason::Target,
                    format!("target {text:?} is neither an IP address nor a host name: {e}"),
                )
            })?;
            hosts.insert(host.to_string());
            continue;
        };
        if rtype == "CNAME" {
            return Err((
                Reason::Target,
                format!(
                    "target {ip} of a CNAME endpoint is not a host name; use recordType A or AAAA for addresses"
                ),
            ));
        }
        if let Some(v6) = family
            && ip.is_ipv6() != v6
        {
            let rtype = if v6 { "AAAA" } else { "A" };
            return Err((
                Reason::Target,
                format!("target {ip} does not fit recordType {rtype}"),
            ));
        }
        addrs.insert(ip);
    }
    Ok(addrs.iter().map(IpAddr::to_string).chain(hosts).collect())
}

/// Keys with a gslb meaning, for the "unknown key" message.
const GSLB_KEYS: &str = "gslb/weight, gslb/priority, gslb/continents, gslb/countries, \
    gslb/subdivisions, gslb/lat, gslb/lon, gslb/health-check";

/// The routing fields of one endpoint, from `providerSpecific`.
#[derive(Default)]
struct Routing {
    weight: Option<i64>,
    priority: Option<i64>,
    continents: Vec<String>,
    countries: Vec<String>,
    subdivisions: Vec<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    health_check: Option<String>,
    aws_weight: Option<i64>,
    aws_failover: Option<i64>,
    aws_continent: Option<String>,
    /// `None` also for `*`, Route 53's default location.
    aws_country: Option<String>,
    aws_country_star: bool,
    aws_subdivision: Option<String>,
    /// `aws/geoproximity-coordinates`: the set's point, as `gslb/lat` and
    /// `gslb/lon` give it (those win).
    aws_coordinates: Option<RawLocation>,
}

impl Routing {
    fn read(
        object: &DnsEndpoint,
        index: usize,
        endpoint: &Endpoint,
        scope: &RecordScope,
        unsupported: &mut Vec<Unsupported>,
    ) -> Result<Self, Refusal> {
        let mut r = Self::default();
        let mut seen = BTreeSet::new();
        for property in &endpoint.provider_specific {
            let key = property.name.trim();
            let value = property.value.trim();
            let ours = key.starts_with("gslb/") || key.starts_with("aws/");
            if ours && !seen.insert(key) {
                return Err(bad(format!("{key} is given twice")));
            }
            match key {
                "gslb/weight" => r.weight = Some(int(key, value)?),
                "gslb/priority" => r.priority = Some(int(key, value)?),
                "gslb/continents" => r.continents = list(value),
                "gslb/countries" => r.countries = list(value),
                "gslb/subdivisions" => r.subdivisions = list(value),
                "gslb/lat" => r.lat = Some(float(key, value)?),
                "gslb/lon" => r.lon = Some(float(key, value)?),
                "gslb/health-check" if !scope.health_checks_known() => {
                    return Err((
                        Reason::HealthCheck,
                        "gslb/health-check cannot be verified: crd-sync was given zone origins, \
                         not the server's config file (--zones FILE)"
                            .into(),
                    ));
                }
                "gslb/health-check" => r.health_check = Some(value.to_owned()),
                _ if key.starts_with("gslb/") => {
                    return Err(bad(format!("unknown key {key} (known: {GSLB_KEYS})")));
                }
                "aws/weight" => r.aws_weight = Some(int(key, value)?),
                "aws/failover" => r.aws_failover = Some(failover(value)?),
                "aws/geolocation-continent-code" => r.aws_continent = Some(value.to_uppercase()),
                "aws/geolocation-country-code" if value == "*" => r.aws_country_star = true,
                "aws/geolocation-country-code" => r.aws_country = Some(value.to_uppercase()),
                "aws/geolocation-subdivision-code" => {
                    r.aws_subdivision = Some(value.to_uppercase());
                }
                "aws/geoproximity-coordinates" => r.aws_coordinates = Some(coordinates(value)?),
                _ => unsupported.push(Unsupported::key(&object.key, index, key)),
            }
        }
        Ok(r)
    }

    /// The set, `gslb/*` keys taking precedence over `aws/*` ones.
    fn into_set(self, id: String, targets: Vec<String>) -> Result<RawSet, Refusal> {
        let gslb_geo = !(self.continents.is_empty()
            && self.countries.is_empty()
            && self.subdivisions.is_empty());
        let geo = if gslb_geo {
            RawGeo {
                continents: self.continents,
                countries: self.countries,
                subdivisions: self.subdivisions,
            }
        } else {
            self.aws_geo()?
        };
        let location = match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => Some(RawLocation { lat, lon }),
            (None, None) => self.aws_coordinates,
            _ => return Err(bad("gslb/lat and gslb/lon must be given together".into())),
        };
        let no_geo = geo == RawGeo::default();
        Ok(RawSet {
            id,
            targets,
            weight: self.weight.or(self.aws_weight),
            priority: self.priority.or(self.aws_failover),
            geo: (!no_geo).then_some(geo),
            location,
            health_check: self.health_check,
        })
    }

    /// Route 53 geolocation: one continent, or a country, or a country and
    /// a subdivision (country US when only a subdivision is given, as Route
    /// 53 had subdivisions for the US only).
    fn aws_geo(&self) -> Result<RawGeo, Refusal> {
        let mut geo = RawGeo::default();
        if let Some(continent) = &self.aws_continent {
            if self.aws_country.is_some() || self.aws_subdivision.is_some() {
                return Err(bad(
                    "aws/geolocation-continent-code cannot be combined with a country or subdivision code"
                        .into(),
                ));
            }
            geo.continents.push(continent.clone());
        }
        match (&self.aws_country, &self.aws_subdivision) {
            (_, Some(_)) if self.aws_country_star => {
                return Err(bad(
                    "aws/geolocation-subdivision-code needs a country code, not \"*\"".into(),
                ));
            }
            (country, Some(sub)) => {
                let country = country.as_deref().unwrap_or("US");
                geo.subdivisions.push(format!("{country}-{sub}"));
            }
            (Some(country), None) => geo.countries.push(country.clone()),
            (None, None) => {}
        }
        Ok(geo)
    }
}

fn bad(detail: String) -> Refusal {
    (Reason::ProviderSpecific, detail)
}

fn int(key: &str, value: &str) -> Result<i64, Refusal> {
    value
        .parse()
        .map_err(|_| bad(format!("{key} {value:?} is not an integer")))
}

fn float(key: &str, value: &str) -> Result<f64, Refusal> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad(format!("{key} {value:?} is not a number")))
}

/// Route 53's `"LAT,LON"` (decimal degrees): the set's `location`, which is
/// the same point; the range is the server's check.
fn coordinates(value: &str) -> Result<RawLocation, Refusal> {
    let parsed = value.split_once(',').and_then(|(lat, lon)| {
        let number = |v: &str| v.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(RawLocation {
            lat: number(lat)?,
            lon: number(lon)?,
        })
    });
    parsed.ok_or_else(|| {
        bad(format!(
            "aws/geoproximity-coordinates {value:?} is not \"LATITUDE,LONGITUDE\" in decimal degrees"
        ))
    })
}

fn failover(value: &str) -> Result<i64, Refusal> {
    match value.to_ascii_uppercase().as_str() {
        "PRIMARY" => Ok(0),
        "SECONDARY" => Ok(1),
        _ => Err(bad(format!(
            "aws/failover {value:?} is not PRIMARY or SECONDARY"
        ))),
    }
}

/// A comma list, upper-cased (codes are case-insensitive; one spelling
/// keeps the output stable).
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Turns the server's errors on a candidate record into a reason and a
/// message in DNSEndpoint terms.
fn explain(errors: &crate::config::ConfigErrors) -> Refusal {
    let reason = errors
        .0
        .first()
        .map_or(Reason::Invalid, |e| reason_of(&e.path));
    let detail = errors
        .0
        .iter()
        .map(|e| format!("{}: {}", field_of(&e.path), e.message))
        .collect::<Vec<_>>()
        .join("; ");
    (reason, detail)
}

fn reason_of(path: &str) -> Reason {
    let field = path.split_once("].").map_or(path, |(_, rest)| rest);
    match field {
        "name" => Reason::Name,
        "ttl" => Reason::Ttl,
        "id" => Reason::SetId,
        "health_check" => Reason::HealthCheck,
        f if f.starts_with("targets") => Reason::Target,
        f if f.starts_with("geo")
            || f.starts_with("weight")
            || f.starts_with("priority")
            || f.starts_with("location") =>
        {
            Reason::ProviderSpecific
        }
        _ => Reason::Invalid,
    }
}

/// The DNSEndpoint field behind a record path.
fn field_of(path: &str) -> String {
    let field = path.split_once("].").map_or(path, |(_, rest)| rest);
    match field {
        "name" => "dnsName".into(),
        "ttl" => "recordTTL".into(),
        "id" => "setIdentifier".into(),
        "weight" => "weight (gslb/weight or aws/weight)".into(),
        "priority" => "priority (gslb/priority or aws/failover)".into(),
        "health_check" => "gslb/health-check".into(),
        "location" => "location (gslb/lat and gslb/lon, or aws/geoproximity-coordinates)".into(),
        f if f.starts_with("targets") => "targets".into(),
        f if f.starts_with("geo") => format!("geo ({f})"),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests;
