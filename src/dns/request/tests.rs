//! The request path: triage by opcode, the payload limit, and signed
//! queries answered and signed or refused with the TSIG error.

use crate::iana::{opcode, rcode, tsig_error};
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use crate::dns::message::wire_name;
use crate::model::ddns::TsigAlgorithm;
use crate::name::Name;
use crate::table::compile::table_from_yaml;
use crate::table::keyring::TsigKey;

const SECRET_B64: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";

fn snapshot() -> (Snapshot, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("key");
    std::fs::write(&secret, format!("{SECRET_B64}\n")).unwrap();
    let yaml = format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:0"] }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., serial: 7 }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
    updates:
      keys: [{{ name: acme., secret_file: "{}" }}]
      allow: [{{ key: acme., names: ["_acme-challenge.*"], types: [TXT] }}]
"#,
        secret.display()
    );
    let snap = Snapshot {
        generation: 1,
        table: table_from_yaml(&yaml),
        counters: Default::default(),
        health: Default::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    };
    (snap, dir)
}

fn key() -> TsigKey {
    TsigKey::new(
        Name::parse("acme.").unwrap(),
        TsigAlgorithm::HmacSha256,
        b"secret-secret-secret-secret-1234",
    )
}

fn soa_query() -> Vec<u8> {
    let mut q = vec![0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(&wire_name("global.example.test"));
    q.extend_from_slice(&[0, 6, 0, 1]);
    q
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn answer(snap: &Snapshot, packet: &[u8]) -> (Outcome, Vec<u8>) {
    answer_over(snap, packet, Transport::Udp)
}

fn answer_over(snap: &Snapshot, packet: &[u8], transport: Transport) -> (Outcome, Vec<u8>) {
    let mut out = Vec::new();
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let handled = respond(
        &mut Responder::with_seed(1),
        snap,
        packet,
        client,
        transport,
        &mut out,
    );
    let Handled::Reply(outcome) = handled else {
        panic!("a query is answered here, not queued as an update");
    };
    assert_eq!(outcome.replied, !out.is_empty());
    (outcome, out)
}

/// The TSIG record at the end of `response` (the last record).
fn tsig_of(response: &[u8]) -> Signature {
    let (_, _, _, question_end) = message::read_question(response, 12).expect("a question");
    let count = |i: usize| usize::from(u16::from_be_bytes([response[i], response[i + 1]]));
    let mut at = question_end;
    let mut last = None;
    for _ in 0..count(6) + count(8) + count(10) {
        let rr = message::read_record(response, at).expect("a record");
        at = rr.end();
        last = Some(rr);
    }
    assert_eq!(at, response.len());
    Signature::read(response, &last.expect("records")).expect("a signed response")
}

fn rcode(response: &[u8]) -> u8 {
    response[3] & 0x0F
}

#[test]
fn a_signed_soa_query_gets_a_signed_answer() {
    let (snap, _dir) = snapshot();
    let mut query = soa_query();
    tsig::sign_request(&mut query, &key(), now());
    let (outcome, response) = answer(&snap, &query);
    assert!(outcome.replied);
    assert_eq!(outcome.rcode, 0);
    assert_eq!(&response[..2], &[0xAB, 0xCD]);
    assert_eq!(rcode(&response), 0, "NOERROR");
    assert_eq!(u16::from_be_bytes([response[6], response[7]]), 1, "the SOA");
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (0, 32));
    assert_eq!(&*sig.key_name, b"\x04acme\x00");
}

#[test]
fn an_unsigned_query_gets_no_signature() {
    let (snap, _dir) = snapshot();
    let (outcome, response) = answer(&snap, &soa_query());
    assert!(outcome.replied && outcome.rcode == 0);
    assert_eq!(u16::from_be_bytes([response[10], response[11]]), 0);
}

#[test]
fn an_unknown_key_is_badkey_and_a_bad_mac_badsig_unsigned() {
    let (snap, _dir) = snapshot();
    let stranger = TsigKey::new(
        Name::parse("stranger.").unwrap(),
        TsigAlgorithm::HmacSha256,
        b"secret-secret-secret-secret-1234",
    );
    let mut query = soa_query();
    tsig::sign_request(&mut query, &stranger, now());
    let (outcome, response) = answer(&snap, &query);
    assert_eq!(outcome.rcode, rcode::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (tsig_error::BADKEY, 0));

    let wrong = TsigKey::new(
        Name::parse("acme.").unwrap(),
        TsigAlgorithm::HmacSha256,
        b"not-the-secret-not-the-secret-00",
    );
    let mut query = soa_query();
    tsig::sign_request(&mut query, &wrong, now());
    let (outcome, response) = answer(&snap, &query);
    assert_eq!(outcome.rcode, rcode::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (tsig_error::BADSIG, 0));
}

#[test]
fn an_old_signature_is_badtime_signed() {
    let (snap, _dir) = snapshot();
    let mut query = soa_query();
    tsig::sign_request(&mut query, &key(), now() - 3600);
    let (outcome, response) = answer(&snap, &query);
    assert_eq!(outcome.rcode, rcode::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!(
        (sig.error, sig.mac.len(), sig.other.len()),
        (tsig_error::BADTIME, 32, 6)
    );
}

#[test]
fn a_tsig_record_that_is_not_last_is_formerr() {
    let (snap, _dir) = snapshot();
    let mut query = soa_query();
    tsig::sign_request(&mut query, &key(), now());
    // An OPT after the TSIG record.
    query.extend_from_slice(&[0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0]);
    query[11] += 1;
    let (outcome, response) = answer(&snap, &query);
    assert_eq!((outcome.rcode, rcode(&response)), (1, 1));
}

#[test]
fn responses_are_dropped_and_updates_handed_back() {
    let (snap, _dir) = snapshot();
    let mut response = soa_query();
    response[2] |= 0x80;
    assert_eq!(answer(&snap, &response), (Outcome::default(), vec![]));
    assert_eq!(answer(&snap, &response[..11]), (Outcome::default(), vec![]));
    let mut update = soa_query();
    update[2] = opcode::UPDATE << 3;
    let mut out = vec![1, 2, 3];
    let handled = respond(
        &mut Responder::with_seed(1),
        &snap,
        &update,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Transport::Tcp,
        &mut out,
    );
    assert_eq!((handled, out.len()), (Handled::Update, 0));
}

#[test]
fn other_opcodes_are_notimp_with_the_question() {
    let (snap, _dir) = snapshot();
    for opcode in [1u8, 2, 4, 6, 15] {
        let mut query = soa_query();
        query[2] = (opcode << 3) | 1;
        let (outcome, response) = answer(&snap, &query);
        assert_eq!((outcome.rcode, rcode(&response)), (4, 4), "opcode {opcode}");
        assert_eq!(response[2] >> 3 & 0x0F, opcode, "the opcode is echoed");
        assert_eq!(u16::from_be_bytes([response[4], response[5]]), 1);
    }
}

#[test]
fn the_payload_limit_follows_transport_and_edns() {
    let edns = |payload| {
        Some(Edns {
            payload,
            version: 0,
            dnssec_ok: false,
            compact_ok: false,
            ecs: None,
        })
    };
    assert_eq!(payload_limit(Transport::Udp, None, 1232), 512);
    assert_eq!(payload_limit(Transport::Udp, edns(4096), 1232), 1232);
    assert_eq!(payload_limit(Transport::Udp, edns(800), 1232), 800);
    assert_eq!(payload_limit(Transport::Udp, edns(100), 1232), 512);
    assert_eq!(payload_limit(Transport::Tcp, None, 1232), 65_535);
    assert_eq!(payload_limit(Transport::Tcp, edns(600), 1232), 65_535);
}
