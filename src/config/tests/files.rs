//! Files a config names or is made of: the admin API's certificate and
//! key, the peers' CA, and overlays merged onto a base.

use std::path::{Path, PathBuf};

use super::super::*;

const BASE: &str = r#"
server:
  dns_listen: ["127.0.0.1:5353"]
  admin_listen: "127.0.0.1:9153"
  state_file: /var/lib/gslb/state.json
zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:
  - name: app.global.example.test.
    sets: [{ id: us, targets: [192.0.2.1] }]
"#;

/// Writes `files` (name, text) into `dir`; their paths.
fn write(dir: &Path, files: &[(&str, &str)]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

fn load_files(paths: Vec<PathBuf>) -> Result<Loaded, ConfigErrors> {
    load_with_env(ConfigFiles::new(paths).unwrap(), Vec::new())
}

/// A certificate for `name` and its key, PEM.
fn pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["gslb.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn with_tls(dir: &Path) -> String {
    BASE.replace(
        "  state_file:",
        &format!(
            "  admin_tls: {{ cert_file: {0}/cert.pem, key_file: {0}/key.pem }}\n  state_file:",
            dir.display()
        ),
    )
}

fn messages(result: Result<Loaded, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn admin_tls_is_loaded_with_the_config_and_every_fault_names_field_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = pair();
    let (_, other_key) = pair();
    let config = write(dir.path(), &[("gslb.yaml", &with_tls(dir.path()))]);
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");

    let missing = messages(load_files(config.clone()));
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].ends_with(&format!(
            "gslb.yaml:5:16: server.admin_tls.cert_file: {}: no such file",
            cert_path.display()
        )),
        "{missing:?}"
    );

    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &other_key).unwrap();
    let mismatch = messages(load_files(config.clone()));
    assert_eq!(mismatch.len(), 1);
    assert!(
        mismatch[0].contains("server.admin_tls.key_file: ")
            && mismatch[0].contains("does not belong to the first certificate"),
        "{mismatch:?}"
    );

    std::fs::write(&key_path, &cert).unwrap();
    let not_a_key = messages(load_files(config.clone()));
    assert!(
        not_a_key[0].contains("server.admin_tls.key_file: ")
            && not_a_key[0].contains("no usable PEM private key"),
        "{not_a_key:?}"
    );

    std::fs::write(&key_path, &key).unwrap();
    let loaded = load_files(config.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.admin_key.is_some());
    let read: Vec<&Path> = loaded.inputs.paths().collect();
    assert!(
        read.contains(&cert_path.as_path()) && read.contains(&key_path.as_path()),
        "the pair is among the files a reload compares: {read:?}"
    );
    assert!(!loaded.inputs.changed());
    let (renewed, _) = pair();
    std::fs::write(&cert_path, renewed).unwrap();
    assert!(loaded.inputs.changed(), "a renewed certificate is a change");

    let no_listener = with_tls(dir.path()).replace("  admin_listen: \"127.0.0.1:9153\"\n", "");
    let config = write(dir.path(), &[("gslb.yaml", &no_listener)]);
    let errors = messages(load_files(config));
    assert!(
        errors
            .iter()
            .any(|e| e
                .ends_with("server.admin_tls: there is no server.admin_listen for it to serve")),
        "{errors:?}"
    );
}

#[test]
fn a_peer_ca_file_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let text = BASE.replace(
        "  state_file:",
        &format!("  peer_ca_file: {}\n  state_file:", ca.display()),
    );
    let config = write(dir.path(), &[("gslb.yaml", &text)]);
    let errors = messages(load_files(config.clone()));
    assert!(
        errors[0].contains("server.peer_ca_file: cannot read"),
        "{errors:?}"
    );
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let errors = messages(load_files(config.clone()));
    assert!(
        errors[0].contains("server.peer_ca_file: ") && errors[0].contains("no PEM certificate"),
        "{errors:?}"
    );
    std::fs::write(&ca, pair().0).unwrap();
    assert!(load_files(config).is_ok());
}

#[test]
fn an_overlay_adds_a_name_server_and_peers_and_keeps_the_rest_of_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let files = write(
        dir.path(),
        &[
            ("gslb.yaml", BASE),
            (
                "site.yaml",
                "server:
  instance: us-east
  peers: [{ name: eu-west, url: \"https://ns2.example.test:9153\" }]
zones:
  - origin: global.example.test.
    nameservers: { ns2.global.example.test.: [198.51.100.53] }
",
            ),
        ],
    );
    let loaded = load_files(files.clone()).unwrap_or_else(|e| panic!("{e}"));
    let config = &loaded.config;
    assert_eq!(config.server.peering.instance, "us-east");
    assert_eq!(config.server.peering.peers.len(), 1);
    assert_eq!(
        config.server.state_file.as_deref(),
        Some(Path::new("/var/lib/gslb/state.json"))
    );
    assert_eq!(config.zones.len(), 1);
    assert_eq!(config.zones[0].nameservers.len(), 2);
    assert_eq!(config.records.len(), 1, "the base's records are kept");
    let read: Vec<&Path> = loaded.inputs.paths().collect();
    assert_eq!(read, [files[0].as_path(), files[1].as_path()]);
}

#[test]
fn overlay_errors_name_the_overlay_or_the_merged_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("", "site.yaml: is empty"),
        ("[1, 2]", "site.yaml: is not a mapping of config keys"),
        ("server: { dns_listen: [", "site.yaml:1:23: "),
        ("server: { udp_worker: 2 }", "gslb.yaml + "),
        ("zones: [{ origin: other.test. }]", "site.yaml: zones[1]"),
    ];
    for (overlay, expected) in cases {
        let files = write(dir.path(), &[("gslb.yaml", BASE), ("site.yaml", overlay)]);
        let errors = messages(load_files(files));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{overlay:?}: {errors:?}"
        );
    }
    // A missing overlay is an error, not a silent single-file load.
    let files = vec![dir.path().join("gslb.yaml"), dir.path().join("gone.yaml")];
    let errors = messages(load_files(files));
    assert!(errors[0].contains("gone.yaml: no such file"), "{errors:?}");
}

#[test]
fn the_example_config_reads_the_same_through_the_overlay_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let empty_overlay = write(dir.path(), &[("none.yaml", "server: {}\n")]);
    let alone = load_with_env(root.join("config/gslb.yaml"), Vec::new()).unwrap();
    let layered = load_files(vec![
        root.join("config/gslb.yaml"),
        empty_overlay[0].clone(),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let overlay_label = format!(" + {}", empty_overlay[0].display());
    let strip = |loaded: &Loaded| {
        // Records name the files they came from.
        let mut text = format!("{:?}", loaded.config).replace(&overlay_label, "");
        // The default SOA serial is the load time.
        text.retain(|c| !c.is_ascii_digit());
        text
    };
    assert_eq!(strip(&alone), strip(&layered));
}
