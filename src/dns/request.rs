//! The request path: every message either listener receives goes through
//! [`handle`], one step after another, each once:
//!
//! 1. **Triage** on the header: no whole header, or a response, is dropped
//!    (answering responses invites reflection loops); an UPDATE is handed
//!    back to the listener ([`Handled::Update`]), which queues it for
//!    [`super::update`]; every other opcode but QUERY gets NOTIMP.
//! 2. **Read** the query ([`query::parse`]), FORMERR when malformed, and
//!    the response size limit for the transport and the client's EDNS size.
//! 3. **Verify** a TSIG-signed query (RFC 8945 §5.2) before answering it:
//!    an unreadable TSIG record is FORMERR; an unknown key, a bad MAC or a
//!    time outside the fudge is NOTAUTH with the TSIG error.
//! 4. **Answer** ([`super::answer`]) within the limit, less the room a
//!    signature will take.
//! 5. **Sign** the response to a verified query (RFC 8945 §5.3), truncated
//!    answers included.
//! 6. **Count** the response in its zone's and its set's counters.
//!
//! An unsigned query pays for steps 3 and 5 one branch each. Rate limiting
//! (UDP only) follows in the UDP listener, which alone knows it sends by
//! datagram.

use crate::iana::{opcode, rcode, tsig_error};
use std::{net::IpAddr, sync::Arc};

use super::answer::{Outcome, Responder, refuse};
use super::message;
use super::query::{self, Edns, Header, Malformed, Query};
use super::tsig::{self, Rejection, Signature};
use crate::metrics::Metrics;
use crate::table::Snapshot;
use crate::table::keyring::TsigKey;

/// Plain DNS over UDP (RFC 1035 §4.2.1).
const UDP_MIN_PAYLOAD: usize = 512;
/// A message over TCP carries a 16-bit length.
const TCP_MAX: usize = 65_535;

/// How a message arrived; it decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: the EDNS payload size (at most `server.max_udp_payload`), or
    /// 512 bytes.
    Udp,
    /// TCP: 64 KiB.
    Tcp,
}

/// What [`handle`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Answered into the output buffer when `replied`; counted.
    Reply(Outcome),
    /// An UPDATE: the listener queues it for the update path.
    Update,
}

/// Takes one message from `client` through the request path, writing the
/// response (if any) into `out` (cleared first), and counts it.
#[inline]
pub fn handle(
    responder: &mut Responder,
    snap: &Snapshot,
    metrics: &Metrics,
    packet: &[u8],
    client: IpAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Handled {
    let handled = respond(responder, snap, packet, client, transport, out);
    if let Handled::Reply(outcome) = handled {
        outcome.count(metrics, &snap.counters);
    }
    handled
}

/// Steps 1 to 5 of [`handle`], without counting: what benchmarks, the
/// fuzzer and tests drive.
#[inline]
pub fn respond(
    responder: &mut Responder,
    snap: &Snapshot,
    packet: &[u8],
    client: IpAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Handled {
    out.clear();
    match triage(packet) {
        Triage::Drop => Handled::Reply(Outcome::default()),
        Triage::Update => Handled::Update,
        Triage::Query(header) => Handled::Reply(query(
            responder, snap, packet, header, client, transport, out,
        )),
    }
}

impl Handled {
    /// The reply's outcome; an UPDATE (not answered here) replies nothing.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::Reply(outcome) => outcome,
            Self::Update => Outcome::default(),
        }
    }
}

/// Step 1.
enum Triage {
    Drop,
    Update,
    Query(Header),
}

#[inline]
fn triage(packet: &[u8]) -> Triage {
    match Header::read(packet) {
        None => Triage::Drop,
        Some(header) if header.is_response() => Triage::Drop,
        Some(header) if header.opcode() == opcode::UPDATE => Triage::Update,
        Some(header) => Triage::Query(header),
    }
}

/// Steps 2 to 5 for a message that is not an UPDATE.
#[inline]
fn query(
    responder: &mut Responder,
    snap: &Snapshot,
    packet: &[u8],
    header: Header,
    client: IpAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    let query = match query::parse(packet) {
        Ok(query) => query,
        Err(Malformed::Drop) => return Outcome::default(),
        Err(Malformed::FormErr { question_end }) => {
            return refuse(packet, header, question_end, 0, rcode::FORMERR, out);
        }
    };
    let q = &query.question;
    if header.opcode() != opcode::QUERY {
        return refuse(packet, header, Some(q.end), q.qtype, rcode::NOTIMP, out);
    }
    let limit = payload_limit(transport, query.edns, snap.max_udp_payload);
    let Some(tsig_at) = query.tsig_at else {
        return responder.respond(snap, packet, &query, client, limit, out);
    };
    let now = crate::table::replay::unix_now();
    let (signature, key) = match verify(snap, packet, tsig_at, now) {
        Ok(verified) => verified,
        Err(refusal) => return refusal.write(packet, &query, now, out),
    };
    let reply = tsig::Reply {
        request: &signature,
        key: Some(&key),
        error: 0,
        now,
    };
    let room = limit.saturating_sub(reply.record_len());
    let mut outcome = responder.respond(snap, packet, &query, client, room, out);
    if outcome.replied {
        reply.append_to(out);
    } else {
        outcome = Outcome::default();
    }
    outcome
}

/// The largest response `transport` takes for a query with `edns`.
#[inline]
pub fn payload_limit(transport: Transport, edns: Option<Edns>, max_udp_payload: u16) -> usize {
    match (transport, edns) {
        (Transport::Tcp, _) => TCP_MAX,
        (Transport::Udp, None) => UDP_MIN_PAYLOAD,
        (Transport::Udp, Some(edns)) => {
            usize::from(edns.payload.min(max_udp_payload)).max(UDP_MIN_PAYLOAD)
        }
    }
}

/// Why a signed query is not answered.
struct TsigRefusal {
    /// The TSIG record, when it was readable.
    signature: Option<Signature>,
    /// The key named, when gslb has it.
    key: Option<Arc<TsigKey>>,
    rejection: Rejection,
}

/// Step 3: the TSIG record read and checked against the snapshot's keys.
fn verify(
    snap: &Snapshot,
    packet: &[u8],
    tsig_at: usize,
    now: u64,
) -> Result<(Signature, Arc<TsigKey>), TsigRefusal> {
    let signature = message::read_record(packet, tsig_at)
        .filter(|rr| rr.end() == packet.len())
        .and_then(|rr| Signature::read(packet, &rr));
    let Some(signature) = signature else {
        return Err(TsigRefusal {
            signature: None,
            key: None,
            rejection: Rejection::FormErr,
        });
    };
    let key = snap.table.keyring.get(&signature.key_name).cloned();
    match (tsig::verify(packet, &signature, key.as_deref(), now), key) {
        (Ok(()), Some(key)) => Ok((signature, key)),
        (verified, key) => Err(TsigRefusal {
            rejection: verified
                .err()
                .unwrap_or(Rejection::Tsig(tsig_error::BADKEY)),
            signature: Some(signature),
            key,
        }),
    }
}

impl TsigRefusal {
    /// The answer RFC 8945 §5.2 gives: FORMERR for a TSIG record that
    /// cannot be read, else NOTAUTH with the TSIG error, signed only for
    /// BADTIME and BADTRUNC (the key is known and the MAC was right).
    fn write(self, packet: &[u8], query: &Query, now: u64, out: &mut Vec<u8>) -> Outcome {
        let q = &query.question;
        let (Rejection::Tsig(error), Some(signature)) = (self.rejection, &self.signature) else {
            return refuse(
                packet,
                query.header,
                Some(q.end),
                q.qtype,
                rcode::FORMERR,
                out,
            );
        };
        let outcome = refuse(
            packet,
            query.header,
            Some(q.end),
            q.qtype,
            rcode::NOTAUTH,
            out,
        );
        tsig::Reply {
            request: signature,
            key: self.key.as_deref().filter(|_| self.rejection.signed()),
            error,
            now,
        }
        .append_to(out);
        outcome
    }
}

#[cfg(test)]
mod tests;
