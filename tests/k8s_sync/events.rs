//! Events across an API server restart: the sidecar's Events about
//! rejected endpoints keep being published once the API server is back: a
//! new rejection's Event, a repeated one's count, and a new Event for a
//! repeat whose Event is gone (deleted, or lost with the storage).

use std::path::{Path, PathBuf};

use crate::cluster::{Cluster, FOLLOW, Sidecar, eventually};

/// A server config with one zone, for `--zones`.
fn zones(records: &Path) -> String {
    format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:0"], record_files: ["{}"] }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
"#,
        records.display()
    )
}

/// A cluster with deploy/rbac.yaml applied and the namespace `namespace`,
/// and crd-sync following it into its record file (the third value) for
/// the [`zones`] config.
async fn with_sidecar(namespace: &str) -> (Cluster, Sidecar, PathBuf) {
    let cluster = Cluster::start().await;
    let records = cluster.path("crd-records.yaml");
    let config = cluster.path("gslb.yaml");
    std::fs::write(&config, zones(&records)).expect("write config");
    cluster
        .kubectl(&["create", "namespace", "gslb"], None)
        .await;
    let rbac = crate::harness::repo("deploy/rbac.yaml");
    cluster
        .kubectl(&["apply", "-f", &rbac.display().to_string()], None)
        .await;
    cluster
        .kubectl(&["create", "namespace", namespace], None)
        .await;
    let sidecar = Sidecar::start(&cluster, &records, &config);
    (cluster, sidecar, records)
}

/// An object `NAMESPACE/NAME` with one endpoint the server cannot serve
/// (a TXT record); `label` changes its spec, so a new value is a new
/// generation with the same rejection.
fn rejected(namespace: &str, name: &str, label: &str) -> String {
    format!(
        r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  endpoints:
  - {{dnsName: txt.global.example.test, recordType: TXT, targets: ["{label}"]}}
"#
    )
}

/// (object, count) of the `EndpointRejected` Events in `namespace`, as
/// `kubectl get events` shows them (the core/v1 view of events.k8s.io).
async fn events(cluster: &Cluster, namespace: &str) -> Vec<(String, u64)> {
    let (ok, out, _) = cluster
        .kubectl_status(
            &[
                "get",
                "events",
                "-n",
                namespace,
                "--field-selector",
                "reason=EndpointRejected",
                "-o",
                "jsonpath={range .items[*]}{.involvedObject.name}|{.series.count}{\"\\n\"}{end}",
            ],
            None,
        )
        .await;
    if !ok {
        return Vec::new(); // the API server is still coming up
    }
    out.lines()
        .filter_map(|line| {
            let (object, count) = line.rsplit_once('|')?;
            Some((object.to_owned(), count.parse().unwrap_or(1)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl)),
    ignore = "needs kube-apiserver, etcd and kubectl (tests/k8s/cluster.sh install-deps and build)"
)]
async fn events_are_published_after_an_api_server_restart() {
    let (cluster, _sidecar, _records) = with_sidecar("before").await;

    for name in ["kept", "lost"] {
        cluster
            .kubectl(
                &["apply", "-f", "-"],
                Some(&rejected("before", name, "one")),
            )
            .await;
    }
    eventually("the Events before the restart", FOLLOW, || async {
        (events(&cluster, "before").await.len() == 2).then_some(())
    })
    .await;

    cluster.script(&["restart-apiserver"]).await;
    let back = std::time::Instant::now();

    // A new rejection, in a namespace created after the restart...
    cluster
        .kubectl(&["create", "namespace", "after"], None)
        .await;
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&rejected("after", "new", "two")),
        )
        .await;
    // ...the same rejection in a new generation of an old object, whose
    // Event is counted again...
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&rejected("before", "kept", "three")),
        )
        .await;
    // ...and of one whose Event is gone.
    cluster
        .kubectl(
            &[
                "delete",
                "events",
                "-n",
                "before",
                "--field-selector",
                "involvedObject.name=lost",
            ],
            None,
        )
        .await;
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&rejected("before", "lost", "three")),
        )
        .await;
    let new = eventually("an Event after the restart", FOLLOW, || async {
        let found = events(&cluster, "after").await;
        (!found.is_empty()).then(|| back.elapsed())
    })
    .await;
    let repeated = eventually(
        "a repeated Event counted after the restart",
        FOLLOW,
        || async {
            let found = events(&cluster, "before").await;
            found
                .iter()
                .any(|(object, count)| object == "kept" && *count >= 2)
                .then(|| back.elapsed())
        },
    )
    .await;
    let recreated = eventually("a new Event for the one deleted", FOLLOW, || async {
        let found = events(&cluster, "before").await;
        found
            .iter()
            .any(|(object, _)| object == "lost")
            .then(|| back.elapsed())
    })
    .await;
    eprintln!(
        "after the restart: a new Event after {new:?}, a repeat counted after {repeated:?}, a deleted one recreated after {recreated:?}"
    );
    let log = std::fs::read_to_string(cluster.path("crd-sync.log")).unwrap_or_default();
    let retries = log.matches("cannot publish an Event").count();
    eprintln!("failed publications logged: {retries}");
    assert!(
        [new, repeated, recreated].iter().all(|t| *t < FOLLOW),
        "Events follow within {FOLLOW:?} of the restart"
    );
}

/// A latency-routed Route 53 manifest: `aws/region` and a health check id
/// gslb cannot honour, and an ExternalDNS annotation that nothing reads on a
/// DNSEndpoint.
const LATENCY: &str = r#"
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata:
  name: latency
  namespace: routing
  annotations: {external-dns.alpha.kubernetes.io/aws-weight: "10"}
spec:
  endpoints:
  - dnsName: latency.global.example.test
    recordType: A
    targets: [192.0.2.10]
    setIdentifier: us-east-1
    providerSpecific:
    - {name: aws/region, value: us-east-1}
    - {name: aws/health-check-id, value: 0a1b2c3d}
    - {name: aws/geoproximity-coordinates, value: "39.04,-77.49"}
"#;

/// (field path, message) of the `UnsupportedProperty` Events on `name`.
async fn unsupported_events(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> Vec<(String, String)> {
    let (ok, out, _) = cluster
        .kubectl_status(
            &[
                "get",
                "events",
                "-n",
                namespace,
                "--field-selector",
                &format!("reason=UnsupportedProperty,involvedObject.name={name}"),
                "-o",
                "jsonpath={range .items[*]}{.involvedObject.fieldPath}|{.message}{\"\\n\"}{end}",
            ],
            None,
        )
        .await;
    if !ok {
        return Vec::new();
    }
    let mut events: Vec<(String, String)> = out
        .lines()
        .filter_map(|line| {
            let (field, message) = line.split_once('|')?;
            Some((field.to_owned(), message.to_owned()))
        })
        .collect();
    events.sort();
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl)),
    ignore = "needs kube-apiserver, etcd and kubectl (tests/k8s/cluster.sh install-deps and build)"
)]
async fn properties_gslb_does_not_honour_get_an_event_and_the_endpoint_is_served() {
    let (cluster, sidecar, records) = with_sidecar("routing").await;
    cluster.kubectl(&["apply", "-f", "-"], Some(LATENCY)).await;

    let events = eventually("the UnsupportedProperty Events", FOLLOW, || async {
        let found = unsupported_events(&cluster, "routing", "latency").await;
        (found.len() == 3).then_some(found)
    })
    .await;
    let (fields, messages): (Vec<&str>, Vec<&str>) =
        events.iter().map(|(f, m)| (f.as_str(), m.as_str())).unzip();
    assert_eq!(
        fields,
        [
            "metadata.annotations",
            "spec.endpoints[0].providerSpecific",
            "spec.endpoints[0].providerSpecific"
        ]
    );
    let all = messages.join("\n");
    for says in [
        "annotation external-dns.alpha.kubernetes.io/aws-weight is not read by gslb",
        "providerSpecific aws/region is not supported by gslb: gslb has no latency-based routing",
        "providerSpecific aws/health-check-id is not supported by gslb",
    ] {
        assert!(all.contains(says), "{says} in:\n{all}");
    }
    // aws/region's advice names it; no event is about it.
    assert!(
        !all.contains("aws/geoproximity-coordinates is"),
        "mapped, not reported:\n{all}"
    );

    // The endpoint is served anyway, located where the coordinates say.
    let text = std::fs::read_to_string(&records).unwrap_or_default();
    for part in [
        "latency.global.example.test.",
        "192.0.2.10",
        "39.04",
        "-77.49",
    ] {
        assert!(text.contains(part), "{part} in the record file:\n{text}");
    }
    assert_eq!(
        sidecar.metric("gslb_crd_sync_unsupported_properties{property=\"aws/region\"}"),
        Some(1.0)
    );
    assert_eq!(
        sidecar.metric("gslb_crd_sync_unsupported_properties{property=\"annotation\"}"),
        Some(1.0)
    );
    let log = std::fs::read_to_string(cluster.path("crd-sync.log")).unwrap_or_default();
    assert_eq!(
        log.matches("DNSEndpoint property not supported by gslb")
            .count(),
        3,
        "one warning per property and generation:\n{log}"
    );
}
