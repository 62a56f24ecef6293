//! Loading and validation: every rule reports its file and field.

use std::path::Path;

use super::*;

const ZONE: &str = r#"
server: { dns_listen: ["127.0.0.1:5353"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: http, path: /healthz, expect_status: "200-299,304", interval: 1s, timeout: 500ms }
"#;

/// Loads `yaml` (written to a temp dir as `gslb.yaml`) with `env`.
fn load_text(yaml: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, yaml).unwrap();
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    load_with_env(&path, env)
}

/// The messages (path: message) of a failing load.
fn errors(yaml: &str) -> Vec<String> {
    match load_text(yaml, &[]) {
        Ok(_) => panic!("config should be rejected"),
        Err(ConfigErrors(errors)) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
    }
}

fn with_records(records: &str) -> String {
    format!("{ZONE}records:\n{records}")
}

#[test]
fn the_example_config_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = load_with_env(root.join("config/gslb.yaml"), Vec::new());
    // geoip path is relative to the working directory, which cargo sets to the root.
    let loaded = loaded.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.records.len(), 3);
    assert!(loaded.geo.is_some());
}

#[test]
fn the_issue_example_error_is_reported_verbatim() {
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n  - name: b.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n  - name: c.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n  - name: d.global.example.test.\n    sets:\n      - { id: x, targets: [192.0.2.1] }\n      - { id: y, targets: [\"10.0.0.300\"] }\n",
    );
    let err = load_text(&yaml, &[]).err().unwrap();
    assert_eq!(err.0.len(), 1);
    assert!(err.0[0].file.ends_with("gslb.yaml"));
    assert_eq!(
        err.0[0].to_string().rsplit_once("gslb.yaml:").unwrap().1,
        "19:28: records[3].sets[1].targets[0]: \"10.0.0.300\" is not an IP address"
    );
}

#[test]
fn every_error_is_collected() {
    let errs = errors(&with_records(
        r#"
  - name: a.global.example.test.
    ttl: -5
    answers: 0
    fallback: sometimes
    sets:
      - { id: "", targets: [], weight: -1, priority: 70000 }
      - { id: dup, targets: [192.0.2.1, 192.0.2.1], location: { lat: 91, lon: 0 } }
      - { id: dup, targets: [192.0.2.2], health_check: nope, geo: { continents: [EU, XX], countries: [DE, ZZ], subdivisions: [US-CA, ZZ-1, US] } }
      - { id: empty-geo, targets: [192.0.2.3], geo: {} }
  - name: a.global.example.test.
    sets: [{ id: x, targets: [192.0.2.1] }]
  - name: elsewhere.example.org.
    sets: [{ id: x, targets: [192.0.2.1] }]
  - name: ns1.global.example.test.
    sets: [{ id: x, targets: [192.0.2.1] }]
  - name: "bad name.global.example.test."
    sets: [{ id: x, targets: [192.0.2.1] }]
"#,
    ));
    for expected in [
        "records[0].ttl: -5 is out of range (0 to 86400 seconds)",
        "records[0].answers: 0 is out of range (1 to 64)",
        "records[0].fallback: \"sometimes\" is not one of any, none",
        "records[0].sets[0].id: \"\" must be 1-253 letters, digits or - _ . / :",
        "records[0].sets[0].targets: at least one address is required",
        "records[0].sets[0].weight: -1 is out of range (0 to 1000000)",
        "records[0].sets[0].priority: 70000 is out of range (0 to 65535)",
        "records[0].sets[1].targets[1]: 192.0.2.1 is listed twice",
        "records[0].sets[1].location: lat 91 lon 0 is not on Earth (lat -90 to 90, lon -180 to 180)",
        "records[0].sets[2].id: \"dup\" is already the id of sets[1]",
        "records[0].sets[2].health_check: \"nope\" is not defined in health_checks (defined: web)",
        "records[0].sets[2].geo.continents[1]: \"XX\" is not a continent code (AF AN AS EU NA OC SA)",
        "records[0].sets[2].geo.countries[1]: \"ZZ\" is not an ISO 3166-1 alpha-2 country code",
        "records[0].sets[2].geo.subdivisions[1]: \"ZZ-1\" is not an ISO 3166-2 subdivision code such as US-CA",
        "records[0].sets[2].geo.subdivisions[2]: \"US\" is not an ISO 3166-2 subdivision code such as US-CA",
        "records[0].sets[3].geo: lists no continents, countries or subdivisions; leave geo out instead",
        "records[2].name: elsewhere.example.org. is not inside a served zone (global.example.test.)",
        "records[3].name: ns1.global.example.test. is a name server of zone global.example.test.; gslb serves its glue",
        "records[4].name: \"bad name.global.example.test.\" is not a domain name: it has the character ' ', only letters, digits, '-' and '_' are allowed",
    ] {
        assert!(
            errs.iter().any(|e| e == expected),
            "missing {expected:?} in {errs:#?}"
        );
    }
    assert!(
        errs.iter().any(
            |e| e.starts_with("records[1].name: a.global.example.test. is already defined in ")
        ),
        "{errs:#?}"
    );
}

#[test]
fn zone_and_server_rules() {
    let errs = errors(
        r#"
server: { dns_listen: ["127.0.0.1", "[::1]:53"], admin_listen: "nowhere", udp_workers: 0, max_udp_payload: 100, tcp_idle_timeout: forever }
zones:
  - origin: global.example.test.
    ttl: 90000
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: -1 }
    nameservers: { ns1.global.example.test.: [], ns.other.test.: [192.0.2.1], "ns2.global.example.test.": [not-an-ip] }
  - origin: Global.Example.Test
    soa: { mname: a.test., rname: b.test. }
    nameservers: { a.test.: [] }
  - origin: third.test.
    soa: { mname: a.test., rname: b.test. }
"#,
    );
    for expected in [
        "server.dns_listen[0]: \"127.0.0.1\" is not an address with a port, such as \"127.0.0.1:53\" or \"[::1]:53\"",
        "server.admin_listen: \"nowhere\" is not an address with a port, such as \"127.0.0.1:53\" or \"[::1]:53\"",
        "server.udp_workers: 0 is out of range (1 to 256)",
        "server.max_udp_payload: 100 is out of range (512 to 4096 bytes)",
        "zones[0].ttl: 90000 is out of range (0 to 86400 seconds)",
        "zones[0].soa.minimum: -1 is out of range (0 to 86400 seconds)",
        "zones[0].nameservers.ns2.global.example.test.[0]: \"not-an-ip\" is not an IP address",
        "zones[1].origin: global.example.test. is already zones[0]",
        "zones[2].nameservers: at least one name server is required",
        "zones[0].nameservers.ns1.global.example.test.: is inside a served zone, so it needs glue addresses",
        "zones[0].nameservers.ns.other.test.: is outside every served zone: gslb cannot serve its addresses, list it with []",
    ] {
        assert!(
            errs.iter().any(|e| e == expected),
            "missing {expected:?} in {errs:#?}"
        );
    }
    assert!(
        errs.iter()
            .any(|e| e.starts_with("server.tcp_idle_timeout: \"forever\" is not a duration")),
        "{errs:#?}"
    );
}

#[test]
fn health_check_rules() {
    let errs = errors(&format!(
        "{ZONE}{}",
        r#"  tcp-bad: { kind: tcp, path: /x, expect_status: 200 }
  tcp-noport: { kind: tcp }
  weird: { kind: icmp, port: 70000, path: nope, expect_status: "99-700", interval: 1s, timeout: 2s, rise: 0, fall: 101 }
  lists: { kind: https, expect_status: [200, "300-302", "x"] }
"#
    )
    .replace("health_checks:\n", "health_checks:\n"));
    for expected in [
        "health_checks.tcp-bad.path: only applies to http and https checks",
        "health_checks.tcp-bad.expect_status: only applies to http and https checks",
        "health_checks.tcp-noport.port: is required for tcp checks",
        "health_checks.weird.kind: \"icmp\" is not one of http, https, tcp",
        "health_checks.weird.port: 70000 is out of range (1 to 65535)",
        "health_checks.weird.path: \"nope\" must start with '/' and have no spaces",
        "health_checks.weird.expect_status: \"99-700\" is not a status code (100-599) or a range such as 200-399",
        "health_checks.weird.timeout: must not be longer than interval",
        "health_checks.weird.rise: 0 is out of range (1 to 100)",
        "health_checks.weird.fall: 101 is out of range (1 to 100)",
        "health_checks.lists.expect_status: \"x\" is not a status code (100-599) or a range such as 200-399",
    ] {
        assert!(
            errs.iter().any(|e| e == expected),
            "missing {expected:?} in {errs:#?}"
        );
    }
}

#[test]
fn health_check_values_and_defaults() {
    let loaded = load_text(&with_records("  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1], health_check: web }]\n"), &[]).unwrap();
    let web = &loaded.config.health_checks["web"];
    assert_eq!(web.port, 80);
    assert_eq!(web.expect_status, vec![(200, 299), (304, 304)]);
    assert_eq!(web.interval, std::time::Duration::from_secs(1));
    assert_eq!(web.timeout, std::time::Duration::from_millis(500));
    assert_eq!((web.rise, web.fall), (2, 2));
    let record = &loaded.config.records[0];
    assert_eq!(record.ttl, 30, "the zone's default TTL");
    assert_eq!(record.sets[0].weight, 1);
    assert!(record.sets[0].health_check.is_some());
}

#[test]
fn unknown_fields_and_wrong_types_name_the_field() {
    let errs = errors(&format!(
        "{ZONE}records:\n  - name: a.global.example.test.\n    colour: red\n    sets: []\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("records[0].colour: unknown key `colour`"),
        "{errs:?}"
    );
    let errs = errors(&format!(
        "{ZONE}records:\n  - name: a.global.example.test.\n    sets: [{{ id: x, targets: 5 }}]\n"
    ));
    assert!(
        errs[0].starts_with("records[0].sets[0].targets:"),
        "{errs:?}"
    );
    let located = |yaml: &str| match load_text(yaml, &[]) {
        Ok(_) => panic!("config should be rejected"),
        Err(ConfigErrors(errors)) => errors[0].clone(),
    };
    let error = located("server: [\n");
    assert_eq!(
        error.at.map(|at| at.line),
        Some(1),
        "YAML errors say where: {error}"
    );
    let error = located("server:\n  dns_listen: [a\n\t- b\n");
    assert!(
        error.message.contains("found a tab") && error.at.is_some_and(|at| at.line == 2),
        "YAML syntax errors say where: {error}"
    );
}

#[test]
fn server_settings_come_from_gslb_server_variables_only() {
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n",
    );
    let loaded = load_text(
        &yaml,
        &[
            ("GSLB_SERVER__DNS_LISTEN", "127.0.0.1:1053,[::1]:1053"),
            ("GSLB_SERVER__UDP_WORKERS", "3"),
            ("GSLB_SERVER__ADMIN_LISTEN", "127.0.0.1:9999"),
            ("GSLB_LOG_FORMAT", "json"),
            ("GSLB_CONFIG", "/elsewhere.yaml"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = &loaded.config.server;
    assert_eq!(
        server.dns_listen,
        vec![
            "127.0.0.1:1053".parse().unwrap(),
            "[::1]:1053".parse().unwrap()
        ]
    );
    assert_eq!(server.udp_workers, 3);
    assert_eq!(server.admin_listen, Some("127.0.0.1:9999".parse().unwrap()));
    let bad = load_text(&yaml, &[("GSLB_SERVER__UDP_WORKERS", "lots")]);
    assert!(bad.is_err(), "a bad override is an error like a bad file");
}

#[test]
fn admin_caps_and_the_probe_listener_are_checked() {
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n",
    );
    let server = |keys: &str| {
        yaml.replace(
            "server: { dns_listen: [\"127.0.0.1:5353\"] }",
            &format!("server: {{ dns_listen: [\"127.0.0.1:5353\"], {keys} }}"),
        )
    };
    let errs = errors(&server(
        r#"admin_listen: "127.0.0.1:9153", probe_listen: "127.0.0.1:9153", admin_max_connections_per_client: 0, admin_header_timeout: 50ms"#,
    ));
    for expected in [
        "server.probe_listen: 127.0.0.1:9153 is also server.admin_listen; give the probe listener its own port",
        "server.admin_max_connections_per_client: 0 is out of range (1 to 10000)",
    ] {
        assert!(
            errs.iter().any(|e| e == expected),
            "missing {expected:?} in {errs:#?}"
        );
    }
    assert!(
        errs.iter()
            .any(|e| e.starts_with("server.admin_header_timeout: ")),
        "{errs:#?}"
    );
    let loaded = load_text(&server(r#"probe_listen: "0.0.0.0:9155""#), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let server = &loaded.config.server;
    assert_eq!(server.probe_listen, Some("0.0.0.0:9155".parse().unwrap()));
    assert_eq!(server.admin_max_connections_per_client, 8);
    assert_eq!(
        server.admin_header_timeout,
        std::time::Duration::from_secs(3)
    );
}

#[test]
fn record_files_merge_and_duplicates_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.yaml");
    let missing = dir.path().join("not-yet.yaml");
    std::fs::write(&extra, "records:\n  - name: b.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.2], health_check: web }]\n").unwrap();
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n",
    )
    .replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        &format!(
            "server: {{ dns_listen: [\"127.0.0.1:5353\"], record_files: [\"{}\", \"{}\"] }}",
            extra.display(),
            missing.display()
        ),
    );
    let loaded = load_text(&yaml, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.config.records.len(),
        2,
        "the record file's record is merged"
    );
    assert_eq!(
        &*loaded.config.records[1].source,
        extra.display().to_string().as_str()
    );
    assert_eq!(
        loaded.warnings.len(),
        1,
        "a missing record file is a warning: {:?}",
        loaded.warnings
    );

    std::fs::write(&extra, "records:\n  - name: B.global.example.test.\n    sets: [{ id: x, targets: [not-ip] }]\n  - name: a.global.example.test.\n    sets: [{ id: y, targets: [192.0.2.9] }]\n").unwrap();
    let err = load_text(&yaml, &[]).err().unwrap();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    let file = extra.display().to_string();
    assert!(
        lines.contains(&format!(
            "{file}:3:31: records[0].sets[0].targets[0]: \"not-ip\" is not an IP address"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{file}:4:5: records[1].name: a.global.example.test. is already defined in "
        )) && l.ends_with("gslb.yaml records[0]")),
        "{lines:#?}"
    );
}

#[test]
fn record_file_overrides_are_read_and_each_bad_one_named_with_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let crd = dir.path().join("crd-records.yaml");
    let hand = dir.path().join("hand.yaml");
    std::fs::write(&crd, "# Written by gslb crd-sync\n{\"records\": [], \"overrides\": [{\"record\": \"a.global.example.test.\", \"set\": \"x\", \"state\": \"down\", \"reason\": \"maintenance\", \"object\": \"us/gslb/drain-x\", \"at\": \"2025-01-31T12:00:00Z\"}]}\n").unwrap();
    std::fs::write(
        &hand,
        "records: []\noverrides:\n  - { record: a.global.example.test., set: y, state: up }\n",
    )
    .unwrap();
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }, { id: y, targets: [192.0.2.2] }]\n",
    )
    .replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        &format!(
            "server: {{ dns_listen: [\"127.0.0.1:5353\"], record_files: [\"{}\", \"{}\"] }}",
            crd.display(),
            hand.display()
        ),
    );
    let loaded = load_text(&yaml, &[]).unwrap_or_else(|e| panic!("{e}"));
    let overrides = &loaded.config.overrides;
    assert_eq!(overrides.len(), 2, "{overrides:?}");
    assert_eq!(
        (
            overrides[0].set.as_str(),
            overrides[0].state,
            overrides[0].object.as_deref()
        ),
        (
            "x",
            crate::model::OverrideState::Down,
            Some("us/gslb/drain-x")
        )
    );
    assert_eq!(overrides[1].object, None, "written by hand");
    assert_eq!(&*overrides[1].file, hand.display().to_string().as_str());
    let kept = loaded.without_records();
    assert_eq!(
        kept.config.overrides.len(),
        2,
        "kept with the server settings"
    );

    std::fs::write(&hand, "records: []\noverrides:\n  - { record: a.global.example.test., set: x, state: auto }\n  - { record: a.global.example.test., set: x, state: up, colour: red }\n").unwrap();
    let err = load_text(&yaml, &[]).err().unwrap();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    let file = hand.display().to_string();
    assert_eq!(lines.len(), 1, "a type error stops the file: {lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:4:58: overrides[1].colour: unknown key `colour`"
        )),
        "{lines:#?}"
    );
    std::fs::write(&hand, "records: []\noverrides:\n  - { record: a.global.example.test., set: x, state: auto }\n  - { record: a.global.example.test., set: x, state: up }\n").unwrap();
    let err = load_text(&yaml, &[]).err().unwrap();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:3:47: overrides[0].state: \"auto\" is not an override state"
        )),
        "{lines:#?}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{file}:4:5: overrides[1]: set \"x\" of a.global.example.test. is already overridden in {} overrides[0]",
            crd.display()
        )
    );
}

#[test]
fn a_missing_geoip_database_is_a_config_error_with_the_reason() {
    let yaml = with_records(
        "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n",
    )
    .replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        "server: { dns_listen: [\"127.0.0.1:5353\"], geoip_database: /nonexistent/City.mmdb }",
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .starts_with("server.geoip_database: cannot read /nonexistent/City.mmdb: no such file"),
        "{errs:?}"
    );
}

#[test]
fn json_record_files_with_a_comment_header_are_read_as_json() {
    assert_eq!(
        json_body("# header\n\n  {\"records\": []}").as_deref(),
        Some("\n\n{\"records\": []}")
    );
    assert_eq!(json_body("records: []\n"), None);
    assert_eq!(json_body("# only yaml\nrecords: []\n"), None);
    for text in [
        "# header\n\n  {\"records\": []}",
        "records: []\n",
        "# only yaml\nrecords: []\n",
        "# a comment with no line end",
    ] {
        assert_eq!(
            json_start(text).map(str::to_owned),
            json_body(text).map(|b| b.trim_start_matches('\n').to_owned()),
            "the parse without a copy reads what the one with it does: {text:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.yaml");
    std::fs::write(&extra, "# Written by gslb crd-sync\n{\"records\": [{\"name\": \"b.global.example.test.\", \"sets\": [{\"id\": \"x\", \"targets\": [\"192.0.2.2\"]}]}]}\n").unwrap();
    let yaml = ZONE.replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        &format!(
            "server: {{ dns_listen: [\"127.0.0.1:5353\"], record_files: [\"{}\"] }}",
            extra.display()
        ),
    );
    let loaded = load_text(&yaml, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.config.records[0].name.to_string(),
        "b.global.example.test."
    );
    std::fs::write(&extra, "# Written by gslb crd-sync\n{\"records\": [{\"name\": \"b.global.example.test.\",\n \"colour\": 1}]}\n").unwrap();
    let errs: Vec<String> = load_text(&yaml, &[])
        .err()
        .unwrap()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errs[0].contains(":3:2: records[0].colour: unknown key `colour`"),
        "{errs:?}"
    );
}

#[test]
fn tcp_limits_and_shutdown_grace_have_defaults_ranges_and_env_overrides() {
    let record = "  - name: a.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n";
    let loaded = load_text(&with_records(record), &[]).unwrap_or_else(|e| panic!("{e}"));
    let server = &loaded.config.server;
    assert_eq!(
        (
            server.tcp_max_connections,
            server.tcp_max_connections_per_ip,
            (server.tcp_ipv4_prefix, server.tcp_ipv6_prefix),
            server.shutdown_grace
        ),
        (1_000, 20, (24, 56), std::time::Duration::from_secs(5))
    );
    let loaded = load_text(
        &with_records(record),
        &[
            ("GSLB_SERVER__TCP_MAX_CONNECTIONS", "50"),
            ("GSLB_SERVER__TCP_MAX_CONNECTIONS_PER_IP", "2"),
            ("GSLB_SERVER__TCP_IPV4_PREFIX", "32"),
            ("GSLB_SERVER__TCP_IPV6_PREFIX", "64"),
            ("GSLB_SERVER__SHUTDOWN_GRACE", "0s"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = &loaded.config.server;
    assert_eq!(
        (
            server.tcp_max_connections,
            server.tcp_max_connections_per_ip,
            (server.tcp_ipv4_prefix, server.tcp_ipv6_prefix),
            server.shutdown_grace
        ),
        (50, 2, (32, 64), std::time::Duration::ZERO)
    );
    let bad = ZONE.replace(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }",
        "server: { dns_listen: [\"127.0.0.1:5353\"], tcp_max_connections: 0, tcp_max_connections_per_ip: -1, tcp_ipv4_prefix: 0, tcp_ipv6_prefix: 129, shutdown_grace: 1h }",
    );
    assert_eq!(
        errors(&bad),
        [
            "server.tcp_max_connections: 0 is out of range (1 to 1000000)",
            "server.tcp_max_connections_per_ip: -1 is out of range (1 to 1000000)",
            "server.tcp_ipv4_prefix: 0 is out of range (1 to 32 bits)",
            "server.tcp_ipv6_prefix: 129 is out of range (1 to 128 bits)",
            "server.shutdown_grace: 1h is out of range (0s to 5m)",
        ]
    );
}

#[test]
fn a_zone_whose_ns_answer_cannot_fit_a_dns_message_is_rejected() {
    // 2,000 name servers with an IPv6 address each: about 100 KB of NS
    // answer, which no DNS message (65,535 bytes) can carry.
    let mut yaml = String::from(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }\nzones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers:\n",
    );
    for i in 0..2000 {
        yaml.push_str(&format!(
            "      ns{i}.global.example.test.: [\"2001:db8::{i:x}\"]\n"
        ));
    }
    let errors = errors(&yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("zones[0].nameservers: the NS answer with all glue would take ")
            && errors[0].contains("more than the 65535 a DNS message holds"),
        "{errors:?}"
    );
    // 200 of them fit (over TCP), and load.
    let fits: String = yaml
        .lines()
        .take(5 + 200)
        .map(|l| format!("{l}\n"))
        .collect();
    load_text(&fits, &[]).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_zone_whose_ns_answer_exceeds_the_udp_payload_gets_a_warning() {
    let mut yaml = String::from(
        "server: { dns_listen: [\"127.0.0.1:5353\"] }\nzones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers:\n",
    );
    for i in 0..100 {
        yaml.push_str(&format!(
            "      ns{i}.global.example.test.: [192.0.2.{i}]\n"
        ));
    }
    let loaded = load_text(&yaml, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0]
            .contains("zones[0].nameservers: the NS answer with all glue takes up to ")
            && loaded.warnings[0].contains("more than max_udp_payload 1232"),
        "{:?}",
        loaded.warnings
    );
    assert!(load_text(ZONE, &[]).unwrap().warnings.is_empty());
}

#[test]
fn text_loads_like_a_file_without_touching_the_file_system() {
    let records =
        "records:\n  - name: r.global.example.test.\n    sets: [{ id: x, targets: [192.0.2.1] }]\n";
    let json = r#"{"records": [{"name": "j.global.example.test.", "sets": [{"id": "x", "targets": ["192.0.2.2"]}]}]}"#;
    // record_files named in the text are not opened: the caller passes them.
    let yaml = ZONE.replacen(
        "server: {",
        "server: { record_files: [/nonexistent/r.yaml],",
        1,
    );
    let config = load_from_text("a.yaml", &yaml, &[("r.yaml", records), ("j.json", json)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.records.len(), 2);
    let errors = load_from_text("a.yaml", ZONE, &[("bad.json", r#"{"records": 1}"#)])
        .err()
        .unwrap();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(&*errors.0[0].file, "bad.json");
    assert_eq!(errors.0[0].path, "records");
}

/// A config file that is not there says so in words a person uses, not
/// the library's "entity not found".
#[test]
fn a_missing_config_file_says_no_such_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    let errors = load(path.clone())
        .err()
        .expect("a missing file is an error");
    let text = errors.to_string();
    assert!(
        text.contains(&format!("{}: no such file", path.display())),
        "{text}"
    );
    assert!(!text.contains("entity not found"), "{text}");
}

/// Geo rules without a GeoIP database match no client: check-config and a
/// reload say so (a warning, the config still loads).
#[test]
fn geo_rules_without_a_database_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    let zone = "zones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n";
    let geo = "records:\n  - name: w.global.example.test.\n    sets:\n      - { id: eu, targets: [192.0.2.1], geo: { continents: [EU] } }\n      - { id: us, targets: [192.0.2.2], location: { lat: 40.0, lon: -74.0 } }\n      - { id: any, targets: [192.0.2.3] }\n";
    std::fs::write(
        &path,
        format!("server: {{ dns_listen: [\"127.0.0.1:5353\"] }}\n{zone}{geo}"),
    )
    .unwrap();
    let loaded = load(path.clone()).unwrap_or_else(|e| panic!("{e}"));
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.contains("server.geoip_database is not set"))
        .unwrap_or_else(|| panic!("a warning in {:?}", loaded.warnings));
    assert!(
        warning.contains("\"eu\" of w.global.example.test. and 1 other set(s)"),
        "{warning}"
    );
    let plain =
        "records:\n  - name: p.global.example.test.\n    sets: [{ id: a, targets: [192.0.2.1] }]\n";
    std::fs::write(
        &path,
        format!("server: {{ dns_listen: [\"127.0.0.1:5353\"] }}\n{zone}{plain}"),
    )
    .unwrap();
    let loaded = load(path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !loaded.warnings.iter().any(|w| w.contains("geoip_database")),
        "{:?}",
        loaded.warnings
    );
}

/// One mistake, one message: a template with a bad port is reported where
/// it is defined, not again at every set that names it; a name that is
/// defined nowhere says so without an empty list.
#[test]
fn a_broken_health_check_is_reported_once() {
    let zone = "zones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n";
    let broken = format!(
        "server: {{ dns_listen: [\"127.0.0.1:5353\"] }}\n{zone}health_checks:\n  web: {{ kind: http, port: 70000 }}\nrecords:\n  - name: w.global.example.test.\n    sets: [{{ id: a, targets: [192.0.2.1], health_check: web }}]\n"
    );
    let Err(errors) = load_from_text("gslb.yaml", &broken, &[]) else {
        panic!("a template with a bad port is rejected");
    };
    let text = errors.to_string();
    assert!(text.contains("health_checks.web.port"), "{text}");
    assert!(!text.contains("not defined"), "{text}");
    assert_eq!(errors.0.len(), 1, "{text}");

    let undefined = format!(
        "server: {{ dns_listen: [\"127.0.0.1:5353\"] }}\n{zone}records:\n  - name: w.global.example.test.\n    sets: [{{ id: a, targets: [192.0.2.1], health_check: web }}]\n"
    );
    let Err(errors) = load_from_text("gslb.yaml", &undefined, &[]) else {
        panic!("an undefined template is rejected");
    };
    let text = errors.to_string();
    assert!(
        text.contains("\"web\" is not defined in health_checks (none is defined)"),
        "{text}"
    );
}

mod files;

#[test]
fn a_large_file_checked_in_chunks_reports_what_one_pass_would_in_order() {
    // More records than validate::records checks on one thread, with
    // mistakes at both ends and a duplicate (with its own mistake, not
    // reported) whose first definition is in another chunk.
    let n = 10_000;
    let mut records = String::new();
    for i in 0..n {
        let (name, target) = match i {
            3 => ("r3.global.example.test.".to_owned(), "not-ip".to_owned()),
            9_998 => (
                "r1.global.example.test.".to_owned(),
                "also-not-ip".to_owned(),
            ),
            9_999 => (
                format!("r{i}.global.example.test."),
                "192.0.2.0/24".to_owned(),
            ),
            _ => (
                format!("r{i}.global.example.test."),
                format!("10.0.{}.{}", i / 250, i % 250 + 1),
            ),
        };
        records.push_str(&format!(
            "  - {{ name: {name}, sets: [{{ id: x, targets: [\"{target}\"] }}] }}\n"
        ));
    }
    let found = errors(&with_records(&records));
    let expected = [
        "records[3].sets[0].targets[0]: \"not-ip\" is not an IP address".to_owned(),
        "records[9998].name: r1.global.example.test. is already defined in ".to_owned(),
        "records[9999].sets[0].targets[0]: ".to_owned(),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (found, expected) in found.iter().zip(&expected) {
        assert!(
            found.starts_with(expected.as_str()),
            "{found} is not {expected}…"
        );
    }
}
