//! The scope `gslb crd-sync` checks records in: the served zones, health
//! check templates, reserved names and their hostname targets, without a
//! full load.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use super::ConfigErrors;
use super::raw::{RawConfig, RawRecord};
use super::validate::{Checker, RecordChecker, TargetLoop, health_checks, target_loops, zones};
use super::{Secrets, settings};
use crate::model::{HealthCheck, Record, Zone};
use crate::name::Name;

/// What one record is checked against outside a full load: the zones and
/// health check templates of a config, and the names its own records define.
///
/// `gslb crd-sync` checks every record it is about to write with this, so it
/// never writes one the server would reject: the server rejects a whole
/// record file for one bad record, which would block every later update.
#[derive(Debug, Clone)]
pub struct RecordScope {
    pub(super) zones: Vec<ServedZone>,
    pub(super) health_checks: BTreeMap<String, Arc<HealthCheck>>,
    /// False when the scope was built from zone origins alone: then no
    /// health check name can be verified.
    health_checks_known: bool,
    /// Templates the config declares that failed validation: a set naming
    /// one is not reported again as naming an undefined template.
    pub(super) broken_health_checks: std::collections::BTreeSet<String>,
    /// False when a zone of the config could not be read (its origin is
    /// not a name): a record outside the zones served may belong to it, so
    /// it is not reported as outside.
    pub(super) zones_complete: bool,
    /// Names the config's own `records` define, with where; a record file
    /// defining one of them again is rejected by the server.
    reserved: HashMap<Name, String>,
    /// The hostname targets of the config's own records, so a record file
    /// cannot close a loop through them.
    hostnames: Vec<(Name, Vec<Name>)>,
}

/// What a record is checked against in one served zone.
#[derive(Debug, Clone)]
pub(super) struct ServedZone {
    /// The apex.
    pub(super) origin: Name,
    /// TTL of the zone's records that set none.
    pub(super) ttl: u32,
    /// The zone's name servers: their addresses are the zone's glue, so no
    /// record may take their names.
    pub(super) nameservers: Vec<Name>,
}

impl ServedZone {
    fn of(zone: &Zone) -> Self {
        Self {
            origin: zone.origin.clone(),
            ttl: zone.ttl,
            nameservers: zone.nameservers.iter().map(|(ns, _)| ns.clone()).collect(),
        }
    }
}

impl RecordScope {
    /// The scope of a config being loaded: its validated `zones` and
    /// `health_checks`. Its own records are checked with the scope, so none
    /// is reserved.
    pub(super) fn of(zones: &[Zone], health_checks: BTreeMap<String, Arc<HealthCheck>>) -> Self {
        Self {
            zones: zones.iter().map(ServedZone::of).collect(),
            health_checks,
            health_checks_known: true,
            broken_health_checks: Default::default(),
            zones_complete: true,
            reserved: HashMap::new(),
            hostnames: Vec::new(),
        }
    }

    /// The zones, health checks and record names of a config file. Only
    /// `zones` and `health_checks` must be valid: `server` (including
    /// `record_files`, which need not exist) is not looked at.
    pub fn from_config(raw: &RawConfig, file: &str) -> Result<Self, ConfigErrors> {
        // crd-sync needs the zones, not the TSIG secrets their updates name.
        let (zones, health_checks) = Checker::collect(file, Secrets::Skip, |check| {
            let zones = zones(check, &raw.zones, 0);
            (zones, health_checks(check, &raw.health_checks))
        })?;
        let reserved = raw
            .records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((Name::parse(&r.name).ok()?, format!("{file} records[{i}]"))))
            .collect();
        let hostnames = raw
            .records
            .iter()
            .filter_map(|r| {
                let targets = r
                    .sets
                    .iter()
                    .flat_map(|s| &s.targets)
                    .filter(|t| t.parse::<std::net::IpAddr>().is_err())
                    .filter_map(|t| Name::parse(t).ok())
                    .collect::<Vec<_>>();
                Some((Name::parse(&r.name).ok()?, targets)).filter(|(_, t)| !t.is_empty())
            })
            .collect();
        Ok(Self {
            reserved,
            hostnames,
            ..Self::of(&zones, health_checks)
        })
    }

    /// Zones given by origin only (`global.example.test.`); health check
    /// names cannot be verified against such a scope.
    pub fn from_origins(origins: &[&str], source: &str) -> Result<Self, ConfigErrors> {
        let zones = Checker::collect(source, Secrets::Read, |check| {
            if origins.is_empty() {
                check.error("", "at least one zone origin is required");
            }
            let mut zones: Vec<ServedZone> = Vec::new();
            for (i, text) in origins.iter().enumerate() {
                let Some(origin) = check.name(format!("[{i}]"), text) else {
                    continue;
                };
                if zones.iter().all(|z| z.origin != origin) {
                    zones.push(ServedZone {
                        origin,
                        ttl: settings::ZONE_TTL.default_value() as u32,
                        nameservers: Vec::new(),
                    });
                }
            }
            zones
        })?;
        Ok(Self {
            zones,
            health_checks: BTreeMap::new(),
            health_checks_known: false,
            broken_health_checks: Default::default(),
            zones_complete: true,
            reserved: HashMap::new(),
            hostnames: Vec::new(),
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

    /// The loops of hostname targets that `records` (name and hostname
    /// targets) would make among themselves and with the config's own
    /// records, which the server would reject the whole record file for.
    /// Each loop's `names` say which records are in it.
    pub fn target_loops(&self, records: &[(Name, Vec<Name>)]) -> Vec<TargetLoop> {
        let graph: Vec<(&Name, Vec<(usize, &Name)>)> = records
            .iter()
            .chain(&self.hostnames)
            .map(|(name, targets)| (name, targets.iter().map(|t| (0, t)).collect()))
            .collect();
        target_loops(&graph)
    }

    /// Checks one record exactly as a load of a record file named `file`
    /// would, plus the clash with a name the config itself defines. Error
    /// paths are relative to the record (`name`, `sets[0].geo.countries[0]`).
    pub fn check(&self, file: &str, raw: &RawRecord) -> Result<Record, ConfigErrors> {
        let record = Checker::collect(file, Secrets::Read, |check| {
            let record = RecordChecker::new(self).record(check, "", raw);
            if let Some(first) = record.as_ref().and_then(|r| self.reserved.get(&r.name)) {
                check.error(
                    "name",
                    format!("{} is already defined in {first}", raw.name),
                );
            }
            record
        });
        match record {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(ConfigErrors(Vec::new())),
            Err(ConfigErrors(errors)) => Err(ConfigErrors(
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
