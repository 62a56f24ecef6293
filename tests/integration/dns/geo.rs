//! Geo selection over DNS: ECS subnets, loopback source addresses, and the
//! ECS scope (test networks: geoip/README.md).

use hickory_proto::rr::RecordType;

use gslb::name::Name;
use gslb::table::liveness::Override;

use crate::support::harness::*;

fn config() -> String {
    format!(
        "{ZONE}{}",
        r#"
records:
  - name: webapp.global.example.test.
    sets:
      - { id: us, targets: [192.0.2.10], weight: 5, geo: { continents: [NA] }, location: { lat: 39.0, lon: -77.5 } }
      - { id: eu, targets: [192.0.2.20], weight: 3, geo: { continents: [EU] }, location: { lat: 50.1, lon: 8.7 } }
      - { id: ap, targets: [192.0.2.30], weight: 2, location: { lat: 19.1, lon: 72.9 } }
  - name: static.global.example.test.
    sets:
      - { id: one, targets: [192.0.2.99] }
  - name: failover.global.example.test.
    sets:
      - { id: primary, targets: [192.0.2.1], priority: 0 }
      - { id: secondary, targets: [192.0.2.2], priority: 1 }
  - name: resident.global.example.test.
    fallback: none
    sets:
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] }, location: { lat: 50.1, lon: 8.7 } }
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] }, location: { lat: 39.0, lon: -77.5 } }
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_subnet_decides_the_cluster_and_scope_is_the_geoip_prefix() {
    let gslb = Gslb::start(&config()).await;
    let name = "webapp.global.example.test.";
    assert_eq!(
        gslb.a_with_ecs(name, "198.51.100.64", 26).await,
        (ips(&["192.0.2.20"]), Some(26)),
        "Frankfurt"
    );
    assert_eq!(
        gslb.a_with_ecs(name, "203.0.113.0", 24).await,
        (ips(&["192.0.2.20"]), Some(25)),
        "Paris"
    );
    assert_eq!(
        gslb.a_with_ecs(name, "198.51.100.0", 24).await,
        (ips(&["192.0.2.10"]), Some(26)),
        "Ashburn"
    );
    assert_eq!(
        gslb.a_with_ecs(name, "198.51.100.128", 26).await,
        (ips(&["192.0.2.30"]), Some(26)),
        "Mumbai: nearest"
    );
    assert_eq!(
        gslb.a_with_ecs(name, "198.51.100.192", 26).await,
        (ips(&["192.0.2.10"]), Some(26)),
        "São Paulo: nearest"
    );
    let v6 = gslb
        .udp(&with_ecs(query(name, RecordType::A), "2001:db8:2::", 48))
        .await;
    assert_eq!(
        (addrs(&v6), ecs_scope(&v6)),
        (ips(&["192.0.2.20"]), Some(48)),
        "IPv6 subnet in DE"
    );
    // Location did not matter for a static record: scope 0.
    assert_eq!(
        gslb.a_with_ecs("static.global.example.test.", "198.51.100.64", 26)
            .await,
        (ips(&["192.0.2.99"]), Some(0))
    );
    // Source prefix 0 means "do not use my subnet": scope 0.
    assert_eq!(gslb.a_with_ecs(name, "0.0.0.0", 0).await.1, Some(0));
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_ecs_the_source_address_locates_the_client() {
    let gslb = Gslb::start(&config()).await;
    let q = query("webapp.global.example.test.", RecordType::A);
    let from = |ip: &str| ip.parse().unwrap();
    assert_eq!(
        addrs(&udp_from(from("127.0.2.1"), gslb.addr, &q).await),
        ips(&["192.0.2.20"]),
        "DE source"
    );
    assert_eq!(
        addrs(&udp_from(from("127.0.1.1"), gslb.addr, &q).await),
        ips(&["192.0.2.10"]),
        "US source"
    );
    assert_eq!(
        addrs(&udp_from(from("127.0.4.1"), gslb.addr, &q).await),
        ips(&["192.0.2.30"]),
        "Sydney: nearest is Mumbai"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unlocated_clients_get_the_set_without_geo() {
    let gslb = Gslb::start(&config()).await;
    // 127.0.0.1 has no location: no geo matches and there are no
    // coordinates to find the nearest set, so the set without geo serves.
    let mut counts = std::collections::HashMap::new();
    for _ in 0..200 {
        let r = gslb
            .udp(&query("webapp.global.example.test.", RecordType::A))
            .await;
        *counts.entry(addrs(&r)[0]).or_insert(0) += 1;
    }
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        ips(&["192.0.2.30"]),
        "{counts:?}"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_and_residency_follow_overrides() {
    let gslb = Gslb::start(&config()).await;
    let record = |n: &str| Name::parse(n).unwrap();
    let failover = "failover.global.example.test.";
    assert_eq!(
        gslb.a_with_ecs(failover, "198.51.100.64", 26).await.0,
        ips(&["192.0.2.1"])
    );
    gslb.server
        .writer
        .set_override(record(failover), "primary".into(), Override::Down)
        .await
        .unwrap();
    assert_eq!(
        gslb.a_with_ecs(failover, "198.51.100.64", 26).await.0,
        ips(&["192.0.2.2"]),
        "second tier"
    );

    let resident = "resident.global.example.test.";
    gslb.server
        .writer
        .set_override(record(resident), "eu".into(), Override::Down)
        .await
        .unwrap();
    for _ in 0..20 {
        assert_eq!(
            gslb.a_with_ecs(resident, "198.51.100.64", 26).await.0,
            ips(&[]),
            "EU stays in EU: with its only set drained, an EU client gets NODATA"
        );
    }
    let err = gslb
        .server
        .writer
        .set_override(record(resident), "nope".into(), Override::Down)
        .await;
    assert!(err.is_err());
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_without_a_geoip_database() {
    let yaml = config().replace("  geoip_database: \"{geoip}\"\n", "");
    let gslb = Gslb::start(&yaml).await;
    // No location: the set without geo serves, and ECS scope is 0.
    assert_eq!(
        gslb.a_with_ecs("webapp.global.example.test.", "198.51.100.64", 26)
            .await,
        (ips(&["192.0.2.30"]), Some(0))
    );
    gslb.server.shutdown(WAIT).await;
}
