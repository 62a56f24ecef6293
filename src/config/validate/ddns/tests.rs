//! `zones[].updates`: each rule reports its field.

use crate::config::{ConfigErrors, load_with_env};
use crate::iana::rtype;
use crate::model::ddns::{
    DEFAULT_MAX_FUDGE, DEFAULT_MAX_RECORDS_PER_KEY, DEFAULT_MAX_RRSET_BYTES, DEFAULT_MAX_TTL,
    TsigAlgorithm,
};

/// A config with one zone whose `updates:` is `updates` (YAML flow, with
/// `{dir}` standing for the directory of the secret files).
fn config(dir: &std::path::Path, updates: &str) -> String {
    format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:5353"] }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
    updates: {}
"#,
        updates.replace("{dir}", &dir.display().to_string())
    )
}

fn load(dir: &std::path::Path, updates: &str) -> Result<crate::config::Loaded, ConfigErrors> {
    let path = dir.join("gslb.yaml");
    std::fs::write(&path, config(dir, updates)).unwrap();
    load_with_env(&path, Vec::new())
}

fn errors(dir: &std::path::Path, updates: &str) -> Vec<String> {
    match load(dir, updates) {
        Ok(_) => panic!("config should be rejected: {updates}"),
        Err(ConfigErrors(errors)) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
    }
}

fn secrets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // 32 bytes, with the newline every generator leaves.
    std::fs::write(
        dir.path().join("good"),
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("short"), "c2hvcnQ=\n").unwrap();
    std::fs::write(dir.path().join("junk"), "not base64 !!\n").unwrap();
    dir
}

#[test]
fn a_full_policy_loads_with_defaults() {
    let dir = secrets();
    let loaded = load(
        dir.path(),
        r#"{ keys: [{ name: acme., secret_file: "{dir}/good" }],
             allow: [{ key: acme., names: ["_acme-challenge.*"], types: [txt] }] }"#,
    )
    .unwrap();
    let policy = loaded.config.zones[0].updates.as_ref().unwrap();
    assert_eq!(policy.keys[0].algorithm, TsigAlgorithm::HmacSha256);
    assert_eq!(policy.keys[0].secret.as_bytes().len(), 32);
    assert_eq!(policy.allow[0].types, [rtype::TXT]);
    assert_eq!(
        (policy.max_ttl, policy.max_records_per_key),
        (DEFAULT_MAX_TTL, DEFAULT_MAX_RECORDS_PER_KEY)
    );
    assert_eq!(
        (policy.max_fudge, policy.max_rrset_bytes),
        (DEFAULT_MAX_FUDGE, DEFAULT_MAX_RRSET_BYTES)
    );
}

#[test]
fn fudge_and_rrset_byte_caps_are_checked_against_their_ranges() {
    let dir = secrets();
    let policy = |caps: &str| {
        format!(
            r#"{{ keys: [{{ name: acme., secret_file: "{{dir}}/good" }}],
                 allow: [{{ key: acme., names: ["*"], types: [TXT] }}], {caps} }}"#
        )
    };
    let loaded = load(dir.path(), &policy("max_fudge: 60, max_rrset_bytes: 32768")).unwrap();
    let set = loaded.config.zones[0].updates.as_ref().unwrap();
    assert_eq!((set.max_fudge, set.max_rrset_bytes), (60, 32768));
    let errs = errors(dir.path(), &policy("max_fudge: 0, max_rrset_bytes: 32769"));
    for want in [
        "zones[0].updates.max_fudge: 0 is out of range (1 to 3600 seconds)",
        "zones[0].updates.max_rrset_bytes: 32769 is out of range (512 to 32768 bytes)",
    ] {
        assert!(errs.iter().any(|e| e == want), "{want:?} not in {errs:#?}");
    }
    let errs = errors(dir.path(), &policy("max_fudge: 3601, max_rrset_bytes: 511"));
    assert_eq!(errs.len(), 2, "{errs:#?}");
}

#[test]
fn bad_keys_secrets_and_rules_name_their_field() {
    let dir = secrets();
    let errs = errors(
        dir.path(),
        r#"{ keys: [{ name: a., algorithm: hmac-md5, secret_file: "{dir}/good" },
                    { name: b., secret_file: "{dir}/short" },
                    { name: c., algorithm: hmac-sha512, secret_file: "{dir}/junk" },
                    { name: d., secret_file: "{dir}/missing" }],
             allow: [{ key: nobody., names: ["www.example.test.", "a.*.b"], types: [A, TXT] }],
             max_ttl: 0, max_records_per_key: 0 }"#,
    );
    let expect = [
        "zones[0].updates.keys[0].algorithm: \"hmac-md5\" is not supported",
        "zones[0].updates.keys[1].secret_file:",
        "holds a 5-byte secret; hmac-sha256 needs at least 16 bytes",
        "zones[0].updates.keys[2].secret_file:",
        "is not base64",
        "zones[0].updates.keys[3].secret_file: cannot read",
        "zones[0].updates.allow[0].key: nobody. is not one of zones[0].updates.keys",
        "zones[0].updates.allow[0].names[0]: \"www.example.test.\" is not inside the zone",
        "zones[0].updates.allow[0].names[1]: \"a.*.b\" has '*'",
        "zones[0].updates.allow[0].types[0]: \"A\" cannot be updated dynamically",
        "zones[0].updates.max_records_per_key: 0 is out of range",
    ];
    for want in expect {
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{want:?} not in {errs:#?}"
        );
    }
    assert!(
        !errs.iter().any(|e| e.contains("max_ttl")),
        "0 is a valid max_ttl: {errs:#?}"
    );
}

#[test]
fn empty_keys_or_rules_are_rejected() {
    let dir = secrets();
    let errs = errors(dir.path(), "{ keys: [], allow: [] }");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("zones[0].updates.keys: at least one key"))
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("zones[0].updates.allow: at least one rule"))
    );
}

#[test]
fn one_key_name_means_one_key_across_zones() {
    let dir = secrets();
    std::fs::write(
        dir.path().join("other"),
        "b3RoZXItb3RoZXItb3RoZXItb3RoZXItMTIzNDU=\n",
    )
    .unwrap();
    let yaml = format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:5353"] }}
zones:
  - origin: a.test.
    soa: {{ mname: ns1.a.test., rname: hostmaster.a.test. }}
    nameservers: {{ ns1.a.test.: [192.0.2.53] }}
    updates: {{ keys: [{{ name: k., secret_file: "{d}/good" }}], allow: [{{ key: k., names: ["*"], types: [TXT] }}] }}
  - origin: b.test.
    soa: {{ mname: ns1.b.test., rname: hostmaster.b.test. }}
    nameservers: {{ ns1.b.test.: [192.0.2.54] }}
    updates: {{ keys: [{{ name: k., secret_file: "{d}/other" }}], allow: [{{ key: k., names: ["*"], types: [TXT] }}] }}
"#,
        d = dir.path().display()
    );
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, yaml).unwrap();
    let Err(ConfigErrors(errs)) = load_with_env(&path, Vec::new()) else {
        panic!("two secrets for one key name must be rejected");
    };
    assert!(
        errs.iter().any(|e| e.path == "zones[1].updates.keys[0]"
            && e.message.contains("also in zones[0]")),
        "{errs:#?}"
    );
}
