//! Reloads: good and bad, by command and by file change, under query load.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;

fn config(target: &str) -> String {
    format!(
        "{ZONE}records:\n  - name: webapp.global.example.test.\n    sets:\n      - {{ id: one, targets: [{target}] }}\n"
    )
}

/// A config that fails validation.
fn broken() -> String {
    config("10.0.0.300")
}

/// Whether `check` holds within `limit`.
async fn within(limit: Duration, check: impl AsyncFnMut() -> bool) -> bool {
    eventually(limit, check).await.is_some()
}

async fn answer(gslb: &Gslb) -> Vec<std::net::IpAddr> {
    addrs(
        &gslb
            .udp(&query("webapp.global.example.test.", RecordType::A))
            .await,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn no_query_is_dropped_or_wrong_during_many_reloads() {
    let gslb = Arc::new(Gslb::start(&config("192.0.2.1")).await);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let load = {
        let (gslb, stop, answered) = (gslb.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            let valid = [ips(&["192.0.2.1"]), ips(&["192.0.2.2"])];
            // Bounded: at most 50,000 queries, each bounded by WAIT.
            for _ in 0..50_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = gslb
                    .udp(&query("webapp.global.example.test.", RecordType::A))
                    .await;
                assert_eq!(r.metadata.response_code, ResponseCode::NoError);
                let got = addrs(&r);
                assert!(
                    valid.contains(&got),
                    "answer {got:?} belongs to neither config"
                );
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let metrics = gslb.server.metrics.clone();
    for round in 0..60 {
        let (yaml, bad) = match round % 6 {
            5 => (broken(), true),
            r if r % 2 == 0 => (config("192.0.2.2"), false),
            _ => (config("192.0.2.1"), false),
        };
        let (ok_before, bad_before) = (
            metrics.reloads.load(Ordering::Relaxed),
            metrics.reload_failures.load(Ordering::Relaxed),
        );
        gslb.write_config(&yaml);
        gslb.server.builder.reload().await;
        let done = within(Duration::from_secs(5), async || {
            if bad {
                metrics.reload_failures.load(Ordering::Relaxed) > bad_before
            } else {
                metrics.reloads.load(Ordering::Relaxed) > ok_before
            }
        })
        .await;
        assert!(done, "reload {round} happened");
    }
    stop.store(true, Ordering::Relaxed);
    load.await.expect("query loop saw only right answers");
    assert!(
        answered.load(Ordering::Relaxed) > 100,
        "the loop really queried"
    );
    assert!(metrics.reload_failures.load(Ordering::Relaxed) >= 10);
    // Round 59 was broken; the last good one, round 58, answers 192.0.2.2.
    assert_eq!(answer(&gslb).await, ips(&["192.0.2.2"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_change_reloads_and_a_broken_edit_keeps_the_old_answers() {
    let gslb = Gslb::start(&config("192.0.2.1")).await;
    gslb.write_config(&config("192.0.2.2"));
    assert!(
        within(Duration::from_secs(5), async || answer(&gslb).await
            == ips(&["192.0.2.2"]))
        .await,
        "the edit is picked up without a signal"
    );
    let failures = gslb.server.metrics.reload_failures.load(Ordering::Relaxed);
    gslb.write_config(&broken());
    assert!(
        within(Duration::from_secs(5), async || {
            gslb.server.metrics.reload_failures.load(Ordering::Relaxed) > failures
        })
        .await,
        "the broken edit is noticed and counted"
    );
    assert_eq!(
        answer(&gslb).await,
        ips(&["192.0.2.2"]),
        "still serving the last good config"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn record_files_are_merged_and_followed() {
    let yaml = format!("{}\n", config("192.0.2.1")).replace(
        "  udp_workers: 2\n",
        "  udp_workers: 2\n  record_files: [\"{dir}/extra.yaml\"]\n",
    );
    let gslb = Gslb::start(&yaml).await;
    let extra = gslb.dir.path().join("extra.yaml");
    let q = query("api.global.example.test.", RecordType::A);
    assert_eq!(
        gslb.udp(&q).await.metadata.response_code,
        ResponseCode::NXDomain,
        "missing file: no record yet"
    );
    let write = |text: &str| {
        std::fs::write(gslb.dir.path().join("extra.tmp"), text).unwrap();
        std::fs::rename(gslb.dir.path().join("extra.tmp"), &extra).unwrap();
    };
    write(
        "records:\n  - name: api.global.example.test.\n    sets: [{ id: a, targets: [192.0.2.7] }]\n",
    );
    assert!(
        within(Duration::from_secs(5), async || addrs(&gslb.udp(&q).await)
            == ips(&["192.0.2.7"]))
        .await,
        "the new record file is served"
    );
    let failures = gslb.server.metrics.reload_failures.load(Ordering::Relaxed);
    write(
        "records:\n  - name: api.global.example.test.\n    sets: [{ id: a, targets: [not-an-ip] }]\n",
    );
    assert!(
        within(Duration::from_secs(5), async || {
            gslb.server.metrics.reload_failures.load(Ordering::Relaxed) > failures
        })
        .await
    );
    assert_eq!(
        addrs(&gslb.udp(&q).await),
        ips(&["192.0.2.7"]),
        "a bad record file keeps the old answers"
    );
    gslb.server.shutdown(WAIT).await;
}
