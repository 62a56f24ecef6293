//! The scope `gslb crd-sync` checks records in: the served zones, health
//! check templates and reserved names, without a full load.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use super::ConfigErrors;
use super::raw::{RawConfig, RawRecord};
use super::validate::{
    Checker, DEFAULT_TTL, RecordChecker, health_checks, zone_fallback_name, zones,
};
use crate::model::{HealthCheck, Record, Soa, Zone};
use crate::name::Name;

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
