//! Every kustomize layout of deploy/ (alone, with the CRDs', the
//! monitoring and the geoipupdate Components, with each multi-cluster
//! Component) through a real
//! API server's validation: `kubectl apply --dry-run=server`, with the
//! Prometheus Operator's CRDs from a trimmed copy (monitoring-crds.yaml).
//!
//! The test API server is 1.20, which serves PodDisruptionBudget as
//! policy/v1beta1 only: the rendered PDB is sent as v1beta1
//! (`Cluster::apply_kustomization`). It
//! has no Pod Security admission either: tests/integration/ops/deploy.rs
//! checks the "restricted" rules on the rendered pods.

use std::path::Path;

use crate::cluster::Cluster;
use crate::harness::repo;

/// The layouts: Components by their path under deploy/.
const LAYOUTS: &[&[&str]] = &[
    &[],
    &["components/crds", "components/monitoring"],
    &["multi-cluster/us-east", "components/monitoring"],
    &["multi-cluster/eu-west", "components/crds"],
    &["components/geoipupdate"],
    &["multi-cluster/us-east", "components/geoipupdate"],
];

/// A kustomization of deploy/ with `components` in `dir` (paths relative
/// to it: kustomize refuses absolute ones).
fn write_kustomization(dir: &Path, components: &[&str]) {
    std::fs::create_dir_all(dir).expect("kustomization dir");
    let up = "../".repeat(dir.components().count().saturating_sub(1));
    let repo_path = repo("").display().to_string();
    let deploy = format!("{up}{}/deploy", repo_path.trim_matches('/'));
    let listed: Vec<String> = components
        .iter()
        .map(|c| format!("\"{deploy}/{c}\""))
        .collect();
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "resources: [\"{deploy}\"]\ncomponents: [{}]\n",
            listed.join(", ")
        ),
    )
    .expect("write kustomization");
}

#[cfg_attr(
    not(all(has_kube_apiserver, has_etcd, has_kubectl)),
    ignore = "needs kube-apiserver, etcd and kubectl"
)]
#[tokio::test]
async fn every_kustomization_passes_a_server_side_dry_run() {
    let cluster = Cluster::start().await;
    cluster
        .kubectl(&["create", "namespace", "gslb"], None)
        .await;
    let crds = repo("tests/k8s_sync/monitoring-crds.yaml")
        .display()
        .to_string();
    cluster.kubectl(&["apply", "-f", &crds], None).await;
    cluster
        .kubectl(
            &[
                "wait",
                "--for",
                "condition=established",
                "--timeout=60s",
                "crd/servicemonitors.monitoring.coreos.com",
                "crd/prometheusrules.monitoring.coreos.com",
            ],
            None,
        )
        .await;
    for (i, components) in LAYOUTS.iter().enumerate() {
        let dir = cluster.path(&format!("layout-{i}"));
        write_kustomization(&dir, components);
        let dir = dir.display().to_string();
        let rendered = cluster.kubectl(&["kustomize", &dir], None).await;
        let objects =
            rendered.matches("\nkind: ").count() + usize::from(rendered.starts_with("kind: "));
        let (ok, out, err) = cluster
            .apply_kustomization_status(&dir, &["--dry-run=server"])
            .await;
        assert!(ok, "{components:?}: {err}\n{out}");
        let accepted: Vec<&str> = out
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .collect();
        assert_eq!(
            accepted.len(),
            objects,
            "{components:?}: every object accepted:\n{out}{err}"
        );
        for kind in [
            "poddisruptionbudget.policy/gslb",
            "networkpolicy.networking.k8s.io/gslb",
            "deployment.apps/gslb",
        ] {
            assert!(out.contains(kind), "{components:?}: {out}");
        }
        if components.contains(&"components/monitoring") {
            for kind in [
                "servicemonitor.monitoring.coreos.com/gslb",
                "prometheusrule.monitoring.coreos.com/gslb",
                "service/gslb-metrics",
            ] {
                assert!(out.contains(kind), "{components:?}: {out}");
            }
        }
    }
}
