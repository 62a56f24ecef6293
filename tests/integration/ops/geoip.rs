//! The GeoIP database file is watched like the config: replaced on disk
//! (renamed over, as geoipupdate does, or rewritten in place) it is
//! reloaded without SIGHUP, and the answers, the build-time gauge and the
//! reload counter follow; a replacement that does not open keeps the
//! database loaded before.

use std::{path::Path, time::Duration};

use mmdb_writer::{IpVersion, Value, Writer};

use crate::support::harness::*;

/// 2025-01-01 and 2026-01-01: the build times of the two databases.
const OLD_EPOCH: u64 = 1_735_689_600;
const NEW_EPOCH: u64 = 1_767_225_600;

/// A database that puts the ECS subnet 198.51.100.0/24 in `continent`,
/// built at `epoch`.
fn database(continent: &str, epoch: u64) -> Vec<u8> {
    let mut writer = Writer::builder("GSLB-Test-Reload")
        .ip_version(IpVersion::V4)
        .build_epoch(std::time::UNIX_EPOCH + Duration::from_secs(epoch))
        .build();
    let record = Value::map([("continent", Value::map([("code", Value::from(continent))]))]);
    writer
        .insert_value(
            "198.51.100.0/24"
                .parse::<mmdb_writer::ipnet::IpNet>()
                .expect("net"),
            record,
        )
        .expect("insert");
    writer.to_bytes().expect("serialize")
}

fn config(db: &Path) -> String {
    format!(
        "{}records:\n  - name: webapp.global.example.test.\n    sets:\n      - {{ id: na, targets: [192.0.2.1], geo: {{ continents: [NA] }} }}\n      - {{ id: eu, targets: [192.0.2.2], geo: {{ continents: [EU] }} }}\n",
        ZONE.replace("{geoip}", &db.display().to_string())
    )
}

/// The answer for a client in 198.51.100.0/24 (by ECS).
async fn answer(gslb: &Gslb) -> Vec<std::net::IpAddr> {
    gslb.a_with_ecs("webapp.global.example.test.", "198.51.100.7", 24)
        .await
        .0
}

/// Replaces `path` the way geoipupdate does: a temp file renamed over it.
fn rename_over(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("mmdb.temporary");
    std::fs::write(&tmp, bytes).expect("write temp database");
    std::fs::rename(&tmp, path).expect("rename over the database");
}

async fn until(gslb: &Gslb, what: &str, mut check: impl AsyncFnMut(&Gslb) -> bool) {
    assert!(
        eventually(Duration::from_secs(10), async || check(gslb).await)
            .await
            .is_some(),
        "{what} within 10 s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_geoip_database_is_reloaded_without_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("GeoLite2-City.mmdb");
    std::fs::write(&db, database("NA", OLD_EPOCH)).expect("write database");
    let gslb = Gslb::start(&config(&db)).await;
    assert_eq!(answer(&gslb).await, ips(&["192.0.2.1"]));
    assert_eq!(
        gslb.metric("gslb_geoip_database_build_timestamp_seconds")
            .await,
        Some(OLD_EPOCH as f64)
    );
    assert_eq!(
        gslb.metric("gslb_geoip_database_reloads_total{result=\"success\"}")
            .await,
        Some(0.0),
        "the reload counter starts at 0"
    );

    // A new download renamed over the file: the same client is now in EU.
    rename_over(&db, &database("EU", NEW_EPOCH));
    until(&gslb, "the EU answer after the rename", async |g| {
        answer(g).await == ips(&["192.0.2.2"])
    })
    .await;
    assert_eq!(
        gslb.metric("gslb_geoip_database_build_timestamp_seconds")
            .await,
        Some(NEW_EPOCH as f64)
    );
    assert_eq!(
        gslb.metric("gslb_geoip_database_reloads_total{result=\"success\"}")
            .await,
        Some(1.0)
    );

    // Rewritten in place with something that is not a database: counted
    // as a failure, the database loaded before keeps answering.
    std::fs::write(&db, b"not a MaxMind database").expect("overwrite");
    until(&gslb, "the failure counted", async |g| {
        g.metric("gslb_geoip_database_reloads_total{result=\"failure\"}")
            .await
            == Some(1.0)
    })
    .await;
    assert_eq!(answer(&gslb).await, ips(&["192.0.2.2"]));
    assert_eq!(
        gslb.metric("gslb_geoip_database_build_timestamp_seconds")
            .await,
        Some(NEW_EPOCH as f64)
    );
    assert_eq!(
        gslb.metric("gslb_config_last_reload_success").await,
        Some(1.0),
        "the rest of the config still applies"
    );

    // Rewritten in place with the old database: back to NA.
    std::fs::write(&db, database("NA", OLD_EPOCH)).expect("rewrite");
    until(&gslb, "the NA answer after the rewrite", async |g| {
        answer(g).await == ips(&["192.0.2.1"])
    })
    .await;
    assert_eq!(
        gslb.metric("gslb_geoip_database_reloads_total{result=\"success\"}")
            .await,
        Some(2.0)
    );
    assert_eq!(
        gslb.metric("gslb_geoip_database_build_timestamp_seconds")
            .await,
        Some(OLD_EPOCH as f64)
    );
}
