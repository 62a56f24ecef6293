//! Reading UPDATE messages.

use super::*;
use crate::dns::message::wire_name;
use crate::iana::{opcode, rcode};

/// An update for `zone` with (PRCOUNT, UPCOUNT, ADCOUNT) = `counts`.
fn message(zone: &str, counts: [u16; 3], body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, opcode::UPDATE << 3, 0, 0, 1];
    for c in counts {
        p.extend_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&wire_name(zone));
    p.extend_from_slice(&[0, 6, 0, 1]);
    p.extend_from_slice(body);
    p
}

fn txt_add(owner_pointer: bool) -> Vec<u8> {
    let mut rr = Vec::new();
    if owner_pointer {
        rr.extend_from_slice(b"\x0f_acme-challenge\xC0\x0C");
    } else {
        rr.extend_from_slice(&wire_name("_acme-challenge.global.example.test"));
    }
    rr.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'a', b'b', b'c']);
    rr
}

#[test]
fn reads_zone_prerequisites_and_changes() {
    let mut body = Vec::new();
    // Prerequisite: name not in use (class NONE, type ANY).
    body.extend_from_slice(b"\x01x\xC0\x0C\x00\xff\x00\xfe\x00\x00\x00\x00\x00\x00");
    body.extend_from_slice(&txt_add(true));
    let p = message("Global.Example.Test", [1, 1, 0], &body);
    let r = parse(&p).unwrap();
    assert_eq!(&*r.zone, &wire_name("global.example.test")[..]);
    let update = r.update.unwrap();
    assert_eq!(update.prerequisites.len(), 1);
    assert_eq!(update.prerequisites[0].class, 254);
    let change = &update.changes[0];
    assert_eq!(
        &*change.name,
        &wire_name("_acme-challenge.global.example.test")[..]
    );
    assert_eq!((change.rtype, change.class, change.ttl), (16, 1, 60));
    assert_eq!(&*change.rdata, b"\x03abc");
    assert!(r.signature.is_none());
}

#[test]
fn malformed_updates_are_formerr_or_dropped() {
    assert_eq!(parse(&[0; 5]), Err(Unreadable::Drop));
    let mut response = message("a.test", [0, 0, 0], &[]);
    response[2] |= 0x80;
    assert_eq!(parse(&response), Err(Unreadable::Drop));
    // ZOCOUNT 2.
    let mut two = message("a.test", [0, 0, 0], &[]);
    two[5] = 2;
    assert_eq!(parse(&two), Err(Unreadable::FormErr { zone_end: None }));
    // Zone type A instead of SOA.
    let mut a = message("a.test", [0, 0, 0], &[]);
    let at = a.len() - 3;
    a[at] = 1;
    assert_eq!(parse(&a), Err(Unreadable::FormErr { zone_end: None }));
    // A change that runs past the end; bytes after the last record.
    let zone_end = Some(message("a.test", [0, 0, 0], &[]).len());
    let cut = message("a.test", [0, 1, 0], &txt_add(false)[..10]);
    assert_eq!(parse(&cut), Err(Unreadable::FormErr { zone_end }));
    let mut extra = message("a.test", [0, 1, 0], &txt_add(false));
    extra.push(0);
    assert_eq!(parse(&extra), Err(Unreadable::FormErr { zone_end }));
}

#[test]
fn a_tsig_record_must_be_the_last_and_only_in_additional() {
    let tsig: &[u8] = b"\x03key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x1d\x0bhmac-sha256\x00\x00\x00\x65\x53\xf1\x00\x01\x2c\x00\x00\x12\x34\x00\x00\x00\x00";
    let signed = message("a.test", [0, 0, 1], tsig);
    let r = parse(&signed).unwrap();
    assert_eq!(&*r.signature.unwrap().key_name, b"\x03key\x00");
    let mut twice = tsig.to_vec();
    twice.extend_from_slice(tsig);
    let zone_end = Some(message("a.test", [0, 0, 0], &[]).len());
    assert_eq!(
        parse(&message("a.test", [0, 0, 2], &twice)),
        Err(Unreadable::FormErr { zone_end })
    );
    // TSIG in the update section: the frame reads, its content does not
    // (FORMERR, signed when a signature verifies).
    assert_eq!(
        parse(&message("a.test", [0, 1, 0], tsig)).map(|r| r.update),
        Ok(Err("a TSIG or OPT record outside the additional section"))
    );
}

#[test]
fn responses_echo_id_opcode_and_zone() {
    let p = message("a.test", [0, 1, 0], &txt_add(false));
    let zone_end = parse(&p).unwrap().zone_end;
    let r = response(&p, Some(zone_end), rcode::NOTAUTH);
    assert_eq!(&r[..4], &[0x12, 0x34, 0x80 | (opcode::UPDATE << 3), 9]);
    assert_eq!(&r[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&r[12..], &p[12..zone_end]);
    assert_eq!(response(&p, None, rcode::FORMERR).len(), 12);
}

#[test]
fn never_panics_on_mutated_updates() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let base = message("global.example.test", [0, 1, 0], &txt_add(true));
    for _ in 0..50_000 {
        let mut p = base.clone();
        for _ in 0..next() % 4 + 1 {
            let i = (next() as usize) % p.len();
            p[i] = next() as u8;
        }
        p.truncate((next() as usize) % (p.len() + 1));
        if let Err(Unreadable::FormErr {
            zone_end: Some(end),
        }) = parse(&p)
        {
            let _ = response(&p, Some(end), rcode::FORMERR);
        }
    }
}

#[test]
fn empty_rdata_of_types_with_names_reads_in_prerequisites_and_deletes() {
    // NS, CNAME, SOA, PTR, MX, SRV: "RRset exists" (class ANY), "RRset
    // does not exist" (class NONE) and an RRset delete (class ANY) carry
    // no RDATA (RFC 2136 §2.4.1, §2.4.3, §2.5.2).
    for rtype in [2u16, 5, 6, 12, 15, 33] {
        let mut body = Vec::new();
        for class in [255u16, 254] {
            body.extend_from_slice(b"\x01x\xC0\x0C");
            body.extend_from_slice(&rtype.to_be_bytes());
            body.extend_from_slice(&class.to_be_bytes());
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        body.extend_from_slice(b"\x01x\xC0\x0C");
        body.extend_from_slice(&rtype.to_be_bytes());
        body.extend_from_slice(&[0, 255, 0, 0, 0, 0, 0, 0]);
        let p = message("global.example.test", [2, 1, 0], &body);
        let request = parse(&p).unwrap_or_else(|e| panic!("type {rtype}: {e:?}"));
        let update = request
            .update
            .unwrap_or_else(|e| panic!("type {rtype}: {e}"));
        let rrs = update.prerequisites.iter().chain(&update.changes);
        for rr in rrs {
            assert_eq!((rr.rtype, &*rr.rdata), (rtype, &b""[..]));
        }
    }
}
