//! The answer engine: query bytes in, response bytes out, for one snapshot.
//!
//! This is the DNS hot path. It parses with [`wire`], looks the lower-cased
//! name up in the table, locates the client only when the record depends on
//! location, runs [`select`](crate::select::select), and writes the response
//! straight into the caller's buffer. Answer names are compression pointers
//! to the question, which is copied verbatim, so answers keep the query's
//! case without any name being rebuilt. No allocation once the buffer and
//! the selection scratch have grown; no I/O; no logging.

use std::net::IpAddr;

use rand::{SeedableRng, rngs::SmallRng};

mod apex;

pub use apex::nameservers_response_len;

use super::wire::{self, ClientSubnet, Edns, HEADER_LEN, Malformed, Query};
use crate::geo::{self, LocateCache};
use crate::select::{self, Scratch};
use crate::table::{Family, Lookup, NameEntry, Snapshot, Table, Zone};

/// RCODE NOERROR.
pub const NOERROR: u16 = 0;
/// RCODE FORMERR.
pub const FORMERR: u16 = 1;
/// RCODE NXDOMAIN.
pub const NXDOMAIN: u16 = 3;
/// RCODE NOTIMP.
pub const NOTIMP: u16 = 4;
/// RCODE REFUSED.
pub const REFUSED: u16 = 5;
/// Extended RCODE BADVERS (RFC 6891 §6.1.3).
pub const BADVERS: u16 = 16;

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
/// Plain DNS over UDP (RFC 1035 §4.2.1).
const UDP_MIN_PAYLOAD: usize = 512;
/// A message over TCP carries a 16-bit length.
const TCP_MAX: usize = 65_535;

/// How a query arrived; it decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: the EDNS payload size, or 512 bytes.
    Udp,
    /// TCP: 64 KiB.
    Tcp,
}

/// What happened to one query, for metrics and debug logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Whether a response was written (malformed headers and responses are dropped).
    pub replied: bool,
    /// Response code, extended codes included.
    pub rcode: u16,
    /// QTYPE, when the question parsed.
    pub qtype: u16,
    /// Zone index in the snapshot's table, when the name fell in one.
    pub zone: Option<u16>,
    /// (record index, set index) of a selected answer.
    pub answered: Option<(u32, u32)>,
    /// The answer ignored health because no set was healthy.
    pub failed_open: bool,
    /// NODATA because every set that could answer is drained.
    pub drained: bool,
    /// The response did not fit and was sent with TC=1.
    pub truncated: bool,
    /// What kind of response it is, for rate limiting.
    pub kind: ResponseKind,
    /// The owner name's identity within the snapshot's table (a record, a
    /// glue name or a zone): rate limiting counts names apart by it
    /// without hashing names. 0 for errors.
    pub name_id: u32,
    /// Where the question ends in the response (and the query).
    pub question_end: u16,
    /// Where the OPT record starts in the response; 0 when it has none.
    pub opt_at: u16,
}

/// Response classes that rate limiting counts apart, as BIND's RRL does
/// (its referral class does not exist here: gslb never delegates, and its
/// largest responses are apex NS answers with glue, counted as `Ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseKind {
    /// NOERROR with records in the answer section.
    Answer = 0,
    /// Apex NS answer, with glue.
    Ns = 1,
    /// NOERROR without answers: the name exists but not the type.
    NoData = 2,
    /// NXDOMAIN.
    NxDomain = 3,
    /// Every other RCODE (REFUSED, FORMERR, NOTIMP, BADVERS).
    #[default]
    Error = 4,
}

impl ResponseKind {
    /// Every kind, in index order.
    pub const ALL: [Self; 5] = [
        Self::Answer,
        Self::Ns,
        Self::NoData,
        Self::NxDomain,
        Self::Error,
    ];

    /// Its metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Ns => "ns",
            Self::NoData => "nodata",
            Self::NxDomain => "nxdomain",
            Self::Error => "error",
        }
    }
}

/// [`Outcome::name_id`] of a name that exists: its record, else its glue,
/// else its zone (an apex or an empty non-terminal).
fn name_id(entry: NameEntry) -> u32 {
    const INDEX: u32 = (1 << 30) - 1;
    match (entry.record, entry.glue) {
        (Some(record), _) => record & INDEX,
        (None, Some(glue)) => 1 << 30 | (glue & INDEX),
        (None, None) => zone_name_id(entry.zone),
    }
}

/// [`Outcome::name_id`] of a zone: NXDOMAIN is counted per zone, so a flood
/// of random names inside one zone is limited as one stream (as BIND does).
fn zone_name_id(zone: u16) -> u32 {
    2 << 30 | u32::from(zone)
}

/// Per-worker state for answering: RNG and selection scratch. One per
/// thread, so the hot path shares nothing mutable.
#[derive(Debug)]
pub struct Responder {
    rng: SmallRng,
    scratch: Scratch,
    geo_cache: LocateCache,
}

impl Default for Responder {
    fn default() -> Self {
        Self::with_seed(rand::random())
    }
}

impl Responder {
    /// A responder with a fixed RNG seed, for reproducible tests.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            scratch: Scratch::default(),
            geo_cache: LocateCache::default(),
        }
    }

    /// Answers `packet` from `client` into `out` (cleared first). When the
    /// outcome says `replied: false`, send nothing.
    pub fn respond(
        &mut self,
        snap: &Snapshot,
        packet: &[u8],
        client: IpAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Outcome {
        out.clear();
        let query = match wire::parse(packet) {
            Ok(query) => query,
            Err(Malformed::Drop) => return Outcome::default(),
            Err(Malformed::FormErr { question_end }) => {
                return refuse(packet, question_end, 0, FORMERR, out);
            }
        };
        let q = &query.question;
        if query.header.opcode() != 0 {
            return refuse(packet, Some(q.end), q.qtype, NOTIMP, out);
        }
        let limit = match (transport, query.edns) {
            (Transport::Tcp, _) => TCP_MAX,
            (Transport::Udp, None) => UDP_MIN_PAYLOAD,
            (Transport::Udp, Some(edns)) => {
                usize::from(edns.payload.min(snap.max_udp_payload)).max(UDP_MIN_PAYLOAD)
            }
        };
        let mut msg = Message::start(packet, &query, snap.max_udp_payload, limit, out);
        if query.edns.is_some_and(|e| e.version > 0) {
            return msg.finish(BADVERS, false, 0);
        }
        if q.qclass != CLASS_IN || q.qtype == TYPE_AXFR || q.qtype == TYPE_IXFR {
            return msg.finish(REFUSED, false, 0);
        }
        if q.qtype == wire::TYPE_OPT {
            return msg.finish(FORMERR, false, 0);
        }
        let table: &Table = &snap.table;
        match table.lookup(q.name.as_bytes()) {
            Lookup::Refused => msg.finish(REFUSED, false, 0),
            Lookup::NxDomain(zone) => {
                msg.outcome.zone = Some(zone);
                msg.outcome.name_id = zone_name_id(zone);
                msg.negative(&table.zones[usize::from(zone)]);
                msg.finish(NXDOMAIN, true, 0)
            }
            Lookup::Found(entry) => {
                msg.outcome.zone = Some(entry.zone);
                msg.outcome.name_id = name_id(entry);
                let scope = self.answer(snap, &query, client, entry, &mut msg);
                msg.finish(NOERROR, true, scope)
            }
        }
    }

    /// Writes the answer for an existing name; returns the ECS scope prefix.
    fn answer(
        &mut self,
        snap: &Snapshot,
        query: &Query,
        client: IpAddr,
        entry: NameEntry,
        msg: &mut Message<'_, '_>,
    ) -> u8 {
        let table = &snap.table;
        let zone = &table.zones[usize::from(entry.zone)];
        let qtype = query.question.qtype;
        if entry.apex && (qtype == TYPE_SOA || qtype == TYPE_ANY) {
            msg.soa(zone, zone.ttl, Section::Answer);
            return 0;
        }
        if entry.apex && qtype == TYPE_NS {
            msg.nameservers(table, zone);
            return 0;
        }
        let family = match qtype {
            TYPE_A => Some(Family::V4),
            TYPE_AAAA => Some(Family::V6),
            TYPE_ANY => None, // RFC 8482: one RRset, whichever family exists
            _ => {
                msg.negative(zone);
                return 0;
            }
        };
        if let Some(index) = entry.record {
            let record = &table.records[index as usize];
            let family = family.unwrap_or(if record.has_family(Family::V4) {
                Family::V4
            } else {
                Family::V6
            });
            let subnet = query
                .edns
                .and_then(|e| e.ecs)
                .filter(|e| e.source_prefix > 0)
                .map(|e| e.addr);
            let located = geo::locate_client(
                snap.geo.as_deref(),
                record.geo_sensitive,
                subnet,
                client,
                &mut self.geo_cache,
            );
            let (location, scope) = (located.location, located.scope);
            let choice = select::select(
                record,
                family,
                &snap.health,
                &location,
                &mut self.rng,
                &mut self.scratch,
            );
            let choice = match choice {
                Ok(choice) => choice,
                Err(why) => {
                    msg.outcome.drained = why == select::NoAnswer::Drained;
                    msg.negative(zone);
                    return scope;
                }
            };
            for target in choice.targets(family, &snap.health, record.answers) {
                if msg.is_full() {
                    break; // TC=1 anyway: writing more only costs time
                }
                msg.address(HEADER_POINTER, record.ttl, target.addr);
            }
            msg.outcome.answered = Some((index, choice.set.index));
            msg.outcome.failed_open = choice.failed_open;
            return scope;
        }
        if let Some(glue) = entry.glue.and_then(|g| table.glue.get(g as usize)) {
            let v4 = family != Some(Family::V6) && !glue.v4.is_empty();
            let v6 = family == Some(Family::V6) || (family.is_none() && glue.v4.is_empty());
            if v4 {
                glue.v4
                    .iter()
                    .for_each(|a| msg.address(HEADER_POINTER, zone.ttl, IpAddr::V4(*a)));
            } else if v6 && !glue.v6.is_empty() {
                glue.v6
                    .iter()
                    .for_each(|a| msg.address(HEADER_POINTER, zone.ttl, IpAddr::V6(*a)));
            } else {
                msg.negative(zone);
            }
            return 0;
        }
        msg.negative(zone);
        0
    }
}

/// Writes a header-and-question-only error response.
fn refuse(
    packet: &[u8],
    question_end: Option<usize>,
    qtype: u16,
    rcode: u16,
    out: &mut Vec<u8>,
) -> Outcome {
    let header = wire::Header::read(packet).unwrap_or(wire::Header {
        id: 0,
        flags: 0,
        qdcount: 0,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    });
    out.extend_from_slice(&header.id.to_be_bytes());
    out.extend_from_slice(&response_flags(header.flags, false, false, rcode).to_be_bytes());
    out.extend_from_slice(&[0, u8::from(question_end.is_some()), 0, 0, 0, 0, 0, 0]);
    let question_end = question_end.unwrap_or(HEADER_LEN);
    out.extend_from_slice(&packet[HEADER_LEN..question_end]);
    Outcome {
        replied: true,
        rcode,
        qtype,
        question_end: question_end as u16,
        ..Outcome::default()
    }
}

/// QR set, opcode, RD and CD copied, AA and TC as given, low RCODE bits.
fn response_flags(query_flags: u16, authoritative: bool, truncated: bool, rcode: u16) -> u16 {
    let copied = query_flags & (0x7800 | 0x0100 | 0x0010);
    0x8000 | copied | (u16::from(authoritative) << 10) | (u16::from(truncated) << 9) | (rcode & 0xF)
}

/// Pointer to the question name, right after the header.
const HEADER_POINTER: u16 = 0xC000 | HEADER_LEN as u16;

/// Response sections that carry records.
#[derive(Clone, Copy)]
enum Section {
    Answer,
    Authority,
    Additional,
}

/// A response being written: header, question, then records in section
/// order, then OPT.
struct Message<'o, 'q> {
    out: &'o mut Vec<u8>,
    query: &'q Query,
    counts: [u16; 3],
    outcome: Outcome,
    /// UDP payload size gslb advertises in its OPT.
    advertised_payload: u16,
    /// Largest response the transport takes; past it the response is sent
    /// with TC=1 and empty sections.
    limit: usize,
}

impl<'o, 'q> Message<'o, 'q> {
    /// Writes a placeholder header and copies the question verbatim.
    fn start(
        packet: &[u8],
        query: &'q Query,
        advertised_payload: u16,
        limit: usize,
        out: &'o mut Vec<u8>,
    ) -> Self {
        out.extend_from_slice(&[0; HEADER_LEN]);
        out.extend_from_slice(&packet[HEADER_LEN..query.question.end]);
        Self {
            out,
            query,
            counts: [0; 3],
            advertised_payload,
            limit,
            outcome: Outcome {
                replied: true,
                qtype: query.question.qtype,
                ..Outcome::default()
            },
        }
    }

    /// Pointer to where `zone`'s apex starts inside the question name.
    fn apex_pointer(&self, zone: &Zone) -> u16 {
        let qname_len = self.query.question.name.as_bytes().len();
        0xC000 | (HEADER_LEN + qname_len - zone.origin.wire().len()) as u16
    }

    /// Whether the response already exceeds the limit, so that it will go
    /// out truncated whatever else is written. Stops large record sets from
    /// being written in full only to be cut.
    fn is_full(&self) -> bool {
        self.out.len() > self.limit
    }

    /// Starts a record: owner pointer, type, class IN, TTL; returns where
    /// RDLENGTH goes.
    fn record_head(&mut self, section: Section, owner: u16, rtype: u16, ttl: u32) -> usize {
        self.out.extend_from_slice(&owner.to_be_bytes());
        self.record_head_after_owner(section, rtype, ttl)
    }

    /// [`record_head`](Self::record_head) for an owner name already written.
    fn record_head_after_owner(&mut self, section: Section, rtype: u16, ttl: u32) -> usize {
        self.counts[section as usize] += 1;
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        self.out.extend_from_slice(&[0, 0]);
        self.out.len() - 2
    }

    /// Fills in RDLENGTH once the data is written.
    fn record_end(&mut self, rdlength_at: usize) {
        let len = (self.out.len() - rdlength_at - 2) as u16;
        self.out[rdlength_at..rdlength_at + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// An A or AAAA record whose owner name is already written.
    fn address_after_owner(&mut self, section: Section, ttl: u32, addr: IpAddr) {
        let at = match addr {
            IpAddr::V4(a) => {
                let at = self.record_head_after_owner(section, TYPE_A, ttl);
                self.out.extend_from_slice(&a.octets());
                at
            }
            IpAddr::V6(a) => {
                let at = self.record_head_after_owner(section, TYPE_AAAA, ttl);
                self.out.extend_from_slice(&a.octets());
                at
            }
        };
        self.record_end(at);
    }

    /// An A or AAAA answer.
    fn address(&mut self, owner: u16, ttl: u32, addr: IpAddr) {
        self.out.extend_from_slice(&owner.to_be_bytes());
        self.address_after_owner(Section::Answer, ttl, addr);
    }

    fn soa(&mut self, zone: &Zone, ttl: u32, section: Section) {
        let owner = self.apex_pointer(zone);
        let at = self.record_head(section, owner, TYPE_SOA, ttl);
        self.out.extend_from_slice(&zone.soa_rdata);
        self.record_end(at);
    }

    /// NODATA or NXDOMAIN body: the SOA in authority with the negative TTL.
    fn negative(&mut self, zone: &Zone) {
        self.soa(zone, zone.negative_ttl, Section::Authority);
    }

    /// Writes OPT (when the query had one), truncates to `limit` with TC=1
    /// if needed, and fills in the header.
    fn finish(mut self, rcode: u16, authoritative: bool, scope: u8) -> Outcome {
        let edns = self.query.edns;
        let ecs = edns.and_then(|e| e.ecs);
        let opt_len = edns.map_or(0, |_| 11 + ecs.map_or(0, |e| 8 + e.addr_len()));
        let kind = match rcode {
            NOERROR if self.counts[Section::Answer as usize] == 0 => ResponseKind::NoData,
            NOERROR if self.query.question.qtype == TYPE_NS => ResponseKind::Ns,
            NOERROR => ResponseKind::Answer,
            NXDOMAIN => ResponseKind::NxDomain,
            _ => ResponseKind::Error,
        };
        let truncated = self.out.len() + opt_len > self.limit;
        if truncated {
            self.out.truncate(self.query.question.end);
            self.counts = [0; 3];
        }
        let mut opt_at = 0;
        if let Some(edns) = edns {
            opt_at = self.out.len() as u16;
            self.opt(edns, ecs, rcode, scope);
        }
        let header = self.query.header;
        let flags = response_flags(header.flags, authoritative, truncated, rcode);
        let [an, ns, ar] = self.counts;
        let mut head = [0u8; HEADER_LEN];
        head[0..2].copy_from_slice(&header.id.to_be_bytes());
        head[2..4].copy_from_slice(&flags.to_be_bytes());
        head[4..6].copy_from_slice(&1u16.to_be_bytes());
        head[6..8].copy_from_slice(&an.to_be_bytes());
        head[8..10].copy_from_slice(&ns.to_be_bytes());
        head[10..12].copy_from_slice(&ar.to_be_bytes());
        self.out[..HEADER_LEN].copy_from_slice(&head);
        Outcome {
            rcode,
            truncated,
            kind,
            question_end: self.query.question.end as u16,
            opt_at,
            ..self.outcome
        }
    }

    /// The response OPT: our payload size, the extended RCODE bits, version
    /// 0, DO copied, and the client subnet echoed with `scope`.
    fn opt(&mut self, edns: Edns, ecs: Option<ClientSubnet>, rcode: u16, scope: u8) {
        self.counts[Section::Additional as usize] += 1;
        let ttl = (u32::from(rcode >> 4) << 24) | (u32::from(edns.dnssec_ok) << 15);
        self.out.push(0);
        self.out.extend_from_slice(&wire::TYPE_OPT.to_be_bytes());
        self.out
            .extend_from_slice(&self.advertised_payload.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        match ecs {
            None => self.out.extend_from_slice(&[0, 0]),
            Some(ecs) => {
                let len = 4 + ecs.addr_len() as u16;
                self.out.extend_from_slice(&(4 + len).to_be_bytes());
                self.out.extend_from_slice(&wire::OPTION_ECS.to_be_bytes());
                self.out.extend_from_slice(&len.to_be_bytes());
                self.out.extend_from_slice(&ecs.family.to_be_bytes());
                self.out.push(ecs.source_prefix);
                self.out
                    .push(if ecs.source_prefix == 0 { 0 } else { scope });
                let bytes = match ecs.addr {
                    IpAddr::V4(a) => a.to_ipv6_compatible().octets(),
                    IpAddr::V6(a) => a.octets(),
                };
                let skip = if ecs.family == 1 { 12 } else { 0 };
                self.out
                    .extend_from_slice(&bytes[skip..skip + ecs.addr_len()]);
            }
        }
    }
}

#[cfg(test)]
mod tests;
