//! The Kubernetes tier: `gslb crd-sync` (the built binary) against a real
//! kube-apiserver with etcd on loopback (`tests/k8s/cluster.sh`), feeding a
//! `gslb serve` in this process that is queried over UDP and with `dig`.
//!
//! A test whose tools (the API server binary, etcd, kubectl, dig, apt) are
//! missing is ignored with the reason (`build.rs` looks for them);
//! `required_tools_are_installed` fails then under `GSLB_REQUIRE_TOOLS=1`
//! (set by `.ci/run`).

mod apt_sources;
mod cluster;
mod events;
#[allow(dead_code, unreachable_pub)]
#[path = "../integration/support/harness.rs"]
mod harness;
mod image;
mod manifests;
mod multi;
mod overrides;

use std::{collections::BTreeSet, net::IpAddr, path::Path, time::Duration};

use hickory_proto::{op::ResponseCode, rr::RecordType};

use cluster::{Cluster, FOLLOW, Sidecar, eventually, http_get};
use harness::{Gslb, addrs, check_required_tools, ips, query, udp};

/// Under `GSLB_REQUIRE_TOOLS=1` (`.ci/run`) every test of this tier runs:
/// a missing tool fails here instead of leaving its tests ignored.
#[test]
fn required_tools_are_installed() {
    check_required_tools(&[
        "kube-apiserver",
        "etcd",
        "kubectl",
        "dig",
        "apt-get",
        "apt-config",
    ]);
}

/// The server config: one zone, the sidecar's file in `record_files`.
fn server_config(records: &Path) -> String {
    format!(
        r#"
server:
  dns_listen: ["127.0.0.1:0"]
  udp_workers: 1
  record_files: ["{}"]
zones:
  - origin: global.example.test.
    ttl: 30
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 5 }}
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
health_checks:
  ingress-http: {{ kind: tcp, port: 9 }}
"#,
        records.display()
    )
}

/// The issue's example, unchanged.
const WEBAPP: &str = include_str!("../../deploy/examples/route53-webapp-global.yaml");

/// A second cluster's object for the same name.
fn eu(target: &str) -> String {
    format!(
        r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {{name: webapp-eu, namespace: production}}
spec:
  endpoints:
  - dnsName: webapp.global.example.test
    recordType: A
    targets: [{target}]
    setIdentifier: eu-west
    providerSpecific:
    - {{name: aws/weight, value: "1"}}
"#
    )
}

/// One good endpoint and two the server cannot serve.
const MIXED: &str = r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {name: mixed, namespace: production}
spec:
  endpoints:
  - {dnsName: good.global.example.test, recordType: A, targets: [192.0.2.77]}
  - {dnsName: alias.global.example.test, recordType: TXT, targets: ["v=spf1 -all"]}
  - {dnsName: broken.global.example.test, recordType: A, targets: [10.0.0.300]}
"#;

const WEBAPP_NAME: &str = "webapp.global.example.test.";

/// The name of issue 9's ownership scenario.
const SHOP_NAME: &str = "shop.global.example.test.";

/// team-a's object in issue 9: sets us-east and eu-west, weight 100.
const TEAM_A_SHOP: &str = r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {name: webapp, namespace: team-a}
spec:
  endpoints:
  - dnsName: shop.global.example.test
    recordType: A
    recordTTL: 30
    targets: [192.0.2.110]
    setIdentifier: us-east
    providerSpecific: [{name: gslb/weight, value: "100"}]
  - dnsName: shop.global.example.test
    recordType: A
    recordTTL: 30
    targets: [192.0.2.120]
    setIdentifier: eu-west
    providerSpecific: [{name: gslb/weight, value: "100"}]
"#;

/// The attacker of issue 9: the same name, its own set, a huge weight and
/// a TTL of 1.
const ATTACKER_SHOP: &str = r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {name: innocent, namespace: attacker}
spec:
  endpoints:
  - dnsName: shop.global.example.test
    recordType: A
    recordTTL: 1
    targets: [198.51.100.66]
    setIdentifier: x
    providerSpecific: [{name: gslb/weight, value: "1000000"}]
"#;

async fn a_records(gslb: &Gslb, name: &str) -> (ResponseCode, BTreeSet<IpAddr>) {
    let response = udp(gslb.addr, &query(name, RecordType::A)).await;
    (
        response.metadata.response_code,
        addrs(&response).into_iter().collect(),
    )
}

fn set_of(list: &[&str]) -> BTreeSet<IpAddr> {
    ips(list).into_iter().collect()
}

/// Waits until `name` answers exactly `want` (every target of the set).
async fn until_answer(gslb: &Gslb, name: &str, want: &[&str]) {
    let want = set_of(want);
    eventually(&format!("{name} answers {want:?}"), FOLLOW, || async {
        let (rcode, got) = a_records(gslb, name).await;
        (rcode == ResponseCode::NoError && got == want).then_some(())
    })
    .await;
}

/// `status.observedGeneration` of `production/NAME`, once it equals
/// `metadata.generation`.
async fn until_observed(cluster: &Cluster, name: &str) -> String {
    until_observed_in(cluster, "production", name).await
}

/// `status.observedGeneration` of `NAMESPACE/NAME`, once it equals
/// `metadata.generation`.
async fn until_observed_in(cluster: &Cluster, namespace: &str, name: &str) -> String {
    eventually(&format!("observedGeneration of {name}"), FOLLOW, || async {
        let out = cluster
            .kubectl(
                &[
                    "get",
                    "dnsendpoint",
                    "-n",
                    namespace,
                    name,
                    "-o",
                    "jsonpath={.metadata.generation} {.status.observedGeneration}",
                ],
                None,
            )
            .await;
        let (generation, observed) = out.split_once(' ')?;
        (generation == observed).then(|| observed.to_owned())
    })
    .await
}

/// The messages of the `EndpointRejected` Events in `namespace`.
async fn rejection_events(cluster: &Cluster, namespace: &str) -> String {
    cluster
        .kubectl(
            &[
                "get",
                "events",
                "-n",
                namespace,
                "--field-selector",
                "reason=EndpointRejected",
                "-o",
                "jsonpath={.items[*].message}",
            ],
            None,
        )
        .await
}

/// Returns once the clock is past the second `NAMESPACE/NAME` was created
/// in, so an object created now is strictly younger (`creationTimestamp`
/// has one-second resolution).
async fn after_the_second_of(cluster: &Cluster, namespace: &str, name: &str) {
    let created = cluster
        .kubectl(
            &[
                "get",
                "dnsendpoint",
                "-n",
                namespace,
                name,
                "-o",
                "jsonpath={.metadata.creationTimestamp}",
            ],
            None,
        )
        .await;
    let created = humantime::parse_rfc3339(created.trim())
        .unwrap_or_else(|e| panic!("creationTimestamp {created:?}: {e}"));
    let younger = created + Duration::from_secs(1);
    if let Ok(wait) = younger.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
    }
}

async fn apply(cluster: &Cluster, manifest: &str) {
    cluster.kubectl(&["apply", "-f", "-"], Some(manifest)).await;
}

fn file_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The whole life of an object: deploy/ validated by a server-side dry run,
/// RBAC first, the README example served, updated, joined by a second
/// cluster, a rejected endpoint reported, a replaced record file repaired,
/// an API server restart survived, another namespace refused a name it does
/// not own, and deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl, has_dig)),
    ignore = "needs kube-apiserver, etcd, kubectl and dig (tests/k8s/cluster.sh install-deps and build)"
)]
async fn dnsendpoints_applied_with_kubectl_are_answered_by_gslb() {
    let started = std::time::Instant::now();
    let cluster = Cluster::start().await;
    eprintln!("cluster ready after {:?}", started.elapsed());
    let records = cluster.path("crd-records.yaml");
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = config_dir.path().join("gslb.yaml");
    std::fs::write(&config, server_config(&records)).expect("write config");
    let gslb = Gslb::start_file(config_dir, config.clone(), Vec::new()).await;
    let mut sidecar = Sidecar::start(&cluster, &records, &config);

    // 1. Without RBAC the sidecar's service account may not list: it
    //    retries, writes nothing, and stays healthy.
    eventually("a forbidden list is logged", FOLLOW, || async {
        let log = file_text(&cluster.path("crd-sync.log"));
        log.contains("forbidden").then_some(())
    })
    .await;
    assert!(!records.exists(), "nothing is written before a full list");
    assert_eq!(http_get(sidecar.admin, "/healthz"), "ok\n");
    // deploy/ passes the API server's own validation (server-side dry run,
    // which needs the kustomization's namespace to exist)...
    cluster
        .kubectl(&["create", "namespace", "gslb"], None)
        .await;
    let deploy = harness::repo("deploy").display().to_string();
    let dry_run = cluster
        .apply_kustomization(&deploy, &["--dry-run=server"])
        .await;
    for object in [
        "deployment.apps/gslb",
        "service/gslb-dns",
        "configmap/gslb-config",
    ] {
        assert!(
            dry_run.contains(&format!("{object} created (server dry run)")),
            "{dry_run}"
        );
    }
    // ...and, as a whole, applies to a real API server (the Deployment's
    // image never runs: this cluster has no nodes); it grants the rights.
    cluster.apply_kustomization(&deploy, &[]).await;
    cluster
        .kubectl(&["create", "namespace", "production"], None)
        .await;

    // 2. The README example: all three targets, observedGeneration set.
    apply(&cluster, WEBAPP).await;
    until_answer(
        &gslb,
        WEBAPP_NAME,
        &["203.0.113.1", "203.0.113.2", "203.0.113.3"],
    )
    .await;
    eprintln!("README example answered after {:?}", started.elapsed());
    assert_eq!(until_observed(&cluster, "webapp-global").await, "1");
    let text = file_text(&records);
    assert!(
        text.contains("\"ttl\": 60") && text.contains("\"id\": \"global\""),
        "{text}"
    );
    let out = std::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &gslb.addr.port().to_string(),
            "+short",
            "+tries=1",
            "+time=2",
        ])
        .arg("webapp.global.example.test")
        .output()
        .expect("dig runs");
    let got: BTreeSet<IpAddr> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(
        got,
        set_of(&["203.0.113.1", "203.0.113.2", "203.0.113.3"]),
        "dig"
    );

    // 3. An update: the answer follows; the generation is observed again.
    apply(
        &cluster,
        &WEBAPP.replace(
            "203.0.113.1, 203.0.113.2, 203.0.113.3",
            "203.0.113.7, 203.0.113.8",
        ),
    )
    .await;
    until_answer(&gslb, WEBAPP_NAME, &["203.0.113.7", "203.0.113.8"]).await;
    assert_eq!(until_observed(&cluster, "webapp-global").await, "2");

    // 4. A second cluster's object: two sets, both answered.
    apply(&cluster, &eu("198.51.100.20")).await;
    eventually("two sets in the file", FOLLOW, || async {
        file_text(&records)
            .contains("\"id\": \"eu-west\"")
            .then_some(())
    })
    .await;
    let both = set_of(&["203.0.113.7", "203.0.113.8", "198.51.100.20"]);
    let seen = std::cell::RefCell::new(BTreeSet::new());
    eventually("both sets answer (weight 1:1)", FOLLOW, || async {
        let got = a_records(&gslb, WEBAPP_NAME).await.1;
        let mut seen = seen.borrow_mut();
        seen.extend(got);
        (*seen == both).then_some(())
    })
    .await;

    // 5. Rejected endpoints: the good one is served, the others are named
    //    in an Event and in the log; no observedGeneration for the object.
    apply(&cluster, MIXED).await;
    until_answer(&gslb, "good.global.example.test.", &["192.0.2.77"]).await;
    let events = eventually("Events about the rejected endpoints", FOLLOW, || async {
        let out = rejection_events(&cluster, "production").await;
        (out.contains("TXT") && out.contains("10.0.0.300")).then_some(out)
    })
    .await;
    assert!(events.contains("alias.global.example.test"), "{events}");
    let log = file_text(&cluster.path("crd-sync.log"));
    assert!(
        log.contains("DNSEndpoint endpoint rejected") && log.contains("broken.global.example.test"),
        "{log}"
    );
    let observed = cluster
        .kubectl(
            &[
                "get",
                "dnsendpoint",
                "-n",
                "production",
                "mixed",
                "-o",
                "jsonpath={.status.observedGeneration}",
            ],
            None,
        )
        .await;
    assert_eq!(
        observed, "",
        "a partly rejected object is not marked observed"
    );
    let (rcode, _) = a_records(&gslb, "alias.global.example.test.").await;
    assert_eq!(rcode, ResponseCode::NXDomain);

    // 5b. Issue 9, finding 6: the record file replaced behind the sidecar's
    //     back is rewritten by the next resync, and the server follows.
    let written = file_text(&records);
    std::fs::write(&records, "{\"records\": []}\n").expect("replace the record file");
    eventually("the replaced record file is repaired", FOLLOW, || async {
        (file_text(&records) == written).then_some(())
    })
    .await;
    until_answer(&gslb, "good.global.example.test.", &["192.0.2.77"]).await;
    let repairs = http_get(sidecar.admin, "/metrics");
    assert!(
        repairs.contains("gslb_crd_sync_file_repairs_total 1"),
        "{repairs}"
    );

    // 6. API server restart: the file never changes while it is away, and a
    //    change made after it is back is picked up.
    let before = file_text(&records);
    let restart = cluster.script(&["restart-apiserver"]);
    let watch_file = async {
        let mut checks = 0u32;
        loop {
            assert_eq!(
                file_text(&records),
                before,
                "the file changed during the outage"
            );
            checks += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if checks > 600 {
                return;
            }
        }
    };
    let restarted_at = std::time::Instant::now();
    tokio::select! {
        () = restart => {}
        () = watch_file => panic!("restart-apiserver took over a minute"),
    }
    eprintln!("API server restarted in {:?}", restarted_at.elapsed());
    assert_eq!(
        file_text(&records),
        before,
        "nothing lost during the outage"
    );
    until_answer(&gslb, "good.global.example.test.", &["192.0.2.77"]).await;
    apply(&cluster, &eu("198.51.100.21")).await;
    let back = std::time::Instant::now();
    eventually(
        "a change after the restart reaches the file",
        FOLLOW,
        || async { file_text(&records).contains("198.51.100.21").then_some(()) },
    )
    .await;
    eprintln!(
        "change after the restart written after {:?}",
        back.elapsed()
    );
    assert!(
        file_text(&records).contains("203.0.113.7"),
        "older objects are still there"
    );
    let metrics = http_get(sidecar.admin, "/metrics");
    let errors = metrics
        .lines()
        .find(|l| l.starts_with("gslb_crd_sync_watch_errors_total "))
        .unwrap_or_default();
    assert!(!errors.ends_with(" 0"), "watch errors counted: {errors}");
    assert!(
        metrics.contains("gslb_crd_sync_endpoints_rejected{reason=\"record_type\"} 1"),
        "{metrics}"
    );

    // 7. Issue 9, finding 5: another namespace's endpoints for team-a's name
    //    are rejected with an Event naming the owner; DNS answers only
    //    team-a's sets, with team-a's TTL.
    for namespace in ["team-a", "attacker"] {
        cluster
            .kubectl(&["create", "namespace", namespace], None)
            .await;
    }
    apply(&cluster, TEAM_A_SHOP).await;
    until_observed_in(&cluster, "team-a", "webapp").await;
    // The older object owns the name, by creationTimestamp, which counts
    // whole seconds: created in the same second, the two would tie, and
    // the tie goes to namespace order ("attacker" < "team-a").
    after_the_second_of(&cluster, "team-a", "webapp").await;
    apply(&cluster, ATTACKER_SHOP).await;
    let event = eventually("an Event about the attacker's endpoint", FOLLOW, || async {
        let out = rejection_events(&cluster, "attacker").await;
        out.contains("shop.global.example.test").then_some(out)
    })
    .await;
    assert!(
        event.contains("belongs to namespace team-a") && event.contains("gslb.io/shared-with"),
        "{event}"
    );
    let log = file_text(&cluster.path("crd-sync.log"));
    assert!(
        log.contains("attacker/innocent") && log.contains("reason=\"owner\""),
        "{log}"
    );
    let team_a = set_of(&["192.0.2.110", "192.0.2.120"]);
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let response = udp(gslb.addr, &query(SHOP_NAME, RecordType::A)).await;
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(
            response.answers.iter().all(|r| r.ttl == 30),
            "team-a's TTL: {:?}",
            response.answers
        );
        seen.extend(addrs(&response));
    }
    assert_eq!(seen, team_a, "only team-a's sets answer");
    assert!(
        file_text(&records).contains("\"ttl\": 30")
            && !file_text(&records).contains("198.51.100.66"),
        "{}",
        file_text(&records)
    );

    // 8. Deletion: the name disappears (NXDOMAIN); the other names stay.
    cluster
        .kubectl(
            &[
                "delete",
                "dnsendpoint",
                "-n",
                "production",
                "webapp-global",
                "webapp-eu",
            ],
            None,
        )
        .await;
    eventually("webapp is gone", FOLLOW, || async {
        let (rcode, _) = a_records(&gslb, WEBAPP_NAME).await;
        (rcode == ResponseCode::NXDomain).then_some(())
    })
    .await;
    until_answer(&gslb, "good.global.example.test.", &["192.0.2.77"]).await;

    // `--once`: list, write, exit.
    let once = cluster.path("once.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gslb"))
        .arg("crd-sync")
        .arg("--once")
        .arg("--kubeconfig")
        .arg(cluster.path("kubeconfig-sync"))
        .arg("--output")
        .arg(&once)
        .args([
            "--zones",
            "global.example.test.",
            "--namespace",
            "production",
        ])
        .output()
        .expect("crd-sync --once runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        file_text(&once).contains("192.0.2.77"),
        "{}",
        file_text(&once)
    );

    assert!(sidecar.terminate(), "crd-sync exits cleanly on SIGTERM");
    assert!(records.exists(), "the file stays after the sidecar stops");
    gslb.server.shutdown(Duration::from_secs(2)).await;
    eprintln!("scenario took {:?}", started.elapsed());
}

/// A bad `--zones` stops the sidecar at start with the reason, before it
/// talks to any cluster.
#[test]
fn crd_sync_refuses_an_unreadable_zones_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["crd-sync", "--zones", "missing/gslb.yaml", "--output"])
        .arg(dir.path().join("out.yaml"))
        .env("KUBECONFIG", dir.path().join("none"))
        .output()
        .expect("gslb runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--zones missing/gslb.yaml") && stderr.contains("no such file"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.yaml").exists());
}
