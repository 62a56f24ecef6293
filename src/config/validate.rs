//! Raw YAML shapes → the typed model, collecting every problem with the file
//! and the path of the field (`records[3].sets[1].targets[0]: "10.0.0.300" is
//! not an IP address`) before failing, so an operator fixes a file in one go.
//!
//! One file per section: `server`, `zones`, `health_checks`, `records` (the
//! config's and the record files'), the record files' `overrides`, and
//! within them `alias`, `rate_limit`, `statics` and `updates`. Each reports
//! to a `Checker`.

use std::sync::Arc;

use super::raw::{RawConfig, RawRecordFile};
use super::{ConfigErrors, RecordScope, Secrets};
use crate::model::Config;

mod alias;
mod checker;
mod ddns;
mod dnssec;
mod health_checks;
mod overrides;
mod peering;
mod rate_limit;
mod records;
mod server;
mod statics;
mod zones;

pub use alias::{TargetLoop, target_loops};
pub(super) use checker::Checker;
pub(super) use health_checks::health_checks;
use overrides::OverrideChecker;
pub use overrides::check_override;
pub(super) use records::RecordChecker;
use server::server;
pub(super) use zones::zones;

/// A record file read from disk, to be merged into the config.
pub struct RecordSource {
    /// Path shown in messages.
    pub file: Arc<str>,
    /// Its contents.
    pub raw: RawRecordFile,
}

/// Validates a config and its record files together. `default_serial` is
/// the SOA serial used where a zone sets none; `secrets` says whether the
/// secret files it names are read (a config with unread secrets is for
/// checking only: its TSIG keys are blank).
pub fn validate(
    mut raw: RawConfig,
    file: &str,
    record_files: Vec<RecordSource>,
    default_serial: u32,
    secrets: Secrets,
) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let file: Arc<str> = file.into();
    let mut check = Checker::new(file.clone(), &mut errors).with_secrets(secrets);
    let server = server(&mut check, &raw.server);
    let zones = zones(&mut check, &raw.zones, default_serial);
    let health_checks = health_checks(&mut check, &raw.health_checks);
    let mut scope = RecordScope::of(&zones, health_checks);
    // A zone whose origin is broken is not served: its records would all
    // be called outside every zone, an echo of the one real mistake.
    scope.zones_complete = raw
        .zones
        .iter()
        .all(|z| crate::name::Name::parse(&z.origin).is_ok());
    scope.broken_health_checks = raw
        .health_checks
        .keys()
        .filter(|name| !scope.health_checks.contains_key(*name))
        .cloned()
        .collect();
    let mut records = RecordChecker::new(&scope);
    records.add_all(&mut check, std::mem::take(&mut raw.records));
    let mut overrides = OverrideChecker::default();
    for source in record_files {
        let mut check = Checker::new(source.file.clone(), &mut errors);
        records.add_all(&mut check, source.raw.records);
        overrides.add_all(&mut check, &source.raw.overrides);
    }
    let records = records.records;
    let health_checks = scope.health_checks;
    let mut zones = zones;
    let mut check = Checker::new(file.clone(), &mut errors);
    let max_records = server.as_ref().map(|s| s.max_records);
    statics::check(&mut check, &raw.zones, &mut zones, &records, max_records);
    if errors.is_empty() {
        alias::report_loops(&mut errors, &records);
    }
    match server {
        Some(server) if errors.is_empty() => Ok(Config {
            server,
            zones,
            health_checks,
            records,
            overrides: overrides.overrides,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}
