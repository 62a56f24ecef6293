//! `/metrics` over HTTP against a running gslb: the body's format matches
//! its content type, operators get sums by zone and set id unless
//! `server.metrics.per_record` asks for more, known series start at 0,
//! build, process, reload and GeoIP readings are there, and answer times are
//! sampled by transport.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ops::admin::zone_with;
use crate::support::harness::*;

/// What Prometheus 3 sends as `Accept`.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The test GeoIP database's build time (geoip/networks.rs).
const GEOIP_BUILD_EPOCH: u64 = 1_735_689_600;

const RECORDS: &str = r#"health_checks:
  dead: { kind: tcp, port: 9, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }
records:
  - name: api.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.1] }
      - { id: eu-west, targets: [192.0.2.2], priority: 1 }
  - name: web.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.3] }
      - { id: eu-west, targets: [127.0.29.9], health_check: dead, priority: 1 }
"#;

/// `/metrics` with `accept`: (content type, body), after the shared
/// render's age so the body is fresh.
async fn scrape(gslb: &Gslb, accept: Option<&str>) -> (String, String) {
    tokio::time::sleep(gslb::admin::rendered::MAX_AGE).await;
    let mut request = reqwest::Client::new().get(format!("{}/metrics", gslb.admin()));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("admin API answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.expect("body"))
}

/// The value of the sample line that starts with `series ` in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Checks `text` as the Prometheus text format 0.0.4: every sample belongs
/// to the family its last `# TYPE` named (a counter's samples are named as
/// the family; a histogram's add `_bucket`, `_sum` or `_count`), and no
/// OpenMetrics-only line is there.
fn assert_text_format(text: &str) {
    let mut family: Option<(&str, &str)> = None;
    for line in text.lines() {
        assert!(
            !line.starts_with("# EOF") && !line.starts_with("# UNIT"),
            "{line}"
        );
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = Some((name, kind));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let sample = line.split(['{', ' ']).next().unwrap();
        let (name, kind) = family.unwrap_or_else(|| panic!("{line} has no # TYPE"));
        let ok = match kind {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| sample.strip_suffix(s) == Some(name)),
            _ => sample == name,
        };
        assert!(ok, "sample {sample} under # TYPE {name} {kind}");
    }
}

async fn answer_some(gslb: &Gslb) {
    gslb.wait_ready().await;
    for _ in 0..3 {
        assert!(!gslb.a("api.global.example.test.").await.is_empty());
        assert!(!gslb.a("web.global.example.test.").await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_format_follows_accept_and_the_content_type_names_it() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    answer_some(&gslb).await;
    for accept in [
        None,
        Some("text/plain"),
        Some("*/*"),
        Some("application/json"),
    ] {
        let (content_type, text) = scrape(&gslb, accept).await;
        assert_eq!(
            content_type, "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert_text_format(&text);
        assert!(text.contains("# TYPE gslb_dns_queries_total counter\n"));
        assert!(text.contains("# TYPE gslb_probe_duration_seconds histogram\n"));
    }
    let (content_type, text) = scrape(&gslb, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE gslb_dns_queries counter\n"));
    assert!(text.contains("\ngslb_dns_queries_total{"));
    // Plain text preferred over OpenMetrics, or an OpenMetrics version
    // gslb does not write: the text format.
    for accept in [
        "application/openmetrics-text;q=0.2, text/plain;q=0.9",
        "application/openmetrics-text;version=2.0.0",
    ] {
        let (content_type, _) = scrape(&gslb, Some(accept)).await;
        assert!(content_type.starts_with("text/plain"), "{accept}");
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn per_record_series_are_off_by_default_and_sums_by_zone_and_set_carry_the_answers() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    answer_some(&gslb).await;
    let (_, text) = scrape(&gslb, None).await;
    for hidden in [
        "api.global",
        "web.global",
        "192.0.2.",
        "127.0.29.9",
        "gslb_target_up",
        "gslb_probe_up",
    ] {
        assert!(!text.contains(hidden), "{hidden} in:\n{text}");
    }
    let zone = "zone=\"global.example.test.\"";
    // api fails over to nothing: us-east answers both names.
    assert_eq!(
        value(
            &text,
            &format!("gslb_answers_total{{{zone},set=\"us-east\"}}")
        ),
        Some(6.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("gslb_targets{{{zone},set=\"eu-west\"}}")),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &format!("gslb_targets_up{{{zone},set=\"eu-west\"}}")),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(&text, "gslb_probes_total{check=\"dead\",result=\"fail\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    gslb.server.shutdown(WAIT).await;

    // Asked for, operators get every record, set and target.
    let yaml = zone_with("  metrics: { per_record: true }\n");
    let gslb = Gslb::start(&format!("{yaml}{RECORDS}")).await;
    answer_some(&gslb).await;
    let (_, text) = scrape(&gslb, None).await;
    assert_eq!(
        value(
            &text,
            "gslb_answers_total{record=\"web.global.example.test.\",set=\"us-east\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert!(text.contains("gslb_target_up{record=\"web.global.example.test.\",set=\"eu-west\",target=\"127.0.29.9\"} 0"));
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_by_zone_and_set_does_not_grow_with_the_records() {
    let mut records = String::from("records:\n");
    for r in 0..2_000 {
        records.push_str(&format!(
            "  - {{ name: app{r}.global.example.test., sets: [{{ id: a, targets: [10.0.{}.{}] }}, {{ id: b, targets: [10.1.{}.{}] }}] }}\n",
            r / 250, r % 250, r / 250, r % 250
        ));
    }
    let gslb = Gslb::start(&format!("{ZONE}{records}")).await;
    gslb.wait_ready().await;
    let (_, sets) = scrape(&gslb, None).await;
    assert!(sets.len() < 20_000, "{} bytes", sets.len());
    assert_eq!(
        value(
            &sets,
            "gslb_targets{zone=\"global.example.test.\",set=\"a\"}"
        ),
        Some(2_000.0)
    );
    // The same table per record: hundreds of bytes a record.
    gslb.write_config(&format!(
        "{}{records}",
        zone_with("  metrics: { per_record: true }\n")
    ));
    let switched = eventually(Duration::from_secs(20), async || {
        scrape(&gslb, None).await.1.contains("gslb_target_up{")
    })
    .await;
    assert!(switched.is_some(), "the reload turned per_record on");
    let (_, full) = scrape(&gslb, None).await;
    assert!(
        full.len() > 50 * sets.len(),
        "{} vs {}",
        full.len(),
        sets.len()
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_with_known_labels_start_at_zero_on_a_quiet_server() {
    let gslb = Gslb::start(&format!(
        "{ZONE}records:\n  - {{ name: a.global.example.test., sets: [{{ id: x, targets: [192.0.2.1] }}] }}\n"
    ))
    .await;
    gslb.wait_ready().await;
    let (_, text) = scrape(&gslb, None).await;
    for series in [
        "gslb_probe_slot_waits_total{class=\"serving\"}",
        "gslb_probe_slot_waits_total{class=\"down\"}",
        "gslb_rrl_dropped_total{kind=\"answer\"}",
        "gslb_overrides{state=\"down\",source=\"admin\"}",
    ] {
        assert_eq!(value(&text, series), Some(0.0), "{series} in:\n{text}");
    }
    // A scrape without the detail: probes by result, at 0.
    tokio::time::sleep(gslb::admin::rendered::MAX_AGE).await;
    let public = reqwest::Client::new()
        .get(format!("{}/metrics", gslb.admin()))
        .header("host", "elsewhere.example:9153")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for result in ["ok", "fail"] {
        let series = format!("gslb_probes_total{{result=\"{result}\"}}");
        assert_eq!(value(&public, &series), Some(0.0), "{public}");
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn build_process_reload_and_geoip_readings() {
    let yaml = format!("{ZONE}{RECORDS}");
    let gslb = Gslb::start(&yaml).await;
    gslb.wait_ready().await;
    let (_, text) = scrape(&gslb, None).await;
    let commit = option_env!("GSLB_GIT_COMMIT").unwrap_or("unknown");
    let build = format!(
        "gslb_build_info{{version=\"{}\",commit=\"{commit}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &build), Some(1.0), "{text}");
    assert!(value(&text, "process_cpu_seconds_total").is_some_and(|s| s > 0.0));
    assert!(value(&text, "process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    let fds = value(&text, "process_open_fds").expect("open fds");
    assert!(fds >= 3.0 && fds <= value(&text, "process_max_fds").expect("max fds"));
    assert_eq!(
        value(&text, "gslb_geoip_database_build_timestamp_seconds"),
        Some(GEOIP_BUILD_EPOCH as f64)
    );
    assert_eq!(value(&text, "gslb_config_last_reload_success"), Some(1.0));
    let loaded_at = value(&text, "gslb_config_last_reload_success_timestamp_seconds").unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - 120.0..=now + 1.0).contains(&loaded_at),
        "{loaded_at} vs {now}"
    );

    // A broken edit: the reading turns 0, its timestamp stays.
    let failures = || {
        gslb.server
            .metrics
            .reload_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = failures();
    gslb.write_config(&yaml.replace("ttl: 30", "ttl: -1"));
    let rejected = eventually(Duration::from_secs(10), async || failures() > before).await;
    assert!(rejected.is_some(), "the broken edit was rejected");
    let (_, text) = scrape(&gslb, None).await;
    assert_eq!(value(&text, "gslb_config_last_reload_success"), Some(0.0));
    assert_eq!(
        value(&text, "gslb_config_last_reload_success_timestamp_seconds"),
        Some(loaded_at)
    );
    // Fixed, and without a GeoIP database: success again, no GeoIP age.
    gslb.write_config(&yaml.replace("  geoip_database: \"{geoip}\"\n", ""));
    let fixed = eventually(Duration::from_secs(10), async || {
        let (_, text) = scrape(&gslb, None).await;
        value(&text, "gslb_config_last_reload_success") == Some(1.0)
    })
    .await;
    assert!(fixed.is_some(), "the fixed config was applied");
    let (_, text) = scrape(&gslb, None).await;
    assert!(!text.contains("gslb_geoip_database_build_timestamp_seconds"));
    gslb.server.shutdown(WAIT).await;
}

/// The answer-time histogram: one query in 64 is timed, per UDP worker
/// and per TCP runtime thread, so a few hundred queries of each transport
/// put samples in both series.
#[tokio::test(flavor = "multi_thread")]
async fn answer_times_are_sampled_by_transport() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    gslb.wait_ready().await;
    let (_, quiet) = scrape(&gslb, None).await;
    for transport in ["udp", "tcp"] {
        let series = format!("gslb_dns_response_seconds_count{{transport=\"{transport}\"}}");
        assert_eq!(value(&quiet, &series), Some(0.0), "{series} in:\n{quiet}");
    }
    let query = query("api.global.example.test.", hickory_proto::rr::RecordType::A);
    // Bounded: 400 UDP queries over two workers, 300 TCP ones, each
    // within WAIT.
    for _ in 0..400 {
        assert!(!addrs(&gslb.udp(&query).await).is_empty());
    }
    for _ in 0..300 {
        assert!(!addrs(&gslb.tcp(&query).await).is_empty());
    }
    let (_, text) = scrape(&gslb, None).await;
    for transport in ["udp", "tcp"] {
        let count = value(
            &text,
            &format!("gslb_dns_response_seconds_count{{transport=\"{transport}\"}}"),
        )
        .unwrap_or_default();
        assert!(count >= 1.0, "{transport}: {count} samples in:\n{text}");
        assert!(
            count <= 20.0,
            "{transport}: one in 64 is timed, not {count}"
        );
        let all = value(
            &text,
            &format!("gslb_dns_response_seconds_bucket{{le=\"+Inf\",transport=\"{transport}\"}}"),
        );
        assert_eq!(all, Some(count), "{transport}");
        let sum = value(
            &text,
            &format!("gslb_dns_response_seconds_sum{{transport=\"{transport}\"}}"),
        )
        .unwrap_or_default();
        assert!(
            sum > 0.0 && sum / count < 1.0,
            "{transport}: a loopback answer takes well under a second: {sum} s over {count}"
        );
    }
    gslb.server.shutdown(WAIT).await;
}
