//! Declarative overrides: a `GslbOverride` applied with kubectl in one of
//! two real clusters drains a set on both gslb instances, as ns1 (in `us`)
//! and ns2 (in `eu`) of `deploy/multi-cluster/` run: each instance reads
//! its own crd-sync's file, and each crd-sync follows both clusters. The
//! admin API cannot lift the drain (409 naming the object); deleting the
//! object does; a conflicting object in the other cluster wins when newer
//! and the older one gets an Event.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::cluster::{Cluster, FOLLOW, Serve, Sidecar, eventually};
use crate::multi::{
    WEBAPP, apply, apply_deploy, args, endpoint, file_text, kubeconfig, server_config,
    until_answers,
};

/// GslbOverride `gslb/NAME` for webapp's set `set`.
fn gslb_override(name: &str, set: &str, state: &str, reason: &str) -> String {
    format!(
        r#"
apiVersion: gslb.io/v1alpha1
kind: GslbOverride
metadata: {{name: {name}, namespace: gslb}}
spec: {{record: {WEBAPP}, set: {set}, state: {state}, reason: "{reason}"}}
"#
    )
}

/// `dig +short` answers for `name` from `dns`, over ten queries.
fn dig(dns: SocketAddr, name: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..10 {
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
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let line = line.trim().to_owned();
            if !line.is_empty() && !seen.contains(&line) {
                seen.push(line);
            }
        }
    }
    seen.sort();
    seen
}

/// One admin request: (status, body).
async fn admin(serve: &Serve, method: reqwest::Method, path: &str) -> (u16, String) {
    gslb::tls::install_crypto_provider();
    let response = reqwest::Client::new()
        .request(method, format!("http://{}{path}", serve.admin))
        .header("content-type", "application/json")
        .body(r#"{"state": "auto"}"#)
        .send()
        .await
        .expect("admin API answers");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

/// `gslb override RECORD SET STATE` against `serve`: (exit code, stderr).
fn cli_override(serve: &Serve, set: &str, state: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["override", WEBAPP, set, state])
        .env("GSLB_ADMIN", format!("http://{}", serve.admin))
        .env_remove("GSLB_ADMIN_TOKEN")
        .output()
        .expect("gslb runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `OverrideConflict` Events in namespace gslb of `cluster`, one
/// `OBJECT: MESSAGE` line each.
async fn conflict_events(cluster: &Cluster) -> String {
    cluster
        .kubectl(
            &[
                "get",
                "events",
                "-n",
                "gslb",
                "--field-selector",
                "reason=OverrideConflict",
                "-o",
                "jsonpath={range .items[*]}{.involvedObject.name}: {.message}{\"\\n\"}{end}",
            ],
            None,
        )
        .await
}

/// Waits until both instances answer webapp with exactly `want`; returns
/// how long the slower took.
async fn until_both(instances: [&Serve; 2], want: &[&str]) -> Duration {
    let started = Instant::now();
    for serve in instances {
        until_answers(serve.dns, WEBAPP, want).await;
    }
    started.elapsed()
}

/// A gslb instance's directory and its crd-sync arguments.
struct Instance {
    dir: PathBuf,
    records: PathBuf,
}

impl Instance {
    fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("instance dir");
        let records = dir.join("crd-records.yaml");
        Self { dir, records }
    }

    async fn serve(&self, log: &Path) -> Serve {
        let records = self.records.clone();
        Serve::start(&self.dir, log, move |dns, admin| {
            server_config(&records, dns, admin)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl, has_dig)),
    ignore = "needs kube-apiserver, etcd, kubectl and dig (tests/k8s/cluster.sh install-deps and build)"
)]
async fn a_gslb_override_applied_in_one_cluster_drains_the_set_on_both_instances() {
    let started = Instant::now();
    let mut clusters = Cluster::start_many(2).await;
    let eu = clusters.pop().expect("two clusters");
    let us = clusters.pop().expect("two clusters");
    eprintln!("two clusters ready after {:?}", started.elapsed());
    // deploy/ with the GslbOverride CRD and the RBAC to read it.
    apply_deploy(&us, "us-east").await;
    apply_deploy(&eu, "eu-west").await;
    apply(
        &us,
        &endpoint("webapp-us", WEBAPP, Some("us-east"), "192.0.2.10"),
    )
    .await;
    apply(
        &eu,
        &endpoint("webapp-eu", WEBAPP, Some("eu-west"), "192.0.2.20"),
    )
    .await;

    // ns1 in us, ns2 in eu: each follows both clusters and feeds its own
    // gslb serve.
    let ns1 = Instance::new(us.path("ns1"));
    let ns2 = Instance::new(eu.path("ns2"));
    let ns1_kubeconfig = ns1.dir.join("kubeconfig");
    std::fs::write(
        &ns1_kubeconfig,
        kubeconfig(&[("us", &us, "sync-token"), ("eu", &eu, "remote-token")]),
    )
    .expect("kubeconfig");
    let ns2_kubeconfig = ns2.dir.join("kubeconfig");
    std::fs::write(
        &ns2_kubeconfig,
        kubeconfig(&[("eu", &eu, "sync-token"), ("us", &us, "remote-token")]),
    )
    .expect("kubeconfig");
    let serve1 = ns1.serve(&us.path("gslb-serve-ns1.log")).await;
    let serve2 = ns2.serve(&eu.path("gslb-serve-ns2.log")).await;
    let sidecar_args = |instance: &Instance, kubeconfig: &Path| -> Vec<PathBuf> {
        vec![
            "--kubeconfig".into(),
            kubeconfig.to_owned(),
            "--context".into(),
            "us".into(),
            "--context".into(),
            "eu".into(),
            "--output".into(),
            instance.records.clone(),
            "--zones".into(),
            instance.dir.join("gslb.yaml"),
        ]
    };
    let ns1_args = sidecar_args(&ns1, &ns1_kubeconfig);
    let ns2_args = sidecar_args(&ns2, &ns2_kubeconfig);
    let _sidecar1 = Sidecar::start_with(&us.path("crd-sync-ns1.log"), "gslb-ns1", &args(&ns1_args));
    let _sidecar2 = Sidecar::start_with(&eu.path("crd-sync-ns2.log"), "gslb-ns2", &args(&ns2_args));
    let both = [&serve1, &serve2];
    until_both(both, &["192.0.2.10", "192.0.2.20"]).await;
    eprintln!(
        "both instances answer both sets after {:?}",
        started.elapsed()
    );

    // 1. A drain applied with kubectl in us: both instances stop answering
    //    us-east (hickory and dig).
    apply(
        &us,
        &gslb_override("drain-us-east", "us-east", "down", "kernel upgrade"),
    )
    .await;
    let drained = until_both(both, &["192.0.2.20"]).await;
    eprintln!("drained on both instances {drained:?} after kubectl apply");
    for serve in both {
        assert_eq!(dig(serve.dns, WEBAPP), ["192.0.2.20"], "dig");
    }
    let file = file_text(&ns2.records);
    assert!(
        file.contains("\"object\": \"us/gslb/drain-us-east\"") && file.contains("kernel upgrade"),
        "{file}"
    );

    // 2. The admin API cannot lift it: 409 naming the object, on either
    //    instance, and through the CLI; GET /overrides says where it is from.
    let path = format!("/overrides/{WEBAPP}/us-east");
    for serve in both {
        let (code, body) = admin(serve, reqwest::Method::DELETE, &path).await;
        assert_eq!(code, 409, "{body}");
        assert!(
            body.contains(
                "is drained by GslbOverride us/gslb/drain-us-east; delete the object to clear it"
            ),
            "{body}"
        );
    }
    let (code, body) = admin(&serve2, reqwest::Method::PUT, &path).await;
    assert_eq!(code, 409, "{body}");
    let (code, stderr) = tokio::task::block_in_place(|| cli_override(&serve1, "us-east", "up"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("409") && stderr.contains("GslbOverride us/gslb/drain-us-east"),
        "{stderr}"
    );
    let (code, listed) = admin(&serve2, reqwest::Method::GET, "/overrides").await;
    assert_eq!(code, 200);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let entry = &listed["overrides"][0];
    assert_eq!(
        (
            entry["source"].as_str(),
            entry["object"].as_str(),
            entry["state"].as_str(),
            entry["reason"].as_str()
        ),
        (
            Some("kubernetes"),
            Some("us/gslb/drain-us-east"),
            Some("down"),
            Some("kernel upgrade")
        ),
        "{listed}"
    );
    until_both(both, &["192.0.2.20"]).await;

    // 3. A conflicting, newer object in eu forces the set up: it wins on
    //    both instances, and the older one gets an Event naming it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    apply(
        &eu,
        &gslb_override("force-us-east", "us-east", "up", "probe is wrong"),
    )
    .await;
    let forced = until_both(both, &["192.0.2.10", "192.0.2.20"]).await;
    eprintln!("the newer object in force on both instances {forced:?} after kubectl apply");
    let events = eventually("an OverrideConflict Event in us", FOLLOW, || async {
        let out = conflict_events(&us).await;
        out.contains("drain-us-east").then_some(out)
    })
    .await;
    assert!(
        events.contains("eu/gslb/force-us-east (newer)"),
        "names the winner: {events}"
    );
    assert_eq!(
        conflict_events(&eu).await,
        "",
        "the object in force gets no Event"
    );

    // 4. Deleting the newer one puts the drain back; deleting the drain
    //    clears the set on both instances.
    eu.kubectl(
        &["delete", "gslboverride", "-n", "gslb", "force-us-east"],
        None,
    )
    .await;
    until_both(both, &["192.0.2.20"]).await;
    us.kubectl(
        &["delete", "gslboverride", "-n", "gslb", "drain-us-east"],
        None,
    )
    .await;
    let cleared = until_both(both, &["192.0.2.10", "192.0.2.20"]).await;
    eprintln!("cleared on both instances {cleared:?} after kubectl delete");
    let (code, body) = admin(&serve1, reqwest::Method::GET, "/overrides").await;
    assert_eq!((code, body.as_str()), (200, r#"{"overrides":[]}"#));
    eprintln!("override scenario took {:?}", started.elapsed());
}
