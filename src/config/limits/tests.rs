//! Bounded input: file sizes, record counts and YAML budgets, each named in
//! the error that reports it.

use std::path::{Path, PathBuf};

use super::super::*;

const ZONE: &str = r#"
server: { dns_listen: ["127.0.0.1:5353"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
"#;

/// A record named `i.global.example.test.`.
fn record(i: usize) -> String {
    format!("  - name: r{i}.global.example.test.\n    sets: [{{ id: x, targets: [192.0.2.1] }}]\n")
}

fn records(n: usize) -> String {
    (0..n).map(record).collect()
}

/// Writes `yaml` as `gslb.yaml` in `dir`, with `server:` extended by `server`.
fn write_config(dir: &Path, server: &str, records: &str) -> PathBuf {
    let path = dir.join("gslb.yaml");
    let yaml = ZONE.replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        &format!("server: {{ dns_listen: [\"127.0.0.1:5353\"]{server} }}"),
    );
    let records = if records.is_empty() {
        String::new()
    } else {
        format!("records:\n{records}")
    };
    std::fs::write(&path, format!("{yaml}{records}")).unwrap();
    path
}

/// Error lines (`file: path: message`) of a load that must fail.
fn rejected(result: Result<Loaded, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(_) => panic!("the load should be rejected"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn with_limits(max_config_bytes: u64, max_records: usize) -> Baseline {
    Baseline {
        limits: Limits {
            max_config_bytes,
            max_records,
        },
        served_record_files: Vec::new(),
        geoip: None,
    }
}

/// An anchored scalar of `scalar` bytes used as `aliases` record names: the
/// expansion is `scalar * aliases` bytes from a file of about `scalar`.
fn alias_bomb(scalar: usize, aliases: usize) -> String {
    let mut yaml = ZONE.replace(
        "origin: global.example.test.",
        &format!("origin: &big \"{}\"", "a".repeat(scalar)),
    );
    yaml.push_str("records:\n");
    for _ in 0..aliases {
        yaml.push_str("  - { name: *big, sets: [] }\n");
    }
    yaml
}

#[test]
fn an_alias_bomb_is_stopped_at_the_scalar_budget_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    // 256 KiB aliased 2,000 times would be 500 MiB of names.
    std::fs::write(&path, alias_bomb(256 << 10, 2000)).unwrap();
    let errs = rejected(load_after(&path, Vec::new(), &with_limits(4 << 20, 1000)).result);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].starts_with(&path.display().to_string()), "{errs:?}");
    assert!(
        errs[0].contains("too large once YAML aliases are expanded")
            && errs[0].contains("server.max_config_bytes (4194304 bytes)"),
        "the reason is spelled out: {errs:?}"
    );
}

#[test]
fn nested_aliases_are_stopped_by_the_replay_budget() {
    // A 5 KB file whose records would replay 10 million events: 1,000
    // targets, 100 sets of them, 100 records of those sets. (A 64 KiB cap
    // keeps the test quick: replays stop at 65,536 instead of 1,000,000.)
    let targets = vec!["''"; 1000].join(", ");
    let sets = vec!["*set"; 99].join(", ");
    let mut yaml = ZONE.to_owned();
    yaml.push_str(&format!(
        "records:\n  - name: r0.global.example.test.\n    sets: &sets [&set {{ id: a, targets: [{targets}] }}, {sets}]\n"
    ));
    for i in 1..100 {
        yaml.push_str(&format!(
            "  - {{ name: r{i}.global.example.test., sets: *sets }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, yaml).unwrap();
    let errs = rejected(load_after(&path, Vec::new(), &with_limits(1 << 16, 1000)).result);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("too large once YAML aliases are expanded")
            && errs[0]
                .contains("its aliases replay 65537 YAML events, more than the 65536 allowed"),
        "{errs:?}"
    );
}

#[test]
fn one_anchor_may_serve_many_records() {
    let mut yaml = ZONE.replace(
        "soa: { mname",
        "x-sets: &sets [{ id: x, targets: [192.0.2.1] }]\n    soa: { mname",
    );
    yaml = yaml.replace("x-sets:", "# x-sets:");
    // Anchors on a record's sets, reused by 300 others.
    yaml.push_str("records:\n  - name: r0.global.example.test.\n    sets: &sets [{ id: x, targets: [192.0.2.1] }]\n");
    for i in 1..300 {
        yaml.push_str(&format!(
            "  - {{ name: r{i}.global.example.test., sets: *sets }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, yaml).unwrap();
    let loaded = load_with_env(&path, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.records.len(), 300);
}

#[test]
fn files_over_max_config_bytes_are_rejected_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "", &records(40));
    let size = std::fs::metadata(&path).unwrap().len();
    let errs = rejected(load_after(&path, Vec::new(), &with_limits(size - 1, 1000)).result);
    assert_eq!(
        errs,
        vec![format!(
            "{}: is {size} bytes, more than server.max_config_bytes ({}); not read",
            path.display(),
            size - 1
        )]
    );
    assert!(
        load_after(&path, Vec::new(), &with_limits(size, 1000))
            .result
            .is_ok()
    );

    // Record files are held to the cap of the config that names them.
    let extra = dir.path().join("extra.yaml");
    std::fs::write(&extra, format!("records:\n{}", records(40))).unwrap();
    let extra_size = std::fs::metadata(&extra).unwrap().len();
    let path = write_config(
        dir.path(),
        &format!(
            ", max_config_bytes: {}, record_files: [\"{}\"]",
            extra_size - 1,
            extra.display()
        ),
        "",
    );
    let errs = rejected(load_after(&path, Vec::new(), &Baseline::default()).result);
    assert_eq!(
        errs,
        vec![format!(
            "{}: is {extra_size} bytes, more than server.max_config_bytes ({}); not read",
            extra.display(),
            extra_size - 1
        )]
    );
}

#[test]
fn the_environment_sets_the_cap_for_the_first_read_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "", &records(40));
    let size = std::fs::metadata(&path).unwrap().len();
    let env = |bytes: u64| {
        vec![(
            "GSLB_SERVER__MAX_CONFIG_BYTES".to_owned(),
            bytes.to_string(),
        )]
    };
    assert!(load_with_env(&path, env(size)).is_ok());
    let errs = rejected(load_with_env(&path, env(size - 1)));
    assert!(
        errs[0].contains("more than server.max_config_bytes"),
        "{errs:?}"
    );
}

#[test]
fn more_records_than_max_records_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // Counted while reading: the running cap stops the config at record 6.
    let path = write_config(dir.path(), "", &records(10));
    let errs = rejected(load_after(&path, Vec::new(), &with_limits(1 << 20, 5)).result);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(&format!(
            "{}:8:3: records: more than 5 records in the config and its record files (server.max_records)",
            path.display()
        )),
        "{errs:?}"
    );
    // The config's own cap, over the config and its record files together.
    let extra = dir.path().join("extra.yaml");
    std::fs::write(
        &extra,
        format!("records:\n{}", (10..14).map(record).collect::<String>()),
    )
    .unwrap();
    let server = format!(", max_records: 12, record_files: [\"{}\"]", extra.display());
    let path = write_config(dir.path(), &server, &records(10));
    let errs = rejected(load_after(&path, Vec::new(), &Baseline::default()).result);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(&format!(
            "{}:2:3: records: more than 12 records in the config and its record files (server.max_records)",
            extra.display()
        )),
        "{errs:?}"
    );
    let path = write_config(dir.path(), &server.replace("12", "14"), &records(10));
    let loaded = load_after(&path, Vec::new(), &Baseline::default()).result;
    assert_eq!(
        loaded
            .unwrap_or_else(|e| panic!("{e}"))
            .config
            .records
            .len(),
        14
    );
    // A config over its own cap, read under a larger running one.
    let path = write_config(dir.path(), ", max_records: 9", &records(10));
    let errs = rejected(load_after(&path, Vec::new(), &Baseline::default()).result);
    assert_eq!(
        errs,
        vec![format!(
            "{}:7:1: records: 10 records, more than server.max_records (9)",
            path.display()
        )]
    );
}

#[test]
fn the_caps_are_validated_and_defaulted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        ", max_config_bytes: 10, max_records: 0",
        &records(1),
    );
    let errs = rejected(load_after(&path, Vec::new(), &Baseline::default()).result);
    let file = path.display();
    for expected in [
        format!(
            "{file}:2:43: server.max_config_bytes: 10 is out of range (1024 to 4294967296 bytes)"
        ),
        format!("{file}:2:65: server.max_records: 0 is out of range (1 to 10000000)"),
    ] {
        assert!(
            errs.contains(&expected),
            "missing {expected:?} in {errs:#?}"
        );
    }
    let path = write_config(dir.path(), "", &records(1));
    let loaded = load_with_env(&path, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.server.max_config_bytes, 64 << 20);
    assert_eq!(loaded.config.server.max_records, 1_000_000);
}
