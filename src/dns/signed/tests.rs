//! Signed queries: answered and signed, or refused with the TSIG error.

use std::net::Ipv4Addr;

use super::*;
use crate::dns::message::wire_name;
use crate::model::update::TsigAlgorithm;
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
    let mut responder = Responder::with_seed(1);
    let mut out = Vec::new();
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let outcome = responder.respond(snap, packet, client, Transport::Udp, &mut out);
    assert!(
        outcome.signed,
        "the engine leaves signed queries to this module"
    );
    assert!(out.is_empty());
    let outcome = respond(
        &mut responder,
        snap,
        packet,
        client,
        Transport::Udp,
        &mut out,
    );
    (outcome, out)
}

/// The TSIG record at the end of `response`.
fn tsig_of(response: &[u8]) -> Signature {
    read(response).expect("a signed response").1
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
    assert_eq!(response[3] & 0x0F, 0, "NOERROR");
    assert_eq!(u16::from_be_bytes([response[6], response[7]]), 1, "the SOA");
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (0, 32));
    assert_eq!(&*sig.key_name, b"\x04acme\x00");
}

#[test]
fn unsigned_queries_never_take_the_signed_path() {
    let (snap, _dir) = snapshot();
    let mut responder = Responder::with_seed(1);
    let mut out = Vec::new();
    let outcome = responder.respond(
        &snap,
        &soa_query(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Transport::Udp,
        &mut out,
    );
    assert!(!outcome.signed && outcome.replied && outcome.rcode == 0);
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
    assert_eq!(outcome.rcode, tsig::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (tsig::BADKEY, 0));

    let wrong = TsigKey::new(
        Name::parse("acme.").unwrap(),
        TsigAlgorithm::HmacSha256,
        b"not-the-secret-not-the-secret-00",
    );
    let mut query = soa_query();
    tsig::sign_request(&mut query, &wrong, now());
    let (outcome, response) = answer(&snap, &query);
    assert_eq!(outcome.rcode, tsig::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!((sig.error, sig.mac.len()), (tsig::BADSIG, 0));
}

#[test]
fn an_old_signature_is_badtime_signed() {
    let (snap, _dir) = snapshot();
    let mut query = soa_query();
    tsig::sign_request(&mut query, &key(), now() - 3600);
    let (outcome, response) = answer(&snap, &query);
    assert_eq!(outcome.rcode, tsig::NOTAUTH);
    let sig = tsig_of(&response);
    assert_eq!(
        (sig.error, sig.mac.len(), sig.other.len()),
        (tsig::BADTIME, 32, 6)
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
    let mut out = Vec::new();
    let outcome = Responder::with_seed(1).respond(
        &snap,
        &query,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Transport::Udp,
        &mut out,
    );
    assert_eq!((outcome.signed, outcome.rcode), (false, 1));
}
