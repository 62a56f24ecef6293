use std::time::Duration;

use super::*;
use crate::table::compile::table_from_yaml;

const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: http, port: 80 }
records:
  - name: app.global.example.test.
    sets:
      - { id: eu, targets: [192.0.2.1, lb-eu.elb.example.test.], health_check: web }
      - { id: us, targets: [lb-us.elb.example.test.] }
"#;

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

fn addrs(list: &[&str]) -> Arc<[IpAddr]> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn news(list: &[&str], ttl: u64, usable: bool) -> HostAddrs {
    HostAddrs {
        addrs: addrs(list),
        expires: Some(Instant::now() + Duration::from_secs(ttl)),
        usable,
    }
}

#[tokio::test(start_paused = true)]
async fn resolved_addresses_join_the_set_with_their_own_probes() {
    let table = table_from_yaml(YAML);
    assert_eq!(table.aliases.len(), 2);
    let eu = &table.records[0].sets[0];
    assert_eq!(eu.alias, 0);
    let check = table.aliases[0].check.as_ref().unwrap();
    assert_eq!(
        check.host.as_deref(),
        Some("app.global.example.test"),
        "Host and SNI default to the record name"
    );
    let clock = Arc::new(CoarseClock::new());
    let mut book = AliasBook::new(&table, clock.clone(), HashMap::new());
    assert_eq!(
        &*book.hostnames(),
        &[
            name("lb-eu.elb.example.test"),
            name("lb-us.elb.example.test")
        ]
    );
    let before = book.resolved();
    assert_eq!(before.targets(0, Family::V4).len(), 1, "the IP target only");
    assert!(before.targets(1, Family::V4).is_empty(), "not resolved yet");

    let changes = book.apply(
        &table,
        vec![(
            name("lb-eu.elb.example.test"),
            news(&["198.51.100.7", "2001:db8::7"], 60, true),
        )],
    );
    assert_eq!(changes.added.len(), 2, "one probe per resolved address");
    let resolved = book.resolved();
    let v4: Vec<IpAddr> = resolved
        .targets(0, Family::V4)
        .iter()
        .map(|t| t.addr)
        .collect();
    assert_eq!(v4, addrs(&["192.0.2.1", "198.51.100.7"]).to_vec());
    let probe = resolved.targets(0, Family::V4)[1].probe as usize;
    assert_eq!(probe, book.probe_index(&changes.added[0].1).unwrap());
    assert!(probe > book.expired_probe());
    assert_eq!(resolved.targets(0, Family::V6).len(), 1);
    assert!(
        before.targets(0, Family::V4).len() == 1,
        "old snapshots keep theirs"
    );

    // The address changes: the old probe goes, a new one comes.
    let changes = book.apply(
        &table,
        vec![(
            name("lb-eu.elb.example.test"),
            news(&["198.51.100.8", "2001:db8::7"], 60, true),
        )],
    );
    assert_eq!(changes.added.len(), 1);
    assert_eq!(changes.removed.len(), 1);
    assert_eq!(
        changes.removed[0].addr,
        "198.51.100.7".parse::<IpAddr>().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn expired_addresses_carry_the_always_down_probe() {
    let table = table_from_yaml(YAML);
    let clock = Arc::new(CoarseClock::new());
    let mut book = AliasBook::new(&table, clock, HashMap::new());
    book.apply(
        &table,
        vec![(
            name("lb-eu.elb.example.test"),
            news(&["198.51.100.7"], 60, false),
        )],
    );
    let resolved = book.resolved();
    let target = resolved.targets(0, Family::V4)[1];
    assert_eq!(target.probe as usize, book.expired_probe());
    assert_eq!(
        resolved.ttl(0, 30),
        30,
        "the IP target keeps the set cacheable"
    );
    book.apply(
        &table,
        vec![(
            name("lb-us.elb.example.test"),
            news(&["198.51.100.9"], 60, false),
        )],
    );
    assert_eq!(
        book.resolved().ttl(1, 30),
        0,
        "a set with only expired addresses is not cached"
    );
}

#[tokio::test(start_paused = true)]
async fn answer_ttl_never_outlives_the_upstream_ttl() {
    let table = table_from_yaml(YAML);
    let clock = Arc::new(CoarseClock::new());
    let mut book = AliasBook::new(&table, clock.clone(), HashMap::new());
    book.apply(
        &table,
        vec![(
            name("lb-us.elb.example.test"),
            news(&["198.51.100.9"], 20, true),
        )],
    );
    let resolved = book.resolved();
    clock.tick();
    assert_eq!(resolved.ttl(1, 300), 20);
    assert_eq!(resolved.ttl(1, 10), 10, "the record TTL when lower");
    tokio::time::advance(Duration::from_millis(15_500)).await;
    clock.tick();
    assert_eq!(resolved.ttl(1, 300), 4, "counts down, rounded short");
    tokio::time::advance(Duration::from_secs(10)).await;
    clock.tick();
    assert_eq!(resolved.ttl(1, 300), 0);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_what_is_known_of_hostnames_still_used() {
    let table = table_from_yaml(YAML);
    let clock = Arc::new(CoarseClock::new());
    let mut book = AliasBook::new(&table, clock.clone(), HashMap::new());
    book.apply(
        &table,
        vec![(
            name("lb-us.elb.example.test"),
            news(&["198.51.100.9"], 20, true),
        )],
    );
    let again = AliasBook::new(&table, clock, book.take_hosts());
    assert_eq!(again.resolved().targets(1, Family::V4).len(), 1);
}
