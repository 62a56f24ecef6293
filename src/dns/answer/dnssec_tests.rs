//! Signed answers, checked with hickory-proto's DNSSEC verifier (an
//! independent canonical form and signature check): every RRset a DO
//! query gets from a signed zone carries RRSIGs that verify with the
//! zone's DNSKEYs; denial is compact (RFC 9824); a query without DO gets
//! the very bytes an unsigned zone would give.

use std::collections::BTreeSet;
use std::sync::Arc;

use hickory_proto::dnssec::Verifier as _;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;
use crate::dns::request::Transport;
use crate::table::compile::table_from_yaml;
use crate::table::liveness::Liveness;

/// 2029-06-01: the KSK (46294) and the Ed25519 ZSK (43869) sign; the
/// P-256 ZSK (10398) is published, activated 2030-01-01.
const BEFORE_ROLL: u64 = 1_874_966_400;
/// 2030-06-01: the P-256 ZSK signs too.
const AFTER_ROLL: u64 = 1_906_502_400;

const ZONE: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    ttl: 45
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., serial: 7, minimum: 20 }
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
    static:
      - { name: "@", type: TXT, data: '"v=spf1 -all"' }
      - { name: mail, type: MX, data: 10 MX1 }
      - { name: www, type: CNAME, data: webapp }
      - { name: hop, type: CNAME, data: www }
      - { name: gone, type: CNAME, data: missing }
      - { name: sub, type: NS, data: ns.sub }
      - { name: ns.sub, type: A, data: 192.0.2.80 }
      - { name: secure, type: NS, data: ns.elsewhere.test. }
      - { name: secure, type: DS, data: 46294 13 2 36F0BC752CAB174D0A98548E23FBC28254066F8330899BD81C8AF2C7D9840433 }
DNSSEC
records:
  - name: webapp.global.example.test.
    ttl: 30
    sets:
      - { id: one, targets: [192.0.2.10, 192.0.2.11, "2001:db8::10"] }
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
          "2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e", "2001:db8::f"]
"#;

fn key(file: &str) -> String {
    format!("{}/src/dnssec/testdata/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn snapshot(signed: bool) -> Snapshot {
    let dnssec = if signed {
        format!(
            "    dnssec:\n      key_files: [\"{}\", \"{}\", \"{}\"]\n",
            key("Kglobal.example.test.+013+46294"),
            key("Kglobal.example.test.+015+43869.key"),
            key("Kglobal.example.test.+013+10398.private"),
        )
    } else {
        String::new()
    };
    Snapshot {
        generation: 1,
        table: table_from_yaml(&ZONE.replace("DNSSEC\n", &dnssec)),
        counters: Default::default(),
        health: Liveness::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    }
}

/// A query with EDNS; `flags` are the EDNS header flags (DO, CO).
fn query(name: &str, rtype: RecordType, flags: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(0x5EC5, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut packet = m.to_vec().unwrap();
    if let Some(flags) = flags {
        packet[11] = 1;
        packet.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0]);
        packet.extend_from_slice(&flags.to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
    }
    packet
}

const DO: u16 = 0x8000;
const CO: u16 = 0x4000;

fn respond_at(
    snap: &Snapshot,
    packet: &[u8],
    transport: Transport,
    now: u64,
) -> (Vec<u8>, Outcome) {
    let mut out = Vec::new();
    let outcome = crate::dns::request::respond(
        &mut Responder::with_seed(1).at_time(now),
        snap,
        packet,
        "127.0.0.1".parse().unwrap(),
        transport,
        &mut out,
    )
    .outcome();
    (out, outcome)
}

fn ask(snap: &Snapshot, name: &str, rtype: RecordType, flags: u16) -> Message {
    let (out, _) = respond_at(
        snap,
        &query(name, rtype, Some(flags)),
        Transport::Udp,
        BEFORE_ROLL,
    );
    Message::from_vec(&out).expect("response decodes")
}

fn dnskeys(snap: &Snapshot, now: u64) -> Vec<DNSKEY> {
    let (out, _) = respond_at(
        snap,
        &query("global.example.test.", RecordType::DNSKEY, Some(DO)),
        Transport::Udp,
        now,
    );
    Message::from_vec(&out)
        .unwrap()
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn rrsig(record: &Record) -> Option<&RRSIG> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig),
        _ => None,
    }
}

/// Checks every RRset of `section` is covered by RRSIGs that verify with
/// `keys`; returns the (type covered, key tag) of each signature.
fn verify_section(section: &[Record], keys: &[DNSKEY]) -> BTreeSet<(RecordType, u16)> {
    let mut signed = BTreeSet::new();
    let data: Vec<&Record> = section.iter().filter(|r| rrsig(r).is_none()).collect();
    for record in section {
        let Some(sig) = rrsig(record) else { continue };
        let input = sig.input();
        let key = keys
            .iter()
            .find(|k| k.calculate_key_tag().unwrap() == input.key_tag)
            .unwrap_or_else(|| panic!("no DNSKEY with tag {}", input.key_tag));
        let covered = data
            .iter()
            .copied()
            .filter(|r| r.record_type() == input.type_covered && r.name == record.name);
        key.verify_rrsig(&record.name, DNSClass::IN, sig, covered)
            .unwrap_or_else(|e| {
                panic!(
                    "RRSIG {:?} at {} by {}: {e}",
                    input.type_covered, record.name, input.key_tag
                )
            });
        assert_eq!(
            input.signer_name,
            Name::from_ascii("global.example.test.").unwrap()
        );
        signed.insert((input.type_covered, input.key_tag));
    }
    for record in data {
        assert!(
            signed.iter().any(|(t, _)| *t == record.record_type()),
            "{} {:?} is not signed",
            record.name,
            record.record_type()
        );
    }
    signed
}

fn do_bit(m: &Message) -> bool {
    m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
}

#[test]
fn every_answered_rrset_is_signed_by_the_right_keys() {
    let snap = snapshot(true);
    let keys = dnskeys(&snap, BEFORE_ROLL);
    let tags: BTreeSet<u16> = keys
        .iter()
        .map(|k| k.calculate_key_tag().unwrap())
        .collect();
    assert_eq!(
        tags,
        BTreeSet::from([46294, 43869, 10398]),
        "10398 is pre-published"
    );
    let cases: [(&str, RecordType, &[RecordType], u16); 10] = [
        (
            "webapp.global.example.test.",
            RecordType::A,
            &[RecordType::A],
            43869,
        ),
        (
            "WebApp.Global.Example.TEST.",
            RecordType::AAAA,
            &[RecordType::AAAA],
            43869,
        ),
        (
            "global.example.test.",
            RecordType::SOA,
            &[RecordType::SOA],
            43869,
        ),
        (
            "global.example.test.",
            RecordType::NS,
            &[RecordType::NS],
            43869,
        ),
        (
            "global.example.test.",
            RecordType::TXT,
            &[RecordType::TXT],
            43869,
        ),
        (
            "mail.global.example.test.",
            RecordType::MX,
            &[RecordType::MX],
            43869,
        ),
        (
            "hop.global.example.test.",
            RecordType::A,
            &[RecordType::CNAME, RecordType::A],
            43869,
        ),
        (
            "ns1.global.example.test.",
            RecordType::A,
            &[RecordType::A],
            43869,
        ),
        (
            "global.example.test.",
            RecordType::DNSKEY,
            &[RecordType::DNSKEY],
            46294,
        ),
        (
            "global.example.test.",
            RecordType::CDS,
            &[RecordType::CDS],
            46294,
        ),
    ];
    for (name, rtype, covered, tag) in cases {
        let response = ask(&snap, name, rtype, DO);
        assert!(response.metadata.authoritative, "{name} {rtype:?}");
        assert!(do_bit(&response), "DO set in the response OPT");
        let signed = verify_section(&response.answers, &keys);
        let expected: BTreeSet<(RecordType, u16)> = covered.iter().map(|t| (*t, tag)).collect();
        assert_eq!(signed, expected, "{name} {rtype:?}");
    }
}

#[test]
fn a_key_signs_once_its_activate_time_passes_without_a_reload() {
    let snap = snapshot(true);
    let packet = query("webapp.global.example.test.", RecordType::A, Some(DO));
    let (out, _) = respond_at(&snap, &packet, Transport::Udp, AFTER_ROLL);
    let response = Message::from_vec(&out).unwrap();
    let signed = verify_section(&response.answers, &dnskeys(&snap, AFTER_ROLL));
    assert_eq!(
        signed,
        BTreeSet::from([(RecordType::A, 43869), (RecordType::A, 10398)])
    );
}

#[test]
fn queries_without_do_get_the_unsigned_zones_bytes() {
    let (signed, unsigned) = (snapshot(true), snapshot(false));
    let names = [
        ("webapp.global.example.test.", RecordType::A),
        ("webapp.global.example.test.", RecordType::TXT),
        ("global.example.test.", RecordType::SOA),
        ("global.example.test.", RecordType::NS),
        ("global.example.test.", RecordType::ANY),
        ("hop.global.example.test.", RecordType::A),
        ("gone.global.example.test.", RecordType::A),
        ("nothing.global.example.test.", RecordType::A),
        ("ent.global.example.test.", RecordType::A),
        ("x.sub.global.example.test.", RecordType::A),
        ("sub.global.example.test.", RecordType::DS),
        ("secure.global.example.test.", RecordType::DS),
        ("x.secure.global.example.test.", RecordType::A),
        ("many.global.example.test.", RecordType::AAAA),
    ];
    for (name, rtype) in names {
        for flags in [None, Some(0), Some(CO)] {
            let packet = query(name, rtype, flags);
            for transport in [Transport::Udp, Transport::Tcp] {
                let a = respond_at(&signed, &packet, transport, BEFORE_ROLL);
                let b = respond_at(&unsigned, &packet, transport, BEFORE_ROLL);
                assert_eq!(a.0, b.0, "{name} {rtype:?} {flags:?} {transport:?}");
            }
        }
    }
}

/// The authority section's NSEC: owner, next name and types.
fn nsec(m: &Message) -> (Name, Name, BTreeSet<RecordType>) {
    m.authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some((
                r.name.clone(),
                nsec.next_domain_name().clone(),
                nsec.type_bit_maps().collect(),
            )),
            _ => None,
        })
        .expect("an NSEC in authority")
}

fn types(list: &[RecordType]) -> BTreeSet<RecordType> {
    list.iter().copied().collect()
}

#[test]
fn denial_is_compact() {
    let snap = snapshot(true);
    let keys = dnskeys(&snap, BEFORE_ROLL);
    let name = |n: &str| Name::from_ascii(n).unwrap();
    // A name that does not exist: NOERROR, NXNAME; NXDOMAIN with CO.
    let response = ask(&snap, "Nothing.global.example.test.", RecordType::A, DO);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty());
    let (owner, next, bitmap) = nsec(&response);
    assert_eq!(owner, name("Nothing.global.example.test."));
    let expected_next = name("nothing.global.example.test.")
        .prepend_label(vec![0u8])
        .unwrap();
    assert_eq!(next, expected_next);
    assert_eq!(
        bitmap,
        types(&[
            RecordType::RRSIG,
            RecordType::NSEC,
            RecordType::Unknown(128)
        ])
    );
    let signed = verify_section(&response.authorities, &keys);
    assert_eq!(
        signed,
        BTreeSet::from([(RecordType::SOA, 43869), (RecordType::NSEC, 43869)])
    );
    assert_eq!(
        response.authorities[2].ttl, 20,
        "NSEC TTL: the negative TTL"
    );
    let with_co = ask(
        &snap,
        "nothing.global.example.test.",
        RecordType::A,
        DO | CO,
    );
    assert_eq!(with_co.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        with_co.edns.as_ref().is_some_and(|e| e.flags().z & CO != 0),
        "CO echoed"
    );
    // NODATA: the types that exist, less the one asked.
    let response = ask(&snap, "webapp.global.example.test.", RecordType::TXT, DO);
    assert_eq!(
        nsec(&response).2,
        types(&[
            RecordType::A,
            RecordType::AAAA,
            RecordType::RRSIG,
            RecordType::NSEC
        ])
    );
    verify_section(&response.authorities, &keys);
    let response = ask(&snap, "global.example.test.", RecordType::MX, DO);
    assert_eq!(
        nsec(&response).2,
        types(&[
            RecordType::NS,
            RecordType::SOA,
            RecordType::TXT,
            RecordType::RRSIG,
            RecordType::NSEC,
            RecordType::DNSKEY,
            RecordType::CDS,
            RecordType::CDNSKEY
        ])
    );
    // An empty non-terminal.
    let response = ask(&snap, "ent.global.example.test.", RecordType::A, DO);
    assert_eq!(
        nsec(&response).2,
        types(&[RecordType::RRSIG, RecordType::NSEC])
    );
    // A CNAME to a missing name: the CNAME signed, the target denied.
    let response = ask(&snap, "gone.global.example.test.", RecordType::A, DO);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    verify_section(&response.answers, &keys);
    assert_eq!(nsec(&response).0, name("missing.global.example.test."));
    // A delegation: the referral and a DS query prove there is no DS.
    for (qname, rtype) in [
        ("x.sub.global.example.test.", RecordType::A),
        ("sub.global.example.test.", RecordType::DS),
    ] {
        let response = ask(&snap, qname, rtype, DO);
        let (owner, _, bitmap) = nsec(&response);
        assert_eq!(owner, name("sub.global.example.test."), "{qname}");
        assert_eq!(
            bitmap,
            types(&[RecordType::NS, RecordType::RRSIG, RecordType::NSEC])
        );
        let signed = verify_section(
            &response
                .authorities
                .iter()
                .filter(|r| r.record_type() != RecordType::NS)
                .cloned()
                .collect::<Vec<_>>(),
            &keys,
        );
        assert!(signed.contains(&(RecordType::NSEC, 43869)), "{qname}");
    }
}

#[test]
fn a_signed_answer_too_large_for_udp_is_truncated_and_whole_over_tcp() {
    let snap = snapshot(true);
    let mut packet = query("many.global.example.test.", RecordType::AAAA, Some(DO));
    // Advertise 512 bytes: 15 AAAA fit, their RRSIG does not.
    let len = packet.len();
    packet[len - 8..len - 6].copy_from_slice(&512u16.to_be_bytes());
    let (udp, outcome) = respond_at(&snap, &packet, Transport::Udp, BEFORE_ROLL);
    assert!(outcome.truncated);
    let udp = Message::from_vec(&udp).unwrap();
    assert!(udp.metadata.truncation && udp.answers.is_empty());
    let (tcp, _) = respond_at(&snap, &packet, Transport::Tcp, BEFORE_ROLL);
    let tcp = Message::from_vec(&tcp).unwrap();
    assert_eq!(tcp.answers.len(), 16);
    verify_section(&tcp.answers, &dnskeys(&snap, BEFORE_ROLL));
}

#[test]
fn signatures_are_cached_per_rrset() {
    let snap = snapshot(true);
    let mut responder = Responder::with_seed(7).at_time(BEFORE_ROLL);
    let packet = query("webapp.global.example.test.", RecordType::A, Some(DO));
    let mut out = Vec::new();
    let mut ask = |out: &mut Vec<u8>| {
        crate::dns::request::respond(
            &mut responder,
            &snap,
            &packet,
            "127.0.0.1".parse().unwrap(),
            Transport::Udp,
            out,
        )
        .outcome()
        .dnssec
    };
    let first = ask(&mut out);
    assert_eq!((first.hits, first.misses), (0, 1));
    let first_bytes = out.clone();
    // The addresses rotate; the RRset, and its signature, stay the same.
    for _ in 0..4 {
        let again = ask(&mut out);
        assert_eq!((again.hits, again.misses), (1, 0));
    }
    let rrsig_of = |bytes: &[u8]| {
        Message::from_vec(bytes)
            .unwrap()
            .answers
            .iter()
            .find_map(|r| rrsig(r).map(|s| s.sig().to_vec()))
    };
    assert_eq!(rrsig_of(&first_bytes), rrsig_of(&out));
    let signer = snap.table.zones[0].signer.as_ref().unwrap();
    assert_eq!(signer.cached(), 1);
    // Inception an hour before the hour; expiration 7 days later.
    let sig = Message::from_vec(&out).unwrap();
    let input = sig.answers.iter().find_map(rrsig).unwrap().input().clone();
    assert_eq!(
        u64::from(input.sig_inception.get()),
        BEFORE_ROLL / 3600 * 3600 - 3600
    );
    assert_eq!(
        input.sig_expiration.get() - input.sig_inception.get(),
        7 * 86_400
    );
    let _ = Arc::clone(signer);
}

#[test]
fn a_delegation_with_a_static_ds_hands_it_out_signed() {
    let snap = snapshot(true);
    let keys = dnskeys(&snap, BEFORE_ROLL);
    let response = ask(&snap, "secure.global.example.test.", RecordType::DS, DO);
    assert!(response.metadata.authoritative);
    let signed = verify_section(&response.answers, &keys);
    assert_eq!(signed, BTreeSet::from([(RecordType::DS, 43869)]));
    let referral = ask(&snap, "www.secure.global.example.test.", RecordType::A, DO);
    assert!(!referral.metadata.authoritative && referral.answers.is_empty());
    let types: Vec<RecordType> = referral
        .authorities
        .iter()
        .map(Record::record_type)
        .collect();
    assert_eq!(types, [RecordType::NS, RecordType::DS, RecordType::RRSIG]);
    let ds_and_sig: Vec<Record> = referral.authorities[1..].to_vec();
    assert_eq!(
        verify_section(&ds_and_sig, &keys),
        BTreeSet::from([(RecordType::DS, 43869)])
    );
    // Without DO, a referral carries no DS.
    let plain = ask(&snap, "www.secure.global.example.test.", RecordType::A, 0);
    let types: Vec<RecordType> = plain.authorities.iter().map(Record::record_type).collect();
    assert_eq!(types, [RecordType::NS]);
}
