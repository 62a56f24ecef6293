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

use crate::support::harness::*;

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
        let (yaml, want) = match round % 6 {
            5 => (broken(), None),
            r if r % 2 == 0 => (config("192.0.2.2"), Some("192.0.2.2")),
            _ => (config("192.0.2.1"), Some("192.0.2.1")),
        };
        let (ok_before, bad_before) = (
            metrics.reloads.load(Ordering::Relaxed),
            metrics.reload_failures.load(Ordering::Relaxed),
        );
        gslb.write_config(&yaml);
        gslb.server.reloader.reload();
        let done = within(Duration::from_secs(5), async || {
            // `reload()` only queues the request, and the file watcher's
            // reload of the previous round's edit may be what bumps the
            // counter; so a good round waits for its own answer too.
            match want {
                None => metrics.reload_failures.load(Ordering::Relaxed) > bad_before,
                Some(ip) => {
                    metrics.reloads.load(Ordering::Relaxed) > ok_before
                        && answer(&gslb).await == ips(&[ip])
                }
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

/// A config with `webapp` answering `target` and the record file
/// `extra.yaml`.
fn with_extra(target: &str) -> String {
    config(target).replace(
        "  udp_workers: 2\n",
        "  udp_workers: 2\n  record_files: [\"{dir}/extra.yaml\"]\n",
    )
}

/// A record file with `api` answering `target`, and `filler` more records
/// that make loading and compiling it take a while.
fn api_file(target: &str, filler: usize) -> String {
    let mut text = format!(
        "records:\n  - name: api.global.example.test.\n    sets: [{{ id: a, targets: [{target}] }}]\n"
    );
    for i in 0..filler {
        text.push_str(&format!(
            "  - {{ name: filler{i}.global.example.test., sets: [{{ id: a, targets: [198.51.100.{}] }}] }}\n",
            i % 250
        ));
    }
    text
}

/// Replaces `name` in the server's directory by rename, as editors and
/// `gslb crd-sync` do.
fn replace_file(gslb: &Gslb, name: &str, text: &str) {
    let tmp = gslb.dir.path().join(format!("{name}.tmp"));
    std::fs::write(&tmp, render(text, gslb.dir.path())).expect("write");
    std::fs::rename(&tmp, gslb.dir.path().join(name)).expect("rename");
}

/// Finding 3 of issue 8: an edit that lands while a reload is loading the
/// previous version was taken for loaded, and not applied until some later
/// edit. Both files are read within milliseconds of a reload's start, and
/// the large record file then takes a while to parse and compile: each edit
/// is written in that window.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_landing_during_a_reload_is_applied() {
    const FILLER: usize = 3000;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("extra.yaml"),
        api_file("192.0.2.100", FILLER),
    )
    .expect("write");
    let config = dir.path().join("gslb.yaml");
    std::fs::write(&config, render(&with_extra("192.0.2.1"), dir.path())).expect("write config");
    let gslb = Gslb::start_file(dir, config, Vec::new()).await;
    let metrics = gslb.server.metrics.clone();
    let reloads = || metrics.reloads.load(Ordering::Relaxed);

    // How long one reload takes here.
    let before = reloads();
    let started = tokio::time::Instant::now();
    gslb.server.reloader.reload();
    assert!(
        within(Duration::from_secs(30), async || reloads() > before).await,
        "a reload finishes"
    );
    let reload_time = started.elapsed();
    let into_reload =
        (reload_time / 8).clamp(Duration::from_millis(20), Duration::from_millis(200));

    for round in 1..=6u8 {
        // Start a reload, and write the next version while it is loading
        // the current one: alternately the config and the record file.
        gslb.server.reloader.reload();
        tokio::time::sleep(into_reload).await;
        let (name, target) = if round % 2 == 1 {
            let target = format!("192.0.2.{round}");
            replace_file(&gslb, "gslb.yaml", &with_extra(&target));
            ("webapp.global.example.test.", target)
        } else {
            let target = format!("192.0.2.{}", 100 + round);
            replace_file(&gslb, "extra.yaml", &api_file(&target, FILLER));
            ("api.global.example.test.", target)
        };
        let expected = ips(&[target.as_str()]);
        assert!(
            within(Duration::from_secs(15), async || gslb.a(name).await
                == expected)
            .await,
            "round {round}: the edit written {into_reload:?} into a {reload_time:?} reload is served: {name} answers {:?}, not {expected:?}",
            gslb.a(name).await
        );
        // Let the writer go idle, so the next reload starts at once.
        tokio::time::sleep(reload_time + Duration::from_millis(500)).await;
    }
    gslb.server.shutdown(WAIT).await;
}

/// A server whose `api` record comes from `extra.yaml`, loaded at start.
async fn with_record_file() -> Gslb {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("extra.yaml"), api_file("192.0.2.7", 0)).expect("write");
    let config = dir.path().join("gslb.yaml");
    std::fs::write(&config, render(&with_extra("192.0.2.1"), dir.path())).expect("write config");
    let gslb = Gslb::start_file(dir, config, Vec::new()).await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.7"])
    );
    gslb
}

/// Runs `change` and waits until the reload it causes is rejected.
async fn rejected_after(gslb: &Gslb, change: impl FnOnce()) {
    let metrics = &gslb.server.metrics;
    let failures = metrics.reload_failures.load(Ordering::Relaxed);
    change();
    assert!(
        within(Duration::from_secs(10), async || {
            metrics.reload_failures.load(Ordering::Relaxed) > failures
        })
        .await,
        "the reload is rejected and counted"
    );
}

/// Runs `change` and waits until the reload it causes is applied.
async fn applied_after(gslb: &Gslb, change: impl FnOnce()) {
    let metrics = &gslb.server.metrics;
    let reloads = metrics.reloads.load(Ordering::Relaxed);
    change();
    assert!(
        within(Duration::from_secs(10), async || {
            metrics.reloads.load(Ordering::Relaxed) > reloads
        })
        .await,
        "the reload is applied"
    );
}

async fn api_rcode(gslb: &Gslb) -> ResponseCode {
    gslb.udp(&query("api.global.example.test.", RecordType::A))
        .await
        .metadata
        .response_code
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_record_file_keeps_its_records_until_it_returns() {
    let gslb = with_record_file().await;
    let extra = gslb.dir.path().join("extra.yaml");
    rejected_after(&gslb, || std::fs::remove_file(&extra).expect("rm")).await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.7"]),
        "still served after rm"
    );
    applied_after(&gslb, || {
        replace_file(&gslb, "extra.yaml", &api_file("192.0.2.8", 0))
    })
    .await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.8"])
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_file_truncated_to_nothing_keeps_its_records() {
    let gslb = with_record_file().await;
    let extra = gslb.dir.path().join("extra.yaml");
    rejected_after(&gslb, || {
        std::fs::File::create(&extra).expect("truncate");
    })
    .await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.7"]),
        "still served after truncation"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicitly_empty_record_file_is_applied() {
    let gslb = with_record_file().await;
    applied_after(&gslb, || replace_file(&gslb, "extra.yaml", "records: []\n")).await;
    assert_eq!(api_rcode(&gslb).await, ResponseCode::NXDomain);
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_record_file_from_the_config_drops_its_records() {
    let gslb = with_record_file().await;
    applied_after(&gslb, || {
        let yaml = with_extra("192.0.2.1").replace("  record_files: [\"{dir}/extra.yaml\"]\n", "");
        replace_file(&gslb, "gslb.yaml", &yaml);
    })
    .await;
    assert_eq!(api_rcode(&gslb).await, ResponseCode::NXDomain);
    // Now that it is not served, removing it is nothing to worry about.
    let failures = gslb.server.metrics.reload_failures.load(Ordering::Relaxed);
    let reloads = gslb.server.metrics.reloads.load(Ordering::Relaxed);
    std::fs::remove_file(gslb.dir.path().join("extra.yaml")).expect("rm");
    gslb.server.reloader.reload();
    assert!(
        within(Duration::from_secs(10), async || {
            gslb.server.metrics.reloads.load(Ordering::Relaxed) > reloads
        })
        .await
    );
    assert_eq!(
        gslb.server.metrics.reload_failures.load(Ordering::Relaxed),
        failures
    );
    gslb.server.shutdown(WAIT).await;
}
