//! The selection rules one by one, then in combination.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use rand::{SeedableRng, rngs::SmallRng};

use super::*;
use crate::geo::{Continent, Coordinates, Country, Subdivision};
use crate::table::liveness::{Override, ProbeBits};
use crate::table::{Table, compile::table_from_yaml};

const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: tcp, port: 80 }
records:
  - name: geo.global.example.test.
    sets:
      - { id: us, targets: [192.0.2.10, 192.0.2.11], weight: 5, geo: { continents: [NA] }, location: { lat: 39.0, lon: -77.5 }, health_check: web }
      - { id: eu, targets: [192.0.2.20], weight: 3, geo: { continents: [EU] }, location: { lat: 50.1, lon: 8.7 }, health_check: web }
      - { id: de, targets: [192.0.2.21], geo: { countries: [DE] }, health_check: web }
      - { id: hessen, targets: [192.0.2.22], geo: { subdivisions: [DE-HE] }, health_check: web }
      - { id: ap, targets: [192.0.2.30], location: { lat: 19.1, lon: 72.9 }, health_check: web }
  - name: weighted.global.example.test.
    sets:
      - { id: five, targets: [192.0.2.1], weight: 5 }
      - { id: three, targets: [192.0.2.2], weight: 3 }
      - { id: zero, targets: [192.0.2.3], weight: 0 }
  - name: failover.global.example.test.
    sets:
      - { id: primary, targets: [192.0.2.1, "2001:db8::1"], priority: 0, health_check: web }
      - { id: secondary, targets: [192.0.2.2], priority: 1, health_check: web }
      - { id: tertiary, targets: [192.0.2.3], priority: 2, health_check: web }
  - name: resident.global.example.test.
    fallback: none
    sets:
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] }, location: { lat: 50.1, lon: 8.7 }, health_check: web }
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] }, location: { lat: 39.0, lon: -77.5 }, health_check: web }
      - { id: rest, targets: [192.0.2.30], health_check: web }
  - name: v6only.global.example.test.
    sets:
      - { id: only, targets: ["2001:db8::6"] }
  - name: nogeo.global.example.test.
    sets:
      - { id: a, targets: [192.0.2.1], geo: { continents: [AF] } }
      - { id: b, targets: [192.0.2.2] }
      - { id: c, targets: [192.0.2.3] }
"#;

/// A table and a health state that tests change.
struct Fixture {
    table: Arc<Table>,
    health: Liveness,
    rng: SmallRng,
    scratch: Scratch,
}

impl Fixture {
    fn new() -> Self {
        let table = table_from_yaml(YAML);
        let health = Liveness {
            probes: ProbeBits::all_up(table.probes.len()),
            overrides: crate::table::liveness::SetOverrides::none(table.set_count as usize),
            ..Liveness::default()
        };
        Self {
            table,
            health,
            rng: SmallRng::seed_from_u64(7),
            scratch: Scratch::default(),
        }
    }

    fn record(&self, name: &str) -> &Record {
        let name = crate::name::Name::parse(name).unwrap();
        self.table.records.iter().find(|r| r.name == name).unwrap()
    }

    /// Marks the probe of one address down, wherever it is used.
    fn probe_down(&mut self, addr: &str) {
        let addr: IpAddr = addr.parse().unwrap();
        for (i, probe) in self.table.probes.iter().enumerate() {
            if probe.addr == addr {
                self.health.probes = self.health.probes.with(i, false);
            }
        }
    }

    fn set_override(&mut self, record: &str, set: &str, state: Override) {
        let index = self
            .record(record)
            .sets
            .iter()
            .find(|s| &*s.id == set)
            .unwrap()
            .index;
        self.health.overrides = self.health.overrides.with(index as usize, state);
    }

    /// One selection: (set id, answered addresses, failed open).
    fn pick(
        &mut self,
        record: &str,
        family: Family,
        client: &Location,
    ) -> Option<(String, Vec<IpAddr>, bool)> {
        let table = self.table.clone();
        let name = crate::name::Name::parse(record).unwrap();
        let record = table.records.iter().find(|r| r.name == name).unwrap();
        let choice = select(
            record,
            family,
            &self.health,
            client,
            &mut self.rng,
            &mut self.scratch,
        )
        .ok()?;
        let addrs = choice
            .targets(family, &self.health, record.answers)
            .map(|t| t.addr)
            .collect();
        Some((choice.set.id.to_string(), addrs, choice.failed_open))
    }

    fn set_of(&mut self, record: &str, client: &Location) -> String {
        self.pick(record, Family::V4, client).unwrap().0
    }

    /// How often each set is picked in `n` selections.
    fn histogram(&mut self, record: &str, client: &Location, n: usize) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for _ in 0..n {
            *counts.entry(self.set_of(record, client)).or_default() += 1;
        }
        counts
    }
}

fn client(
    continent: &str,
    country: &str,
    subdivision: &str,
    coords: Option<(f64, f64)>,
) -> Location {
    Location {
        continent: Continent::parse(continent),
        country: Country::parse(country),
        subdivision: Subdivision::parse(subdivision),
        coordinates: coords.map(|(lat, lon)| Coordinates { lat, lon }),
    }
}

fn frankfurt() -> Location {
    client("EU", "DE", "DE-HE", Some((50.11, 8.68)))
}
fn paris() -> Location {
    client("EU", "FR", "FR-IDF", Some((48.86, 2.35)))
}
fn berlin() -> Location {
    client("EU", "DE", "DE-BE", Some((52.52, 13.40)))
}
fn virginia() -> Location {
    client("NA", "US", "US-VA", Some((39.04, -77.49)))
}
fn mumbai() -> Location {
    client("AS", "IN", "IN-MH", Some((19.08, 72.88)))
}
fn sao_paulo() -> Location {
    client("SA", "BR", "BR-SP", Some((-23.55, -46.63)))
}
fn unknown() -> Location {
    Location::default()
}

#[test]
fn rule1_family_without_targets_is_nodata() {
    let mut f = Fixture::new();
    assert!(
        f.pick("v6only.global.example.test", Family::V4, &unknown())
            .is_none()
    );
    let (set, addrs, _) = f
        .pick("v6only.global.example.test", Family::V6, &unknown())
        .unwrap();
    assert_eq!(
        (set.as_str(), addrs),
        ("only", vec!["2001:db8::6".parse::<IpAddr>().unwrap()])
    );
    // Only the family's targets are answered, and only sets that have it.
    let (set, addrs, _) = f
        .pick("failover.global.example.test", Family::V6, &unknown())
        .unwrap();
    assert_eq!((set.as_str(), addrs.len()), ("primary", 1));
}

#[test]
fn rule2_down_targets_and_sets_are_skipped() {
    let mut f = Fixture::new();
    f.probe_down("192.0.2.10");
    for _ in 0..50 {
        let (set, addrs, open) = f
            .pick("geo.global.example.test", Family::V4, &virginia())
            .unwrap();
        assert_eq!(set, "us", "one healthy target keeps the set healthy");
        assert_eq!(addrs, vec!["192.0.2.11".parse::<IpAddr>().unwrap()]);
        assert!(!open);
    }
    f.probe_down("192.0.2.11");
    assert_ne!(f.set_of("geo.global.example.test", &virginia()), "us");
}

#[test]
fn rule2_overrides_beat_probes() {
    let mut f = Fixture::new();
    f.set_override("failover.global.example.test", "primary", Override::Down);
    assert_eq!(
        f.set_of("failover.global.example.test", &unknown()),
        "secondary"
    );
    f.probe_down("192.0.2.1");
    f.set_override("failover.global.example.test", "primary", Override::Up);
    let (set, addrs, open) = f
        .pick("failover.global.example.test", Family::V4, &unknown())
        .unwrap();
    assert_eq!(
        (set.as_str(), addrs.len(), open),
        ("primary", 1, false),
        "forced up despite its probe"
    );
    f.set_override("failover.global.example.test", "primary", Override::Auto);
    assert_eq!(
        f.set_of("failover.global.example.test", &unknown()),
        "secondary"
    );
}

#[test]
fn rule3_lowest_priority_serves_then_next_tier() {
    let mut f = Fixture::new();
    assert_eq!(
        f.histogram("failover.global.example.test", &frankfurt(), 200)
            .len(),
        1
    );
    assert_eq!(
        f.set_of("failover.global.example.test", &frankfurt()),
        "primary"
    );
    f.probe_down("192.0.2.1");
    assert_eq!(
        f.set_of("failover.global.example.test", &frankfurt()),
        "secondary"
    );
    f.probe_down("192.0.2.2");
    assert_eq!(
        f.set_of("failover.global.example.test", &frankfurt()),
        "tertiary"
    );
}

#[test]
fn rule4_most_specific_geo_match_wins() {
    let mut f = Fixture::new();
    assert_eq!(
        f.set_of("geo.global.example.test", &frankfurt()),
        "hessen",
        "subdivision"
    );
    assert_eq!(
        f.set_of("geo.global.example.test", &berlin()),
        "de",
        "country"
    );
    assert_eq!(
        f.set_of("geo.global.example.test", &paris()),
        "eu",
        "continent"
    );
    assert_eq!(f.set_of("geo.global.example.test", &virginia()), "us");
}

#[test]
fn rule4_no_match_goes_to_nearest_located_set() {
    let mut f = Fixture::new();
    assert_eq!(f.set_of("geo.global.example.test", &mumbai()), "ap");
    assert_eq!(
        f.set_of("geo.global.example.test", &sao_paulo()),
        "us",
        "São Paulo is nearer Virginia"
    );
}

#[test]
fn rule4_without_coordinates_sets_without_geo_serve() {
    let mut f = Fixture::new();
    let no_coords = client("AF", "ZA", "", None);
    assert_eq!(
        f.set_of("geo.global.example.test", &client("OC", "AU", "", None)),
        "ap"
    );
    // nogeo: a matches Africa; others fall to the two sets without geo.
    assert_eq!(f.set_of("nogeo.global.example.test", &no_coords), "a");
    let counts = f.histogram(
        "nogeo.global.example.test",
        &client("OC", "AU", "", None),
        400,
    );
    assert_eq!(counts.keys().len(), 2, "{counts:?}");
    assert!(!counts.contains_key("a"));
    let counts = f.histogram("nogeo.global.example.test", &unknown(), 400);
    assert!(
        !counts.contains_key("a"),
        "an unknown client gets the sets without geo"
    );
}

#[test]
fn rule4_all_geo_and_no_coordinates_keeps_all() {
    let mut f = Fixture::new();
    // Everything in `geo` but `ap` has geo; drain `ap` and ask from nowhere.
    f.set_override("geo.global.example.test", "ap", Override::Down);
    let counts = f.histogram("geo.global.example.test", &unknown(), 4000);
    assert_eq!(counts.len(), 4, "all remaining sets serve: {counts:?}");
}

#[test]
fn rule5_weights_split_five_to_three_within_three_percent() {
    let mut f = Fixture::new();
    let n = 20_000;
    let counts = f.histogram("weighted.global.example.test", &unknown(), n);
    let five = counts["five"] as f64 / n as f64;
    let three = counts["three"] as f64 / n as f64;
    assert!(
        (five - 5.0 / 8.0).abs() < 0.03 * 5.0 / 8.0,
        "five got {five}"
    );
    assert!(
        (three - 3.0 / 8.0).abs() < 0.03 * 3.0 / 8.0,
        "three got {three}"
    );
    assert!(
        !counts.contains_key("zero"),
        "weight 0 is not picked while others are left"
    );
}

#[test]
fn rule5_weight_zero_serves_when_nothing_else_is_left() {
    let mut f = Fixture::new();
    f.set_override("weighted.global.example.test", "five", Override::Down);
    f.set_override("weighted.global.example.test", "three", Override::Down);
    assert_eq!(f.set_of("weighted.global.example.test", &unknown()), "zero");
}

#[test]
fn rule5_targets_rotate_per_query() {
    let mut f = Fixture::new();
    let mut firsts = HashMap::new();
    for _ in 0..200 {
        let (_, addrs, _) = f
            .pick("geo.global.example.test", Family::V4, &virginia())
            .unwrap();
        assert_eq!(addrs.len(), 2);
        *firsts.entry(addrs[0]).or_insert(0) += 1;
    }
    assert_eq!(firsts.len(), 2, "both targets lead sometimes: {firsts:?}");
}

#[test]
fn rule6_all_down_fails_open() {
    let mut f = Fixture::new();
    for addr in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"] {
        f.probe_down(addr);
    }
    let (set, addrs, open) = f
        .pick("failover.global.example.test", Family::V4, &unknown())
        .unwrap();
    assert!(open);
    assert_eq!(set, "primary", "priority still orders a fail-open answer");
    assert_eq!(
        addrs.len(),
        1,
        "fail open answers the set's targets despite health"
    );
}

#[test]
fn drain_rule_a_drained_set_never_answers_even_failing_open() {
    let mut f = Fixture::new();
    // Every probe down: the record fails open, but not into the drained set.
    for addr in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"] {
        f.probe_down(addr);
    }
    f.set_override("failover.global.example.test", "primary", Override::Down);
    for _ in 0..200 {
        let (set, addrs, open) = f
            .pick("failover.global.example.test", Family::V4, &unknown())
            .unwrap();
        assert!(open, "still failing open");
        assert_eq!(set, "secondary", "among the sets that are not drained");
        assert_eq!(addrs, vec!["192.0.2.2".parse::<IpAddr>().unwrap()]);
    }
    // The same in the geo record, with all sets down and one drained.
    for addr in [
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.20",
        "192.0.2.21",
        "192.0.2.22",
        "192.0.2.30",
    ] {
        f.probe_down(addr);
    }
    f.set_override("geo.global.example.test", "us", Override::Down);
    let counts = f.histogram("geo.global.example.test", &virginia(), 500);
    assert!(!counts.contains_key("us"), "{counts:?}");
}

#[test]
fn drain_rule_all_drained_is_nodata() {
    let mut f = Fixture::new();
    for set in ["primary", "secondary", "tertiary"] {
        f.set_override("failover.global.example.test", set, Override::Down);
    }
    let record = f.record("failover.global.example.test");
    let mut rng = SmallRng::seed_from_u64(3);
    let mut scratch = Scratch::default();
    for family in [Family::V4, Family::V6] {
        let result = select(
            record,
            family,
            &f.health,
            &unknown(),
            &mut rng,
            &mut scratch,
        );
        assert_eq!(result.map(|c| c.set.id.to_string()), Err(NoAnswer::Drained));
    }
    // Only the queried family counts: `primary` alone has IPv6, so
    // draining it empties AAAA while A still answers from the others.
    let mut f = Fixture::new();
    f.set_override("failover.global.example.test", "primary", Override::Down);
    assert!(
        f.pick("failover.global.example.test", Family::V6, &unknown())
            .is_none()
    );
    assert_eq!(
        f.set_of("failover.global.example.test", &unknown()),
        "secondary"
    );
    let v6only = f.record("v6only.global.example.test");
    let result = select(
        v6only,
        Family::V4,
        &f.health,
        &unknown(),
        &mut rng,
        &mut scratch,
    );
    assert_eq!(result.map(|c| c.set.index), Err(NoAnswer::NoTargets));
}

#[test]
fn drain_rule_residency_client_whose_region_is_drained_gets_nodata() {
    let mut f = Fixture::new();
    f.set_override("resident.global.example.test", "eu", Override::Down);
    let record = f.record("resident.global.example.test");
    let mut rng = SmallRng::seed_from_u64(5);
    let result = select(
        record,
        Family::V4,
        &f.health,
        &frankfurt(),
        &mut rng,
        &mut Scratch::default(),
    );
    assert_eq!(
        result.map(|c| c.set.id.to_string()),
        Err(NoAnswer::Drained),
        "an EU client is never answered from outside the EU"
    );
    assert_eq!(f.set_of("resident.global.example.test", &virginia()), "us");
}

#[test]
fn rule7_residency_keeps_eu_clients_in_eu_even_when_down() {
    let mut f = Fixture::new();
    f.probe_down("192.0.2.20");
    for _ in 0..100 {
        let (set, _, open) = f
            .pick("resident.global.example.test", Family::V4, &frankfurt())
            .unwrap();
        assert_eq!(set, "eu");
        assert!(
            open,
            "answered from the down EU set, failing open inside it"
        );
    }
    // A client that matches no set's geo follows the ordinary rules: the
    // nearest healthy located set, or without coordinates the set with no geo.
    assert_eq!(f.set_of("resident.global.example.test", &mumbai()), "us");
    let somewhere_in_asia = client("AS", "IN", "", None);
    assert_eq!(
        f.set_of("resident.global.example.test", &somewhere_in_asia),
        "rest"
    );
    f.set_override("resident.global.example.test", "rest", Override::Down);
    assert_eq!(
        f.set_of("resident.global.example.test", &somewhere_in_asia),
        "us",
        "the down EU set is skipped"
    );
}

#[test]
fn combined_geo_client_fails_over_to_nearest_healthy_set() {
    let mut f = Fixture::new();
    for addr in ["192.0.2.20", "192.0.2.21", "192.0.2.22"] {
        f.probe_down(addr);
    }
    // Every EU set is down: Frankfurt is nearer Virginia (6,500 km) than Mumbai (6,600 km).
    let (set, _, open) = f
        .pick("geo.global.example.test", Family::V4, &frankfurt())
        .unwrap();
    assert_eq!((set.as_str(), open), ("us", false));
    f.probe_down("192.0.2.10");
    f.probe_down("192.0.2.11");
    assert_eq!(f.set_of("geo.global.example.test", &frankfurt()), "ap");
}

#[test]
fn combined_priority_beats_geo() {
    let mut f = Fixture::new();
    // In `failover`, no set has geo: a Virginia client still gets priority order.
    assert_eq!(
        f.set_of("failover.global.example.test", &virginia()),
        "primary"
    );
}

#[test]
fn answers_limit_cuts_targets() {
    let yaml = YAML.replace(
        "  - name: geo.global.example.test.\n",
        "  - name: geo.global.example.test.\n    answers: 1\n",
    );
    let table = table_from_yaml(&yaml);
    let record = &table.records[0];
    let health = Liveness::default();
    let mut rng = SmallRng::seed_from_u64(1);
    let choice = select(
        record,
        Family::V4,
        &health,
        &virginia(),
        &mut rng,
        &mut Scratch::default(),
    )
    .unwrap();
    assert_eq!(
        choice.targets(Family::V4, &health, record.answers).count(),
        1
    );
}
