//! The Kubernetes manifests as `kubectl kustomize` renders them: deploy/
//! alone and with each multi-cluster Component. The server config reaches
//! every cluster in layers, and no layer may lose a key of the base
//! (deploy/configmap.yaml); every file the merged config names is on a
//! volume of the gslb container; `gslb check-config` accepts the layers
//! as the container reads them (its mounts made in a temp dir, the
//! Secrets filled with test values); and the admin port goes out through
//! a LoadBalancer only over TLS.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::support::harness::repo;

/// What the config layers are called inside the pod.
const CONFIG_DIR: &str = "/etc/gslb";

/// The layouts to render: (name, Component under deploy/multi-cluster).
const LAYOUTS: &[(&str, Option<&str>)] = &[
    ("single cluster", None),
    ("us-east", Some("us-east")),
    ("eu-west", Some("eu-west")),
];

/// `kubectl kustomize` of deploy/ with `component`, through a
/// kustomization of its own as deploy/README.md says (kustomize refuses
/// absolute paths, so the repository is named relative to the temp dir).
fn render(component: Option<&str>) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let up = "../".repeat(dir.path().components().count().saturating_sub(1));
    let repo_path = repo("").display().to_string();
    let repo_rel = format!("{up}{}", repo_path.trim_matches('/'));
    let mut text = format!("resources: [\"{repo_rel}/deploy\"]\n");
    if let Some(component) = component {
        text.push_str(&format!(
            "components: [\"{repo_rel}/deploy/multi-cluster/{component}\"]\n"
        ));
    }
    std::fs::write(dir.path().join("kustomization.yaml"), text).expect("kustomization");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("UTF-8");
    serde_saphyr::from_multiple(&yaml).expect("rendered YAML parses")
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} rendered"))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("config YAML parses")
}

/// One step into a YAML value: a mapping key (names with dots included)
/// or a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every leaf of `value`, by its path from the top.
fn leaves(value: &Value, path: Vec<Step>, out: &mut BTreeMap<Vec<Step>, Value>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let mut child_path = path.clone();
                child_path.push(Step::Key(key.clone()));
                leaves(child, child_path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                let mut child_path = path.clone();
                child_path.push(Step::Index(i));
                leaves(child, child_path, out);
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

/// The value at `path`.
fn at<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |here, step| match step {
        Step::Key(key) => here.get(key),
        Step::Index(i) => here.get(i),
    })
}

/// A path as config errors write it: `zones[0].soa.mname`.
fn show(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => text.push_str(&format!(".{key}")),
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// The gslb container of the Deployment.
fn gslb_container(objects: &[Value]) -> &Value {
    find(objects, "Deployment", "gslb")["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "gslb")
        .expect("the gslb container")
}

/// The config files `gslb serve` is given, in order.
fn config_args(container: &Value) -> Vec<String> {
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut files = Vec::new();
    let mut next_is_file = false;
    for arg in args {
        if next_is_file {
            files.push(arg.to_owned());
            next_is_file = false;
        } else if let Some(file) = arg.strip_prefix("--config=") {
            files.push(file.to_owned());
        } else {
            next_is_file = arg == "--config" || arg == "-c";
        }
    }
    files
}

/// Every file path the merged config names.
fn named_files(config: &Value) -> Vec<String> {
    let server = &config["server"];
    let mut files: Vec<String> = [
        "admin_token_file",
        "state_file",
        "geoip_database",
        "peer_ca_file",
        "peer_token_file",
    ]
    .iter()
    .filter_map(|key| server[*key].as_str().map(str::to_owned))
    .collect();
    for key in ["cert_file", "key_file"] {
        files.extend(server["admin_tls"][key].as_str().map(str::to_owned));
    }
    if let Some(record_files) = server["record_files"].as_array() {
        files.extend(
            record_files
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned)),
        );
    }
    files
}

/// A CA and a certificate signed by it for the admin API: (ca, cert, key).
fn pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["gslb-admin.us-east.example.net".into()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// `gslb check-config` on the layers as the pod sees them: every absolute
/// path moved under `root`, the Secrets the config names filled in.
fn check_config_offline(layers: &[(String, String)], merged: &Value) -> (bool, String) {
    let root = tempfile::tempdir().expect("temp dir");
    let moved = |text: &str| {
        text.replace("/etc/", &format!("{}/etc/", root.path().display()))
            .replace("/var/", &format!("{}/var/", root.path().display()))
    };
    let (ca, cert, key) = pki();
    let secrets: Vec<(Option<&str>, &str)> = vec![
        (
            merged["server"]["admin_token_file"].as_str(),
            "admin-token-0123456789abcdef",
        ),
        (
            merged["server"]["peer_token_file"].as_str(),
            "peer-token-0123456789abcdef",
        ),
        (merged["server"]["peer_ca_file"].as_str(), &ca),
        (merged["server"]["admin_tls"]["cert_file"].as_str(), &cert),
        (merged["server"]["admin_tls"]["key_file"].as_str(), &key),
    ];
    for (path, text) in secrets {
        if let Some(path) = path {
            let path = PathBuf::from(moved(path));
            std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
            std::fs::write(path, text).expect("secret");
        }
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_gslb"));
    command.arg("check-config").env_remove("RUST_LOG");
    for (path, text) in layers {
        let path = PathBuf::from(moved(path));
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::write(&path, moved(text)).expect("layer");
        command.arg("--config").arg(path);
    }
    let out = command.output().expect("run gslb check-config");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[cfg_attr(not(has_kubectl), ignore = "needs kubectl")]
#[test]
fn every_layout_keeps_every_key_of_the_base_config_and_passes_check_config() {
    let base_map = yaml(&std::fs::read_to_string(repo("deploy/configmap.yaml")).expect("read"));
    let base_text = base_map["data"]["gslb.yaml"].as_str().expect("gslb.yaml");
    let base = yaml(base_text);
    let mut base_leaves = BTreeMap::new();
    leaves(&base, Vec::new(), &mut base_leaves);
    let key = |path: &[&str]| {
        path.iter()
            .map(|k| Step::Key((*k).to_owned()))
            .collect::<Vec<_>>()
    };
    assert!(base_leaves.contains_key(&key(&["server", "admin_token_file"])));
    assert!(base_leaves.contains_key(&key(&["server", "state_file"])));

    for (layout, component) in LAYOUTS {
        let objects = render(*component);
        let data = &find(&objects, "ConfigMap", "gslb-config")["data"];
        assert_eq!(
            data["gslb.yaml"].as_str(),
            Some(base_text),
            "{layout}: the base config reaches the cluster untouched"
        );
        let container = gslb_container(&objects);
        let files = config_args(container);
        assert_eq!(files[0], format!("{CONFIG_DIR}/gslb.yaml"), "{layout}");
        let layers: Vec<(String, String)> = files
            .iter()
            .map(|file| {
                let key = file
                    .strip_prefix(&format!("{CONFIG_DIR}/"))
                    .unwrap_or_else(|| panic!("{layout}: {file} is in the ConfigMap's mount"));
                let text = data[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{layout}: the ConfigMap has {key}"));
                (file.clone(), text.to_owned())
            })
            .collect();
        let mut merged = base.clone();
        for (_, text) in &layers[1..] {
            gslb::config::overlay::merge_onto(&mut merged, yaml(text));
        }
        for (path, value) in &base_leaves {
            let kept = at(&merged, path);
            assert!(
                kept.is_some_and(|v| !v.is_null()),
                "{layout}: {} ({value}) of the base config is lost; merged:\n{merged:#}",
                show(path)
            );
        }

        let mounts: Vec<&str> = container["volumeMounts"]
            .as_array()
            .expect("volumeMounts")
            .iter()
            .filter_map(|m| m["mountPath"].as_str())
            .collect();
        for file in named_files(&merged) {
            assert!(
                mounts
                    .iter()
                    .any(|mount| Path::new(&file).starts_with(mount)),
                "{layout}: {file} is on no volume of the gslb container ({mounts:?})"
            );
        }

        let tls = !merged["server"]["admin_tls"].is_null();
        for service in objects.iter().filter(|o| o["kind"] == "Service") {
            if service["spec"]["type"] != "LoadBalancer" {
                continue;
            }
            for port in service["spec"]["ports"].as_array().expect("ports") {
                let admin = port["targetPort"] == "admin" || port["targetPort"] == 9153;
                assert!(
                    !admin || tls,
                    "{layout}: Service {} exposes the admin port without server.admin_tls",
                    service["metadata"]["name"]
                );
            }
        }

        if let Some(cluster) = component {
            let server = &merged["server"];
            assert_eq!(server["instance"], *cluster);
            let peers = server["peers"].as_array().expect("peers");
            assert_eq!(peers.len(), 1, "{layout}: the other cluster");
            assert_ne!(peers[0]["name"], *cluster);
            assert!(
                peers[0]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("https://")),
                "{layout}: peers over HTTPS"
            );
            assert!(tls && server["peer_ca_file"].is_string(), "{layout}");
            let nameservers = merged["zones"][0]["nameservers"]
                .as_object()
                .expect("nameservers");
            assert_eq!(nameservers.len(), 2, "{layout}: ns1 and ns2");
            let peers_service = find(&objects, "Service", "gslb-admin-peers");
            assert_eq!(peers_service["spec"]["type"], "LoadBalancer");
            assert_eq!(
                find(&objects, "Deployment", "gslb")["spec"]["replicas"],
                1,
                "{layout}: one member of the peer group per instance name"
            );
        }

        let (ok, output) = check_config_offline(&layers, &merged);
        assert!(ok, "{layout}: gslb check-config:\n{output}");
        assert!(output.contains(": ok: 1 zone"), "{layout}: {output}");
    }
}
