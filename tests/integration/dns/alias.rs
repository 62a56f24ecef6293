//! Hostname targets against a real DNS server: a Knot on loopback serves
//! the load balancers' names (`*.elb.test.`) from a zone file the test
//! rewrites and reloads, and gslb resolves them through it
//! (`server.resolvers`).

use std::{
    fs::File,
    net::IpAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use hickory_proto::rr::RecordType;

use crate::support::backend::{Backend, Mode, free_port};
use crate::support::harness::*;

/// A Knot serving `elb.test.` on 127.0.0.1 and a port of its own; killed
/// on drop.
struct Knot {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    serial: u32,
}

impl Knot {
    /// Starts serving `records` (zone file lines after the SOA and NS). The
    /// tests that call it are ignored when `build.rs` found no knotd or
    /// knotc.
    async fn start(records: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("db")).expect("knot dirs");
        let port = free_port("127.0.0.1").await;
        let mut knot = Self {
            dir,
            port,
            child: None,
            serial: 1,
        };
        knot.write_zone(records);
        let home = knot.dir.path().display().to_string();
        std::fs::write(
            knot.conf(),
            format!(
                "server:\n    rundir: \"{home}\"\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 control:\n    listen: \"{home}/knot.sock\"\n\
                 database:\n    storage: \"{home}/db\"\n\
                 log:\n  - target: stderr\n    any: info\n\
                 template:\n  - id: default\n    zonefile-sync: -1\n    journal-content: none\n    semantic-checks: off\n\
                 zone:\n  - domain: \"elb.test.\"\n    file: \"{home}/elb.test.zone\"\n"
            ),
        )
        .expect("knot.conf");
        knot.spawn();
        knot
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("knot.conf")
    }

    fn spawn(&mut self) {
        let log = File::create(self.dir.path().join("knot.log")).expect("knot log");
        let child = Command::new("knotd")
            .args(["-c", &self.conf().display().to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("starting knotd");
        self.child = Some(child);
    }

    /// Where gslb asks.
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn write_zone(&mut self, records: &str) {
        let zone = format!(
            "$ORIGIN elb.test.\n@ 60 SOA ns.elb.test. hostmaster.elb.test. {serial} 60 60 600 1\n@ 60 NS ns.elb.test.\nns 60 A 127.0.0.1\n{records}",
            serial = self.serial
        );
        let tmp = self.dir.path().join("zone.tmp");
        std::fs::write(&tmp, zone).expect("zone file");
        std::fs::rename(&tmp, self.dir.path().join("elb.test.zone")).expect("zone file");
    }

    /// Serves `records` from now on (new serial, `knotc zone-reload`).
    fn change(&mut self, records: &str) {
        self.serial += 1;
        self.write_zone(records);
        let output = Command::new("knotc")
            .args([
                "-c",
                &self.conf().display().to_string(),
                "zone-reload",
                "elb.test.",
            ])
            .output()
            .expect("running knotc");
        assert!(
            output.status.success(),
            "knotc zone-reload: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops answering: the resolver is gone.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The daemon's log, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("knot.log")).unwrap_or_default()
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A config resolving through `knot`, with fast refreshes and a short
/// `max_stale`, and `records`.
fn config(knot: &Knot, extra: &str, records: &str) -> String {
    format!(
        r#"
server:
  dns_listen: ["127.0.0.1:0"]
  admin_listen: "127.0.0.1:0"
  udp_workers: 1
  resolvers: ["{resolver}"]
  alias: {{ min_refresh: 1s, max_refresh: 1s, max_stale: 3s }}
zones:
  - origin: global.example.test.
    ttl: 30
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 20 }}
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
{extra}records:
{records}"#,
        resolver = knot.addr()
    )
}

/// The A answer for `name`: addresses and the smallest TTL.
async fn answer(gslb: &Gslb, name: &str) -> (Vec<IpAddr>, Option<u32>) {
    let response = gslb.udp(&query(name, RecordType::A)).await;
    let mut got = addrs(&response);
    got.sort();
    (got, response.answers.iter().map(|r| r.ttl).min())
}

/// The `/status` entry of `hostname`.
async fn hostname_status(gslb: &Gslb, hostname: &str) -> serde_json::Value {
    let (_, body) = gslb.get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
    status["hostnames"]
        .as_array()
        .expect("hostnames in /status")
        .iter()
        .find(|h| h["name"] == hostname)
        .cloned()
        .unwrap_or_else(|| panic!("{hostname} in {body}"))
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_knotc)),
    ignore = "needs knotd and knotc (apt-get install knot)"
)]
async fn answers_follow_the_upstream_and_outlive_a_resolver_outage_until_max_stale() {
    let mut knot = Knot::start("lb-eu 10 A 127.0.43.1\n").await;
    let name = "app.global.example.test.";
    let records = "  - name: app.global.example.test.\n    sets:\n      - { id: eu, targets: [lb-eu.elb.test.] }\n      - { id: backup, targets: [192.0.2.99], priority: 1 }\n";
    let gslb = Gslb::start(&config(&knot, "", records)).await;
    gslb.wait_ready().await;
    let (got, ttl) = answer(&gslb, name).await;
    assert_eq!(
        got,
        ips(&["127.0.43.1"]),
        "resolved at start; {}",
        knot.log()
    );
    let ttl = ttl.expect("an answer has a TTL");
    assert!(
        ttl <= 10,
        "the answer TTL ({ttl}) is clamped to the upstream TTL (10), not the record's 30"
    );

    // The load balancer's addresses change upstream: the answers follow
    // within the refresh (1 s) plus slack.
    knot.change("lb-eu 10 A 127.0.43.2\nlb-eu 10 A 127.0.43.3\n");
    let followed = eventually(Duration::from_secs(10), async || {
        answer(&gslb, name).await.0 == ips(&["127.0.43.2", "127.0.43.3"])
    })
    .await;
    assert!(
        followed.is_some(),
        "answers follow the upstream: {:?}; {}",
        answer(&gslb, name).await,
        knot.log()
    );
    let status = hostname_status(&gslb, "lb-eu.elb.test.").await;
    assert_eq!(status["freshness"], "fresh", "{status}");
    let shown: Vec<&str> = status["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["127.0.43.2", "127.0.43.3"], "{status}");
    let (_, body) = gslb.get("/status").await;
    assert!(
        body.contains(r#""hostname":"lb-eu.elb.test.""#),
        "each target names its hostname: {body}"
    );

    // `gslb status` prints each hostname with its addresses.
    let printed = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["status", "--admin", &gslb.admin()])
        .env("NO_COLOR", "1")
        .output()
        .expect("gslb status runs");
    let printed = String::from_utf8_lossy(&printed.stdout);
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("lb-eu.elb.test."))
        .collect();
    assert!(
        printed.contains("HOSTNAME")
            && lines.len() == 2
            && lines[0].contains("fresh")
            && lines[0].contains("127.0.43.2")
            && lines[1].contains("127.0.43.3"),
        "{printed}"
    );

    // The resolver goes away: the last addresses keep serving while the
    // upstream TTL (10 s) plus max_stale (3 s) lasts...
    knot.stop();
    let went_stale = eventually(Duration::from_secs(10), async || {
        let status = hostname_status(&gslb, "lb-eu.elb.test.").await;
        status["failures"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert!(
        went_stale.is_some(),
        "resolution fails without the resolver"
    );
    assert_eq!(
        answer(&gslb, name).await.0,
        ips(&["127.0.43.2", "127.0.43.3"]),
        "the last addresses keep serving"
    );
    // ...then they count as down and the backup set answers.
    let failed_over = eventually(Duration::from_secs(15), async || {
        answer(&gslb, name).await.0 == ips(&["192.0.2.99"])
    })
    .await;
    assert!(
        failed_over.is_some(),
        "expired after max_stale: {:?} {}",
        answer(&gslb, name).await,
        hostname_status(&gslb, "lb-eu.elb.test.").await
    );
    assert_eq!(
        hostname_status(&gslb, "lb-eu.elb.test.").await["freshness"],
        "expired"
    );
    gslb.server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_knotc)),
    ignore = "needs knotd and knotc (apt-get install knot)"
)]
async fn a_resolved_address_that_fails_its_probe_leaves_the_answer() {
    let knot = Knot::start("lb-us 30 A 127.0.43.11\nlb-us 30 A 127.0.43.12\n").await;
    let port = free_port("127.0.43.11").await;
    let good = Backend::http("127.0.43.11", port).await;
    let bad = Backend::http("127.0.43.12", port).await;
    let checks = format!(
        "health_checks:\n  fast: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 2, fall: 2 }}\n"
    );
    let name = "shop.global.example.test.";
    let records = "  - name: shop.global.example.test.\n    sets:\n      - { id: us, targets: [lb-us.elb.test.], health_check: fast }\n";
    let gslb = Gslb::start(&config(&knot, &checks, records)).await;
    gslb.wait_ready().await;
    assert_eq!(
        answer(&gslb, name).await.0,
        ips(&["127.0.43.11", "127.0.43.12"]),
        "both resolved addresses are healthy"
    );
    bad.set(Mode::Status(503));
    let left = eventually(Duration::from_secs(10), async || {
        answer(&gslb, name).await.0 == ips(&["127.0.43.11"])
    })
    .await;
    assert!(left.is_some(), "the failing address leaves the answer");
    // Probed like an IP target, with the record name as Host. An address
    // counts as up until its first probe, so on a loaded machine the good
    // one may not have been asked yet: wait for its first request.
    let seen = || good.seen.lock().unwrap().host_headers.clone();
    eventually(Duration::from_secs(10), async || !seen().is_empty()).await;
    let hosts = seen();
    assert!(
        !hosts.is_empty()
            && hosts
                .iter()
                .all(|h| h == &format!("shop.global.example.test:{port}")),
        "{hosts:?}"
    );
    gslb.server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_knotc)),
    ignore = "needs knotd and knotc (apt-get install knot)"
)]
async fn upstream_addresses_no_client_can_connect_to_are_never_answered() {
    let mut knot = Knot::start(
        "lb-eu 10 A 0.0.0.0\nlb-eu 10 A 255.255.255.255\nlb-eu 10 A 224.0.0.1\nlb-eu 10 A 169.254.169.254\nlb-eu 10 A 127.0.43.21\nlb-eu 10 AAAA ::\nlb-eu 10 AAAA ff02::1\nlb-eu 10 AAAA fe80::1\n",
    )
    .await;
    let name = "app.global.example.test.";
    let records = "  - name: app.global.example.test.\n    sets:\n      - { id: eu, targets: [lb-eu.elb.test.] }\n";
    let gslb = Gslb::start(&config(&knot, "", records)).await;
    gslb.wait_ready().await;
    assert_eq!(
        answer(&gslb, name).await.0,
        ips(&["127.0.43.21"]),
        "only the usable address; {}",
        knot.log()
    );
    let aaaa = gslb.udp(&query(name, RecordType::AAAA)).await;
    assert!(aaaa.answers.is_empty(), "{aaaa:?}");
    let status = hostname_status(&gslb, "lb-eu.elb.test.").await;
    assert_eq!(
        status["addresses"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );

    // Nothing usable left upstream: a failed resolution, and the last
    // usable address keeps serving until max_stale.
    knot.change("lb-eu 10 A 0.0.0.0\n");
    let failing = eventually(Duration::from_secs(10), async || {
        let status = hostname_status(&gslb, "lb-eu.elb.test.").await;
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no client can connect to: 0.0.0.0"))
    })
    .await;
    assert!(
        failing.is_some(),
        "{}",
        hostname_status(&gslb, "lb-eu.elb.test.").await
    );
    assert_eq!(answer(&gslb, name).await.0, ips(&["127.0.43.21"]));
    gslb.server.shutdown(Duration::from_secs(1)).await;
}
