//! Bounded input: a YAML alias bomb, an oversized file or too many records
//! is rejected with a clear error, and a running server keeps serving its
//! previous config.

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::ops::cli::{Serve, answer_within, free_port};
use crate::support::harness::*;

/// The address-space cap the real server runs under: the alias bomb below
/// needs 2 GB to expand, so without budgets the server aborts.
const ADDRESS_SPACE: &str = "--as=800000000";

fn config(target: &str) -> String {
    format!(
        "{ZONE}records:\n  - name: webapp.global.example.test.\n    sets:\n      - {{ id: one, targets: [{target}] }}\n"
    )
}

/// The alias bomb: a valid-looking config whose 2,000 record names
/// are aliases of one 1 MB anchored scalar (about 1 MB on disk, 2 GB once
/// expanded).
fn alias_bomb() -> String {
    let scalar = "a".repeat(1 << 20);
    let mut yaml = ZONE.replace(
        "rname: hostmaster.example.test.",
        &format!("rname: &big \"{scalar}\""),
    );
    yaml.push_str("records:\n");
    for _ in 0..2000 {
        yaml.push_str("  - { name: *big, sets: [{ id: a, targets: [192.0.2.9] }] }\n");
    }
    yaml
}

/// The value of `series` on a `/metrics` page.
async fn metric(admin: SocketAddr, series: &str) -> Option<f64> {
    // reqwest is built without a default TLS provider; the in-process
    // servers of other tests install this one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(has_prlimit),
    ignore = "needs prlimit (apt-get install util-linux)"
)]
async fn an_alias_bomb_as_a_running_servers_new_config_is_rejected_and_dns_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, render(&config("192.0.2.1"), dir.path())).unwrap();
    let dns: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = std::process::Command::new("prlimit")
        .arg(ADDRESS_SPACE)
        .arg(env!("CARGO_BIN_EXE_gslb"))
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(repo(""))
        .env_remove("RUST_LOG")
        .env("GSLB_SERVER__DNS_LISTEN", dns.to_string())
        .env("GSLB_SERVER__ADMIN_LISTEN", admin.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serve = Serve(child);
    let name = "webapp.global.example.test.";
    assert_eq!(
        answer_within(dns, name, Duration::from_secs(20)).await,
        Some(ips(&["192.0.2.1"])),
        "serving under the address-space cap"
    );
    let failures = metric(admin, "gslb_config_reload_failures_total")
        .await
        .expect("the failure counter is exported");

    let tmp = dir.path().join("gslb.yaml.tmp");
    std::fs::write(&tmp, render(&alias_bomb(), dir.path())).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = serve.0.try_wait().unwrap() {
            panic!("gslb died reading the alias bomb: {status}");
        }
        if metric(admin, "gslb_config_reload_failures_total").await > Some(failures) {
            break;
        }
        assert!(Instant::now() < deadline, "the reload is rejected in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        answer_within(dns, name, Duration::from_secs(5)).await,
        Some(ips(&["192.0.2.1"])),
        "the previous config still answers"
    );
    assert!(serve.0.try_wait().unwrap().is_none(), "gslb is still up");

    // check-config, under the same cap, names the file and the reason.
    let out = std::process::Command::new("prlimit")
        .arg(ADDRESS_SPACE)
        .arg(env!("CARGO_BIN_EXE_gslb"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&path.display().to_string())
            && stderr.contains(": records[")
            && stderr.contains("too large once YAML aliases are expanded"),
        "{stderr}"
    );
}

fn record_file_config() -> String {
    config("192.0.2.1").replace(
        "  udp_workers: 2\n",
        "  udp_workers: 2\n  max_config_bytes: 2048\n  max_records: 3\n  record_files: [\"{dir}/extra.yaml\"]\n",
    )
}

/// `n` records named `r{i}`, each `extra` bytes of comment longer.
fn record_file(n: usize, padding: usize) -> String {
    let mut text = format!("# {}\nrecords:\n", "x".repeat(padding));
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ name: r{i}.global.example.test., sets: [{{ id: a, targets: [192.0.2.{i}] }}] }}\n"
        ));
    }
    text
}

/// Replaces the record file and waits until the reload it causes failed.
async fn write_rejected(gslb: &Gslb, text: &str) {
    let metrics = &gslb.server.metrics;
    let failures = metrics.reload_failures.load(Ordering::Relaxed);
    let tmp = gslb.dir.path().join("extra.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, gslb.dir.path().join("extra.yaml")).unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || {
            metrics.reload_failures.load(Ordering::Relaxed) > failures
        })
        .await
        .is_some(),
        "the reload is rejected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn record_files_over_the_caps_are_rejected_and_the_old_records_serve() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("extra.yaml"), record_file(2, 0)).unwrap();
    let config = dir.path().join("gslb.yaml");
    std::fs::write(&config, render(&record_file_config(), dir.path())).unwrap();
    let gslb = Gslb::start_file(dir, config, Vec::new()).await;
    assert_eq!(gslb.a("r1.global.example.test.").await, ips(&["192.0.2.1"]));

    // Three records in all is the cap: the config has one, the file two.
    write_rejected(&gslb, &record_file(3, 0)).await;
    let q = query("r2.global.example.test.", RecordType::A);
    assert_eq!(
        gslb.udp(&q).await.metadata.response_code,
        ResponseCode::NXDomain,
        "the third record was not taken in"
    );
    assert_eq!(gslb.a("r1.global.example.test.").await, ips(&["192.0.2.1"]));

    // Over max_config_bytes.
    write_rejected(&gslb, &record_file(1, 2100)).await;
    assert_eq!(gslb.a("r1.global.example.test.").await, ips(&["192.0.2.1"]));
    gslb.server.shutdown(WAIT).await;
}
