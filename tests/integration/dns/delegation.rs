//! gslb behind a real delegation: a root and `example.test.` on
//! Knot delegate `global.example.test.` to gslb with the records of
//! `config/delegation/parent.zone`, and clients ask Unbound, which sends
//! ECS. What a resolver's clients see: geo answers per client network,
//! cached per the ECS scope gslb returns; failover once the TTL has passed;
//! negative answers cached for the SOA's negative TTL; large answers
//! complete over TCP.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::time::Instant;

use crate::support::backend::{Backend, free_port};
use crate::support::dns_tree::{Block, Tree, glue};
use crate::support::harness::*;

/// The zone served behind the delegation; `{nameservers}` takes the
/// entries matching the parent's glue. The negative TTL is
/// min(SOA TTL 30, minimum 3) = 3 s.
const ZONE: &str = r#"
server:
  dns_listen: ["{ns1}:53", "{ns2}:53"]
  admin_listen: "127.0.0.1:0"
  geoip_database: "{geoip}"
  udp_workers: 1
zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 3 }
    nameservers:
{nameservers}"#;

/// The negative TTL of [`ZONE`].
const NEGATIVE_TTL: Duration = Duration::from_secs(3);
/// How long a client waits for the resolver, which may walk the tree
/// first on a busy machine.
const RESOLVE_WAIT: Duration = Duration::from_secs(5);

/// Asks the resolver `to` over UDP from `from`.
async fn resolve(from: IpAddr, to: SocketAddr, query: &Message) -> Message {
    let bytes = query.to_vec().expect("encode query");
    let response = raw_udp_from(from, to, &bytes, RESOLVE_WAIT)
        .await
        .unwrap_or_else(|| panic!("{to} answers within {RESOLVE_WAIT:?}"));
    let message = Message::from_vec(&response).expect("response decodes");
    assert_eq!(
        message.metadata.id, query.metadata.id,
        "response id matches"
    );
    message
}

/// Asks the resolver `to` over UDP from 127.0.0.1.
async fn resolve_local(to: SocketAddr, query: &Message) -> Message {
    resolve(IpAddr::from([127, 0, 0, 1]), to, query).await
}

/// gslb on the block's name server addresses, serving [`ZONE`] and `rest`.
async fn gslb_for(block: Block, rest: &str) -> Gslb {
    let [ns1, ns2] = block.gslb();
    let yaml = ZONE
        .replace("{ns1}", &ns1.to_string())
        .replace("{ns2}", &ns2.to_string())
        .replace("{nameservers}", &block.nameservers_yaml());
    Gslb::start(&format!("{yaml}{rest}")).await
}

/// A gslb counter, 0 when the series has not appeared yet.
async fn counter(gslb: &Gslb, series: &str) -> u64 {
    gslb.metric(series).await.unwrap_or(0.0) as u64
}

fn answers(record: &str, set: &str) -> String {
    format!("gslb_answers_total{{record=\"{record}.global.example.test.\",set=\"{set}\"}}")
}

fn queries(qtype: &str, rcode: &str) -> String {
    format!(
        "gslb_dns_queries_total{{zone=\"global.example.test.\",qtype=\"{qtype}\",rcode=\"{rcode}\"}}"
    )
}

const GEO: &str = r#"
records:
  - name: webapp.global.example.test.
    ttl: 60
    sets:
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] } }
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] } }
      - { id: ap, targets: [192.0.2.30], geo: { continents: [AS] } }
"#;

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_unbound, has_unbound_control, can_bind_port_53)),
    ignore = "needs knotd, unbound, unbound-control and root for port 53 (apt-get install knot unbound)"
)]
async fn geo_answers_through_a_resolver_follow_the_client_network_and_its_scope() {
    let block = Block::reserve();
    let gslb = gslb_for(block, GEO).await;
    let tree = Tree::start(block).await;
    let resolver = tree.resolver();
    let name = "webapp.global.example.test.";
    let from = |ip: &str| -> IpAddr { ip.parse().expect("ip") };
    let local = from("127.0.0.1");

    // ECS from the client: Unbound passes it on and caches the answer for
    // the /26 that gslb's scope names, 198.51.100.64/26 (Frankfurt).
    let eu = with_ecs(query(name, RecordType::A), "198.51.100.70", 32);
    let response = resolve(local, resolver, &eu).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.20"]), "{response}");
    assert_eq!(
        ecs_scope(&response),
        Some(26),
        "the scope reaches the client"
    );
    assert_eq!(counter(&gslb, &answers("webapp", "eu")).await, 1);
    let same_net = with_ecs(query(name, RecordType::A), "198.51.100.100", 32);
    let response = resolve(local, resolver, &same_net).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.20"]));
    assert_eq!(
        counter(&gslb, &answers("webapp", "eu")).await,
        1,
        "a client in the same /26 is answered from Unbound's cache"
    );
    for (subnet, want, set) in [
        ("198.51.100.10", "192.0.2.10", "us"),
        ("198.51.100.130", "192.0.2.30", "ap"),
    ] {
        let other = with_ecs(query(name, RecordType::A), subnet, 32);
        let response = resolve(local, resolver, &other).await;
        assert_eq!(addrs(&response), ips(&[want]), "{subnet}: {response}");
        assert_eq!(
            counter(&gslb, &answers("webapp", set)).await,
            1,
            "{subnet} is another network: asked gslb"
        );
    }

    // No ECS from the client: Unbound sends its source address, and gslb
    // scopes the answer to the /24 located (127.0.2.0/24 is Frankfurt,
    // 127.0.1.0/24 San Francisco).
    let plain = query(name, RecordType::A);
    let response = resolve(from("127.0.2.1"), resolver, &plain).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.20"]));
    assert_eq!(counter(&gslb, &answers("webapp", "eu")).await, 2);
    let response = resolve(from("127.0.2.99"), resolver, &plain).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.20"]));
    assert_eq!(
        counter(&gslb, &answers("webapp", "eu")).await,
        2,
        "127.0.2.99 shares 127.0.2.0/24: a cache hit"
    );
    let response = resolve(from("127.0.1.1"), resolver, &plain).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.10"]));
    assert_eq!(counter(&gslb, &answers("webapp", "us")).await, 2);
    assert!(
        tree.unbound_stat("num.query.subnet_cache") >= 2,
        "Unbound counted its ECS cache hits"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_unbound, has_unbound_control, can_bind_port_53)),
    ignore = "needs knotd, unbound, unbound-control and root for port 53 (apt-get install knot unbound)"
)]
async fn failover_reaches_resolver_clients_once_the_ttl_has_passed() {
    let block = Block::reserve();
    let (primary_ip, backup_ip) = (block.ip(10).to_string(), block.ip(11).to_string());
    let port = free_port(&primary_ip).await;
    let mut primary = Backend::http(&primary_ip, port).await;
    let _backup = Backend::http(&backup_ip, port).await;
    let ttl = Duration::from_secs(5);
    let records = format!(
        r#"
health_checks:
  fast: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }}
records:
  - name: api.global.example.test.
    ttl: {ttl}
    sets:
      - {{ id: primary, targets: [{primary_ip}], health_check: fast }}
      - {{ id: backup, targets: [{backup_ip}], priority: 1, health_check: fast }}
"#,
        ttl = ttl.as_secs()
    );
    let gslb = gslb_for(block, &records).await;
    gslb.wait_ready().await;
    let tree = Tree::start(block).await;
    let name = "api.global.example.test.";
    let ask = async || addrs(&resolve_local(tree.resolver(), &query(name, RecordType::A)).await);

    let cached_at = Instant::now();
    assert_eq!(ask().await, ips(&[primary_ip.as_str()]));
    primary.stop();
    let direct = eventually(Duration::from_secs(10), async || {
        gslb.a(name).await == ips(&[backup_ip.as_str()])
    })
    .await;
    assert!(direct.is_some(), "gslb itself fails over");
    // Unbound keeps the cached answer for its TTL; checked only while
    // surely inside it (a busy machine may already be past).
    if cached_at.elapsed() + Duration::from_secs(1) < ttl {
        assert_eq!(
            ask().await,
            ips(&[primary_ip.as_str()]),
            "the resolver serves its cache until the TTL has passed"
        );
    }
    let moved = eventually(ttl + Duration::from_secs(10), async || {
        ask().await == ips(&[backup_ip.as_str()])
    })
    .await;
    assert!(
        moved.is_some(),
        "resolver clients get the backup once the TTL has passed"
    );
    assert!(
        cached_at.elapsed() >= ttl,
        "not before the TTL: {:?}",
        cached_at.elapsed()
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_unbound, has_unbound_control, can_bind_port_53)),
    ignore = "needs knotd, unbound, unbound-control and root for port 53 (apt-get install knot unbound)"
)]
async fn nxdomain_and_nodata_are_cached_for_the_negative_ttl() {
    let block = Block::reserve();
    let gslb = gslb_for(block, GEO).await;
    let tree = Tree::start(block).await;
    let cases = [
        (
            "nope.global.example.test.",
            RecordType::A,
            ResponseCode::NXDomain,
            queries("A", "NXDOMAIN"),
        ),
        // webapp has IPv4 targets only (Unbound runs with do-ip6: no, so
        // these are the only AAAA queries it sends).
        (
            "webapp.global.example.test.",
            RecordType::AAAA,
            ResponseCode::NoError,
            queries("AAAA", "NOERROR"),
        ),
    ];
    for (name, rtype, rcode, series) in cases {
        let ask = async || resolve_local(tree.resolver(), &query(name, rtype)).await;
        let first_at = Instant::now();
        let response = ask().await;
        assert_eq!(response.metadata.response_code, rcode, "{response}");
        assert!(response.answers.is_empty(), "{response}");
        let soa_ttl = negative_soa_ttl(&response);
        assert!(
            (1..=NEGATIVE_TTL.as_secs()).contains(&u64::from(soa_ttl)),
            "the SOA carries the negative TTL: {response}"
        );
        assert_eq!(counter(&gslb, &series).await, 1, "{name} {rtype}");
        let again = ask().await;
        assert_eq!(again.metadata.response_code, rcode);
        if first_at.elapsed() + Duration::from_secs(1) < NEGATIVE_TTL {
            assert_eq!(
                counter(&gslb, &series).await,
                1,
                "{name} {rtype}: the second answer came from Unbound's cache"
            );
        }
        tokio::time::sleep_until(first_at + NEGATIVE_TTL + Duration::from_millis(1200)).await;
        let later = ask().await;
        assert_eq!(later.metadata.response_code, rcode);
        assert_eq!(
            counter(&gslb, &series).await,
            2,
            "{name} {rtype}: after the negative TTL Unbound asked again"
        );
    }
    gslb.server.shutdown(WAIT).await;
}

/// The TTL of the SOA in a negative answer's authority section.
fn negative_soa_ttl(response: &Message) -> u32 {
    response
        .authorities
        .iter()
        .find(|r| matches!(r.data, RData::SOA(_)))
        .map(|r| r.ttl)
        .unwrap_or_else(|| panic!("a SOA in the authority section: {response}"))
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_unbound, has_unbound_control, can_bind_port_53)),
    ignore = "needs knotd, unbound, unbound-control and root for port 53 (apt-get install knot unbound)"
)]
async fn a_truncated_answer_reaches_resolver_clients_complete_over_tcp() {
    let block = Block::reserve();
    // 64 AAAA records: about 1.8 KB, over Unbound's 1,232-byte EDNS buffer.
    let targets: Vec<String> = (1..=64).map(|i| format!("2001:db8:ff::{i:x}")).collect();
    let records = format!(
        "records:\n  - name: many.global.example.test.\n    answers: 64\n    sets:\n      - id: all\n        targets: [{}]\n",
        targets
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let gslb = gslb_for(block, &records).await;
    let tree = Tree::start(block).await;
    let name = "many.global.example.test.";

    // A client with a 512-byte buffer gets TC=1 from Unbound...
    let mut small = query(name, RecordType::AAAA);
    let mut edns = Edns::new();
    edns.set_max_payload(512);
    small.set_edns(edns);
    let response = resolve_local(tree.resolver(), &small).await;
    assert!(response.metadata.truncation, "{response}");
    // ...and everything over TCP.
    let response = tcp(tree.resolver(), &query(name, RecordType::AAAA)).await;
    assert!(!response.metadata.truncation);
    let mut got: Vec<String> = addrs(&response).iter().map(IpAddr::to_string).collect();
    got.sort();
    let mut want = targets.clone();
    want.sort();
    assert_eq!(got, want, "all 64 addresses arrive");

    assert!(
        counter(
            &gslb,
            "gslb_dns_truncated_total{zone=\"global.example.test.\"}"
        )
        .await
            >= 1,
        "gslb truncated its UDP answer to Unbound"
    );
    assert!(
        tree.unbound_stat("num.query.tcpout") >= 1,
        "and Unbound asked gslb again over TCP"
    );
    gslb.server.shutdown(WAIT).await;
}

/// The operator's records (the book's page "Running behind a delegation",
/// `docs/src/dns/delegation.md`) are the
/// ones the tests serve, and the example config's `nameservers` match
/// their glue.
#[test]
fn the_book_and_the_example_config_match_the_parent_zone_records() {
    let records = std::fs::read_to_string(repo("config/delegation/parent.zone"))
        .expect("config/delegation/parent.zone");
    let page = "docs/src/dns/delegation.md";
    let section = std::fs::read_to_string(repo(page)).expect(page);
    let record_lines: Vec<&str> = records
        .lines()
        .filter(|l| !l.trim_start().starts_with(';') && !l.trim().is_empty())
        .collect();
    assert!(record_lines.len() >= 3, "NS and glue: {record_lines:?}");
    for line in record_lines {
        assert!(section.lines().any(|l| l == line), "{page} shows {line:?}");
    }
    let loaded = gslb::config::load_with_env(repo("config/gslb.yaml"), Vec::new())
        .expect("config/gslb.yaml loads");
    let zone = &loaded.config.zones[0];
    let nameservers: Vec<(String, Vec<IpAddr>)> = zone
        .nameservers
        .iter()
        .map(|(name, ips)| (name.to_string(), ips.clone()))
        .collect();
    assert_eq!(
        nameservers,
        glue(&records),
        "config/gslb.yaml's nameservers"
    );
}
