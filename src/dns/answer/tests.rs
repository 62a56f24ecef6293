//! The design's DNS behaviours, checked by decoding responses with
//! hickory-proto's parser (an independent implementation of the format).

use crate::iana::rcode;
use std::{net::IpAddr, sync::Arc};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::*;
use crate::dns::request::Transport;
use crate::table::compile::table_from_yaml;
use crate::table::liveness::Liveness;

const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    ttl: 45
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., serial: 7, minimum: 20 }
    nameservers:
      ns1.global.example.test.: [192.0.2.53, "2001:db8::53"]
      ns2.global.example.test.: [192.0.2.54]
      ns.elsewhere.test.: []
records:
  - name: webapp.global.example.test.
    ttl: 30
    sets:
      - { id: one, targets: [192.0.2.10, "2001:db8::10"] }
  - name: v6.global.example.test.
    sets:
      - { id: one, targets: ["2001:db8::6"] }
  - name: deep.ent.global.example.test.
    sets:
      - { id: one, targets: [192.0.2.7] }
  - name: many.global.example.test.
    answers: 40
    sets:
      - id: lots
        targets: [
          "2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5",
          "2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a",
          "2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e", "2001:db8::f",
          "2001:db8::11", "2001:db8::12", "2001:db8::13", "2001:db8::14", "2001:db8::15",
          "2001:db8::16", "2001:db8::17", "2001:db8::18", "2001:db8::19", "2001:db8::1a"]
"#;

fn snapshot() -> Snapshot {
    Snapshot {
        generation: 1,
        table: table_from_yaml(YAML),
        counters: Default::default(),
        health: Liveness::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    }
}

fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

fn with_edns(mut m: Message, payload: u16, subnet: Option<ClientSubnet>) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    edns.set_dnssec_ok(true);
    if let Some(subnet) = subnet {
        edns.options_mut().insert(EdnsOption::Subnet(subnet));
    }
    m.set_edns(edns);
    m
}

/// Sends raw bytes, returns the decoded response (None when dropped).
fn ask_raw(packet: &[u8], transport: Transport) -> Option<Message> {
    let snap = snapshot();
    let mut out = Vec::new();
    let outcome = crate::dns::request::respond(
        &mut Responder::with_seed(1),
        &snap,
        packet,
        "127.0.0.1".parse().unwrap(),
        transport,
        &mut out,
    )
    .outcome();
    assert_eq!(outcome.replied, !out.is_empty());
    outcome
        .replied
        .then(|| Message::from_vec(&out).expect("response decodes"))
}

fn ask(m: &Message) -> Message {
    ask_raw(&m.to_vec().unwrap(), Transport::Udp).unwrap()
}

fn addrs(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_answer_is_authoritative_keeps_case_and_ttl() {
    let r = ask(&query("WebApp.GLOBAL.Example.test.", RecordType::A));
    assert_eq!(r.metadata.id, 0xBEEF);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert!(r.metadata.authoritative);
    assert!(r.metadata.recursion_desired, "RD is copied");
    assert!(!r.metadata.recursion_available);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        r.queries[0].name().to_ascii(),
        "WebApp.GLOBAL.Example.test."
    );
    assert_eq!(addrs(&r), vec!["192.0.2.10".parse::<IpAddr>().unwrap()]);
    assert_eq!(r.answers[0].name.to_ascii(), "WebApp.GLOBAL.Example.test.");
    assert_eq!(r.answers[0].ttl, 30);
    assert!(r.authorities.is_empty() && r.additionals.is_empty() && r.edns.is_none());
}

#[test]
fn aaaa_answer() {
    let r = ask(&query("webapp.global.example.test.", RecordType::AAAA));
    assert_eq!(addrs(&r), vec!["2001:db8::10".parse::<IpAddr>().unwrap()]);
}

#[test]
fn nxdomain_carries_soa_with_negative_ttl_in_query_case() {
    let r = ask(&query("nope.GLOBAL.example.test.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.metadata.authoritative);
    assert!(r.answers.is_empty());
    let soa = &r.authorities[0];
    assert_eq!(soa.name.to_ascii(), "GLOBAL.example.test.");
    assert_eq!(soa.ttl, 20, "min(zone TTL 45, SOA minimum 20)");
    let RData::SOA(data) = &soa.data else {
        panic!("SOA expected")
    };
    assert_eq!(data.serial, 7);
    assert_eq!(data.mname.to_ascii(), "ns1.global.example.test.");
    // Below an existing record is NXDOMAIN too.
    let r = ask(&query("x.webapp.global.example.test.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn nodata_for_other_types_missing_families_and_empty_non_terminals() {
    for (name, rtype) in [
        ("webapp.global.example.test.", RecordType::MX),
        ("webapp.global.example.test.", RecordType::TXT),
        ("v6.global.example.test.", RecordType::A),
        ("ent.global.example.test.", RecordType::A),
        ("global.example.test.", RecordType::A),
        ("ns2.global.example.test.", RecordType::AAAA),
    ] {
        let r = ask(&query(name, rtype));
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "{name} {rtype}"
        );
        assert!(r.metadata.authoritative);
        assert!(r.answers.is_empty(), "{name} {rtype}");
        assert_eq!(
            r.authorities[0].record_type(),
            RecordType::SOA,
            "{name} {rtype}"
        );
    }
}

#[test]
fn refused_outside_the_zones_and_for_transfers_and_other_classes() {
    let r = ask(&query("www.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(!r.metadata.authoritative);
    assert_eq!(r.queries.len(), 1);
    for rtype in [RecordType::AXFR, RecordType::IXFR] {
        let r = ask(&query("global.example.test.", rtype));
        assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{rtype}");
    }
    let mut m = query("version.bind.", RecordType::TXT);
    m.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(ask(&m).metadata.response_code, ResponseCode::Refused);
}

#[test]
fn apex_soa_and_ns_with_glue() {
    let r = ask(&query("Global.Example.Test.", RecordType::SOA));
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].name.to_ascii(), "Global.Example.Test.");
    assert_eq!(r.answers[0].ttl, 45);

    let r = ask(&query("global.example.test.", RecordType::NS));
    let mut ns: Vec<String> = r
        .answers
        .iter()
        .map(|rr| match &rr.data {
            RData::NS(n) => n.0.to_ascii(),
            other => panic!("NS expected, got {other:?}"),
        })
        .collect();
    ns.sort();
    assert_eq!(
        ns,
        [
            "ns.elsewhere.test.",
            "ns1.global.example.test.",
            "ns2.global.example.test."
        ]
    );
    let mut glue: Vec<(String, IpAddr)> = r
        .additionals
        .iter()
        .map(|rr| match &rr.data {
            RData::A(a) => (rr.name.to_ascii(), IpAddr::V4(a.0)),
            RData::AAAA(a) => (rr.name.to_ascii(), IpAddr::V6(a.0)),
            other => panic!("glue expected, got {other:?}"),
        })
        .collect();
    glue.sort();
    assert_eq!(glue.len(), 3);
    assert_eq!(
        glue[0],
        (
            "ns1.global.example.test.".into(),
            "192.0.2.53".parse().unwrap()
        )
    );
    assert_eq!(
        glue[2],
        (
            "ns2.global.example.test.".into(),
            "192.0.2.54".parse().unwrap()
        )
    );

    let r = ask(&query("NS1.global.example.test.", RecordType::A));
    assert!(r.metadata.authoritative);
    assert_eq!(addrs(&r), vec!["192.0.2.53".parse::<IpAddr>().unwrap()]);
    assert_eq!(r.answers[0].name.to_ascii(), "NS1.global.example.test.");
}

#[test]
fn any_gets_one_rrset() {
    let r = ask(&query("webapp.global.example.test.", RecordType::ANY));
    assert_eq!(addrs(&r), vec!["192.0.2.10".parse::<IpAddr>().unwrap()]);
    let r = ask(&query("v6.global.example.test.", RecordType::ANY));
    assert_eq!(addrs(&r), vec!["2001:db8::6".parse::<IpAddr>().unwrap()]);
    let r = ask(&query("global.example.test.", RecordType::ANY));
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].record_type(), RecordType::SOA);
}

/// (UPDATE leaves the request path for the update queue: see `request::tests`.)
#[test]
fn notimp_for_other_opcodes() {
    for op in [OpCode::Notify, OpCode::Status] {
        let mut m = query("webapp.global.example.test.", RecordType::A);
        m.metadata.op_code = op;
        let r = ask(&m);
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp, "{op:?}");
        assert_eq!(r.metadata.op_code, op);
    }
}

#[test]
fn formerr_and_drop() {
    let mut two = query("webapp.global.example.test.", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("x.test.").unwrap(),
        RecordType::A,
    ));
    let r = ask(&two);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert!(r.queries.is_empty());
    let mut bytes = query("webapp.global.example.test.", RecordType::A)
        .to_vec()
        .unwrap();
    bytes.push(0);
    let r = ask_raw(&bytes, Transport::Udp).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.queries.len(), 1, "the question is echoed when it parsed");
    bytes[2] |= 0x80;
    assert!(
        ask_raw(&bytes, Transport::Udp).is_none(),
        "responses are dropped"
    );
    assert!(
        ask_raw(&bytes[..5], Transport::Udp).is_none(),
        "short packets are dropped"
    );
}

#[test]
fn edns_is_answered_with_opt_and_badvers_for_version_1() {
    let r = ask(&with_edns(
        query("webapp.global.example.test.", RecordType::A),
        4096,
        None,
    ));
    let edns = r.edns.as_ref().expect("OPT in response");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
    assert!(edns.flags().dnssec_ok, "DO is copied");
    assert_eq!(addrs(&r).len(), 1);

    let mut m = with_edns(
        query("webapp.global.example.test.", RecordType::A),
        1232,
        None,
    );
    m.edns.as_mut().unwrap().set_version(1);
    let r = ask(&m);
    // 16 is both BADVERS (EDNS) and BADSIG (TSIG); hickory names it BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), rcode::BADVERS);
    assert!(r.answers.is_empty());
    assert_eq!(r.edns.as_ref().unwrap().version(), 0);
}

#[test]
fn truncates_over_udp_and_answers_in_full_over_tcp() {
    let m = query("many.global.example.test.", RecordType::AAAA);
    let r = ask(&m);
    assert!(r.metadata.truncation, "25 AAAA do not fit 512 bytes");
    assert!(r.answers.is_empty());
    assert_eq!(r.queries.len(), 1);
    let r = ask(&with_edns(m.clone(), 1232, None));
    assert!(!r.metadata.truncation, "they fit an EDNS 1232-byte payload");
    assert_eq!(r.answers.len(), 25);
    let r = ask(&with_edns(m.clone(), 600, None));
    assert!(
        r.metadata.truncation,
        "the client's smaller payload is honoured"
    );
    assert!(r.edns.is_some(), "OPT survives truncation");
    let r = ask_raw(&m.to_vec().unwrap(), Transport::Tcp).unwrap();
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 25);
}

#[test]
fn ecs_is_echoed_with_scope_zero_when_location_did_not_matter() {
    let subnet = ClientSubnet::new("198.51.100.0".parse().unwrap(), 24, 0);
    let r = ask(&with_edns(
        query("webapp.global.example.test.", RecordType::A),
        1232,
        Some(subnet),
    ));
    let Some(EdnsOption::Subnet(echo)) = r.edns.as_ref().unwrap().option(EdnsCode::Subnet) else {
        panic!("ECS echoed");
    };
    assert_eq!(echo.addr(), "198.51.100.0".parse::<IpAddr>().unwrap());
    assert_eq!(echo.source_prefix(), 24);
    assert_eq!(echo.scope_prefix(), 0);
}

#[test]
fn outcome_reports_what_happened() {
    let snap = snapshot();
    let mut out = Vec::new();
    let packet = query("webapp.global.example.test.", RecordType::A)
        .to_vec()
        .unwrap();
    let outcome = crate::dns::request::respond(
        &mut Responder::with_seed(1),
        &snap,
        &packet,
        "127.0.0.1".parse().unwrap(),
        Transport::Udp,
        &mut out,
    )
    .outcome();
    assert_eq!(outcome.zone, Some(0));
    assert_eq!(outcome.answered, Some((0, 0)));
    assert_eq!((outcome.rcode, outcome.qtype), (rcode::NOERROR, 1));
    let _ = Arc::new(snap);
}

/// A snapshot of `YAML` plus a geo-sensitive record, with the test GeoIP database.
fn geo_snapshot() -> Snapshot {
    let yaml = format!(
        "{YAML}{}",
        r#"
  - name: geo.global.example.test.
    sets:
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] } }
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] } }
"#
    );
    let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test-city.mmdb");
    Snapshot {
        geo: Some(Arc::new(crate::geo::GeoDb::open(&db).unwrap())),
        table: table_from_yaml(&yaml),
        ..snapshot()
    }
}

/// A raw A query for geo.global.example.test. with an ECS option of
/// `family`, `source` prefix and the address bytes as given.
fn raw_ecs_query(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
    let mut p = vec![0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in ["geo", "global", "example", "test"] {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    let option_len = 4 + addr.len() as u16;
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0]);
    p.extend_from_slice(&(4 + option_len).to_be_bytes());
    p.extend_from_slice(&[0, 8]);
    p.extend_from_slice(&option_len.to_be_bytes());
    p.extend_from_slice(&family.to_be_bytes());
    p.extend_from_slice(&[source, 0]);
    p.extend_from_slice(addr);
    p
}

/// The answer addresses and the echoed (family, source, scope) of a raw ECS query.
fn ask_ecs(snap: &Snapshot, packet: &[u8]) -> (Vec<IpAddr>, (u16, u8, u8)) {
    let mut out = Vec::new();
    let outcome = crate::dns::request::respond(
        &mut Responder::with_seed(1),
        snap,
        packet,
        "127.0.0.1".parse().unwrap(),
        Transport::Udp,
        &mut out,
    )
    .outcome();
    assert!(outcome.replied);
    let r = Message::from_vec(&out).expect("response decodes");
    let Some(EdnsOption::Subnet(echo)) = r.edns.as_ref().unwrap().option(EdnsCode::Subnet) else {
        panic!("ECS echoed");
    };
    let family = if echo.addr().is_ipv4() { 1 } else { 2 };
    (
        addrs(&r),
        (family, echo.source_prefix(), echo.scope_prefix()),
    )
}

#[test]
fn ecs_scope_of_an_ipv4_mapped_ipv6_subnet_is_an_ipv6_prefix() {
    let snap = geo_snapshot();
    // IPv4 198.51.100.70/32: Frankfurt, in the database's 198.51.100.64/26.
    let v4 = ask_ecs(&snap, &raw_ecs_query(1, 32, &[198, 51, 100, 70]));
    assert_eq!(
        v4,
        (vec!["192.0.2.20".parse::<IpAddr>().unwrap()], (1, 32, 26))
    );
    // The same client as ::ffff:198.51.100.70/128: family 2, so the scope
    // must be an IPv6 length, 96 + 26 (RFC 7871 §7.2.1), not /26 = ::/26.
    let mut mapped = [0u8; 16];
    mapped[10..12].copy_from_slice(&[0xFF, 0xFF]);
    mapped[12..].copy_from_slice(&[198, 51, 100, 70]);
    let v6 = ask_ecs(&snap, &raw_ecs_query(2, 128, &mapped));
    assert_eq!(
        v6,
        (vec!["192.0.2.20".parse::<IpAddr>().unwrap()], (2, 128, 122))
    );
    // A mapped prefix shorter than the IPv4 network: ::ffff:198.51.100.0/120.
    let v6 = ask_ecs(&snap, &raw_ecs_query(2, 120, &mapped[..15]));
    assert_eq!(v6.1, (2, 120, 122));
    // A native IPv6 subnet keeps its own prefix: 2001:db8:2::/48.
    let native = [0x20, 0x01, 0x0d, 0xb8, 0, 2];
    let v6 = ask_ecs(&snap, &raw_ecs_query(2, 48, &native));
    assert_eq!(
        v6,
        (vec!["192.0.2.20".parse::<IpAddr>().unwrap()], (2, 48, 48))
    );
}

/// A snapshot of [`many_nameservers_yaml`].
fn many_nameservers(count: usize, off_zone: usize) -> Snapshot {
    Snapshot {
        table: table_from_yaml(&many_nameservers_yaml(count, off_zone)),
        ..snapshot()
    }
}

/// A zone with `count` in-zone name servers ns1..nsN (each with an IPv4
/// address, the even ones an IPv6 address too) after `off_zone` name
/// servers outside the zone whose names are about 200 bytes long.
fn many_nameservers_yaml(count: usize, off_zone: usize) -> String {
    let mut yaml = String::from(
        "server: { dns_listen: [\"127.0.0.1:0\"] }\nzones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers:\n",
    );
    for i in 1..=count {
        let v6 = if i % 2 == 0 {
            format!(", \"2001:db8::{i:x}\"")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "      ns{i}.global.example.test.: [192.0.2.{i}{v6}]\n"
        ));
    }
    let long = ["x".repeat(63), "y".repeat(63), "z".repeat(63)].join(".");
    for i in 0..off_zone {
        // Sorted before "ns..": these NS records come first in the answer.
        yaml.push_str(&format!("      a{i:03}.{long}.elsewhere.test.: []\n"));
    }
    yaml.push_str("records: []\n");
    yaml
}

/// Every NS name in the answer, and the glue addresses by owner name.
fn ns_and_glue(r: &Message) -> (Vec<String>, Vec<(String, IpAddr)>) {
    let ns = r
        .answers
        .iter()
        .map(|rr| match &rr.data {
            RData::NS(n) => n.0.to_ascii(),
            other => panic!("NS expected, got {other:?}"),
        })
        .collect();
    let glue = r
        .additionals
        .iter()
        .map(|rr| match &rr.data {
            RData::A(a) => (rr.name.to_ascii(), IpAddr::V4(a.0)),
            RData::AAAA(a) => (rr.name.to_ascii(), IpAddr::V6(a.0)),
            other => panic!("glue expected, got {other:?}"),
        })
        .collect();
    (ns, glue)
}

/// The decoded response to `m` and its size in bytes.
fn respond_with(snap: &Snapshot, m: &Message, transport: Transport) -> (Message, usize) {
    let mut out = Vec::new();
    let outcome = crate::dns::request::respond(
        &mut Responder::with_seed(1),
        snap,
        &m.to_vec().unwrap(),
        "127.0.0.1".parse().unwrap(),
        transport,
        &mut out,
    )
    .outcome();
    assert!(outcome.replied);
    (
        Message::from_vec(&out).expect("response decodes"),
        out.len(),
    )
}

/// The glue every in-zone name server ns1..nsN must get, sorted.
fn expected_glue(count: usize) -> Vec<(String, IpAddr)> {
    let mut glue: Vec<(String, IpAddr)> = (1..=count)
        .flat_map(|i| {
            let name = format!("ns{i}.global.example.test.");
            let mut a = vec![(name.clone(), format!("192.0.2.{i}").parse().unwrap())];
            if i % 2 == 0 {
                a.push((name, format!("2001:db8::{i:x}").parse().unwrap()));
            }
            a
        })
        .collect();
    glue.sort();
    glue
}

#[test]
fn regression_6_every_one_of_20_name_servers_gets_its_glue() {
    let snap = many_nameservers(20, 0);
    let m = query("global.example.test.", RecordType::NS);
    for (what, m, transport) in [
        ("TCP", m.clone(), Transport::Tcp),
        (
            "EDNS 1232",
            with_edns(m.clone(), 1232, None),
            Transport::Udp,
        ),
    ] {
        let (r, _) = respond_with(&snap, &m, transport);
        assert!(!r.metadata.truncation, "{what}");
        let (ns, mut glue) = ns_and_glue(&r);
        assert_eq!(ns.len(), 20, "{what}");
        glue.sort();
        assert_eq!(glue, expected_glue(20), "{what}: all 30 glue records");
    }
    // Plain DNS (512 bytes) cannot hold them all: TC=1, and the resolver
    // retries over TCP (RFC 9471: no partial glue for in-domain servers).
    let (r, len) = respond_with(&snap, &m, Transport::Udp);
    assert!(r.metadata.truncation);
    assert!(len <= 512);
    let (r, len) = respond_with(&snap, &with_edns(m, 700, None), Transport::Udp);
    assert!(r.metadata.truncation, "a 700-byte EDNS buffer is too small");
    assert!(len <= 700);
}

#[test]
fn glue_owner_names_stay_right_past_the_compression_pointer_range() {
    // 100 long off-zone NS records push the in-zone ones past offset
    // 0x3FFF, where a compression pointer cannot reach.
    let snap = many_nameservers(4, 100);
    let (r, len) = respond_with(
        &snap,
        &query("global.example.test.", RecordType::NS),
        Transport::Tcp,
    );
    assert!(len > 0x4000, "{len}");
    assert!(!r.metadata.truncation);
    let (ns, mut glue) = ns_and_glue(&r);
    assert_eq!(ns.len(), 104);
    glue.sort();
    assert_eq!(glue, expected_glue(4));
}

#[test]
fn the_ns_answer_size_check_counts_what_the_writer_writes() {
    use crate::model::ns_answer::nameservers_response_len;
    for (count, off_zone) in [(20, 0), (4, 100), (1, 0)] {
        let yaml = many_nameservers_yaml(count, off_zone);
        let raw = serde_saphyr::from_str(&yaml).unwrap();
        let config = crate::config::validate::validate(
            raw,
            "test.yaml",
            Vec::new(),
            1,
            crate::config::Secrets::Read,
        )
        .unwrap();
        let zone = &config.zones[0];
        let bound = nameservers_response_len(&zone.origin, &zone.nameservers);
        let subnet = ClientSubnet::new("2001:db8::1".parse().unwrap(), 128, 0);
        let m = with_edns(
            query("global.example.test.", RecordType::NS),
            1232,
            Some(subnet),
        );
        let snap = many_nameservers(count, off_zone);
        let mut out = Vec::new();
        crate::dns::request::respond(
            &mut Responder::with_seed(1),
            &snap,
            &m.to_vec().unwrap(),
            "127.0.0.1".parse().unwrap(),
            Transport::Tcp,
            &mut out,
        )
        .outcome();
        assert_eq!(out.len(), bound, "{count} + {off_zone} name servers");
    }
}

const CHECKED: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    degraded_ttl: 7
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: tcp, port: 80 }
records:
  - name: app.global.example.test.
    ttl: 60
    sets:
      - { id: us, targets: [192.0.2.1, 192.0.2.2], health_check: web }
"#;

/// The TTL of `app`'s A answer with probe states `up` and contested bits
/// `contested` (by probe index).
fn app_ttl(up: [bool; 2], contested: [bool; 2]) -> u32 {
    use crate::table::liveness::ProbeBits;
    let table = table_from_yaml(CHECKED);
    let snap = Snapshot {
        health: Liveness {
            probes: ProbeBits::from_fn(2, |i| up[i]),
            contested: ProbeBits::from_fn(2, |i| contested[i]),
            overrides: crate::table::liveness::SetOverrides::none(1),
            ..Liveness::default()
        },
        table,
        ..snapshot()
    };
    let mut out = Vec::new();
    let packet = query("app.global.example.test.", RecordType::A)
        .to_vec()
        .unwrap();
    crate::dns::request::respond(
        &mut Responder::with_seed(1),
        &snap,
        &packet,
        "127.0.0.1".parse().unwrap(),
        Transport::Udp,
        &mut out,
    )
    .outcome();
    let response = Message::from_vec(&out).expect("response decodes");
    let ttls: Vec<u32> = response.answers.iter().map(|r| r.ttl).collect();
    assert!(
        !ttls.is_empty() && ttls.iter().all(|t| *t == ttls[0]),
        "{ttls:?}"
    );
    ttls[0]
}

#[test]
fn answers_that_involve_a_down_or_contested_target_get_the_degraded_ttl() {
    assert_eq!(
        app_ttl([true, true], [false, false]),
        60,
        "all healthy: the record's TTL"
    );
    assert_eq!(
        app_ttl([true, false], [false, false]),
        7,
        "a target of the set is down"
    );
    assert_eq!(
        app_ttl([true, true], [false, true]),
        7,
        "the views disagree about one"
    );
    assert_eq!(app_ttl([false, false], [false, false]), 7, "failing open");
}
