//! The mapping, manifest by manifest: the README example, weighted, failover
//! and geo pairs, every rejection, merging and conflict rules, and
//! deterministic output.

use kube::api::DynamicObject;

use super::*;
use crate::config::raw::RawConfig;
use crate::crd_sync::sink::render;
use crate::crd_sync::unsupported::Place;

/// The server config the fixtures are checked against.
const CONFIG: &str = r#"
server: { dns_listen: ["127.0.0.1:0"], record_files: [/var/run/gslb/crd-records.yaml] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  ingress-http: { kind: http, path: /healthz }
records:
  - name: static.global.example.test.
    sets: [{ id: a, targets: [192.0.2.99] }]
"#;

/// The example of the issue, exactly as Route 53 users write it.
const README_EXAMPLE: &str = include_str!("../../../deploy/examples/route53-webapp-global.yaml");

fn scope() -> RecordScope {
    let raw: RawConfig = serde_saphyr::from_str(CONFIG).expect("test config parses");
    RecordScope::from_config(&raw, "gslb.yaml").expect("test config is valid")
}

fn origins_scope() -> RecordScope {
    RecordScope::from_origins(&["global.example.test"], "--zones").expect("valid origin")
}

/// Objects from a multi-document manifest; `creationTimestamp` is filled
/// in document order (a second apart) unless the manifest sets one.
fn objects(yaml: &str) -> Vec<DnsEndpoint> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).expect("manifest parses");
    docs.into_iter()
        .enumerate()
        .map(|(i, mut doc)| {
            let meta = &mut doc["metadata"];
            if meta.get("creationTimestamp").is_none() {
                meta["creationTimestamp"] = format!("2024-01-01T00:00:{i:02}Z").into();
            }
            meta["uid"] = format!("uid-{i}").into();
            meta["generation"] = 1.into();
            let object: DynamicObject = serde_json::from_value(doc).expect("object shape");
            DnsEndpoint::from_dynamic(&object)
        })
        .collect()
}

fn run(yaml: &str) -> Conversion {
    convert(&objects(yaml), &scope())
}

/// A manifest of one object `ns/name` with the given endpoints (YAML list
/// items, indented by two spaces).
fn object(ns: &str, name: &str, endpoints: &str) -> String {
    format!(
        "apiVersion: externaldns.k8s.io/v1alpha1\nkind: DNSEndpoint\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  endpoints:\n{endpoints}"
    )
}

/// An A endpoint of `name` with set id `id`, targets and extra keys.
fn a(name: &str, id: &str, targets: &str, keys: &[(&str, &str)]) -> String {
    let mut text = format!(
        "  - dnsName: {name}\n    recordType: A\n    targets: [{targets}]\n    setIdentifier: {id}\n"
    );
    if !keys.is_empty() {
        text.push_str("    providerSpecific:\n");
        for (k, v) in keys {
            text.push_str(&format!("    - {{name: {k:?}, value: {v:?}}}\n"));
        }
    }
    text
}

fn docs(parts: &[String]) -> String {
    parts.join("---\n")
}

fn only_record(c: &Conversion) -> &RawRecord {
    assert_eq!(c.file.records.len(), 1, "{:#?}", c.file);
    &c.file.records[0]
}

fn set<'c>(record: &'c RawRecord, id: &str) -> &'c RawSet {
    record
        .sets
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("set {id} in {record:#?}"))
}

const W: &str = "webapp.global.example.test";

#[test]
fn readme_example_is_one_set_of_three_targets_without_geo() {
    let c = run(README_EXAMPLE);
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    let r = only_record(&c);
    assert_eq!(r.name, "webapp.global.example.test.");
    assert_eq!(r.ttl, Some(60));
    assert_eq!(r.sets.len(), 1);
    let s = set(r, "global");
    assert_eq!(s.targets, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]);
    assert_eq!((s.geo.as_ref(), s.weight, s.priority), (None, None, None));
    assert_eq!(
        c.accepted_objects,
        [ObjectKey::new("production", "webapp-global")]
    );
    assert_eq!(c.accepted_endpoints, 1);
}

#[test]
fn weighted_pair_is_one_record_with_two_weighted_sets() {
    let c = run(&docs(&[
        object(
            "prod",
            "us",
            &a(W, "us-east", "192.0.2.10", &[("aws/weight", "3")]),
        ),
        object(
            "prod",
            "eu",
            &a(W, "eu-west", "192.0.2.20", &[("aws/weight", "1")]),
        ),
    ]));
    let r = only_record(&c);
    assert_eq!(
        r.sets.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["eu-west", "us-east"]
    );
    assert_eq!(set(r, "us-east").weight, Some(3));
    assert_eq!(set(r, "eu-west").weight, Some(1));
    assert_eq!(c.accepted_objects.len(), 2);
}

#[test]
fn failover_pair_maps_primary_and_secondary_to_priorities() {
    let c = run(&docs(&[
        object(
            "prod",
            "p",
            &a(W, "primary", "192.0.2.10", &[("aws/failover", "PRIMARY")]),
        ),
        object(
            "prod",
            "s",
            &a(
                W,
                "secondary",
                "192.0.2.20",
                &[("aws/failover", "secondary")],
            ),
        ),
    ]));
    let r = only_record(&c);
    assert_eq!(set(r, "primary").priority, Some(0));
    assert_eq!(set(r, "secondary").priority, Some(1));
}

#[test]
fn geo_by_continent_country_and_subdivision() {
    let c = run(&docs(&[object(
        "prod",
        "geo",
        &[
            a(
                W,
                "eu",
                "192.0.2.1",
                &[("aws/geolocation-continent-code", "EU")],
            ),
            a(
                W,
                "de",
                "192.0.2.2",
                &[("aws/geolocation-country-code", "de")],
            ),
            a(
                W,
                "ca",
                "192.0.2.3",
                &[
                    ("aws/geolocation-country-code", "US"),
                    ("aws/geolocation-subdivision-code", "CA"),
                ],
            ),
            a(
                W,
                "tx",
                "192.0.2.4",
                &[("aws/geolocation-subdivision-code", "TX")],
            ),
            a(
                W,
                "gslb",
                "192.0.2.5",
                &[
                    ("gslb/continents", "na, sa"),
                    ("gslb/countries", "JP"),
                    ("gslb/subdivisions", "CA-QC"),
                    ("aws/geolocation-continent-code", "EU"),
                ],
            ),
        ]
        .concat(),
    )]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    let r = only_record(&c);
    let geo = |id| set(r, id).geo.clone().expect("geo");
    assert_eq!(geo("eu").continents, ["EU"]);
    assert_eq!(geo("de").countries, ["DE"]);
    assert_eq!(
        (geo("ca").countries.len(), geo("ca").subdivisions.clone()),
        (0, vec!["US-CA".to_owned()])
    );
    assert_eq!(geo("tx").subdivisions, ["US-TX"]);
    let g = geo("gslb");
    assert_eq!(
        (g.continents, g.countries, g.subdivisions),
        (
            vec!["NA".to_owned(), "SA".to_owned()],
            vec!["JP".to_owned()],
            vec!["CA-QC".to_owned()]
        ),
        "gslb/* keys win over aws/* ones"
    );
}

#[test]
fn gslb_keys_set_weight_priority_location_and_health_check() {
    let c = run(&object(
        "prod",
        "x",
        &a(
            W,
            "x",
            "192.0.2.1",
            &[
                ("gslb/weight", "7"),
                ("aws/weight", "2"),
                ("gslb/priority", "2"),
                ("gslb/lat", "39.0"),
                ("gslb/lon", "-77.5"),
                ("gslb/health-check", "ingress-http"),
            ],
        ),
    ));
    let s = set(only_record(&c), "x").clone();
    assert_eq!((s.weight, s.priority), (Some(7), Some(2)));
    assert_eq!(
        s.location,
        Some(RawLocation {
            lat: 39.0,
            lon: -77.5
        })
    );
    assert_eq!(s.health_check.as_deref(), Some("ingress-http"));
}

#[test]
fn keys_gslb_does_not_honour_are_reported_and_the_endpoint_served() {
    let c = run(&object(
        "prod",
        "x",
        &a(
            W,
            "x",
            "192.0.2.1",
            &[
                ("aws/region", "us-east-1"),
                ("aws/evaluate-target-health", "true"),
                ("alias", "false"),
                ("aws/health-check-id", "abc"),
                ("aws/multi-value-answer", "true"),
                ("aws/geoproximity-bias", "10"),
                ("aws/weight", "3"),
            ],
        ),
    ));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(
        set(only_record(&c), "x").weight,
        Some(3),
        "the rest is mapped"
    );
    let reported: Vec<(&str, &str)> = c
        .unsupported
        .iter()
        .map(|u| (u.property.as_str(), u.label()))
        .collect();
    assert_eq!(
        reported,
        [
            ("aws/region", "aws/region"),
            ("aws/evaluate-target-health", "aws/evaluate-target-health"),
            ("alias", "other"),
            ("aws/health-check-id", "aws/health-check-id"),
            ("aws/multi-value-answer", "aws/multi-value-answer"),
            ("aws/geoproximity-bias", "aws/geoproximity-bias"),
        ]
    );
    assert!(
        c.unsupported
            .iter()
            .all(|u| u.object == ObjectKey::new("prod", "x") && u.place == Place::Endpoint(0))
    );
    assert!(
        c.unsupported[0]
            .to_string()
            .contains("no latency-based routing"),
        "{}",
        c.unsupported[0]
    );
}

#[test]
fn dns_annotations_on_the_object_are_reported() {
    let c = run(&object_with(
        "prod",
        "x",
        "annotations: {external-dns.alpha.kubernetes.io/aws-region: us-east-1, gslb.io/sharedwith: b, team: web}",
        &a(W, "x", "192.0.2.1", &[]),
    ));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(c.file.records.len(), 1);
    let reported: Vec<(&str, &Place, &str)> = c
        .unsupported
        .iter()
        .map(|u| (u.property.as_str(), &u.place, u.label()))
        .collect();
    assert_eq!(
        reported,
        [
            (
                "external-dns.alpha.kubernetes.io/aws-region",
                &Place::Annotations,
                "annotation"
            ),
            ("gslb.io/sharedwith", &Place::Annotations, "annotation"),
        ]
    );
    assert!(
        c.unsupported[0]
            .to_string()
            .ends_with("providerSpecific as aws/region"),
        "{}",
        c.unsupported[0]
    );
}

#[test]
fn geoproximity_coordinates_are_the_sets_location() {
    let c = run(&docs(&[
        object(
            "prod",
            "us",
            &a(
                W,
                "us",
                "192.0.2.1",
                &[("aws/geoproximity-coordinates", "39.04, -77.49")],
            ),
        ),
        object(
            "prod",
            "eu",
            &a(
                W,
                "eu",
                "192.0.2.2",
                &[
                    ("aws/geoproximity-coordinates", "1,2"),
                    ("gslb/lat", "50.11"),
                    ("gslb/lon", "8.68"),
                ],
            ),
        ),
    ]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let r = only_record(&c);
    assert_eq!(
        set(r, "us").location,
        Some(RawLocation {
            lat: 39.04,
            lon: -77.49
        })
    );
    assert_eq!(
        set(r, "eu").location,
        Some(RawLocation {
            lat: 50.11,
            lon: 8.68
        }),
        "gslb/lat and gslb/lon win"
    );

    for (value, says) in [
        ("39.04", "is not \"LATITUDE,LONGITUDE\""),
        ("north,south", "is not \"LATITUDE,LONGITUDE\""),
        (
            "95,10",
            "location (gslb/lat and gslb/lon, or aws/geoproximity-coordinates)",
        ),
    ] {
        let c = run(&object(
            "prod",
            "x",
            &a(
                W,
                "x",
                "192.0.2.1",
                &[("aws/geoproximity-coordinates", value)],
            ),
        ));
        assert_eq!(c.rejections.len(), 1, "{value}");
        let rejection = &c.rejections[0];
        assert_eq!(rejection.reason, Reason::ProviderSpecific, "{value}");
        assert!(
            rejection.detail.contains(says),
            "{value}: {}",
            rejection.detail
        );
    }
}

/// Each case: one bad endpoint next to a good one in the same object; the
/// bad one is rejected with `reason` and a message containing `says`, the
/// good one is still written.
#[test]
fn every_rejection_names_the_endpoint_and_keeps_the_rest() {
    let good = a("good.global.example.test", "ok", "192.0.2.1", &[]);
    let cases: Vec<(&str, String, Reason, &str)> = vec![
        (
            "MX",
            format!("  - dnsName: {W}\n    recordType: MX\n    targets: [\"10 mx.example.com\"]\n"),
            Reason::RecordType,
            "recordType MX is not served",
        ),
        (
            "address in CNAME",
            format!("  - dnsName: {W}\n    recordType: CNAME\n    targets: [192.0.2.7]\n"),
            Reason::Target,
            "192.0.2.7 of a CNAME endpoint is not a host name",
        ),
        (
            "TXT",
            format!("  - dnsName: {W}\n    recordType: TXT\n    targets: [\"hello\"]\n"),
            Reason::RecordType,
            "recordType TXT",
        ),
        (
            "neither an IP nor a host name",
            a(W, "x", "\"lb example.com\"", &[]),
            Reason::Target,
            "\"lb example.com\" is neither an IP address nor a host name",
        ),
        (
            "bad IPv4",
            a(W, "x", "10.0.0.300", &[]),
            Reason::Target,
            "not an IP address",
        ),
        (
            "IPv6 in A",
            a(W, "x", "\"2001:db8::1\"", &[]),
            Reason::Target,
            "does not fit recordType A",
        ),
        (
            "an address no client can connect to",
            a(W, "x", "0.0.0.0", &[]),
            Reason::Target,
            "targets: 0.0.0.0 is the unspecified address",
        ),
        (
            "no targets",
            a(W, "x", "", &[]),
            Reason::Target,
            "targets is empty",
        ),
        (
            "outside zones",
            a("www.example.org", "x", "192.0.2.1", &[]),
            Reason::Name,
            "not inside a served zone",
        ),
        (
            "bad name",
            a("bad name.global.example.test", "x", "192.0.2.1", &[]),
            Reason::Name,
            "not a domain name",
        ),
        (
            "empty name",
            a("\"\"", "x", "192.0.2.1", &[]),
            Reason::Name,
            "dnsName is empty",
        ),
        (
            "name the config defines",
            a("static.global.example.test", "x", "192.0.2.1", &[]),
            Reason::Name,
            "already defined in gslb.yaml records[0]",
        ),
        (
            "name server name",
            a("ns1.global.example.test", "x", "192.0.2.1", &[]),
            Reason::Name,
            "is a name server",
        ),
        (
            "unknown gslb key",
            a(W, "x", "192.0.2.1", &[("gslb/wieght", "1")]),
            Reason::ProviderSpecific,
            "unknown key gslb/wieght",
        ),
        (
            "key twice",
            a(
                W,
                "x",
                "192.0.2.1",
                &[("aws/weight", "1"), ("aws/weight", "2")],
            ),
            Reason::ProviderSpecific,
            "given twice",
        ),
        (
            "weight not a number",
            a(W, "x", "192.0.2.1", &[("aws/weight", "heavy")]),
            Reason::ProviderSpecific,
            "not an integer",
        ),
        (
            "weight out of range",
            a(W, "x", "192.0.2.1", &[("gslb/weight", "-1")]),
            Reason::ProviderSpecific,
            "weight",
        ),
        (
            "bad failover",
            a(W, "x", "192.0.2.1", &[("aws/failover", "TERTIARY")]),
            Reason::ProviderSpecific,
            "not PRIMARY or SECONDARY",
        ),
        (
            "continent with country",
            a(
                W,
                "x",
                "192.0.2.1",
                &[
                    ("aws/geolocation-continent-code", "EU"),
                    ("aws/geolocation-country-code", "DE"),
                ],
            ),
            Reason::ProviderSpecific,
            "cannot be combined",
        ),
        (
            "subdivision with star",
            a(
                W,
                "x",
                "192.0.2.1",
                &[
                    ("aws/geolocation-country-code", "*"),
                    ("aws/geolocation-subdivision-code", "CA"),
                ],
            ),
            Reason::ProviderSpecific,
            "needs a country code",
        ),
        (
            "bad country",
            a(
                W,
                "x",
                "192.0.2.1",
                &[("aws/geolocation-country-code", "ZZ")],
            ),
            Reason::ProviderSpecific,
            "\"ZZ\" is not an ISO 3166-1",
        ),
        (
            "bad continent",
            a(W, "x", "192.0.2.1", &[("gslb/continents", "EU,XX")]),
            Reason::ProviderSpecific,
            "continent code",
        ),
        (
            "lat alone",
            a(W, "x", "192.0.2.1", &[("gslb/lat", "1")]),
            Reason::ProviderSpecific,
            "together",
        ),
        (
            "lat NaN",
            a(
                W,
                "x",
                "192.0.2.1",
                &[("gslb/lat", "NaN"), ("gslb/lon", "1")],
            ),
            Reason::ProviderSpecific,
            "not a number",
        ),
        (
            "lat off Earth",
            a(
                W,
                "x",
                "192.0.2.1",
                &[("gslb/lat", "91"), ("gslb/lon", "1")],
            ),
            Reason::ProviderSpecific,
            "not on Earth",
        ),
        (
            "unknown health check",
            a(W, "x", "192.0.2.1", &[("gslb/health-check", "nope")]),
            Reason::HealthCheck,
            "\"nope\" is not defined in health_checks",
        ),
        (
            "set id with a space",
            a(W, "\"us east\"", "192.0.2.1", &[]),
            Reason::SetId,
            "setIdentifier",
        ),
        (
            "TTL too long",
            format!(
                "  - dnsName: {W}\n    recordType: A\n    recordTTL: 999999\n    targets: [192.0.2.1]\n"
            ),
            Reason::Ttl,
            "recordTTL: 999999 is out of range",
        ),
        (
            "does not decode",
            format!("  - dnsName: {W}\n    targets: 192.0.2.1\n"),
            Reason::Decode,
            "targets does not decode",
        ),
    ];
    for (what, bad, reason, says) in cases {
        let c = run(&object("prod", "obj", &format!("{good}{bad}")));
        assert_eq!(c.rejections.len(), 1, "{what}: {:?}", c.rejections);
        let r = &c.rejections[0];
        assert_eq!((r.endpoint, r.reason), (1, reason), "{what}: {r}");
        assert!(
            r.detail.contains(says),
            "{what}: {:?} should say {says:?}",
            r.detail
        );
        assert_eq!(r.object, ObjectKey::new("prod", "obj"), "{what}");
        assert_eq!(c.file.records.len(), 1, "{what}: the good endpoint stays");
        assert_eq!(c.file.records[0].name, "good.global.example.test.");
        assert!(
            c.accepted_objects.is_empty(),
            "{what}: no observedGeneration for a partly rejected object"
        );
    }
}

#[test]
fn health_checks_cannot_be_verified_with_a_zone_list() {
    let objs = objects(&object(
        "prod",
        "x",
        &a(
            W,
            "x",
            "192.0.2.1",
            &[("gslb/health-check", "ingress-http")],
        ),
    ));
    let c = convert(&objs, &origins_scope());
    assert_eq!(c.rejections.len(), 1);
    assert_eq!(c.rejections[0].reason, Reason::HealthCheck);
    assert!(
        c.rejections[0].detail.contains("--zones FILE"),
        "{}",
        c.rejections[0].detail
    );
    // Without the key, a zone list is enough.
    let objs = objects(&object("prod", "x", &a(W, "x", "192.0.2.1", &[])));
    assert_eq!(convert(&objs, &origins_scope()).file.records.len(), 1);
}

#[test]
fn one_name_from_several_objects_is_one_record() {
    let c = run(&docs(&[
        object("team-a", "web-us", &a(W, "us", "192.0.2.10", &[])),
        object(
            "team-a",
            "web-eu",
            &a("WebApp.Global.Example.Test.", "eu", "192.0.2.20", &[]),
        ),
    ]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    let r = only_record(&c);
    assert_eq!(r.sets.len(), 2);
}

#[test]
fn default_set_id_is_namespace_slash_name() {
    let c = run(&object(
        "prod",
        "web",
        &format!("  - dnsName: {W}\n    recordType: A\n    targets: [192.0.2.1]\n"),
    ));
    assert_eq!(only_record(&c).sets[0].id, "prod/web");
}

#[test]
fn the_older_object_owns_a_set_id_whatever_the_order() {
    let older = object("prod", "b-older", &a(W, "shared", "192.0.2.1", &[]));
    let newer = object("prod", "a-newer", &a(W, "shared", "192.0.2.2", &[]));
    let yaml = docs(&[older.clone(), newer.clone()]);
    let mut objs = objects(&yaml);
    let forward = convert(&objs, &scope());
    objs.reverse();
    let backward = convert(&objs, &scope());
    assert_eq!(forward, backward);
    assert_eq!(set(only_record(&forward), "shared").targets, ["192.0.2.1"]);
    let r = &forward.rejections[0];
    assert_eq!(
        (r.reason, r.object.name.as_str()),
        (Reason::Conflict, "a-newer")
    );
    assert!(
        r.detail.contains("already claimed by prod/b-older"),
        "{}",
        r.detail
    );
    assert_eq!(
        forward.accepted_objects,
        [ObjectKey::new("prod", "b-older")]
    );
    // Created in the same second: namespace/name decides.
    let mut objs = objects(&docs(&[older, newer]));
    for o in &mut objs {
        o.created_secs = Some(0);
    }
    let c = convert(&objs, &scope());
    assert_eq!(set(only_record(&c), "shared").targets, ["192.0.2.2"]);
    assert_eq!(c.rejections[0].object.name, "b-older");
}

#[test]
fn a_and_aaaa_of_one_object_merge_into_one_set() {
    let c = run(&object(
        "prod",
        "dual",
        &format!(
            "{}  - dnsName: {W}\n    recordType: AAAA\n    targets: [\"2001:db8::1\"]\n    setIdentifier: x\n    providerSpecific: [{{name: aws/weight, value: \"2\"}}]\n",
            a(W, "x", "192.0.2.1", &[("aws/weight", "2")])
        ),
    ));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(
        set(only_record(&c), "x").targets,
        ["192.0.2.1", "2001:db8::1"]
    );
    assert_eq!(c.accepted_endpoints, 2);
    // Different routing keys for one set id in one object: the later loses.
    let c = run(&object(
        "prod",
        "dual",
        &[
            a(W, "x", "192.0.2.1", &[("aws/weight", "2")]),
            a(W, "x", "192.0.2.2", &[("aws/weight", "5")]),
        ]
        .concat(),
    ));
    assert_eq!(c.rejections.len(), 1);
    assert_eq!(
        (c.rejections[0].endpoint, c.rejections[0].reason),
        (1, Reason::Conflict)
    );
    assert_eq!(set(only_record(&c), "x").targets, ["192.0.2.1"]);
}

#[test]
fn different_ttls_for_one_name_take_the_lowest_with_a_notice() {
    let ep = |id: &str, ttl: i64| {
        format!(
            "  - dnsName: {W}\n    recordType: A\n    recordTTL: {ttl}\n    targets: [192.0.2.1]\n    setIdentifier: {id}\n"
        )
    };
    let c = run(&docs(&[
        object("p", "a", &ep("a", 300)),
        object("p", "b", &ep("b", 60)),
    ]));
    assert_eq!(only_record(&c).ttl, Some(60));
    assert!(
        matches!(&c.notices[..], [Notice::TtlConflict { chosen: 60, asked, .. }] if asked.len() == 2)
    );
    // recordTTL 0 means "not set": the zone's TTL applies.
    let c = run(&object("p", "a", &ep("a", 0)));
    assert_eq!(only_record(&c).ttl, None);
}

#[test]
fn output_is_deterministic() {
    let yaml = docs(&[
        object(
            "p",
            "obj-z",
            &[
                a(
                    "b.global.example.test",
                    "z",
                    "192.0.2.9, 192.0.2.1, 192.0.2.1",
                    &[],
                ),
                a(W, "z", "192.0.2.3", &[]),
            ]
            .concat(),
        ),
        object("p", "obj-y", &a(W, "set-y", "192.0.2.4", &[])),
        object(
            "p",
            "obj-x",
            &a("a.global.example.test", "x", "192.0.2.5", &[]),
        ),
    ]);
    let mut objs = objects(&yaml);
    let first = render(&convert(&objs, &scope()).file).expect("renders");
    objs.reverse();
    let second = render(&convert(&objs, &scope()).file).expect("renders");
    assert_eq!(first, second);
    let c = convert(&objs, &scope());
    let names: Vec<&str> = c.file.records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a.global.example.test.",
            "b.global.example.test.",
            "webapp.global.example.test."
        ]
    );
    assert_eq!(
        c.file.records[1].sets[0].targets,
        ["192.0.2.1", "192.0.2.9"],
        "sorted, de-duplicated"
    );
    assert_eq!(
        c.file.records[2]
            .sets
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["set-y", "z"]
    );
}

#[test]
fn the_deploy_examples_convert_into_two_sets() {
    let yaml = docs(&[
        include_str!("../../../deploy/examples/webapp-us-east.yaml").to_owned(),
        include_str!("../../../deploy/examples/webapp-eu-west.yaml").to_owned(),
    ]);
    let c = run(&yaml);
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    let r = only_record(&c);
    let us = set(r, "us-east");
    assert_eq!(us.targets, ["192.0.2.10", "192.0.2.11", "2001:db8:10::10"]);
    assert_eq!(
        (us.weight, us.geo.as_ref().map(|g| g.continents.clone())),
        (Some(3), Some(vec!["NA".to_owned()]))
    );
    assert_eq!(
        set(r, "eu-west").location,
        Some(RawLocation {
            lat: 53.3,
            lon: -6.3
        })
    );
    assert_eq!(r.ttl, Some(30));
}

/// Whatever the input, the file written loads in the server: the point of
/// checking every endpoint with the server's own checks.
#[test]
fn every_written_file_loads_in_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = dir.path().join("crd.yaml");
    let config = dir.path().join("gslb.yaml");
    std::fs::write(
        &config,
        CONFIG.replace(
            "/var/run/gslb/crd-records.yaml",
            &records.display().to_string(),
        ),
    )
    .expect("write config");
    let messy = docs(&[
        README_EXAMPLE.trim_start().to_owned(),
        object("p", "dupe", &a(W, "global", "192.0.2.1", &[])),
        object(
            "p",
            "geo",
            &a(W, "g", "192.0.2.2", &[("gslb/countries", "NO,ZZ")]),
        ),
        object(
            "p",
            "hc",
            &a(
                "x.global.example.test",
                "h",
                "192.0.2.3",
                &[("gslb/health-check", "ingress-http")],
            ),
        ),
        object(
            "p",
            "static",
            &a("static.global.example.test", "s", "192.0.2.4", &[]),
        ),
        object(
            "p",
            "six",
            "  - {dnsName: v6.global.example.test, recordType: AAAA, targets: [\"2001:db8::1\"]}\n",
        ),
    ]);
    let c = run(&messy);
    assert_eq!(c.rejections.len(), 3, "{:#?}", c.rejections);
    std::fs::write(&records, render(&c.file).expect("renders")).expect("write records");
    let loaded =
        crate::config::load_with_env(&config, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.records.len(), 4, "static + webapp + x + v6");
}

// ---------------------------------------------------------------- ownership

/// Like [`object`], with more `metadata` entries (a YAML flow-map body such
/// as `annotations: {...}`).
fn object_with(ns: &str, name: &str, meta: &str, endpoints: &str) -> String {
    format!(
        "apiVersion: externaldns.k8s.io/v1alpha1\nkind: DNSEndpoint\nmetadata: {{name: {name}, namespace: {ns}, {meta}}}\nspec:\n  endpoints:\n{endpoints}"
    )
}

/// The metadata entry of an owner sharing its names with `namespaces`.
fn shared_with(namespaces: &str) -> String {
    format!("annotations: {{gslb.io/shared-with: {namespaces:?}}}")
}

/// [`a`] with a `recordTTL`.
fn a_ttl(name: &str, id: &str, targets: &str, ttl: i64, keys: &[(&str, &str)]) -> String {
    a(name, id, targets, keys).replacen(
        "    recordType: A\n",
        &format!("    recordType: A\n    recordTTL: {ttl}\n"),
        1,
    )
}

fn ids(record: &RawRecord) -> Vec<&str> {
    record.sets.iter().map(|s| s.id.as_str()).collect()
}

/// The rejections as (object, reason).
fn rejected(c: &Conversion) -> Vec<(String, Reason)> {
    c.rejections
        .iter()
        .map(|r| (r.object.to_string(), r.reason))
        .collect()
}

/// team-a's webapp, as in the issue: us-east and eu-west, weight 100.
fn team_a_webapp() -> String {
    object(
        "team-a",
        "webapp",
        &[
            a_ttl(W, "us-east", "192.0.2.10", 30, &[("gslb/weight", "100")]),
            a_ttl(W, "eu-west", "192.0.2.20", 30, &[("gslb/weight", "100")]),
        ]
        .concat(),
    )
}

/// The attacker of the issue: its own set, a huge weight and a TTL of 1.
fn attacker() -> String {
    object(
        "attacker",
        "innocent",
        &a_ttl(W, "x", "198.51.100.66", 1, &[("gslb/weight", "1000000")]),
    )
}

/// Another namespace's endpoints for team-a's name,
/// whatever their weight and TTL, are rejected naming the owner; the record
/// keeps team-a's sets and TTL.
#[test]
fn issue_9_another_namespace_cannot_add_a_set_to_a_name() {
    let mut objs = objects(&docs(&[team_a_webapp(), attacker()]));
    let c = convert(&objs, &scope());
    assert_eq!(rejected(&c), [("attacker/innocent".into(), Reason::Owner)]);
    let detail = &c.rejections[0].detail;
    for says in [
        "webapp.global.example.test. belongs to namespace team-a",
        "team-a/webapp",
        "gslb.io/shared-with",
    ] {
        assert!(detail.contains(says), "{says:?} in {detail}");
    }
    assert!(
        !detail.contains("  "),
        "one sentence, single-spaced: {detail}"
    );
    let r = only_record(&c);
    assert_eq!(ids(r), ["eu-west", "us-east"]);
    assert_eq!(r.ttl, Some(30), "the attacker's recordTTL 1 is not taken");
    assert_eq!(c.accepted_objects, [ObjectKey::new("team-a", "webapp")]);
    // The order of the list does not matter, only creation times do.
    objs.reverse();
    assert_eq!(convert(&objs, &scope()), c);
}

/// An object created to squat a set id of a name does
/// not take over when the owner re-creates the object that had that set
/// (the re-created one is younger than the squatter's): the name still
/// belongs to the owner's namespace, which has another object for it.
#[test]
fn issue_9_a_squatted_set_id_does_not_take_over_when_its_owner_is_recreated() {
    let us = |created: &str, target: &str| {
        object_with(
            "team-a",
            "webapp-us",
            &format!("creationTimestamp: \"{created}\""),
            &a(W, "us-east", target, &[]),
        )
    };
    let eu = object_with(
        "team-a",
        "webapp-eu",
        "creationTimestamp: \"2024-01-01T00:00:01Z\"",
        &a(W, "eu-west", "192.0.2.20", &[]),
    );
    let squat = object_with(
        "attacker",
        "squat",
        "creationTimestamp: \"2024-01-01T00:00:02Z\"",
        &a(W, "us-east", "198.51.100.66", &[("gslb/weight", "1000000")]),
    );
    let before = run(&docs(&[
        us("2024-01-01T00:00:00Z", "192.0.2.10"),
        eu.clone(),
        squat.clone(),
    ]));
    assert_eq!(
        rejected(&before),
        [("attacker/squat".into(), Reason::Owner)]
    );
    // team-a deletes webapp-us and creates it again, now younger than squat.
    let after = run(&docs(&[
        us("2024-01-01T00:01:00Z", "192.0.2.11"),
        eu,
        squat,
    ]));
    assert_eq!(rejected(&after), [("attacker/squat".into(), Reason::Owner)]);
    let r = only_record(&after);
    assert_eq!(set(r, "us-east").targets, ["192.0.2.11"]);
    assert_eq!(set(r, "us-east").weight, None);
}

/// When the owner namespace's last object for a name goes, the name passes
/// to the namespace of the next oldest claim.
#[test]
fn the_next_oldest_claim_owns_a_name_its_owner_left() {
    let b = object("team-b", "web", &a(W, "b", "192.0.2.2", &[]));
    let c_obj = object("team-c", "web", &a(W, "c", "192.0.2.3", &[]));
    let all = run(&docs(&[team_a_webapp(), b.clone(), c_obj.clone()]));
    assert_eq!(
        rejected(&all),
        [
            ("team-b/web".into(), Reason::Owner),
            ("team-c/web".into(), Reason::Owner)
        ]
    );
    // team-a's object deleted: team-b's (created before team-c's) owns it.
    let mut objs = objects(&docs(&[team_a_webapp(), b, c_obj]));
    objs.remove(0);
    let c = convert(&objs, &scope());
    assert_eq!(rejected(&c), [("team-c/web".into(), Reason::Owner)]);
    assert!(
        c.rejections[0]
            .detail
            .contains("belongs to namespace team-b"),
        "{}",
        c.rejections[0].detail
    );
    assert_eq!(ids(only_record(&c)), ["b"]);
    // An object with no creation time (never from an API server) is the
    // youngest of all.
    objs[0].created_secs = None;
    let c = convert(&objs, &scope());
    assert_eq!(rejected(&c), [("team-b/web".into(), Reason::Owner)]);
}

/// A typo in the owner's only endpoint rejects that endpoint, but the
/// object still claims the name: nobody else takes it meanwhile.
#[test]
fn a_rejected_endpoint_still_claims_its_name() {
    let c = run(&docs(&[
        object("team-a", "webapp", &a(W, "us-east", "192.0.2.300", &[])),
        attacker(),
    ]));
    assert_eq!(
        rejected(&c),
        [
            ("attacker/innocent".into(), Reason::Owner),
            ("team-a/webapp".into(), Reason::Target),
        ]
    );
    assert!(c.file.records.is_empty());
}

/// `gslb.io/shared-with` on the owner's object lets the listed namespaces
/// in (`*`: all); on anyone else's object it grants nothing.
#[test]
fn the_owner_shares_a_name_with_an_annotation() {
    let owner = |sharing: &str| {
        object_with(
            "team-a",
            "webapp",
            &shared_with(sharing),
            &a(W, "us-east", "192.0.2.10", &[]),
        )
    };
    let b = object_with(
        "team-b",
        "web",
        &shared_with("team-c"),
        &a(W, "b", "192.0.2.2", &[]),
    );
    let c_obj = object("team-c", "web", &a(W, "c", "192.0.2.3", &[]));
    let c = run(&docs(&[owner("team-b"), b.clone(), c_obj.clone()]));
    assert_eq!(
        rejected(&c),
        [("team-c/web".into(), Reason::Owner)],
        "team-b's annotation does not share team-a's name"
    );
    assert_eq!(ids(only_record(&c)), ["b", "us-east"]);
    let c = run(&docs(&[owner("team-b, team-c"), b.clone(), c_obj.clone()]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(ids(only_record(&c)), ["b", "c", "us-east"]);
    let c = run(&docs(&[owner("*"), b, c_obj]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
}

/// The owner namespace's objects that claim a name share it together (the
/// union of their lists); an object shares only the names it claims.
#[test]
fn the_owner_objects_shares_add_up_and_cover_their_own_names() {
    const API: &str = "api.global.example.test";
    let yaml = docs(&[
        object_with(
            "team-a",
            "one",
            &shared_with("team-b"),
            &a(W, "a1", "192.0.2.1", &[]),
        ),
        object_with(
            "team-a",
            "two",
            &shared_with("team-c"),
            &a(W, "a2", "192.0.2.2", &[]),
        ),
        object_with(
            "team-a",
            "api",
            &shared_with("team-d"),
            &a(API, "a", "192.0.2.3", &[]),
        ),
        object("team-b", "web", &a(W, "b", "192.0.2.4", &[])),
        object("team-c", "web", &a(W, "c", "192.0.2.5", &[])),
        object(
            "team-d",
            "web",
            &[a(W, "d", "192.0.2.6", &[]), a(API, "d", "192.0.2.7", &[])].concat(),
        ),
    ]);
    let mut objs = objects(&yaml);
    let c = convert(&objs, &scope());
    assert_eq!(rejected(&c), [("team-d/web".into(), Reason::Owner)]);
    assert_eq!(c.rejections[0].dns_name, W, "team-d is let in on api only");
    let web = c.file.records.iter().find(|r| r.name == format!("{W}."));
    assert_eq!(web.map(ids), Some(vec!["a1", "a2", "b", "c"]));
    let api = c.file.records.iter().find(|r| r.name == format!("{API}."));
    assert_eq!(api.map(ids), Some(vec!["a", "d"]));
    // team-a/two gone: its share of the name goes with it.
    objs.retain(|o| o.key.name != "two");
    let c = convert(&objs, &scope());
    assert_eq!(
        rejected(&c),
        [
            ("team-c/web".into(), Reason::Owner),
            ("team-d/web".into(), Reason::Owner)
        ]
    );
}

/// Only the owner's endpoints set the TTL; a shared namespace's recordTTL
/// is left out with a notice.
#[test]
fn only_the_owner_namespace_sets_the_ttl() {
    let guest = object("team-b", "web", &a_ttl(W, "b", "192.0.2.2", 1, &[]));
    let owner = |ttl: Option<i64>| {
        let endpoint = match ttl {
            Some(ttl) => a_ttl(W, "a", "192.0.2.1", ttl, &[]),
            None => a(W, "a", "192.0.2.1", &[]),
        };
        object_with("team-a", "web", &shared_with("team-b"), &endpoint)
    };
    let c = run(&docs(&[owner(Some(300)), guest.clone()]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(only_record(&c).ttl, Some(300));
    assert_eq!(
        c.notices,
        [Notice::TtlIgnored {
            name: format!("{W}."),
            chosen: Some(300),
            ignored: vec![(ObjectKey::new("team-b", "web"), 1)],
        }]
    );
    // The owner sets none: the zone's TTL, not the guest's.
    let c = run(&docs(&[owner(None), guest]));
    assert_eq!(only_record(&c).ttl, None);
}

/// A namespace the owner shares a name with cannot take one of the owner's
/// set ids, even with an object older than the owner's object for it.
#[test]
fn the_owner_namespace_keeps_its_set_ids() {
    let c = run(&docs(&[
        object_with(
            "team-a",
            "first",
            &shared_with("team-b"),
            &a(W, "a", "192.0.2.1", &[]),
        ),
        object("team-b", "web", &a(W, "us-east", "198.51.100.1", &[])),
        object("team-a", "second", &a(W, "us-east", "192.0.2.10", &[])),
    ]));
    assert_eq!(rejected(&c), [("team-b/web".into(), Reason::Conflict)]);
    assert!(
        c.rejections[0].detail.contains("claimed by team-a/second"),
        "{}",
        c.rejections[0].detail
    );
    assert_eq!(set(only_record(&c), "us-east").targets, ["192.0.2.10"]);
}

/// Ownership goes by namespace name over a plain list of objects: the same
/// namespace's objects read from two clusters count as one owner, with
/// their shares added up.
#[test]
fn ownership_takes_any_list_of_objects_and_goes_by_namespace_name() {
    let cluster_1 = object_with(
        "team-a",
        "webapp",
        &shared_with("team-b"),
        &a(W, "us-east", "192.0.2.10", &[]),
    );
    let cluster_2 = object_with(
        "team-a",
        "webapp",
        &shared_with("team-c"),
        &a(W, "eu-west", "192.0.2.20", &[]),
    );
    let objs = objects(&docs(&[
        cluster_1,
        object("team-d", "web", &a(W, "d", "192.0.2.4", &[])),
        cluster_2,
    ]));
    let owners = crate::crd_sync::ownership::owners(&objs);
    let owner = &owners[&format!("{W}.")];
    assert_eq!(
        (owner.namespace.as_str(), owner.object.to_string()),
        ("team-a", "team-a/webapp".to_owned())
    );
    assert!(owner.admits("team-a") && owner.admits("team-b") && owner.admits("team-c"));
    assert!(!owner.admits("team-d"));
}

// ------------------------------------------------------------ several clusters

/// Objects of a multi-document manifest as watched in `cluster`; each
/// manifest sets its own `creationTimestamp`.
fn in_cluster(cluster: &str, yaml: &str) -> Vec<DnsEndpoint> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).expect("manifest parses");
    docs.into_iter()
        .map(|mut doc| {
            let meta = &mut doc["metadata"];
            let uid = format!("{cluster}-{}-{}", meta["namespace"], meta["name"]);
            meta["uid"] = uid.into();
            meta["generation"] = 1.into();
            let object: DynamicObject = serde_json::from_value(doc).expect("object shape");
            DnsEndpoint::from_cluster(cluster, &object)
        })
        .collect()
}

/// [`object`] created at second `second` of 2024.
fn created(ns: &str, name: &str, second: u32, endpoints: &str) -> String {
    object_with(
        ns,
        name,
        &format!("creationTimestamp: \"2024-01-01T00:00:{second:02}Z\""),
        endpoints,
    )
}

/// An A endpoint of `W` without a set id.
fn anonymous(target: &str) -> String {
    format!("  - dnsName: {W}\n    recordType: A\n    targets: [{target}]\n")
}

/// Namespace sameness: team-a in one cluster and team-a in another are one
/// owner; another namespace's object is refused in whichever cluster it is,
/// even when it is older than the owner's object in that cluster.
#[test]
fn a_namespace_owns_a_name_in_every_cluster() {
    let mut objs = in_cluster(
        "us",
        &created("team-a", "webapp", 0, &a(W, "us-east", "192.0.2.10", &[])),
    );
    objs.extend(in_cluster(
        "eu",
        &docs(&[
            created("attacker", "innocent", 1, &a(W, "x", "198.51.100.66", &[])),
            created("team-a", "webapp", 5, &a(W, "eu-west", "192.0.2.20", &[])),
        ]),
    ));
    let c = convert(&objs, &scope());
    assert_eq!(ids(only_record(&c)), ["eu-west", "us-east"]);
    assert_eq!(
        rejected(&c),
        [("eu/attacker/innocent".into(), Reason::Owner)]
    );
    assert!(
        c.rejections[0]
            .detail
            .contains("belongs to namespace team-a (its object us/team-a/webapp claimed it first)"),
        "{}",
        c.rejections[0].detail
    );
    assert_eq!(
        c.accepted_objects,
        [
            ObjectKey::in_cluster("eu", "team-a", "webapp"),
            ObjectKey::in_cluster("us", "team-a", "webapp"),
        ]
    );
}

/// A set id given for one name in two clusters is a conflict: the older
/// object wins, and the rejection names the object in its own cluster (its
/// Event goes there).
#[test]
fn a_set_id_claimed_in_two_clusters_goes_to_the_older_object() {
    let us = created("production", "web", 7, &a(W, "global", "192.0.2.10", &[]));
    let eu = created("production", "web", 3, &a(W, "global", "192.0.2.20", &[]));
    for us_first in [true, false] {
        let (us, eu) = (in_cluster("us", &us), in_cluster("eu", &eu));
        let objs: Vec<DnsEndpoint> = if us_first {
            us.into_iter().chain(eu).collect()
        } else {
            eu.into_iter().chain(us).collect()
        };
        let c = convert(&objs, &scope());
        assert_eq!(set(only_record(&c), "global").targets, ["192.0.2.20"]);
        assert_eq!(
            rejected(&c),
            [("us/production/web".into(), Reason::Conflict)]
        );
        assert_eq!(c.rejections[0].object.cluster, "us");
        assert!(
            c.rejections[0]
                .detail
                .contains("already claimed by eu/production/web"),
            "{}",
            c.rejections[0].detail
        );
    }
}

/// Without `setIdentifier` the set id is the object's key: `NAMESPACE/NAME`
/// with one cluster (as before), `CLUSTER/NAMESPACE/NAME` with several, so
/// the same object applied to every cluster gives one set per cluster.
#[test]
fn default_set_ids_name_the_cluster_only_with_several_clusters() {
    let manifest = created("production", "web", 0, &anonymous("192.0.2.1"));
    let single = convert(&in_cluster("", &manifest), &scope());
    assert_eq!(ids(only_record(&single)), ["production/web"]);
    let mut objs = in_cluster("us", &manifest);
    objs.extend(in_cluster(
        "eu",
        &manifest.replace("192.0.2.1", "192.0.2.2"),
    ));
    let several = convert(&objs, &scope());
    assert!(several.rejections.is_empty(), "{:?}", several.rejections);
    let r = only_record(&several);
    assert_eq!(ids(r), ["eu/production/web", "us/production/web"]);
    assert_eq!(set(r, "eu/production/web").targets, ["192.0.2.2"]);
}

/// Objects created in the same second (one pipeline applying them to every
/// cluster): the older is the one of the first namespace, then name, then
/// cluster, so every sidecar decides alike.
#[test]
fn equal_creation_times_are_decided_by_namespace_name_then_cluster() {
    let mut objs = in_cluster("us", &created("b", "x", 0, &a(W, "s", "192.0.2.1", &[])));
    objs.extend(in_cluster(
        "ap",
        &created("b", "z", 0, &a(W, "s", "192.0.2.2", &[])),
    ));
    objs.extend(in_cluster(
        "eu",
        &created("b", "x", 0, &a(W, "s", "192.0.2.3", &[])),
    ));
    objs.extend(in_cluster(
        "ap",
        &created("c", "a", 0, &a(W, "t", "192.0.2.4", &[])),
    ));
    let c = convert(&objs, &scope());
    assert_eq!(set(only_record(&c), "s").targets, ["192.0.2.3"], "eu/b/x");
    assert_eq!(
        rejected(&c),
        [
            ("ap/b/z".into(), Reason::Conflict),
            ("ap/c/a".into(), Reason::Owner),
            ("us/b/x".into(), Reason::Conflict),
        ]
    );
}

/// The arrival order of the clusters' objects never changes the bytes.
#[test]
fn the_merged_file_is_the_same_whatever_the_arrival_order() {
    let mut objs = Vec::new();
    for (cluster, target) in [
        ("us", "192.0.2.1"),
        ("eu", "192.0.2.2"),
        ("ap", "192.0.2.3"),
    ] {
        objs.extend(in_cluster(
            cluster,
            &created("production", "web", 0, &anonymous(target)),
        ));
    }
    objs.extend(in_cluster(
        "eu",
        &created(
            "production",
            "api",
            1,
            &a(W, "us/production/web", "192.0.2.9", &[]),
        ),
    ));
    objs.extend(in_cluster(
        "ap",
        &created("other", "web", 1, &anonymous("198.51.100.1")),
    ));
    let expected = render(&convert(&objs, &scope()).file).expect("renders");
    let mut orders = 0;
    permutations(&mut objs, 0, &mut |order| {
        orders += 1;
        let c = convert(order.iter(), &scope());
        assert_eq!(render(&c.file).expect("renders"), expected);
    });
    assert_eq!(orders, 120);
    let c = convert(&objs, &scope());
    assert_eq!(
        ids(only_record(&c)),
        [
            "ap/production/web",
            "eu/production/web",
            "us/production/web"
        ]
    );
    assert_eq!(
        rejected(&c),
        [
            ("ap/other/web".into(), Reason::Owner),
            ("eu/production/api".into(), Reason::Conflict),
        ],
        "a younger object cannot take another cluster's default set id"
    );
}

/// Calls `visit` with every order of `items[k..]` (Heap's algorithm).
fn permutations<T>(items: &mut [T], k: usize, visit: &mut impl FnMut(&[T])) {
    if k + 1 >= items.len() {
        visit(items);
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permutations(items, k + 1, visit);
        items.swap(k, i);
    }
}

// ----------------------------------------------------------- hostname targets

#[test]
fn cname_endpoints_become_hostname_targets() {
    let c = run(&docs(&[
        object(
            "prod",
            "eks-us",
            &format!(
                "  - dnsName: {W}\n    recordType: CNAME\n    targets: [LB-1234.us-east-1.elb.example.test, lb-5678.us-east-1.elb.example.test.]\n    setIdentifier: us\n    providerSpecific: [{{name: aws/weight, value: \"3\"}}]\n"
            ),
        ),
        object(
            "prod",
            "gke-eu",
            &a(W, "eu", "192.0.2.20", &[("aws/weight", "1")]),
        ),
    ]));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    let r = only_record(&c);
    let us = set(r, "us");
    assert_eq!(
        us.targets,
        [
            "lb-1234.us-east-1.elb.example.test.",
            "lb-5678.us-east-1.elb.example.test."
        ],
        "host names, lower-cased and absolute"
    );
    assert_eq!(us.weight, Some(3));
    assert_eq!(set(r, "eu").targets, ["192.0.2.20"]);
}

#[test]
fn an_a_endpoint_may_name_a_host_and_mix_with_addresses() {
    let c = run(&object(
        "prod",
        "mixed",
        &a(W, "x", "lb.elb.example.test, 192.0.2.1", &[]),
    ));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    assert_eq!(
        set(only_record(&c), "x").targets,
        ["192.0.2.1", "lb.elb.example.test."],
        "addresses first, then host names"
    );
}

#[test]
fn a_file_with_hostname_targets_loads_in_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = dir.path().join("crd.yaml");
    let config = dir.path().join("gslb.yaml");
    std::fs::write(
        &config,
        CONFIG.replace(
            "/var/run/gslb/crd-records.yaml",
            &records.display().to_string(),
        ),
    )
    .expect("write config");
    let c = run(&object(
        "prod",
        "eks",
        &format!("  - dnsName: {W}\n    recordType: CNAME\n    targets: [lb.elb.example.test]\n"),
    ));
    assert!(c.rejections.is_empty(), "{:?}", c.rejections);
    std::fs::write(&records, render(&c.file).expect("renders")).expect("write records");
    let loaded =
        crate::config::load_with_env(&config, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let record = loaded
        .config
        .records
        .iter()
        .find(|r| r.name.to_string() == format!("{W}."))
        .expect("the CNAME endpoint's record");
    assert_eq!(
        record.sets[0].hostnames[0].to_string(),
        "lb.elb.example.test."
    );
    assert!(record.sets[0].targets.is_empty());
}

#[test]
fn endpoints_whose_hostname_targets_loop_are_left_out_whole() {
    // app → lb → app among the endpoints; a file with them would be
    // rejected by the server, stopping every later update.
    let manifest = object(
        "team-a",
        "loop",
        &[
            a(
                "app.global.example.test",
                "one",
                "lb.global.example.test",
                &[],
            ),
            a(
                "lb.global.example.test",
                "two",
                "app.global.example.test",
                &[],
            ),
            a(
                "ok.global.example.test",
                "three",
                "lb.elb.example.test",
                &[],
            ),
        ]
        .concat(),
    );
    let c = run(&manifest);
    assert_eq!(c.file.records.len(), 1, "{:#?}", c.rejections);
    assert_eq!(c.file.records[0].name, "ok.global.example.test.");
    let rejected: Vec<(usize, Reason)> = c
        .rejections
        .iter()
        .map(|r| (r.endpoint, r.reason))
        .collect();
    assert_eq!(rejected, [(0, Reason::Target), (1, Reason::Target)]);
    assert!(
        c.rejections[0].detail.contains(
            "loop through records gslb serves: app.global.example.test. → lb.global.example.test. → app.global.example.test."
        ),
        "{}",
        c.rejections[0].detail
    );

    // Through a record of the config itself.
    let raw: RawConfig = serde_saphyr::from_str(&CONFIG.replace(
        "targets: [192.0.2.99]",
        "targets: [edge.global.example.test.]",
    ))
    .expect("test config parses");
    let scope = RecordScope::from_config(&raw, "gslb.yaml").expect("valid");
    let manifest = object(
        "team-a",
        "edge",
        &a(
            "edge.global.example.test",
            "x",
            "static.global.example.test",
            &[],
        ),
    );
    let c = convert(&objects(&manifest), &scope);
    assert!(c.file.records.is_empty(), "{:#?}", c.file);
    assert!(
        c.rejections[0].detail.contains(
            "edge.global.example.test. → static.global.example.test. → edge.global.example.test."
        ),
        "{:?}",
        c.rejections
    );
}
