//! Answers from static records, the dynamic layer, CNAME chains and
//! referrals, decoded with hickory-proto's parser.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::dns::request::Transport;
use crate::table::compile::table_from_yaml;
use crate::table::ddns::published::Dynamic;
use crate::table::liveness::Liveness;
use crate::table::rrset::{RrSet, RrSets};

const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    ttl: 45
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., serial: 7, minimum: 20 }
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
    static:
      - { name: "@", type: CAA, data: '0 issue "letsencrypt.org"' }
      - { name: "@", type: TXT, ttl: 300, data: '"v=spf1 -all"' }
      - { name: "@", type: MX, data: 10 mx }
      - { name: mx, type: A, data: 192.0.2.25 }
      - { name: _sip._tcp, type: SRV, data: 10 60 5060 sip }
      - { name: long, type: TXT, data: '"part one" "part two"' }
      - { name: www, type: CNAME, data: webapp }
      - { name: hop, type: CNAME, data: www }
      - { name: info, type: CNAME, data: long }
      - { name: away, type: CNAME, data: target.example.net. }
      - { name: gone, type: CNAME, data: missing }
      - { name: into-sub, type: CNAME, data: host.sub }
      - { name: sub, type: NS, data: ns.sub }
      - { name: sub, type: NS, data: ns1 }
      - { name: sub, type: NS, data: ns.example.net. }
      - { name: ns.sub, type: A, data: 192.0.2.80 }
      - { name: ns.sub, type: AAAA, data: "2001:db8::80" }
      - { name: big, type: TXT, data: '"{BIG}"' }
records:
  - name: webapp.global.example.test.
    ttl: 30
    sets:
      - { id: one, targets: [192.0.2.10, "2001:db8::10"] }
"#;

fn snapshot_with(dynamic: Dynamic) -> Snapshot {
    let big = "x".repeat(250);
    let big_set = [big.as_str(); 6].join("\" \"");
    Snapshot {
        generation: 1,
        table: table_from_yaml(&YAML.replace("{BIG}", &big_set)),
        counters: Default::default(),
        health: Liveness::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Arc::new(dynamic),
    }
}

fn snapshot() -> Snapshot {
    snapshot_with(Dynamic::default())
}

fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// The decoded response and the outcome.
fn respond(snap: &Snapshot, m: &Message, transport: Transport) -> (Message, Outcome) {
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
    (Message::from_vec(&out).expect("response decodes"), outcome)
}

fn ask(name: &str, rtype: RecordType) -> Message {
    respond(&snapshot(), &query(name, rtype), Transport::Udp).0
}

/// Records as `owner TYPE data` lines, for readable comparisons.
fn lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

#[test]
fn txt_caa_mx_and_srv_are_answered_as_written_with_aa() {
    let r = ask("Global.Example.Test.", RecordType::TXT);
    assert!(r.metadata.authoritative);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        lines(&r.answers),
        ["Global.Example.Test. 300 TXT v=spf1 -all"]
    );
    assert!(r.authorities.is_empty() && r.additionals.is_empty());
    let r = ask("global.example.test.", RecordType::CAA);
    assert_eq!(
        lines(&r.answers),
        ["global.example.test. 45 CAA 0 issue \"letsencrypt.org\""]
    );
    let r = ask("global.example.test.", RecordType::MX);
    assert_eq!(
        lines(&r.answers),
        ["global.example.test. 45 MX 10 mx.global.example.test."]
    );
    let r = ask("_sip._tcp.global.example.test.", RecordType::SRV);
    assert_eq!(
        lines(&r.answers),
        ["_sip._tcp.global.example.test. 45 SRV 10 60 5060 sip.global.example.test."]
    );
    let r = ask("long.global.example.test.", RecordType::TXT);
    match &r.answers[0].data {
        RData::TXT(txt) => assert_eq!(txt.txt_data.len(), 2, "two character-strings"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn static_hosts_answer_a_and_aaaa() {
    let r = ask("mx.global.example.test.", RecordType::A);
    assert_eq!(
        lines(&r.answers),
        ["mx.global.example.test. 45 A 192.0.2.25"]
    );
    let r = ask("mx.global.example.test.", RecordType::AAAA);
    assert!(r.answers.is_empty() && r.metadata.authoritative);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn a_missing_type_at_a_static_name_is_nodata_with_the_soa() {
    let r = ask("long.global.example.test.", RecordType::MX);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative && r.answers.is_empty());
    assert_eq!(r.authorities.len(), 1);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(r.authorities[0].ttl, 20);
    // The names between a static name and the apex exist, empty.
    let r = ask("_tcp.global.example.test.", RecordType::TXT);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    let r = ask("nothing.global.example.test.", RecordType::TXT);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn any_gets_one_static_rrset() {
    let r = ask("long.global.example.test.", RecordType::ANY);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].record_type(), RecordType::TXT);
    let r = ask("www.global.example.test.", RecordType::ANY);
    assert_eq!(
        lines(&r.answers),
        ["www.global.example.test. 45 CNAME webapp.global.example.test."]
    );
}

#[test]
fn a_cname_is_followed_to_a_gslb_record_with_selection() {
    let r = ask("WWW.global.example.test.", RecordType::A);
    assert!(r.metadata.authoritative);
    assert_eq!(
        lines(&r.answers),
        [
            "WWW.global.example.test. 45 CNAME webapp.global.example.test.",
            "webapp.global.example.test. 30 A 192.0.2.10",
        ]
    );
    let r = ask("hop.global.example.test.", RecordType::AAAA);
    assert_eq!(
        lines(&r.answers),
        [
            "hop.global.example.test. 45 CNAME www.global.example.test.",
            "www.global.example.test. 45 CNAME webapp.global.example.test.",
            "webapp.global.example.test. 30 AAAA 2001:db8::10",
        ]
    );
    let (_, outcome) = respond(
        &snapshot(),
        &query("www.global.example.test.", RecordType::A),
        Transport::Udp,
    );
    assert_eq!(
        outcome.answered.map(|(record, _)| record),
        Some(0),
        "selection ran"
    );
}

#[test]
fn a_cname_is_followed_to_static_data_and_nodata() {
    let r = ask("info.global.example.test.", RecordType::TXT);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[1].record_type(), RecordType::TXT);
    // The target has no MX: the CNAME, then NODATA for the target.
    let r = ask("info.global.example.test.", RecordType::MX);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(r.authorities[0].name.to_ascii(), "global.example.test.");
}

#[test]
fn the_cname_itself_answers_cname_queries() {
    let r = ask("www.global.example.test.", RecordType::CNAME);
    assert_eq!(
        lines(&r.answers),
        ["www.global.example.test. 45 CNAME webapp.global.example.test."]
    );
}

#[test]
fn a_chain_stops_at_an_out_of_zone_target_and_ends_in_nxdomain_inside() {
    let r = ask("away.global.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(
        lines(&r.answers),
        ["away.global.example.test. 45 CNAME target.example.net."]
    );
    assert!(r.authorities.is_empty());
    // RFC 6604: the RCODE is the last name's.
    let r = ask("gone.global.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn names_at_and_below_a_delegation_get_a_referral() {
    for (name, qtype) in [
        ("sub.global.example.test.", RecordType::A),
        ("sub.global.example.test.", RecordType::NS),
        ("deep.below.SUB.global.example.test.", RecordType::TXT),
        ("ns.sub.global.example.test.", RecordType::A),
    ] {
        let r = ask(name, qtype);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(
            !r.metadata.authoritative,
            "{name}: a referral is not authoritative"
        );
        assert!(r.answers.is_empty(), "{name}");
        let ns: Vec<String> = r.authorities.iter().map(|rr| rr.data.to_string()).collect();
        assert_eq!(
            ns,
            [
                "ns.sub.global.example.test.",
                "ns1.global.example.test.",
                "ns.example.net."
            ],
            "{name}"
        );
        let owner = r.authorities[0].name.to_ascii().to_ascii_lowercase();
        assert_eq!(owner, "sub.global.example.test.");
        assert_eq!(
            lines(&r.additionals),
            [
                "ns.sub.global.example.test. 45 A 192.0.2.80",
                "ns.sub.global.example.test. 45 AAAA 2001:db8::80",
                "ns1.global.example.test. 45 A 192.0.2.53",
            ],
            "{name}"
        );
    }
}

#[test]
fn ds_at_the_delegation_is_the_parent_side_nodata() {
    let r = ask("sub.global.example.test.", RecordType::DS);
    assert!(r.metadata.authoritative);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    // Below the cut DS belongs to the child: a referral.
    let r = ask("x.sub.global.example.test.", RecordType::DS);
    assert!(!r.metadata.authoritative);
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
}

#[test]
fn a_cname_into_a_delegation_ends_in_its_referral() {
    let r = ask("into-sub.global.example.test.", RecordType::A);
    assert!(r.metadata.authoritative, "the CNAME is gslb's own data");
    assert_eq!(
        lines(&r.answers),
        ["into-sub.global.example.test. 45 CNAME host.sub.global.example.test."]
    );
    assert_eq!(r.authorities.len(), 3);
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    assert_eq!(r.additionals.len(), 3);
}

#[test]
fn referrals_count_as_ns_responses_per_delegation() {
    let snap = snapshot();
    let (_, a) = respond(
        &snap,
        &query("a.sub.global.example.test.", RecordType::A),
        Transport::Udp,
    );
    let (_, b) = respond(
        &snap,
        &query("b.sub.global.example.test.", RecordType::TXT),
        Transport::Udp,
    );
    assert_eq!(a.kind, ResponseKind::Ns);
    assert_eq!(a.name_id, b.name_id, "one stream per delegation");
    let (_, txt) = respond(
        &snap,
        &query("long.global.example.test.", RecordType::TXT),
        Transport::Udp,
    );
    assert_eq!(txt.kind, ResponseKind::Answer);
    assert_ne!(txt.name_id, a.name_id);
}

#[test]
fn a_large_static_rrset_truncates_over_udp_and_is_whole_over_tcp() {
    let snap = snapshot();
    let (r, outcome) = respond(
        &snap,
        &query("big.global.example.test.", RecordType::TXT),
        Transport::Udp,
    );
    assert!(outcome.truncated && r.metadata.truncation && r.answers.is_empty());
    let (r, outcome) = respond(
        &snap,
        &query("big.global.example.test.", RecordType::TXT),
        Transport::Tcp,
    );
    assert!(!outcome.truncated);
    match &r.answers[0].data {
        RData::TXT(txt) => assert_eq!(txt.txt_data.len(), 6),
        other => panic!("{other:?}"),
    }
}

fn txt(token: &str) -> RrSets {
    let mut rdata = vec![token.len() as u8];
    rdata.extend_from_slice(token.as_bytes());
    RrSets::new(vec![RrSet {
        rtype: 16,
        ttl: 60,
        rdata: Box::new([rdata.into()]),
    }])
}

fn dynamic_snapshot() -> Snapshot {
    let table = snapshot().table;
    let dynamic = Dynamic::build(
        &table,
        [
            (
                crate::name::Name::parse("_acme-challenge.webapp.global.example.test.").unwrap(),
                txt("token-1"),
            ),
            (
                crate::name::Name::parse("long.global.example.test.").unwrap(),
                txt("dynamic"),
            ),
        ],
        vec![Some(4242)],
    );
    snapshot_with(dynamic)
}

#[test]
fn dynamic_records_answer_where_static_data_has_none() {
    let snap = dynamic_snapshot();
    let ask = |name: &str, rtype| respond(&snap, &query(name, rtype), Transport::Udp).0;
    let r = ask(
        "_acme-challenge.webapp.global.example.test.",
        RecordType::TXT,
    );
    assert!(r.metadata.authoritative);
    assert_eq!(
        lines(&r.answers),
        ["_acme-challenge.webapp.global.example.test. 60 TXT token-1"]
    );
    let r = ask("_acme-challenge.webapp.global.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    // The static TXT comes first where both layers have one.
    let r = ask("long.global.example.test.", RecordType::TXT);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].ttl, 45);
    // SOA serials come from the layer when updates changed them.
    let r = ask("global.example.test.", RecordType::SOA);
    match &r.answers[0].data {
        RData::SOA(soa) => assert_eq!(soa.serial, 4242),
        other => panic!("{other:?}"),
    }
    let r = ask("nothing.global.example.test.", RecordType::A);
    match &r.authorities[0].data {
        RData::SOA(soa) => assert_eq!(soa.serial, 4242),
        other => panic!("{other:?}"),
    }
    let plain = snapshot();
    let (r, _) = respond(
        &plain,
        &query("global.example.test.", RecordType::SOA),
        Transport::Udp,
    );
    match &r.answers[0].data {
        RData::SOA(soa) => assert_eq!(soa.serial, 7),
        other => panic!("{other:?}"),
    }
}

#[test]
fn answers_keep_the_query_case_and_addresses_decode() {
    let r = ask("MX.Global.Example.Test.", RecordType::A);
    assert_eq!(r.answers[0].name.to_ascii(), "MX.Global.Example.Test.");
    let addr = match &r.answers[0].data {
        RData::A(a) => IpAddr::V4(a.0),
        other => panic!("{other:?}"),
    };
    assert_eq!(addr, "192.0.2.25".parse::<IpAddr>().unwrap());
}
