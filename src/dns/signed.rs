//! TSIG-signed queries (RFC 8945): certbot's dns-rfc2136 plugin, for one,
//! signs the SOA queries with which it finds the zone. The answer engine
//! sees the signature and writes nothing ([`Outcome::signed`]); the
//! transport then comes here: the signature is checked, the query is
//! answered without it by the same engine, and the response is signed
//! with the same key. Unsigned queries never pass through this module.
//!
//! Failures answer as RFC 8945 §5.2 says: NOTAUTH with the TSIG error
//! (BADKEY, BADSIG unsigned; BADTIME, BADTRUNC signed), FORMERR for a TSIG
//! record that cannot be read.

use std::{
    net::IpAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use super::answer::{Outcome, Responder, Transport};
use super::message;
use super::tsig::{self, Rejection, Signature};
use super::wire;
use crate::table::Snapshot;

/// RCODE FORMERR.
const FORMERR: u16 = 1;
/// Plain DNS over UDP (RFC 1035 §4.2.1).
const UDP_MIN_PAYLOAD: usize = 512;

/// Answers a query as both listeners do: the answer engine, then this
/// module when the query turned out to be TSIG-signed (unsigned queries pay
/// one flag check).
#[inline]
pub fn answer(
    responder: &mut Responder,
    snap: &Snapshot,
    packet: &[u8],
    client: IpAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    let outcome = responder.respond(snap, packet, client, transport, out);
    if outcome.signed {
        respond(responder, snap, packet, client, transport, out)
    } else {
        outcome
    }
}

/// Answers a signed query into `out` (cleared first).
pub fn respond(
    responder: &mut Responder,
    snap: &Snapshot,
    packet: &[u8],
    client: IpAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    out.clear();
    if packet.len() < wire::HEADER_LEN {
        return Outcome::default();
    }
    let Some((question_end, signature)) = read(packet) else {
        return error(packet, None, FORMERR, out);
    };
    let key = snap.table.keyring.get(&signature.key_name);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let key = match tsig::verify(packet, &signature, key.map(|k| &**k), now) {
        Ok(()) => key,
        Err(Rejection::FormErr) => return error(packet, Some(question_end), FORMERR, out),
        Err(rejection @ Rejection::Tsig(code)) => {
            let outcome = error(packet, Some(question_end), tsig::NOTAUTH, out);
            tsig::Reply {
                request: &signature,
                key: key.map(|k| &**k).filter(|_| rejection.signed()),
                error: code,
                now,
            }
            .append_to(out);
            return outcome;
        }
    };
    // The query as it would be unsigned: the TSIG record taken off.
    let mut unsigned = packet[..signature.start].to_vec();
    let arcount = u16::from_be_bytes([unsigned[10], unsigned[11]]).saturating_sub(1);
    unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
    let mut outcome = responder.respond(snap, &unsigned, client, transport, out);
    if !outcome.replied || outcome.signed {
        return Outcome::default();
    }
    let reply = tsig::Reply {
        request: &signature,
        key: key.map(|k| &**k),
        error: 0,
        now,
    };
    let limit = match (transport, wire::parse(&unsigned).ok().and_then(|q| q.edns)) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => UDP_MIN_PAYLOAD,
        (Transport::Udp, Some(edns)) => {
            usize::from(edns.payload.min(snap.max_udp_payload)).max(UDP_MIN_PAYLOAD)
        }
    };
    if out.len() + reply.record_len() > limit {
        // No room for the signature: truncated, the client retries over
        // TCP (RFC 8945 §5.3 signs the TC response too).
        let end = usize::from(outcome.question_end).min(out.len());
        out.truncate(end);
        out[2] |= 0x02;
        out[6..12].fill(0);
        outcome.truncated = true;
        outcome.opt_at = 0;
    }
    reply.append_to(out);
    outcome
}

/// Finds the question's end and the TSIG record (the last record).
fn read(packet: &[u8]) -> Option<(usize, Signature)> {
    let (_, _, _, question_end) = message::read_question(packet, wire::HEADER_LEN)?;
    let count = |i: usize| u32::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let records = count(6) + count(8) + count(10);
    let mut at = question_end;
    let mut last = None;
    for _ in 0..records {
        let rr = message::read_record(packet, at)?;
        at = rr.end();
        last = Some(rr);
    }
    let last = last.filter(|_| at == packet.len())?;
    Some((question_end, Signature::read(packet, &last)?))
}

/// An error response: the query's id, opcode and RD, QR, `rcode`, and the
/// question when it was readable.
fn error(packet: &[u8], question_end: Option<usize>, rcode: u16, out: &mut Vec<u8>) -> Outcome {
    out.extend_from_slice(&packet[..2]);
    out.push(0x80 | (packet[2] & 0x79));
    out.push((rcode & 0x0F) as u8);
    out.extend_from_slice(&[0, u8::from(question_end.is_some()), 0, 0, 0, 0, 0, 0]);
    let end = question_end.unwrap_or(wire::HEADER_LEN);
    out.extend_from_slice(&packet[wire::HEADER_LEN..end]);
    Outcome {
        replied: true,
        rcode,
        question_end: end as u16,
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests;
