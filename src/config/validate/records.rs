//! `records` of the config and of record files: names inside a served
//! zone and defined once, sets, targets, weights and geo scopes.

use std::{collections::HashMap, fmt, net::IpAddr, sync::Arc};

use super::{Checker, alias};
use crate::config::raw::{RawGeo, RawLocation, RawRecord, RawSet};
use crate::config::settings as s;
use crate::config::{ConfigError, RecordScope};
use crate::geo::{Continent, Coordinates, Country, Subdivision};
use crate::model::target::Unusable;
use crate::model::{Fallback, GeoScope, HealthCheck, Record, TargetSet, zone_of};
use crate::name::Name;

/// Validates records from every source against the zones and templates,
/// and rejects a name defined twice across sources.
pub(in crate::config) struct RecordChecker<'a> {
    scope: &'a RecordScope,
    /// Where each record name was first defined (file, index in its
    /// `records`), for duplicate messages.
    seen: HashMap<Name, (Arc<str>, usize), foldhash::fast::FixedState>,
    /// The records that passed.
    pub(super) records: Vec<Record>,
}

/// Where a set is, `records[i].sets[j]` (or with the record's own path),
/// formatted only for a message: most sets have none, and a load checks
/// every set of every record.
#[derive(Clone, Copy)]
struct SetPath<'a> {
    record: &'a str,
    index: usize,
}

impl fmt::Display for SetPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.sets[{}]", self.record, self.index)
    }
}

/// Files with fewer records are checked on one thread: below this,
/// starting threads costs more than it saves.
const PARALLEL_FROM: usize = 4096;

/// One record checked apart from the others (see [`RecordChecker::add_all`]).
struct CheckedRecord {
    /// Its index in its file's `records`.
    index: usize,
    /// Its name when that parses, for the duplicate check.
    name: Option<Name>,
    /// The record, when it passed.
    record: Option<Record>,
    /// How many errors it reported.
    errors: usize,
}

/// A chunk of records checked, their errors in record order.
struct Checked {
    records: Vec<CheckedRecord>,
    errors: Vec<ConfigError>,
}

/// `raw` cut into `parts` contiguous chunks of nearly equal length.
fn split(mut raw: Vec<RawRecord>, parts: usize) -> Vec<Vec<RawRecord>> {
    let size = raw.len().div_ceil(parts);
    let mut chunks = Vec::with_capacity(parts);
    while raw.len() > size {
        let rest = raw.split_off(size);
        chunks.push(std::mem::replace(&mut raw, rest));
    }
    chunks.push(raw);
    chunks
}

impl<'a> RecordChecker<'a> {
    /// Checks records against `scope`.
    pub(in crate::config) fn new(scope: &'a RecordScope) -> Self {
        Self {
            scope,
            seen: HashMap::default(),
            records: Vec::new(),
        }
    }

    /// Checks `raw`, dropping each raw record once checked: its typed
    /// record takes the memory it leaves, so a large file is not held twice.
    /// A large file is checked on every core, in contiguous chunks; the
    /// outcome (records, errors and their order) is the same as checking
    /// it in one pass.
    pub(super) fn add_all(&mut self, check: &mut Checker<'_>, raw: Vec<RawRecord>) {
        self.records.reserve(raw.len());
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunks = if raw.len() < PARALLEL_FROM || threads < 2 {
            vec![raw]
        } else {
            split(raw, threads)
        };
        let (file, secrets) = (check.file.clone(), check.secrets);
        let this = &*self;
        let checked: Vec<Checked> = if chunks.len() == 1 {
            chunks
                .into_iter()
                .map(|chunk| this.check_chunk(&file, secrets, 0, chunk))
                .collect()
        } else {
            std::thread::scope(|scope| {
                let mut first = 0;
                let running: Vec<_> = chunks
                    .into_iter()
                    .map(|chunk| {
                        let at = first;
                        first += chunk.len();
                        let file = &file;
                        scope.spawn(move || this.check_chunk(file, secrets, at, chunk))
                    })
                    .collect();
                running
                    .into_iter()
                    .map(|thread| {
                        thread
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e))
                    })
                    .collect()
            })
        };
        for chunk in checked {
            let mut errors = chunk.errors.into_iter();
            for one in chunk.records {
                let own: Vec<ConfigError> = errors.by_ref().take(one.errors).collect();
                // Duplicates are checked on the name alone, so a second
                // definition is reported even when the first has other
                // errors, and nothing else of it is.
                if let Some(name) = one.name {
                    if let Some((file, first)) = self.seen.get(&name) {
                        check.error(
                            format_args!("records[{}].name", one.index),
                            format_args!("{name} is already defined in {file} records[{first}]"),
                        );
                        continue;
                    }
                    self.seen.insert(name, (check.file.clone(), one.index));
                }
                check.extend(own);
                if let Some(record) = one.record {
                    self.records.push(record);
                }
            }
        }
    }

    /// Checks the records of one chunk, which starts at `first` in its
    /// file's `records`, each with its errors counted apart.
    fn check_chunk(
        &self,
        file: &Arc<str>,
        secrets: crate::config::Secrets,
        first: usize,
        chunk: Vec<RawRecord>,
    ) -> Checked {
        let mut errors = Vec::new();
        let mut records = Vec::with_capacity(chunk.len());
        let mut check = Checker::new(file.clone(), &mut errors).with_secrets(secrets);
        for (i, raw) in chunk.into_iter().enumerate() {
            let index = first + i;
            let before = check.error_count();
            let path = format!("records[{index}]");
            let record = self.record(&mut check, &path, &raw);
            // A record that passed has its name parsed already.
            let name = match &record {
                Some(record) => Some(record.name.clone()),
                None => Name::parse(&raw.name).ok(),
            };
            records.push(CheckedRecord {
                index,
                name,
                record,
                errors: check.error_count() - before,
            });
        }
        drop(check);
        Checked { records, errors }
    }

    pub(in crate::config) fn record(
        &self,
        check: &mut Checker<'_>,
        path: &str,
        raw: &RawRecord,
    ) -> Option<Record> {
        let name = check.name(format_args!("{path}.name"), &raw.name);
        let zone = name.as_ref().and_then(|name| {
            let zone = zone_of(name, self.scope.zones.iter().map(|z| &z.origin))
                .and_then(|i| self.scope.zones.get(i));
            if zone.is_none() && !self.scope.zones.is_empty() && self.scope.zones_complete {
                let served = self.scope.origins();
                check.error(
                    format!("{path}.name"),
                    format!("{name} is not inside a served zone ({})", served.join(", ")),
                );
            }
            if let Some(ns_zone) = self
                .scope
                .zones
                .iter()
                .find(|z| z.nameservers.contains(name))
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
        let ttl = check.int_or(
            format_args!("{path}.ttl"),
            raw.ttl,
            zone.map_or(s::ZONE_TTL.default_value(), |z| i64::from(z.ttl)),
            &s::RECORD_TTL,
        );
        let answers = match raw.answers {
            None => Some(None),
            Some(n) => check
                .int(format_args!("{path}.answers"), Some(n), &s::RECORD_ANSWERS)
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
        let mut sets: Vec<TargetSet> = Vec::with_capacity(raw.sets.len());
        for (j, raw_set) in raw.sets.iter().enumerate() {
            let set_path = SetPath {
                record: path,
                index: j,
            };
            if let Some(k) = raw.sets[..j].iter().position(|s| s.id == raw_set.id) {
                check.error(
                    format!("{set_path}.id"),
                    format!("{:?} is already the id of sets[{k}]", raw_set.id),
                );
            }
            if let Some(set) = self.set(check, set_path, raw_set) {
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

    /// Checks one set; `None` after reporting errors.
    fn set(&self, check: &mut Checker<'_>, path: SetPath<'_>, raw: &RawSet) -> Option<TargetSet> {
        let id_ok = set_id(check, path, &raw.id);
        let (targets, hostnames) = targets(check, path, &raw.targets);
        let weight = check.int(format_args!("{path}.weight"), raw.weight, &s::SET_WEIGHT);
        let priority = check.int(
            format_args!("{path}.priority"),
            raw.priority,
            &s::SET_PRIORITY,
        );
        let geo = geo_scope(check, path, raw.geo.as_ref());
        let location = raw.location.and_then(|l| location(check, path, l));
        let location_ok = raw.location.is_none() || location.is_some();
        let health_check = self.health_check(check, path, raw.health_check.as_deref());
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

    /// The template a set names, `Some(None)` when it names none; an
    /// unknown name is reported with the defined ones.
    fn health_check(
        &self,
        check: &mut Checker<'_>,
        path: SetPath<'_>,
        name: Option<&str>,
    ) -> Option<Option<Arc<HealthCheck>>> {
        let Some(name) = name else {
            return Some(None);
        };
        if let Some(hc) = self.scope.health_checks.get(name) {
            return Some(Some(hc.clone()));
        }
        if self.scope.broken_health_checks.contains(name) {
            // Its own errors are reported where it is defined.
            return None;
        }
        let known: Vec<&str> = self
            .scope
            .health_checks
            .keys()
            .map(String::as_str)
            .collect();
        let defined = if known.is_empty() {
            "none is defined".to_owned()
        } else {
            format!("defined: {}", known.join(", "))
        };
        check.error(
            format!("{path}.health_check"),
            format!("{name:?} is not defined in health_checks ({defined})"),
        );
        None
    }
}

/// Whether a set id is usable: it names the set in overrides, metrics
/// labels and URLs, so it is short and plain.
fn set_id(check: &mut Checker<'_>, path: SetPath<'_>, id: &str) -> bool {
    let id_ok = set_id_ok(id);
    if !id_ok {
        check.error(
            format!("{path}.id"),
            format!("{id:?} must be 1-253 letters, digits or - _ . / :"),
        );
    }
    id_ok
}

/// A set's targets split into addresses and host names, each listed
/// once; addresses no client could reach are reported, not served.
fn targets(check: &mut Checker<'_>, path: SetPath<'_>, raw: &[String]) -> (Vec<IpAddr>, Vec<Name>) {
    if raw.is_empty() {
        check.error(
            format!("{path}.targets"),
            "at least one address is required",
        );
    }
    let mut hostnames: Vec<Name> = Vec::new();
    let mut targets: Vec<IpAddr> = Vec::with_capacity(raw.len());
    for (k, text) in raw.iter().enumerate() {
        // The path is only formatted for a message: most targets are fine.
        let target_path = || format!("{path}.targets[{k}]");
        let target = match text.parse::<IpAddr>() {
            Ok(ip) => alias::Target::Ip(ip),
            Err(_) => match alias::target(check, &target_path(), text) {
                Some(target) => target,
                None => continue,
            },
        };
        match target {
            alias::Target::Ip(ip) if targets.contains(&ip) => {
                check.error(target_path(), format!("{ip} is listed twice"));
            }
            alias::Target::Ip(ip) => match Unusable::of(ip) {
                Some(why) => check.error(target_path(), format!("{ip} {}", why.reason())),
                None => targets.push(ip),
            },
            alias::Target::Host(name) if hostnames.contains(&name) => {
                check.error(target_path(), format!("{name} is listed twice"));
            }
            alias::Target::Host(name) => hostnames.push(name),
        }
    }
    (targets, hostnames)
}

/// A set's coordinates, for nearest-set answers; they must be on Earth.
fn location(check: &mut Checker<'_>, path: SetPath<'_>, l: RawLocation) -> Option<Coordinates> {
    let (lat, lon) = (&s::SET_LAT, &s::SET_LON);
    let ok = (lat.min..=lat.max).contains(&l.lat) && (lon.min..=lon.max).contains(&l.lon);
    if !ok {
        check.error(
            format!("{path}.location"),
            format!(
                "lat {} lon {} is not on Earth (lat {} to {}, lon {} to {})",
                l.lat, l.lon, lat.min, lat.max, lon.min, lon.max
            ),
        );
    }
    ok.then_some(Coordinates {
        lat: l.lat,
        lon: l.lon,
    })
}

/// Whether `id` may be a set id: 1-253 letters, digits or `- _ . / :`.
pub(super) fn set_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 253
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
}

fn geo_scope(check: &mut Checker<'_>, path: SetPath<'_>, raw: Option<&RawGeo>) -> Option<GeoScope> {
    let Some(raw) = raw else {
        return Some(GeoScope::default());
    };
    let mut ok = true;
    let mut codes = |field: &str, list: &[String], what: &str, parse: &dyn Fn(&str) -> bool| {
        for (k, code) in list.iter().enumerate() {
            if !parse(code) {
                check.error(
                    format!("{path}.geo.{field}[{k}]"),
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
            format_args!("{path}.geo"),
            "lists no continents, countries or subdivisions; leave geo out instead",
        );
        return None;
    }
    ok.then_some(scope)
}
