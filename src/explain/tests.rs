//! Traces rule by rule, what-ifs, and the probabilities against real
//! selections.

use std::sync::Arc;

use super::*;
use crate::table::compile::table_from_yaml;
use crate::table::liveness::{ProbeBits, SetOverrides};

const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    ttl: 60
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 45 }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: tcp, port: 80 }
records:
  - name: geo.global.example.test.
    ttl: 20
    sets:
      - { id: us, targets: [192.0.2.10, 192.0.2.11], weight: 5, geo: { continents: [NA] }, location: { lat: 39.0, lon: -77.5 }, health_check: web }
      - { id: eu, targets: [192.0.2.20], weight: 3, geo: { continents: [EU] }, location: { lat: 50.1, lon: 8.7 }, health_check: web }
      - { id: de, targets: [192.0.2.21], geo: { countries: [DE] }, health_check: web }
      - { id: hessen, targets: [192.0.2.22], geo: { subdivisions: [DE-HE] }, health_check: web }
      - { id: ap, targets: [192.0.2.30], location: { lat: 19.1, lon: 72.9 }, health_check: web }
  - name: weighted.global.example.test.
    answers: 2
    sets:
      - { id: five, targets: [192.0.2.1, 192.0.2.2, 192.0.2.3], weight: 5 }
      - { id: three, targets: [192.0.2.4], weight: 3 }
      - { id: zero, targets: [192.0.2.5], weight: 0 }
  - name: failover.global.example.test.
    sets:
      - { id: primary, targets: [192.0.2.1, "2001:db8::1"], priority: 0, health_check: web }
      - { id: secondary, targets: [192.0.2.2], priority: 1, health_check: web }
  - name: resident.global.example.test.
    fallback: none
    sets:
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] }, health_check: web }
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] }, health_check: web }
  - name: plain.global.example.test.
    sets:
      - { id: eu, targets: [192.0.2.20], weight: 2 }
      - { id: us, targets: [192.0.2.10] }
"#;

fn snapshot() -> Snapshot {
    let table = table_from_yaml(YAML);
    let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test-city.mmdb");
    Snapshot {
        generation: 3,
        health: Liveness {
            probes: ProbeBits::all_up(table.probes.len()),
            overrides: SetOverrides::none(table.set_count as usize),
            ..Liveness::default()
        },
        table,
        counters: Default::default(),
        dynamic: Default::default(),
        geo: Some(Arc::new(crate::geo::GeoDb::open(&db).unwrap())),
        max_udp_payload: 1232,
        rate_limiter: None,
    }
}

fn question(name: &str, client: Option<&str>, assume: &str) -> Question {
    Question {
        name: Name::parse(name).unwrap(),
        family: Family::V4,
        client: client.map(|c| c.parse().unwrap()),
        assume: assume::parse(assume).unwrap(),
        samples: 0,
    }
}

fn trace(snap: &Snapshot, name: &str, client: Option<&str>, assume: &str) -> Trace {
    explain(snap, None, &question(name, client, assume)).unwrap()
}

fn step<'t>(t: &'t Trace, rule: &str) -> &'t Step {
    t.steps
        .iter()
        .find(|s| s.rule == rule)
        .unwrap_or_else(|| panic!("{rule}: {t:#?}"))
}

fn candidates(t: &Trace) -> Vec<(&str, f64)> {
    t.candidates
        .iter()
        .map(|c| (c.set.as_str(), c.probability))
        .collect()
}

/// Frankfurt, DE-HE, in the test database's 198.51.100.64/26.
const FRANKFURT_ECS: &str = "198.51.100.70/32";

#[test]
fn client_is_located_by_ecs_with_the_scope_dns_returns() {
    let t = trace(
        &snapshot(),
        "geo.global.example.test",
        Some(FRANKFURT_ECS),
        "",
    );
    let l = &t.located;
    assert_eq!(l.by, "ecs");
    assert_eq!(l.network.as_deref(), Some("198.51.100.64/26"));
    assert_eq!(
        (
            l.subdivision.as_deref(),
            l.country.as_deref(),
            l.continent.as_deref()
        ),
        (Some("DE-HE"), Some("DE"), Some("EU"))
    );
    assert_eq!(l.coordinates, Some([50.11, 8.68]));
    assert_eq!(l.ecs_scope, Some(26));
    // A source address locates but gives no ECS scope; /0 is no subnet.
    for client in ["198.51.100.70", "198.51.100.70/0"] {
        let t = trace(&snapshot(), "geo.global.example.test", Some(client), "");
        assert_eq!(t.located.by, "source", "{client}");
        assert_eq!(t.located.country.as_deref(), Some("DE"));
        assert_eq!(t.located.ecs_scope, (client.ends_with("/0")).then_some(0));
    }
    // A record with no geo looks nothing up, as DNS does: scope 0.
    let t = trace(
        &snapshot(),
        "plain.global.example.test",
        Some(FRANKFURT_ECS),
        "",
    );
    assert_eq!(
        (t.located.by.as_str(), t.located.ecs_scope),
        ("not needed", Some(0))
    );
    let t = trace(&snapshot(), "geo.global.example.test", None, "");
    assert_eq!(t.located.by, "nowhere");
}

#[test]
fn every_rule_reports_the_sets_it_left() {
    let t = trace(
        &snapshot(),
        "geo.global.example.test",
        Some(FRANKFURT_ECS),
        "",
    );
    let rules: Vec<&str> = t.steps.iter().map(|s| s.rule.as_str()).collect();
    assert_eq!(rules, ["family", "drain", "health", "priority", "geo"]);
    assert_eq!(step(&t, "health").sets, ["us", "eu", "de", "hessen", "ap"]);
    let geo = step(&t, "geo");
    assert_eq!(geo.sets, ["hessen"]);
    assert!(geo.detail.contains("subdivision DE-HE"), "{}", geo.detail);
    assert_eq!(candidates(&t), [("hessen", 1.0)]);
    assert_eq!(
        (t.outcome.as_str(), t.ttl, t.failed_open),
        ("answer", 20, false)
    );
    let verdicts: Vec<(&str, &str)> = t
        .sets
        .iter()
        .map(|s| (s.id.as_str(), s.geo.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("us", "no match"),
            ("eu", "continent"),
            ("de", "country"),
            ("hessen", "subdivision"),
            ("ap", "no geo")
        ]
    );
    let eu = &t.sets[1];
    assert!(eu.distance_km.is_some_and(|km| km < 10.0), "{eu:?}");
}

#[test]
fn rule4_nearest_set_when_no_geo_matches() {
    // Tokyo (203.0.113.128/25): no set's geo matches; ap (Mumbai) is nearest.
    let t = trace(
        &snapshot(),
        "geo.global.example.test",
        Some("203.0.113.130/32"),
        "",
    );
    let geo = step(&t, "geo");
    assert_eq!(geo.sets, ["ap"]);
    assert!(geo.detail.contains("nearest"), "{}", geo.detail);
    let km = t.sets[4].distance_km.unwrap();
    assert!(
        geo.detail.contains(&format!("{km:.0} km")),
        "{} vs {km}",
        geo.detail
    );
}

#[test]
fn rule2_and_rule3_a_down_primary_goes_to_the_next_tier() {
    let mut snap = snapshot();
    let probe = snap
        .table
        .probes
        .iter()
        .position(|p| p.addr.to_string() == "192.0.2.1")
        .unwrap();
    snap.health.probes = snap.health.probes.with(probe, false);
    let t = trace(&snap, "failover.global.example.test", None, "");
    assert_eq!(step(&t, "health").sets, ["secondary"]);
    assert_eq!(step(&t, "priority").detail, "lowest priority left: 1");
    assert_eq!(t.sets[0].targets[0].probe, "down");
    assert!(!t.sets[0].healthy);
    assert_eq!(candidates(&t), [("secondary", 1.0)]);
}

#[test]
fn rule6_all_down_fails_open() {
    let mut snap = snapshot();
    snap.health.probes = ProbeBits::from_fn(snap.table.probes.len(), |_| false);
    let t = trace(&snap, "failover.global.example.test", None, "");
    assert!(t.failed_open);
    assert!(step(&t, "health").detail.contains("fail open"));
    assert_eq!(candidates(&t), [("primary", 1.0)]);
    assert_eq!(
        t.candidates[0].targets[0].probability, 1.0,
        "failing open answers down targets"
    );
}

#[test]
fn rule7_residency_narrows_first() {
    let t = trace(
        &snapshot(),
        "resident.global.example.test",
        Some(FRANKFURT_ECS),
        "eu:down",
    );
    assert_eq!(step(&t, "residency").sets, ["eu"]);
    assert_eq!(step(&t, "drain").sets, Vec::<String>::new());
    assert_eq!(t.outcome, "nodata");
    assert_eq!(t.ttl, 45, "NODATA carries the SOA's negative TTL");
    assert!(t.nodata.as_deref().is_some_and(|n| n.contains("drained")));
    assert!(t.candidates.is_empty());
}

#[test]
fn rule1_no_targets_of_the_family_is_nodata() {
    let mut q = question("weighted.global.example.test", None, "");
    q.family = Family::V6;
    let t = explain(&snapshot(), None, &q).unwrap();
    assert_eq!((t.qtype.as_str(), t.outcome.as_str()), ("AAAA", "nodata"));
    assert_eq!(step(&t, "family").sets, Vec::<String>::new());
}

#[test]
fn rule5_probabilities_match_real_selections() {
    let mut q = question("weighted.global.example.test", None, "");
    q.samples = 40_000;
    let t = explain(&snapshot(), None, &q).unwrap();
    assert_eq!(
        candidates(&t),
        [("five", 0.625), ("three", 0.375), ("zero", 0.0)]
    );
    let samples = t.samples.as_ref().unwrap();
    assert_eq!(samples.count, 40_000);
    for (c, s) in t.candidates.iter().zip(&samples.sets) {
        assert_eq!(c.set, s.set);
        assert!((c.probability - s.share).abs() < 0.02, "{c:?} vs {s:?}");
    }
    // Three targets, at most two answered: each is in 2 of 3 rotations.
    let five = &t.candidates[0];
    assert!(
        five.targets
            .iter()
            .all(|t| (t.probability - 2.0 / 3.0).abs() < 1e-9),
        "{five:?}"
    );
}

#[test]
fn what_if_drain_moves_frankfurt_and_leaves_the_snapshot_alone() {
    let snap = snapshot();
    let t = trace(
        &snap,
        "geo.global.example.test",
        Some(FRANKFURT_ECS),
        "hessen:down",
    );
    assert_eq!(candidates(&t), [("de", 1.0)]);
    assert_eq!(t.assumed[0].sets, ["geo.global.example.test./hessen"]);
    assert!(t.sets[3].drained);
    // RECORD/SET names one record's set; up/auto undo.
    let t = trace(
        &snap,
        "geo.global.example.test",
        Some(FRANKFURT_ECS),
        "hessen:down, geo.global.example.test/de:down",
    );
    assert_eq!(candidates(&t), [("eu", 1.0)]);
    // A set id shared by records changes in all of them.
    let t = trace(&snap, "plain.global.example.test", None, "eu:down");
    assert_eq!(t.assumed[0].sets.len(), 3, "{:?}", t.assumed);
    assert_eq!(candidates(&t), [("us", 1.0)]);
    // A target down fails its probes: the set is down, not drained.
    let t = trace(
        &snap,
        "failover.global.example.test",
        None,
        "192.0.2.1:down",
    );
    assert_eq!(candidates(&t), [("secondary", 1.0)]);
    assert_eq!(t.assumed[0].probes, 1);
    assert!(!t.sets[0].drained);
    assert_eq!(t.sets[0].targets[0].probe, "down");
    // Nothing reached the snapshot.
    assert!(
        snap.table
            .sets()
            .all(|(_, s)| snap.health.override_of(s) == Override::Auto)
    );
    assert!((0..snap.table.probes.len()).all(|i| snap.health.probes.is_up(i)));
}

#[test]
fn repeated_assumptions_collapse_to_the_last_per_subject() {
    let list =
        assume::parse("eu:down, us:up, 192.0.2.1:down, eu:auto, ::ffff:192.0.2.1:up").unwrap();
    let texts: Vec<&str> = list.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["us:up", "eu:auto", "::ffff:192.0.2.1:up"]);
    // The attack's shape: four items repeated to the cap are three.
    let four = "us:down,eu:up,ap:down,us:auto";
    let list = assume::parse(&[four; 8].join(",")).unwrap();
    let texts: Vec<&str> = list.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["eu:up", "ap:down", "us:auto"]);
    // And mean what the full list meant: us back to auto, ap drained.
    let snap = snapshot();
    let t = trace(&snap, "geo.global.example.test", None, &[four; 8].join(","));
    let ap = t.sets.iter().find(|s| s.id == "ap").unwrap();
    let us = t.sets.iter().find(|s| s.id == "us").unwrap();
    assert!(ap.drained && !us.drained);
}

#[test]
fn an_assumption_over_many_sets_lists_the_first_and_counts_them_all() {
    let many: String = (0..25)
        .map(|i| {
            format!(
                "  - name: r{i}.global.example.test.\n    sets: [{{ id: shared, targets: [192.0.2.{}] }}, {{ id: other, targets: [192.0.2.200] }}]\n",
                i + 1
            )
        })
        .collect();
    let yaml = YAML.replace("records:\n", &format!("records:\n{many}"));
    let mut snap = snapshot();
    snap.table = table_from_yaml(&yaml);
    snap.health.overrides = SetOverrides::none(snap.table.set_count as usize);
    snap.health.probes = ProbeBits::all_up(snap.table.probes.len());
    let t = trace(&snap, "r3.global.example.test", None, "shared:down");
    let change = &t.assumed[0];
    assert_eq!(change.set_count, 25);
    assert_eq!(change.sets.len(), assume::MAX_LISTED_SETS);
    assert_eq!(change.sets[0], "r0.global.example.test./shared");
    assert_eq!(candidates(&t), [("other", 1.0)], "applied to every one");
    let text = render::render(&t, false);
    assert!(text.contains("and 15 more (25 sets)"), "{text}");
}

#[test]
fn bad_assumptions_say_what_is_wrong() {
    let snap = snapshot();
    for (text, needle) in [
        ("hessen", "no state"),
        ("hessen:sideways", "not a state"),
        ("mars:down", "no record has a set \"mars\""),
        (
            "geo.global.example.test/mars:down",
            "has no set \"mars\" (its sets: us, eu, de, hessen, ap)",
        ),
        ("192.0.2.20:auto", "auto applies to sets"),
        ("192.0.2.4:down", "no health check"),
        ("192.0.2.99:down", "a target of no set"),
        (":down", "names no set"),
    ] {
        let error = match assume::parse(text) {
            Err(e) => e,
            Ok(list) => assume::apply(&snap.table, &snap.health, &list).unwrap_err(),
        };
        assert!(error.to_string().contains(needle), "{text}: {error}");
    }
    let many = vec!["eu:down"; assume::MAX_ASSUMPTIONS + 1].join(",");
    assert!(assume::parse(&many).is_err());
}

#[test]
fn names_that_hold_no_record_say_what_dns_answers() {
    let snap = snapshot();
    let err = |name: &str| explain(&snap, None, &question(name, None, "")).unwrap_err();
    assert!(matches!(
        err("nope.global.example.test"),
        ExplainError::NxDomain(_)
    ));
    assert!(matches!(err("www.example.org"), ExplainError::Refused(_)));
    assert!(matches!(
        err("global.example.test"),
        ExplainError::NotARecord(..)
    ));
    assert!(err("ns1.global.example.test").to_string().contains("glue"));
}

#[test]
fn client_argument_is_an_address_or_a_masked_subnet() {
    assert_eq!(
        "192.0.2.7".parse(),
        Ok(ClientArg::Source("192.0.2.7".parse().unwrap()))
    );
    assert_eq!(
        "192.0.2.7/24".parse(),
        Ok(ClientArg::Subnet {
            addr: "192.0.2.0".parse().unwrap(),
            prefix: 24
        })
    );
    assert_eq!(
        "2001:db8:2::7/48"
            .parse::<ClientArg>()
            .map(|c| c.to_string()),
        Ok("2001:db8:2::/48".to_owned())
    );
    assert_eq!(
        "192.0.2.7/0".parse(),
        Ok(ClientArg::Subnet {
            addr: "192.0.2.7".parse().unwrap(),
            prefix: 0
        })
    );
    for bad in ["192.0.2.7/33", "2001:db8::/129", "nope", "192.0.2.7/x", ""] {
        assert!(bad.parse::<ClientArg>().is_err(), "{bad}");
    }
}

#[test]
fn the_terminal_rendering_is_a_few_plain_lines() {
    let mut q = question(
        "geo.global.example.test",
        Some(FRANKFURT_ECS),
        "hessen:down",
    );
    q.samples = 100;
    let t = explain(&snapshot(), None, &q).unwrap();
    let text = render::render(&t, false);
    assert!(!text.contains('\x1b'), "{text}");
    for needle in [
        "geo.global.example.test. A for 198.51.100.70/32 (generation 3)",
        "assumed   hessen:down → geo.global.example.test./hessen",
        "client    by ECS 198.51.100.70 in 198.51.100.64/26: DE-HE, DE, EU (50.11, 8.68); ECS scope /26",
        "geo       → de  (best geo match: country DE)",
        "answer    de 100.0%: 192.0.2.21 100.0%",
        "ttl 20s, every address of the set, fails open: no",
        "samples   100 selections: de 100.0%",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(text.lines().count() < 20, "{text}");
    assert!(render::render(&t, true).contains("\x1b[1m"));
}

#[test]
fn the_dns_path_only_picks_what_the_trace_allows() {
    use rand::RngExt;
    let base = snapshot();
    let clients = [
        Some(FRANKFURT_ECS),
        Some("198.51.100.10/32"),
        Some("203.0.113.130/32"),
        Some("198.51.100.200"),
        None,
    ];
    let mut rng = SmallRng::seed_from_u64(11);
    for round in 0..300 {
        let mut snap = snapshot();
        let probes = base.table.probes.len();
        snap.health.probes = ProbeBits::from_fn(probes, |_| rng.random_bool(0.6));
        for i in 0..base.table.set_count as usize {
            let state = match rng.random_range(0..6) {
                0 => Override::Down,
                1 => Override::Up,
                _ => Override::Auto,
            };
            snap.health.overrides = snap.health.overrides.with(i, state);
        }
        for name in ["geo", "failover", "resident", "weighted"] {
            let client = clients[round % clients.len()];
            let name = format!("{name}.global.example.test");
            let t = trace(&snap, &name, client, "");
            let record = snap.table.record(&Name::parse(&name).unwrap()).unwrap();
            let q = question(&name, client, "");
            let subnet = match q.client {
                Some(ClientArg::Subnet { addr, prefix }) if prefix > 0 => Some(addr),
                _ => None,
            };
            let source = match q.client {
                Some(ClientArg::Source(a) | ClientArg::Subnet { addr: a, .. }) => a,
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            let located = geo::locate_client(
                snap.geo.as_deref().filter(|_| q.client.is_some()),
                record.geo_sensitive,
                subnet,
                source,
                &mut LocateCache::default(),
            );
            let mut scratch = Scratch::default();
            for _ in 0..20 {
                let picked = select::select(
                    record,
                    Family::V4,
                    &snap.health,
                    &located.location,
                    &mut rng,
                    &mut scratch,
                );
                match picked {
                    Ok(choice) => {
                        let c = t.candidates.iter().find(|c| c.set == *choice.set.id);
                        assert!(
                            c.is_some_and(|c| c.probability > 0.0
                                || t.candidates.iter().all(|c| c.probability == 0.0)),
                            "round {round} {name}: DNS picked {} outside {t:#?}",
                            choice.set.id
                        );
                        assert_eq!(choice.failed_open, t.failed_open);
                    }
                    Err(_) => assert_eq!(t.outcome, "nodata", "round {round} {name}"),
                }
            }
        }
    }
}
