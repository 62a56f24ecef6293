//! One test per rule of `zones[].static`; errors name the entry and field.

use crate::config::{ConfigErrors, Loaded, load_with_env};
use crate::rdata::RecordType;

const HEAD: &str = r#"
server: { dns_listen: ["127.0.0.1:5353"] }
zones:
  - origin: global.example.test.
    ttl: 120
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
    static:
"#;

const RECORDS: &str = r#"
records:
  - name: webapp.global.example.test.
    sets: [{ id: one, targets: [192.0.2.10] }]
"#;

/// The config with `statics` (YAML flow mappings, one a line) in the zone.
fn config(statics: &[&str]) -> String {
    let mut yaml = HEAD.to_owned();
    for s in statics {
        yaml.push_str(&format!("      - {s}\n"));
    }
    yaml.push_str(RECORDS);
    yaml
}

fn load(yaml: &str) -> Result<Loaded, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gslb.yaml");
    std::fs::write(&path, yaml).unwrap();
    load_with_env(&path, Vec::new())
}

/// `path: message` of every error of a config that must be rejected.
fn errors(statics: &[&str]) -> Vec<String> {
    match load(&config(statics)) {
        Ok(_) => panic!("config should be rejected: {statics:?}"),
        Err(ConfigErrors(errors)) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
    }
}

/// Asserts exactly one error, at `path`, whose message contains `part`.
fn one_error(statics: &[&str], path: &str, part: &str) {
    let errors = errors(statics);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let (at, message) = errors[0].split_once(": ").unwrap();
    assert_eq!(at, path, "{errors:#?}");
    assert!(message.contains(part), "{message:?} lacks {part:?}");
}

#[test]
fn records_load_with_names_types_ttls_and_wire_data() {
    let loaded = load(&config(&[
        r#"{ name: "@", type: caa, data: '0 issue "letsencrypt.org"' }"#,
        r#"{ name: _acme-challenge.webapp, type: CNAME, data: webapp.acme.example.net. }"#,
        r#"{ name: mail.global.example.test, type: MX, ttl: 3600, data: 10 mx1 }"#,
        r#"{ name: txt.global.example.test., type: TXT, data: '"v=spf1 -all"' }"#,
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    let zone = &loaded.config.zones[0];
    let seen: Vec<(String, RecordType, u32, Vec<u8>)> = zone
        .statics
        .iter()
        .map(|s| (s.name.to_string(), s.rtype, s.ttl, s.data.wire().to_vec()))
        .collect();
    let mut caa = vec![0, 5];
    caa.extend_from_slice(b"issueletsencrypt.org");
    let mut mx = vec![0, 10];
    mx.extend_from_slice(b"\x03mx1\x06global\x07example\x04test\x00");
    let mut txt = vec![11];
    txt.extend_from_slice(b"v=spf1 -all");
    assert_eq!(
        seen,
        [
            ("global.example.test.".into(), RecordType::Caa, 120, caa),
            (
                "_acme-challenge.webapp.global.example.test.".into(),
                RecordType::Cname,
                120,
                b"\x06webapp\x04acme\x07example\x03net\x00".to_vec()
            ),
            ("mail.global.example.test.".into(), RecordType::Mx, 3600, mx),
            ("txt.global.example.test.".into(), RecordType::Txt, 120, txt),
        ]
    );
}

#[test]
fn each_entry_is_checked_on_its_own() {
    let errors = errors(&[
        r#"{ name: www.example.org., type: TXT, data: x }"#,
        r#"{ name: a, type: PTR, data: x }"#,
        r#"{ name: b, type: SOA, data: x }"#,
        r#"{ name: c, type: TXT, ttl: -1, data: x }"#,
        r#"{ name: d, type: CAA, data: '0 issue "bad domain!"' }"#,
        r#"{ name: "e..f", type: TXT, data: x }"#,
    ]);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    let at = |i: usize, field: &str, part: &str| {
        let prefix = format!("zones[0].static[{i}].{field}: ");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&prefix) && e.contains(part)),
            "no {prefix}..{part} in {errors:#?}"
        );
    };
    at(0, "name", "is not inside the zone global.example.test.");
    at(
        1,
        "type",
        "\"PTR\" is not one of A, NS, CNAME, MX, TXT, AAAA, SRV, DS, CAA",
    );
    at(2, "type", "the zone's SOA comes from its `soa` field");
    at(3, "ttl", "");
    at(4, "data", "invalid CAA data");
    at(5, "name", "is not a domain name");
}

#[test]
fn an_rrset_has_one_ttl_and_no_duplicates() {
    let errors = errors(&[
        "{ name: t, type: TXT, data: a }",
        "{ name: t, type: TXT, ttl: 60, data: b }",
        "{ name: t, type: TXT, data: '\"a\"' }",
    ]);
    assert_eq!(
        errors,
        [
            "zones[0].static[1].ttl: 60 differs from the TTL 120 of the TXT record at t.global.example.test. in zones[0].static[0]: the records of an RRset share one TTL",
            "zones[0].static[2].data: duplicates zones[0].static[0]",
        ]
    );
}

#[test]
fn the_apex_takes_neither_ns_nor_cname() {
    one_error(
        &["{ name: '@', type: NS, data: ns9.example.net. }"],
        "zones[0].static[0].type",
        "come from the zone's `nameservers`",
    );
    one_error(
        &["{ name: '@', type: CNAME, data: elsewhere.example.net. }"],
        "zones[0].static[0].type",
        "a CNAME cannot be at the zone apex",
    );
}

#[test]
fn a_cname_is_alone_at_its_name() {
    one_error(
        &[
            "{ name: www, type: CNAME, data: webapp }",
            "{ name: www, type: TXT, data: x }",
        ],
        "zones[0].static[0].name",
        "also has a TXT record (zones[0].static[1])",
    );
    one_error(
        &["{ name: webapp, type: CNAME, data: elsewhere.example.net. }"],
        "zones[0].static[0].name",
        "a CNAME cannot share its name",
    );
    one_error(
        &["{ name: ns1, type: CNAME, data: elsewhere.example.net. }"],
        "zones[0].static[0].name",
        "is a name server of the zone global.example.test.",
    );
}

#[test]
fn static_addresses_never_shadow_gslb_records_or_glue() {
    one_error(
        &["{ name: webapp, type: A, data: 192.0.2.99 }"],
        "zones[0].static[0].name",
        "is also a GSLB record",
    );
    one_error(
        &["{ name: ns1, type: AAAA, data: '2001:db8::53' }"],
        "zones[0].static[0].name",
        "whose addresses come from its `nameservers`",
    );
}

#[test]
fn a_delegation_holds_ns_only_and_glue_below() {
    one_error(
        &[
            "{ name: sub, type: NS, data: ns.example.net. }",
            "{ name: sub, type: TXT, data: x }",
        ],
        "zones[0].static[1].name",
        "only NS and DS records sit at a delegation point",
    );
    assert!(
        load(&config(&[
            "{ name: sub, type: NS, data: ns.example.net. }",
            "{ name: sub, type: DS, data: 46294 13 2 36F0BC752CAB174D }",
        ]))
        .is_ok(),
        "a DS at the delegation point"
    );
    one_error(
        &["{ name: nosub, type: DS, data: 46294 13 2 36F0BC752CAB174D }"],
        "zones[0].static[0].type",
        "DS records belong at a delegation point",
    );
    one_error(
        &[
            "{ name: sub, type: NS, data: ns.example.net. }",
            "{ name: sub, type: DS, data: 46294 13 2 36F0BC752CAB174 }",
        ],
        "zones[0].static[1].data",
        "is not hexadecimal",
    );
    one_error(
        &[
            "{ name: sub, type: NS, data: ns.example.net. }",
            "{ name: www.sub, type: TXT, data: x }",
        ],
        "zones[0].static[1].name",
        "lies below the delegation sub.global.example.test.",
    );
    // An address below the cut that no NS names is not glue either.
    one_error(
        &[
            "{ name: sub, type: NS, data: ns.sub }",
            "{ name: ns.sub, type: A, data: 192.0.2.1 }",
            "{ name: host.sub, type: A, data: 192.0.2.2 }",
        ],
        "zones[0].static[2].name",
        "only glue",
    );
}

#[test]
fn a_name_server_inside_its_delegation_needs_glue() {
    one_error(
        &["{ name: sub, type: NS, data: ns.sub }"],
        "zones[0].static[0].data",
        "lies inside the delegation sub.global.example.test. (zones[0].static[0]), so it needs glue",
    );
}

#[test]
fn no_gslb_record_at_or_below_a_delegation() {
    one_error(
        &["{ name: webapp, type: NS, data: ns.example.net. }"],
        "zones[0].static[0].name",
        "a GSLB record cannot sit at or below a delegation",
    );
    one_error(
        &["{ name: global.example.test., type: NS, data: ns.example.net. }"],
        "zones[0].static[0].type",
        "apex NS records",
    );
}

#[test]
fn ns_mx_and_srv_point_at_canonical_names() {
    one_error(
        &[
            "{ name: alias, type: CNAME, data: webapp }",
            "{ name: '@', type: MX, data: 10 alias }",
        ],
        "zones[0].static[1].data",
        "is a CNAME (zones[0].static[0]); MX records must point at a canonical name",
    );
}

#[test]
fn cname_chains_end_and_never_loop() {
    let loop_errors = errors(&[
        "{ name: a, type: CNAME, data: b }",
        "{ name: b, type: CNAME, data: a }",
    ]);
    assert_eq!(loop_errors.len(), 2, "{loop_errors:#?}");
    assert!(loop_errors[0].contains("the CNAME chain loops: a.global.example.test. -> b.global.example.test. -> a.global.example.test."), "{loop_errors:#?}");
    let chain: Vec<String> = (0..10)
        .map(|i| format!("{{ name: c{i}, type: CNAME, data: c{} }}", i + 1))
        .collect();
    let chain: Vec<&str> = chain.iter().map(String::as_str).collect();
    let errors = errors(&chain);
    assert!(
        errors[0].starts_with("zones[0].static[0].data: the CNAME chain from c0.global.example.test. is longer than 8 links"),
        "{errors:#?}"
    );
}

#[test]
fn names_in_a_nested_zone_belong_to_that_zone() {
    let yaml = config(&["{ name: x.inner.global.example.test., type: TXT, data: x }"]).replace(
        "\nrecords:",
        r#"
  - origin: inner.global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:"#,
    );
    let Err(ConfigErrors(errors)) = load(&yaml) else {
        panic!("accepted");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("lies in the zone inner.global.example.test., which gslb also serves"),
        "{errors:?}"
    );
}

#[test]
fn static_and_gslb_records_count_against_max_records() {
    let yaml = config(&[
        "{ name: a, type: TXT, data: x }",
        "{ name: b, type: TXT, data: y }",
    ])
    .replace("dns_listen:", "max_records: 2, dns_listen:");
    let Err(ConfigErrors(errors)) = load(&yaml) else {
        panic!("accepted");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "zones");
    assert!(
        errors[0]
            .message
            .contains("more than server.max_records (2)"),
        "{errors:?}"
    );
}
