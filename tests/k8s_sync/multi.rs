//! Several clusters (issue 10, part 1): two independent kube-apiservers,
//! each with its own etcd, and two `gslb crd-sync` sidecars that each watch
//! both, as the name servers ns1 (in cluster `us`) and ns2 (in cluster `eu`)
//! of `deploy/multi-cluster/` would. A real `gslb serve` reads ns1's file
//! and is asked with `dig` and hickory.

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use hickory_proto::{op::ResponseCode, rr::RecordType};

use crate::cluster::{Cluster, FOLLOW, Serve, Sidecar, eventually};
use crate::harness::{addrs, query, repo, udp};

/// The server config: one zone, ns1's record file.
pub(crate) fn server_config(records: &Path, dns: SocketAddr, admin: SocketAddr) -> String {
    format!(
        r#"
server:
  dns_listen: ["{dns}"]
  admin_listen: "{admin}"
  udp_workers: 1
  record_files: ["{}"]
zones:
  - origin: global.example.test.
    ttl: 30
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 5 }}
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
      ns2.global.example.test.: [198.51.100.53]
"#,
        records.display()
    )
}

/// A DNSEndpoint `production/NAME` with one A endpoint.
pub(crate) fn endpoint(name: &str, dns_name: &str, set_id: Option<&str>, target: &str) -> String {
    let set_id = set_id.map_or_else(String::new, |id| format!("\n    setIdentifier: {id}"));
    format!(
        r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {{name: {name}, namespace: production}}
spec:
  endpoints:
  - dnsName: {dns_name}
    recordType: A
    targets: [{target}]{set_id}
"#
    )
}

pub(crate) const WEBAPP: &str = "webapp.global.example.test";
const SHOP: &str = "shop.global.example.test";

/// A kubeconfig with one context per (name, cluster, token file).
pub(crate) fn kubeconfig(contexts: &[(&str, &Cluster, &str)]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut entries = String::new();
    for (name, cluster, token) in contexts {
        clusters.push_str(&format!(
            "- name: {name}\n  cluster: {{server: \"{}\", insecure-skip-tls-verify: true}}\n",
            cluster.url()
        ));
        users.push_str(&format!(
            "- name: {name}-user\n  user: {{token: {}}}\n",
            cluster.token(token)
        ));
        entries.push_str(&format!(
            "- name: {name}\n  context: {{cluster: {name}, user: {name}-user}}\n"
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{entries}current-context: {}\n",
        contexts[0].0
    )
}

/// `dir` as a path relative to the root (kustomize refuses absolute ones).
fn from_root(dir: &Path) -> String {
    let depth = dir.components().count().saturating_sub(1);
    "../".repeat(depth)
}

/// Applies `deploy/` with the multi-cluster component of `component` (and
/// the CRDs' Component, for GslbOverride) to `cluster` through a
/// kustomization of its own, as the walk-through says:
/// first a server-side dry run, then for real (which grants the sidecars
/// their rights: RBAC is on).
pub(crate) async fn apply_deploy(cluster: &Cluster, component: &str) {
    let dir = cluster.path(&format!("kustomize-{component}"));
    std::fs::create_dir_all(&dir).expect("kustomization dir");
    let root = from_root(&dir);
    let repo_rel = repo("").display().to_string();
    let repo_rel = repo_rel.trim_start_matches('/').trim_end_matches('/');
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "resources: [\"{root}{repo_rel}/deploy\"]\ncomponents: [\"{root}{repo_rel}/deploy/multi-cluster/{component}\", \"{root}{repo_rel}/deploy/components/crds\"]\n"
        ),
    )
    .expect("write kustomization");
    let dir = dir.display().to_string();
    cluster
        .kubectl(&["create", "namespace", "gslb"], None)
        .await;
    let dry_run = cluster
        .apply_kustomization(&dir, &["--dry-run=server"])
        .await;
    for object in [
        "deployment.apps/gslb",
        "serviceaccount/gslb-crd-sync-remote",
        "clusterrolebinding.rbac.authorization.k8s.io/gslb-crd-sync-remote",
        "secret/gslb-crd-sync-remote-token",
        "configmap/gslb-config",
    ] {
        assert!(
            dry_run.contains(&format!("{object} created (server dry run)")),
            "{dry_run}"
        );
    }
    cluster.apply_kustomization(&dir, &[]).await;
    let deployment = cluster
        .kubectl(
            &[
                "get",
                "deployment",
                "-n",
                "gslb",
                "gslb",
                "-o",
                "jsonpath={.spec.template.spec.containers[?(@.name==\"crd-sync\")].args}",
            ],
            None,
        )
        .await;
    assert!(
        deployment.contains(&format!("\"--cluster={component}=\"")),
        "this cluster through the pod's service account: {deployment}"
    );
    cluster
        .kubectl(&["create", "namespace", "production"], None)
        .await;
}

pub(crate) async fn apply(cluster: &Cluster, manifest: &str) {
    cluster.kubectl(&["apply", "-f", "-"], Some(manifest)).await;
}

pub(crate) fn file_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub(crate) fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
    list.iter().map(|s| s.parse().expect("an IP")).collect()
}

/// Every address `name` is answered with over enough queries to see every
/// set (weights 1:1, so 40 queries miss one of two sets with odds 2^-39).
pub(crate) async fn answers(dns: SocketAddr, name: &str) -> BTreeSet<IpAddr> {
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        let response = udp(dns, &query(name, RecordType::A)).await;
        if response.metadata.response_code == ResponseCode::NoError {
            seen.extend(addrs(&response));
        }
    }
    seen
}

/// Waits until `name` is answered with exactly `want` (over its sets).
pub(crate) async fn until_answers(dns: SocketAddr, name: &str, want: &[&str]) -> Duration {
    let started = Instant::now();
    let want = ips(want);
    eventually(&format!("{name} answers {want:?}"), FOLLOW, || async {
        (answers(dns, name).await == want).then_some(())
    })
    .await;
    started.elapsed()
}

/// `dig +short` answers for `name`, over up to 40 tries, until `target` is
/// among them.
pub(crate) fn dig_sees(dns: SocketAddr, name: &str, target: &str) -> bool {
    (0..40).any(|_| {
        let out = std::process::Command::new("dig")
            .arg(format!("@{}", dns.ip()))
            .args([
                "-p",
                &dns.port().to_string(),
                "+short",
                "+tries=1",
                "+time=2",
            ])
            .arg(name)
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == target)
    })
}

/// `status.observedGeneration` of `production/NAME` in `cluster`.
async fn observed(cluster: &Cluster, name: &str) -> String {
    cluster
        .kubectl(
            &[
                "get",
                "dnsendpoint",
                "-n",
                "production",
                name,
                "-o",
                "jsonpath={.metadata.generation} {.status.observedGeneration}",
            ],
            None,
        )
        .await
}

/// The `EndpointRejected` Events in `production` of `cluster`, one
/// `OBJECT: MESSAGE` line each.
async fn rejection_events(cluster: &Cluster) -> String {
    cluster
        .kubectl(
            &[
                "get",
                "events",
                "-n",
                "production",
                "--field-selector",
                "reason=EndpointRejected",
                "-o",
                "jsonpath={range .items[*]}{.involvedObject.name}: {.message}{\"\\n\"}{end}",
            ],
            None,
        )
        .await
}

pub(crate) fn args(list: &[PathBuf]) -> Vec<&OsStr> {
    list.iter().map(|p| p.as_os_str()).collect()
}

fn until_metric(sidecar: &Sidecar, series: &str, want: f64) -> impl Future<Output = ()> {
    let series = series.to_owned();
    async move {
        eventually(&format!("{series} = {want}"), FOLLOW, || async {
            (sidecar.metric(&series) == Some(want)).then_some(())
        })
        .await;
    }
}

const US_UP: &str = "gslb_crd_sync_cluster_up{cluster=\"us\"}";
const EU_UP: &str = "gslb_crd_sync_cluster_up{cluster=\"eu\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl, has_dig)),
    ignore = "needs kube-apiserver, etcd, kubectl and dig (tests/k8s/cluster.sh install-deps and build)"
)]
async fn two_clusters_merge_into_one_file_that_survives_an_api_server_outage() {
    let started = Instant::now();
    let mut clusters = Cluster::start_many(2).await;
    let eu = clusters.pop().expect("two clusters");
    let us = clusters.pop().expect("two clusters");
    eprintln!("two clusters ready after {:?}", started.elapsed());
    apply_deploy(&us, "us-east").await;
    apply_deploy(&eu, "eu-west").await;

    // Each cluster's own objects. shop has no setIdentifier in either:
    // one set per cluster (CLUSTER/NAMESPACE/NAME). eu's webapp-dup claims
    // us's set id for webapp later than us did: rejected, in eu.
    apply(
        &us,
        &endpoint("webapp-us", WEBAPP, Some("us-east"), "192.0.2.10"),
    )
    .await;
    apply(&us, &endpoint("shop", SHOP, None, "192.0.2.30")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    apply(
        &eu,
        &endpoint("webapp-eu", WEBAPP, Some("eu-west"), "192.0.2.20"),
    )
    .await;
    apply(&eu, &endpoint("shop", SHOP, None, "192.0.2.40")).await;
    apply(
        &eu,
        &endpoint("webapp-dup", WEBAPP, Some("us-east"), "198.51.100.1"),
    )
    .await;

    // ns1 runs in us: its own cluster as the sidecar's service account, eu
    // as eu's remote reader; both contexts of one kubeconfig (--context).
    // ns2 runs in eu: the mirror image, with --cluster NAME=FILE[#CONTEXT].
    let ns1_dir = us.path("ns1");
    let ns2_dir = eu.path("ns2");
    for dir in [&ns1_dir, &ns2_dir] {
        std::fs::create_dir_all(dir).expect("sidecar dir");
    }
    let ns1_kubeconfig = ns1_dir.join("kubeconfig");
    std::fs::write(
        &ns1_kubeconfig,
        kubeconfig(&[("us", &us, "sync-token"), ("eu", &eu, "remote-token")]),
    )
    .expect("kubeconfig");
    let ns2_remote = ns2_dir.join("remote-kubeconfig");
    std::fs::write(&ns2_remote, kubeconfig(&[("us", &us, "remote-token")])).expect("kubeconfig");
    let ns1_records = ns1_dir.join("crd-records.yaml");
    let ns2_records = ns2_dir.join("crd-records.yaml");
    // The server first: its config is also the sidecars' --zones.
    let serve = Serve::start(&ns1_dir, &us.path("gslb-serve.log"), |dns, admin| {
        server_config(&ns1_records, dns, admin)
    })
    .await;
    let zones = ns1_dir.join("gslb.yaml");
    let ns1_args: Vec<PathBuf> = vec![
        "--kubeconfig".into(),
        ns1_kubeconfig.clone(),
        "--context".into(),
        "us".into(),
        "--context".into(),
        "eu".into(),
        "--output".into(),
        ns1_records.clone(),
        "--zones".into(),
        zones.clone(),
    ];
    let ns2_args: Vec<PathBuf> = vec![
        "--cluster".into(),
        format!("us={}#us", ns2_remote.display()).into(),
        "--cluster".into(),
        format!("eu={}", eu.path("kubeconfig-sync").display()).into(),
        "--output".into(),
        ns2_records.clone(),
        "--zones".into(),
        zones.clone(),
    ];
    let ns1_log = us.path("crd-sync-ns1.log");
    let ns2_log = eu.path("crd-sync-ns2.log");
    let mut ns1 = Sidecar::start_with(&ns1_log, "gslb-ns1", &args(&ns1_args));
    let ns2 = Sidecar::start_with(&ns2_log, "gslb-ns2", &args(&ns2_args));

    // 1. One record per name with every cluster's sets, answered by DNS.
    let t = until_answers(serve.dns, WEBAPP, &["192.0.2.10", "192.0.2.20"]).await;
    eprintln!(
        "both clusters' webapp sets answered after {t:?} (since start {:?})",
        started.elapsed()
    );
    until_answers(serve.dns, SHOP, &["192.0.2.30", "192.0.2.40"]).await;
    let text = file_text(&ns1_records);
    for id in [
        "\"eu/production/shop\"",
        "\"us/production/shop\"",
        "\"eu-west\"",
        "\"us-east\"",
    ] {
        assert!(text.contains(id), "{id} in {text}");
    }
    assert!(
        !text.contains("198.51.100.1"),
        "the conflicting set is left out: {text}"
    );

    // 2. The two sidecars write the same bytes.
    let same = eventually("ns1 and ns2 write the same file", FOLLOW, || async {
        let (a, b) = (file_text(&ns1_records), file_text(&ns2_records));
        (!a.is_empty() && a == b).then_some(a)
    })
    .await;
    assert_eq!(same, text);

    // 3. Status and Events go to each object's own cluster.
    for (cluster, name) in [
        (&us, "webapp-us"),
        (&us, "shop"),
        (&eu, "webapp-eu"),
        (&eu, "shop"),
    ] {
        eventually(&format!("{name} observed"), FOLLOW, || async {
            (observed(cluster, name).await == "1 1").then_some(())
        })
        .await;
    }
    assert_eq!(
        observed(&eu, "webapp-dup").await,
        "1 ",
        "a rejected object is not observed"
    );
    let events = eventually("an Event about webapp-dup in eu", FOLLOW, || async {
        let out = rejection_events(&eu).await;
        out.contains("webapp-dup").then_some(out)
    })
    .await;
    assert!(
        events.contains("already claimed by us/production/webapp-us"),
        "{events}"
    );
    assert_eq!(
        rejection_events(&us).await,
        "",
        "no Event lands in the other cluster"
    );

    for sidecar in [&ns1, &ns2] {
        until_metric(sidecar, US_UP, 1.0).await;
        until_metric(sidecar, EU_UP, 1.0).await;
        let listed = sidecar
            .metric("gslb_crd_sync_cluster_last_list_timestamp_seconds{cluster=\"us\"}")
            .unwrap_or_default();
        assert!(listed > 1.7e9, "a Unix time: {listed}");
    }

    // 4. us's API server stops: both sidecars mark it down, its records
    //    stay in the file and in DNS (dig), and a change in eu still
    //    reaches DNS within seconds.
    let before = file_text(&ns1_records);
    us.script(&["stop-apiserver"]).await;
    until_metric(&ns1, US_UP, 0.0).await;
    until_metric(&ns2, US_UP, 0.0).await;
    assert_eq!(ns1.metric(EU_UP), Some(1.0));
    assert_eq!(file_text(&ns1_records), before, "us's records are kept");
    assert!(
        dig_sees(serve.dns, WEBAPP, "192.0.2.10"),
        "dig still gets us's address"
    );
    apply(
        &eu,
        &endpoint("webapp-eu", WEBAPP, Some("eu-west"), "192.0.2.21"),
    )
    .await;
    let t = until_answers(serve.dns, WEBAPP, &["192.0.2.10", "192.0.2.21"]).await;
    eprintln!("a change in eu reached DNS {t:?} after kubectl apply, with us down");

    // 5. ns1 restarts while us is still down: us's objects come back from
    //    its state file, so the file does not lose them.
    let after_change = eventually("ns1's file has eu's change", FOLLOW, || async {
        let text = file_text(&ns1_records);
        text.contains("192.0.2.21").then_some(text)
    })
    .await;
    assert!(ns1.terminate(), "ns1 stops cleanly");
    assert!(ns1_dir.join("crd-sync-state/us.json").exists());
    let ns1 = Sidecar::start_with(&ns1_log, "gslb-ns1", &args(&ns1_args));
    until_metric(&ns1, EU_UP, 1.0).await;
    let restored = ns1
        .metric("gslb_crd_sync_cluster_last_list_timestamp_seconds{cluster=\"us\"}")
        .unwrap_or_default();
    assert!(
        restored > 1.7e9,
        "us's last list time is restored: {restored}"
    );
    assert_eq!(ns1.metric(US_UP), Some(0.0));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        file_text(&ns1_records),
        after_change,
        "nothing of us is dropped"
    );
    assert!(
        file_text(&us.path("crd-sync-ns1.log")).contains("cluster's last known objects restored"),
        "the restore is logged"
    );

    // 6. us's API server is back: the watches resume, a change in us
    //    reaches DNS, and both files agree again.
    us.script(&["start-apiserver"]).await;
    until_metric(&ns1, US_UP, 1.0).await;
    until_metric(&ns2, US_UP, 1.0).await;
    apply(
        &us,
        &endpoint("webapp-us", WEBAPP, Some("us-east"), "192.0.2.11"),
    )
    .await;
    let t = until_answers(serve.dns, WEBAPP, &["192.0.2.11", "192.0.2.21"]).await;
    eprintln!("a change in us reached DNS {t:?} after its API server came back");
    eventually("ns1 and ns2 agree again", FOLLOW, || async {
        let (a, b) = (file_text(&ns1_records), file_text(&ns2_records));
        (a.contains("192.0.2.11") && a == b).then_some(())
    })
    .await;

    // 7. A cluster removed from the command line drops its objects at the
    //    next start: ns2 alone with eu is single-cluster again.
    drop(ns2);
    let eu_only = Sidecar::start_with(
        &ns2_log,
        "gslb-ns2",
        &[
            "--kubeconfig".as_ref(),
            eu.path("kubeconfig-sync").as_os_str(),
            "--output".as_ref(),
            ns2_records.as_os_str(),
            "--zones".as_ref(),
            zones.as_os_str(),
        ],
    );
    let text = eventually("ns2's file without us", FOLLOW, || async {
        let text = file_text(&ns2_records);
        (!text.contains("192.0.2.11") && text.contains("\"production/shop\"")).then_some(text)
    })
    .await;
    assert!(
        text.contains("192.0.2.21") && text.contains("192.0.2.40"),
        "{text}"
    );
    assert!(eu_only.metric("gslb_crd_sync_cluster_up{cluster=\"default\"}") == Some(1.0));

    drop(serve);
    eprintln!("multi-cluster scenario took {:?}", started.elapsed());
}
