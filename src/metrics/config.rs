//! What the last config load did: `gslb_config_last_reload_success`, its
//! timestamp, the GeoIP database's build time and reloads, and whether
//! operators' scrapes carry per-record series (`server.metrics.per_record`).
//! The table writer records an applied config, the reload task a rejected
//! one and what became of a replaced GeoIP database file.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::single;

/// The readings, kept across reloads.
#[derive(Debug, Default)]
pub struct ConfigReadings {
    /// `server.metrics.per_record` of the config in force.
    per_record: AtomicBool,
    /// Whether the last load was applied.
    last_success: AtomicBool,
    /// Unix seconds of the last applied load (0: none yet).
    last_success_at: AtomicU64,
    /// The GeoIP database's `build_epoch` (0: no database).
    geoip_build_epoch: AtomicU64,
    /// GeoIP database files opened by a reload (new or changed on disk).
    geoip_reloads: AtomicU64,
    /// Changed GeoIP database files that did not open; the database
    /// loaded before kept serving.
    geoip_reload_failures: AtomicU64,
}

impl ConfigReadings {
    /// Records a config put in force, with its `per_record` setting and the
    /// build time of its GeoIP database, if it has one.
    pub fn applied(&self, per_record: bool, geoip_build_epoch: Option<u64>) {
        // A clock before 1970 reads as 0, which no alert takes for recent.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.per_record.store(per_record, Ordering::Relaxed);
        self.geoip_build_epoch
            .store(geoip_build_epoch.unwrap_or(0), Ordering::Relaxed);
        self.last_success_at.store(now, Ordering::Relaxed);
        self.last_success.store(true, Ordering::Relaxed);
    }

    /// Counts a GeoIP database file a reload opened (`ok`) or refused.
    pub fn geoip_reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.geoip_reloads
        } else {
            &self.geoip_reload_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a load that was rejected: the previous config keeps serving.
    pub fn rejected(&self) {
        self.last_success.store(false, Ordering::Relaxed);
    }

    /// Whether operators' scrapes carry series by record, set and target.
    pub fn per_record(&self) -> bool {
        self.per_record.load(Ordering::Relaxed)
    }

    /// Writes the readings; the GeoIP family only while a database is
    /// loaded, so an age alert has nothing to fire on without one.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        single(
            encoder,
            "gslb_config_last_reload_success",
            "Whether the last config load was applied (1) or rejected (0, the previous config still serving)",
            MetricType::Gauge,
            u64::from(self.last_success.load(Ordering::Relaxed)),
        )?;
        single(
            encoder,
            "gslb_config_last_reload_success_timestamp_seconds",
            "Unix time of the last config load that was applied",
            MetricType::Gauge,
            self.last_success_at.load(Ordering::Relaxed),
        )?;
        let reloads = [
            ("success", &self.geoip_reloads),
            ("failure", &self.geoip_reload_failures),
        ]
        .map(|(result, n)| ([("result", result)], n.load(Ordering::Relaxed)));
        super::family(
            encoder,
            "gslb_geoip_database_reloads",
            "GeoIP database files reloaded after a change on disk, by result (failure: the file did not open and the database loaded before kept serving)",
            MetricType::Counter,
            reloads,
        )?;
        match self.geoip_build_epoch.load(Ordering::Relaxed) {
            0 => Ok(()),
            epoch => single(
                encoder,
                "gslb_geoip_database_build_timestamp_seconds",
                "Unix time the loaded GeoIP database was built (its metadata's build_epoch)",
                MetricType::Gauge,
                epoch,
            ),
        }
    }
}
