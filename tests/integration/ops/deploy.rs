//! The Kubernetes manifests as `kubectl kustomize` renders them: deploy/
//! alone and with each multi-cluster Component. The server config reaches
//! every cluster in layers, and no layer may lose a key of the base
//! (deploy/configmap.yaml); every file the merged config names is on a
//! volume of the gslb container; `gslb check-config` accepts the layers
//! as the container reads them (its mounts made in a temp dir, the
//! Secrets filled with test values, a GeoIP database where the
//! geoipupdate Component puts one); and the admin port goes out through
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

/// The layouts to render: (name, Components by their path under deploy/).
const LAYOUTS: &[(&str, &[&str])] = &[
    ("single cluster", &[]),
    (
        "single cluster with CRDs and monitoring",
        &["components/crds", "components/monitoring"],
    ),
    ("us-east", &["multi-cluster/us-east"]),
    (
        "single cluster with GeoIP updates and monitoring",
        &["components/geoipupdate", "components/monitoring"],
    ),
    (
        "us-east with GeoIP updates",
        &["multi-cluster/us-east", "components/geoipupdate"],
    ),
    (
        "eu-west with CRDs and monitoring",
        &[
            "multi-cluster/eu-west",
            "components/crds",
            "components/monitoring",
        ],
    ),
];

/// The multi-cluster Component's cluster name in `components`, if any.
fn cluster_of(components: &[&str]) -> Option<&'static str> {
    components.iter().find_map(|c| match *c {
        "multi-cluster/us-east" => Some("us-east"),
        "multi-cluster/eu-west" => Some("eu-west"),
        _ => None,
    })
}

/// A kustomization of deploy/ with `components`, in a temp dir, as
/// deploy/README.md says to write one (kustomize refuses absolute paths,
/// so the repository is named relative to the temp dir).
fn kustomization(components: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let up = "../".repeat(dir.path().components().count().saturating_sub(1));
    let repo_path = repo("").display().to_string();
    let repo_rel = format!("{up}{}", repo_path.trim_matches('/'));
    let mut text = format!("resources: [\"{repo_rel}/deploy\"]\n");
    let listed: Vec<String> = components
        .iter()
        .map(|c| format!("\"{repo_rel}/deploy/{c}\""))
        .collect();
    if !listed.is_empty() {
        text.push_str(&format!("components: [{}]\n", listed.join(", ")));
    }
    std::fs::write(dir.path().join("kustomization.yaml"), text).expect("kustomization");
    dir
}

/// `kubectl kustomize` of deploy/ with `components`.
fn render(components: &[&str]) -> Vec<Value> {
    let dir = kustomization(components);
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

/// The gslb container's `GSLB_SERVER__*` environment: (variable, value).
fn server_env(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .filter(|(name, _)| name.starts_with("GSLB_SERVER__"))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// `merged` with the server settings `env` overrides (the ones the
/// manifests use: paths).
fn with_env(mut merged: Value, env: &[(String, String)]) -> Value {
    for (name, value) in env {
        let key = name
            .strip_prefix("GSLB_SERVER__")
            .expect("filtered")
            .to_ascii_lowercase();
        merged["server"][key.as_str()] = Value::String(value.clone());
    }
    merged
}

/// `gslb check-config` on the layers as the pod sees them: every absolute
/// path moved under `root`, the Secrets the config names filled in, the
/// container's `GSLB_SERVER__*` environment set, the test database where
/// a GeoIP database is expected.
fn check_config_offline(
    layers: &[(String, String)],
    env: &[(String, String)],
    merged: &Value,
) -> (bool, String) {
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
    if let Some(db) = merged["server"]["geoip_database"].as_str() {
        let path = PathBuf::from(moved(db));
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::copy(repo("geoip/test-city.mmdb"), path).expect("copy the test database");
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_gslb"));
    command.arg("check-config").env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, moved(value));
    }
    for (path, text) in layers {
        let path = PathBuf::from(moved(path));
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::write(&path, moved(text)).expect("layer");
        command.arg("--config").arg(path);
    }
    check_config_outcome(&mut command)
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

    for (layout, components) in LAYOUTS {
        let objects = render(components);
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
        let env = server_env(container);
        let merged = with_env(merged, &env);
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

        if let Some(cluster) = cluster_of(components) {
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

        let (ok, output) = check_config_offline(&layers, &env, &merged);
        assert!(ok, "{layout}: gslb check-config:\n{output}");
        assert!(output.contains(": ok: 1 zone"), "{layout}: {output}");

        // As shipped, Secrets and all left in the pod.
        let (ok, output) = check_config_without_secrets(&layers);
        assert!(ok, "{layout}: gslb check-config --no-secrets:\n{output}");
        let server = &merged["server"];
        let secrets = [
            ("server.admin_token_file", &server["admin_token_file"]),
            ("server.peer_token_file", &server["peer_token_file"]),
            ("server.peer_ca_file", &server["peer_ca_file"]),
            (
                "server.admin_tls.cert_file",
                &server["admin_tls"]["cert_file"],
            ),
            (
                "server.admin_tls.key_file",
                &server["admin_tls"]["key_file"],
            ),
        ];
        for (field, file) in secrets {
            if let Some(file) = file.as_str() {
                let line = format!("not read (--no-secrets): {field}: {file}\n");
                assert!(output.contains(&line), "{layout}: {line}{output}");
            }
        }
        let skipped = output.matches("not read (--no-secrets)").count();
        let named = secrets.iter().filter(|(_, f)| f.is_string()).count();
        assert_eq!(
            skipped, named,
            "{layout}: only secrets are skipped\n{output}"
        );
    }
}

/// Runs a `gslb check-config` command: (success, stdout and stderr).
fn check_config_outcome(command: &mut Command) -> (bool, String) {
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

/// `gslb check-config --no-secrets` on the layers as the ConfigMap holds
/// them, every path in them as it is in the pod (so the Secrets' files
/// are not here): (success, stdout and stderr).
fn check_config_without_secrets(layers: &[(String, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_gslb"));
    command
        .args(["check-config", "--no-secrets"])
        .env_remove("RUST_LOG")
        .env_remove("GSLB_ADMIN_TOKEN");
    for (path, text) in layers {
        let name = Path::new(path).file_name().expect("a file name");
        let local = dir.path().join(name);
        std::fs::write(&local, text).expect("layer");
        command.arg("--config").arg(local);
    }
    check_config_outcome(&mut command)
}

/// deploy/configmap.yaml's gslb.yaml passes `check-config --no-secrets`
/// here, where its admin token (a Secret mounted in the pod) does not
/// exist, and says it did not read the token; without the flag the
/// missing token is an error. No cluster and no kubectl: the ConfigMap is
/// read as it is written.
#[test]
fn the_shipped_configmap_passes_check_config_without_its_secrets() {
    let map = yaml(&std::fs::read_to_string(repo("deploy/configmap.yaml")).expect("read"));
    let text = map["data"]["gslb.yaml"]
        .as_str()
        .expect("gslb.yaml in the ConfigMap");
    let token = yaml(text)["server"]["admin_token_file"]
        .as_str()
        .expect("the shipped config names a token file")
        .to_owned();
    assert!(
        !Path::new(&token).exists(),
        "{token} exists on this machine"
    );
    let layers = [("/etc/gslb/gslb.yaml".to_owned(), text.to_owned())];
    let (ok, output) = check_config_without_secrets(&layers);
    assert!(ok, "gslb check-config --no-secrets:\n{output}");
    assert!(output.contains("gslb.yaml: ok: 1 zone"), "{output}");
    assert!(
        output.contains(&format!(
            "not read (--no-secrets): server.admin_token_file: {token}\n"
        )),
        "{output}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("GSLB_ADMIN_TOKEN")
        .output()
        .expect("run gslb check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the token is read without --no-secrets"
    );
    assert!(
        stderr.contains(&format!(
            "server.admin_token_file: cannot read {token}: no such file"
        )),
        "{stderr}"
    );
}

/// The geoipupdate Component: a first download before gslb starts, a
/// sidecar that keeps it current, on a volume gslb reads (read-only) where
/// its config points; the licence from a Secret; room for the database.
fn check_geoipupdate(layout: &str, components: &[&str], pod: &Value) {
    let containers = pod["containers"].as_array().expect("containers");
    let init = pod["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let updaters: Vec<&Value> = containers
        .iter()
        .chain(&init)
        .filter(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("ghcr.io/maxmind/geoipupdate:"))
        })
        .collect();
    if !components.contains(&"components/geoipupdate") {
        assert!(
            updaters.is_empty(),
            "{layout}: geoipupdate only from its Component"
        );
        return;
    }
    assert_eq!(
        updaters.len(),
        2,
        "{layout}: an init container and a sidecar"
    );
    assert!(
        init.iter().any(|c| c["name"] == "geoipupdate-first"),
        "{layout}"
    );
    let mount = |c: &Value, volume: &str| -> Option<(String, bool)> {
        c["volumeMounts"].as_array()?.iter().find_map(|m| {
            (m["name"] == volume).then(|| {
                (
                    m["mountPath"].as_str().unwrap_or_default().to_owned(),
                    m["readOnly"] == true,
                )
            })
        })
    };
    let env = |c: &Value, name: &str| -> Option<String> {
        c["env"]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str().map(str::to_owned))
    };
    let gslb = containers
        .iter()
        .find(|c| c["name"] == "gslb")
        .expect("the gslb container");
    let (dir, read_only) = mount(gslb, "geoip").expect("gslb mounts the database volume");
    assert!(read_only, "{layout}: gslb only reads the database");
    let database = env(gslb, "GSLB_SERVER__GEOIP_DATABASE").expect("gslb is told the file");
    for updater in &updaters {
        let (written, read_only) = mount(updater, "geoip").expect("geoipupdate mounts it");
        assert!(!read_only, "{layout}: geoipupdate writes the database");
        let db_dir = env(updater, "GEOIPUPDATE_DB_DIR").expect("GEOIPUPDATE_DB_DIR");
        assert_eq!(written, db_dir, "{layout}");
        let edition = env(updater, "GEOIPUPDATE_EDITION_IDS").expect("edition");
        assert_eq!(
            database,
            format!("{dir}/{edition}.mmdb"),
            "{layout}: gslb loads the edition geoipupdate writes"
        );
        for file in [
            "GEOIPUPDATE_ACCOUNT_ID_FILE",
            "GEOIPUPDATE_LICENSE_KEY_FILE",
        ] {
            let path = env(updater, file).expect("the licence from files");
            let (secret_dir, _) =
                mount(updater, "geoipupdate-licence").expect("the licence Secret is mounted");
            assert!(path.starts_with(&secret_dir), "{layout}: {file}");
        }
    }
    let sidecar_frequency = containers
        .iter()
        .filter(|c| c["name"] == "geoipupdate")
        .find_map(|c| env(c, "GEOIPUPDATE_FREQUENCY"));
    assert!(
        sidecar_frequency.is_some_and(|f| f.parse::<u32>().is_ok_and(|h| h > 0)),
        "{layout}: the sidecar keeps running"
    );
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name);
    assert!(
        volume("geoip").is_some_and(|v| v["emptyDir"].is_object()),
        "{layout}"
    );
    assert_eq!(
        volume("geoipupdate-licence").map(|v| &v["secret"]["secretName"]),
        Some(&Value::String("gslb-geoipupdate".into())),
        "{layout}"
    );
    let limit = mebibytes(&gslb["resources"]["limits"]["memory"]);
    let needed = 64.0 + RELOAD_PEAK_PER_RECORD * RECORDS_SIZED_FOR / (1024.0 * 1024.0) + 2.0 * 60.0;
    assert!(
        limit >= needed,
        "{layout}: {limit} MiB < {needed} MiB with the database"
    );
}

/// The record count deployment.yaml's memory is sized for, and the rule
/// deploy/README.md gives for the limit: 64 MiB, plus the RSS per record at
/// a reload's peak (the old table answering while a whole new load is
/// parsed, validated and compiled: docs/src/performance.md).
const RECORDS_SIZED_FOR: f64 = 50_000.0;
const RELOAD_PEAK_PER_RECORD: f64 = 4.5e3;

fn mebibytes(quantity: &Value) -> f64 {
    let text = quantity.as_str().expect("a memory quantity");
    let (number, factor) = [("Gi", 1024.0), ("Mi", 1.0), ("Ki", 1.0 / 1024.0)]
        .iter()
        .find_map(|(unit, factor)| text.strip_suffix(unit).map(|n| (n, *factor)))
        .unwrap_or_else(|| panic!("{text}: a quantity in Ki, Mi or Gi"));
    number.parse::<f64>().expect("a number") * factor
}

/// The Pod Security "restricted" rules a container must meet.
fn check_restricted(layout: &str, pod: &Value) {
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true, "{layout}");
    assert_eq!(
        pod_security["seccompProfile"]["type"], "RuntimeDefault",
        "{layout}"
    );
    for volume in pod["volumes"].as_array().expect("volumes") {
        let allowed = ["configMap", "emptyDir", "secret", "projected"]
            .iter()
            .any(|kind| !volume[*kind].is_null());
        assert!(
            allowed,
            "{layout}: volume {volume} is not allowed by restricted"
        );
    }
    let init = pod["initContainers"].as_array().into_iter().flatten();
    for container in pod["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .chain(init)
    {
        let name = &container["name"];
        let security = &container["securityContext"];
        assert_eq!(
            security["allowPrivilegeEscalation"], false,
            "{layout}: {name}"
        );
        assert_eq!(security["readOnlyRootFilesystem"], true, "{layout}: {name}");
        assert!(security["privileged"] != true, "{layout}: {name}");
        assert!(security["runAsUser"] != 0, "{layout}: {name}");
        let drop = security["capabilities"]["drop"].as_array().expect("drop");
        assert!(
            drop.iter().any(|c| c == "ALL"),
            "{layout}: {name} drops ALL"
        );
        assert!(
            security["capabilities"]["add"].is_null(),
            "{layout}: {name} adds no capability"
        );
        let resources = &container["resources"];
        for key in ["cpu", "memory"] {
            assert!(
                resources["requests"][key].is_string(),
                "{layout}: {name} requests {key}"
            );
        }
        assert!(
            resources["limits"]["memory"].is_string(),
            "{layout}: {name}"
        );
    }
}

/// The container ports of the Deployment, by name.
fn container_ports(pod: &Value) -> BTreeMap<String, i64> {
    let mut ports = BTreeMap::new();
    for container in pod["containers"].as_array().expect("containers") {
        for port in container["ports"].as_array().into_iter().flatten() {
            ports.insert(
                port["name"].as_str().expect("port name").to_owned(),
                port["containerPort"].as_i64().expect("port number"),
            );
        }
    }
    ports
}

/// The ingress rules of every NetworkPolicy selecting the gslb pods that
/// admit `port`: (rule open to every source, the rule's `from`).
fn admitted(policies: &[&Value], port: i64) -> Vec<Value> {
    let mut rules = Vec::new();
    for policy in policies {
        for rule in policy["spec"]["ingress"].as_array().expect("ingress") {
            let ports = rule["ports"]
                .as_array()
                .expect("every rule names its ports");
            if ports.iter().any(|p| p["port"] == port) {
                rules.push(rule["from"].clone());
            }
        }
    }
    rules
}

fn check_network_policies(layout: &str, objects: &[Value], pod: &Value) {
    let labels = &pod_template(objects)["metadata"]["labels"];
    let policies: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .filter(|p| {
            let selector = p["spec"]["podSelector"]["matchLabels"].as_object();
            selector.is_some_and(|m| m.iter().all(|(k, v)| labels[k] == *v))
        })
        .collect();
    assert!(
        !policies.is_empty(),
        "{layout}: a NetworkPolicy selects the pods"
    );
    let ports = container_ports(pod);
    for (name, port) in &ports {
        let rules = admitted(&policies, *port);
        let open = rules.iter().any(|from| from.is_null());
        match name.as_str() {
            "dns-udp" | "dns-tcp" | "probes" => {
                assert!(open, "{layout}: {name} ({port}) from anywhere: {rules:?}");
            }
            "admin" | "sync-admin" => {
                assert!(
                    !open,
                    "{layout}: {name} ({port}) not from anywhere: {rules:?}"
                );
                let monitoring = rules
                    .iter()
                    .flat_map(|f| f.as_array().cloned().unwrap_or_default())
                    .any(|peer| {
                        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                            == "monitoring"
                    });
                assert!(monitoring, "{layout}: {name} from the monitoring namespace");
            }
            other => panic!("{layout}: port {other} has no rule in this test"),
        }
    }
    if cluster_of_objects(objects) {
        let peers = admitted(&policies, ports["admin"]);
        let from_peers = peers
            .iter()
            .flat_map(|f| f.as_array().cloned().unwrap_or_default())
            .any(|peer| peer["ipBlock"]["cidr"].is_string());
        assert!(
            from_peers,
            "{layout}: the other cluster's gslb reaches the admin port"
        );
    }
}

/// Whether the layout is a multi-cluster one (it has the peers' Service).
fn cluster_of_objects(objects: &[Value]) -> bool {
    objects
        .iter()
        .any(|o| o["kind"] == "Service" && o["metadata"]["name"] == "gslb-admin-peers")
}

fn pod_template(objects: &[Value]) -> &Value {
    &find(objects, "Deployment", "gslb")["spec"]["template"]
}

fn check_disruption_and_spread(layout: &str, objects: &[Value]) {
    let deployment = find(objects, "Deployment", "gslb");
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let labels = &pod_template(objects)["metadata"]["labels"];
    let pdb = find(objects, "PodDisruptionBudget", "gslb");
    let selector = pdb["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("PDB selector");
    assert!(selector.iter().all(|(k, v)| labels[k] == *v), "{layout}");
    let spec = &pdb["spec"];
    let evictable = match (
        spec["minAvailable"].as_i64(),
        spec["maxUnavailable"].as_i64(),
    ) {
        (Some(min), None) => replicas - min >= 1,
        (None, Some(max)) => max >= 1,
        other => panic!("{layout}: one integer of minAvailable/maxUnavailable: {other:?}"),
    };
    assert!(
        evictable,
        "{layout}: a node drain can evict a pod ({replicas} replicas)"
    );
    if replicas > 1 {
        assert!(
            spec["minAvailable"].as_i64().is_some_and(|m| m >= 1)
                || spec["maxUnavailable"]
                    .as_i64()
                    .is_some_and(|m| m < replicas),
            "{layout}: one replica stays up"
        );
    }
    let spread = pod_template(objects)["spec"]["topologySpreadConstraints"]
        .as_array()
        .expect("topologySpreadConstraints");
    for key in ["kubernetes.io/hostname", "topology.kubernetes.io/zone"] {
        let constraint = spread
            .iter()
            .find(|c| c["topologyKey"] == key)
            .unwrap_or_else(|| panic!("{layout}: spread over {key}"));
        let matched = constraint["labelSelector"]["matchLabels"]
            .as_object()
            .expect("labelSelector");
        assert!(
            matched.iter().all(|(k, v)| labels[k] == *v),
            "{layout}: {key}"
        );
    }
}

fn check_monitoring(layout: &str, objects: &[Value], pod: &Value) {
    let Some(monitor) = objects.iter().find(|o| o["kind"] == "ServiceMonitor") else {
        assert!(
            !objects.iter().any(|o| o["kind"] == "PrometheusRule"),
            "{layout}: monitoring is one Component"
        );
        return;
    };
    let service = find(objects, "Service", "gslb-metrics");
    let ports = container_ports(pod);
    let labels = service["metadata"]["labels"].as_object().expect("labels");
    let wanted = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector");
    assert!(
        wanted.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "{layout}"
    );
    let service_ports = service["spec"]["ports"].as_array().expect("ports");
    for endpoint in monitor["spec"]["endpoints"].as_array().expect("endpoints") {
        let port = service_ports
            .iter()
            .find(|p| p["name"] == endpoint["port"])
            .unwrap_or_else(|| panic!("{layout}: Service port {}", endpoint["port"]));
        let target = port["targetPort"].as_str().expect("a named targetPort");
        assert!(
            ports.contains_key(target),
            "{layout}: container port {target}"
        );
    }

    let sources = [
        std::fs::read_to_string(repo("src/metrics.rs")).expect("metrics.rs"),
        std::fs::read_dir(repo("src/metrics"))
            .expect("src/metrics")
            .flatten()
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .collect(),
    ]
    .concat();
    let crd_sync = std::fs::read_to_string(repo("src/crd_sync/metrics.rs")).expect("crd_sync");
    let rule = find(objects, "PrometheusRule", "gslb");
    let mut alerts = Vec::new();
    for group in rule["spec"]["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            alerts.push(rule["alert"].as_str().expect("alert").to_owned());
            let expr = rule["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let Some(rest) = word.strip_prefix("gslb_") else {
                    continue;
                };
                let name = word.strip_suffix("_total").unwrap_or(word);
                let known = if let Some(sync) = rest.strip_prefix("crd_sync_") {
                    crd_sync.contains(&format!("\"{sync}\""))
                } else {
                    sources.contains(&format!("\"{name}\""))
                };
                assert!(
                    known,
                    "{layout}: {} uses {word}, which gslb does not export",
                    rule["alert"]
                );
            }
        }
    }
    for alert in [
        "GslbTargetDown",
        "GslbRecordFailingOpen",
        "GslbDrainForgotten",
        "GslbReloadFailing",
        "GslbCrdSyncClusterUnreachable",
        "GslbGeoipDatabaseOld",
    ] {
        assert!(
            alerts.iter().any(|a| a == alert),
            "{layout}: {alert} in {alerts:?}"
        );
    }
}

#[cfg_attr(not(has_kubectl), ignore = "needs kubectl")]
#[test]
fn every_layout_is_production_grade() {
    let version = env!("CARGO_PKG_VERSION");
    for (layout, components) in LAYOUTS {
        let objects = render(components);
        let pod = &pod_template(&objects)["spec"];
        check_restricted(layout, pod);
        check_disruption_and_spread(layout, &objects);
        check_network_policies(layout, &objects, pod);
        check_monitoring(layout, &objects, pod);

        let init = pod["initContainers"].as_array().into_iter().flatten();
        for container in pod["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .chain(init)
        {
            let image = container["image"].as_str().expect("image");
            if image.starts_with("ghcr.io/example/gslb:") {
                assert!(
                    image.ends_with(&format!(":{version}")),
                    "{layout}: {image} is pinned to the crate version {version}"
                );
            } else {
                let tag = image.rsplit_once(':').map(|(_, tag)| tag);
                assert!(
                    tag.is_some_and(|t| !t.contains('/') && t != "latest"),
                    "{layout}: {image} is pinned by a tag"
                );
            }
        }
        check_geoipupdate(layout, components, pod);
        let gslb = gslb_container(&objects);
        let limit = mebibytes(&gslb["resources"]["limits"]["memory"]);
        let needed = 64.0 + RELOAD_PEAK_PER_RECORD * RECORDS_SIZED_FOR / (1024.0 * 1024.0);
        assert!(limit >= needed, "{layout}: {limit} MiB < {needed} MiB");

        let crds: Vec<&str> = objects
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        let wanted: &[&str] = if components.contains(&"components/crds") {
            &["dnsendpoints.externaldns.k8s.io", "gslboverrides.gslb.io"]
        } else {
            &[]
        };
        assert_eq!(crds, wanted, "{layout}: the CRDs only from their Component");

        let config = yaml(
            find(&objects, "ConfigMap", "gslb-config")["data"]["gslb.yaml"]
                .as_str()
                .expect("gslb.yaml"),
        );
        let listen = config["server"]["dns_listen"]
            .as_array()
            .expect("dns_listen");
        for addr in ["0.0.0.0:5353", "[::]:5353"] {
            assert!(
                listen.iter().any(|a| a == addr),
                "{layout}: listens on {addr}"
            );
        }
        let dns = find(&objects, "Service", "gslb-dns");
        assert_eq!(dns["spec"]["ipFamilyPolicy"], "PreferDualStack", "{layout}");
    }
}
