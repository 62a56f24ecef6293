//! The answer engine: a query the request path read and checked in,
//! response bytes out, for one snapshot.
//!
//! This is the DNS hot path (step 4 of [`super::request`]). It looks the lower-cased
//! name up in the table, locates the client only when the record depends on
//! location, runs [`select`](crate::select::select), and writes the response
//! straight into the caller's buffer. Answer names are compression pointers
//! to the question, which is copied verbatim, so answers keep the query's
//! case without any name being rebuilt. No allocation once the buffer and
//! the selection scratch have grown; no I/O; no logging.
//!
//! In a signed zone, a query with DO gets each RRset followed by its RRSIGs
//! as it is written ([`sign`]) and negative answers with compact denial
//! ([`denial`]); the apex answers DNSKEY, CDS and CDNSKEY ([`keys`]). A
//! signature in the zone's cache costs a copy; a miss signs here.

use crate::iana::{HEADER_LEN, class, edns_flag, edns_option, rcode, rtype};
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use rand::{SeedableRng, rngs::SmallRng};

mod apex;
mod data;
mod denial;
mod keys;
mod referral;
mod sign;

pub use sign::SignStats;

use super::query::{self, ClientSubnet, Edns, Query};
use crate::dnssec::CanonicalRrset;
use crate::geo::{self, LocateCache};
use crate::metrics::{Metrics, TableCounters};
use crate::rdata::MAX_CNAME_CHAIN;
use crate::rrl::response as rrl;
pub use crate::rrl::response::ResponseKind;
use crate::select::{self, Scratch};
use crate::table::ddns::published::Dynamic;
use crate::table::{Family, Lookup, NameEntry, Snapshot, Table, Zone};

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
    /// What signing the answer cost (nothing without DO or signed zones).
    pub dnssec: SignStats,
}

impl Outcome {
    /// What rate limiting counts of this response.
    #[inline]
    pub fn rrl(&self) -> rrl::Response {
        rrl::Response {
            kind: self.kind,
            qtype: self.qtype,
            name_id: self.name_id,
            question_end: self.question_end,
            opt_at: self.opt_at,
        }
    }

    /// Counts the query in its zone's and its set's counters: a few
    /// relaxed atomic adds.
    #[inline]
    pub fn count(&self, metrics: &Metrics, counters: &TableCounters) {
        if !self.replied {
            return;
        }
        let zone = self
            .zone
            .and_then(|z| counters.zones.get(usize::from(z)))
            .unwrap_or(&metrics.outside);
        zone.count(self.qtype, self.rcode);
        if self.truncated {
            zone.truncated.fetch_add(1, Ordering::Relaxed);
        }
        if self.drained {
            zone.drained.fetch_add(1, Ordering::Relaxed);
        }
        if self.dnssec != SignStats::default() {
            let d = &self.dnssec;
            metrics.dnssec.count(
                u64::from(d.hits),
                u64::from(d.misses),
                d.nanos,
                u64::from(d.errors),
            );
        }
        if let Some(set) = self
            .answered
            .and_then(|(_, s)| counters.sets.get(s as usize))
        {
            set.answers.fetch_add(1, Ordering::Relaxed);
            if self.failed_open {
                set.failed_open.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// [`Outcome::name_id`] of a name that exists: the delegation it is at or
/// below (a referral), else its record, its glue, its static records, else
/// its zone (an apex or an empty non-terminal).
fn name_id(entry: NameEntry) -> u32 {
    const INDEX: u32 = (1 << 30) - 1;
    const HALF: u32 = (1 << 29) - 1;
    match (entry.cut, entry.record, entry.glue, entry.statics) {
        (Some(cut), ..) => 3 << 30 | 1 << 29 | (cut & HALF),
        (None, Some(record), ..) => record & INDEX,
        (None, None, Some(glue), _) => 1 << 30 | (glue & INDEX),
        (None, None, None, Some(statics)) => 3 << 30 | (statics & HALF),
        (None, None, None, None) => zone_name_id(entry.zone),
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
    /// The RRset being signed, read back from the response: its buffers
    /// grow once and are reused.
    canonical: CanonicalRrset,
    /// A fixed time (Unix seconds) for signing, for tests and benchmarks;
    /// `None`: the system clock, read once per signed response.
    clock: Option<u64>,
}

impl Default for Responder {
    fn default() -> Self {
        Self::with_seed(rand::random())
    }
}

/// The error for a question gslb does not look up: another class or a
/// zone transfer (REFUSED); the obsolete mail QTYPEs MAILA and MAILB
/// (NOTIMP); a Meta-TYPE, which names data of one message and is never
/// stored, so asking for it is malformed (FORMERR: OPT, NXNAME as RFC 9824
/// §3.5 requires, TKEY, TSIG and the unassigned rest of 128-250, RFC 6895
/// §3.1). BIND answers the same (`ns_query_start`). `None` for a query to
/// look up, ANY included.
#[inline]
fn not_a_data_query(qclass: u16, qtype: u16) -> Option<u16> {
    match qtype {
        _ if qclass != class::IN => Some(rcode::REFUSED),
        rtype::AXFR | rtype::IXFR => Some(rcode::REFUSED),
        rtype::MAILA | rtype::MAILB => Some(rcode::NOTIMP),
        rtype::OPT | rtype::NXNAME..=rtype::TSIG => Some(rcode::FORMERR),
        _ => None,
    }
}

impl Responder {
    /// A responder with a fixed RNG seed, for reproducible tests.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            scratch: Scratch::default(),
            geo_cache: LocateCache::default(),
            canonical: CanonicalRrset::default(),
            clock: None,
        }
    }

    /// The same responder signing as if it were `unix` seconds (keys'
    /// timing, signature windows), for reproducible tests and benchmarks.
    pub fn at_time(mut self, unix: u64) -> Self {
        self.clock = Some(unix);
        self
    }

    /// Unix seconds now (or the fixed time).
    fn now(&self) -> u64 {
        self.clock.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
    }

    /// Answers the QUERY `query` (read from `packet` by the request path,
    /// which checked its opcode and TSIG) from `client` into `out`, within
    /// `limit` bytes: past them the response goes out with TC=1.
    pub fn respond(
        &mut self,
        snap: &Snapshot,
        packet: &[u8],
        query: &Query,
        client: IpAddr,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let mut set = std::mem::take(&mut self.canonical);
        let mut msg = Message::start(packet, query, snap, limit, out);
        if let Some(edns) = query.edns
            && edns.dnssec_ok
            && snap.table.signed
        {
            msg.dnssec = Some(sign::Dnssec {
                now: self.now(),
                compact_ok: edns.compact_ok,
                set: &mut set,
                stats: SignStats::default(),
            });
        }
        let outcome = self.respond_in(snap, query, client, msg);
        self.canonical = set;
        outcome
    }

    /// [`respond`](Self::respond) once the message is started.
    fn respond_in(
        &mut self,
        snap: &Snapshot,
        query: &Query,
        client: IpAddr,
        mut msg: Message<'_, '_>,
    ) -> Outcome {
        let q = &query.question;
        if query.edns.is_some_and(|e| e.version > 0) {
            return msg.finish(rcode::BADVERS, false, 0);
        }
        if let Some(rcode) = not_a_data_query(q.qclass, q.qtype) {
            return msg.finish(rcode, false, 0);
        }
        let qname = q.name.as_bytes();
        let question = Owner {
            at: HEADER_LEN,
            len: qname.len(),
        };
        let lookup = snap.table.lookup(qname);
        let Some(entry) = existing(snap, qname, lookup) else {
            return match lookup {
                Lookup::NxDomain(zone) => {
                    msg.outcome.zone = Some(zone);
                    msg.outcome.name_id = zone_name_id(zone);
                    let rcode = msg.nxdomain(snap, zone, question);
                    msg.finish(rcode, true, 0)
                }
                _ => msg.finish(rcode::REFUSED, false, 0),
            };
        };
        msg.outcome.zone = Some(entry.zone);
        msg.outcome.name_id = name_id(entry);
        let (rcode, authoritative, scope) =
            self.answer_chain(snap, query, client, entry, question, &mut msg);
        msg.finish(rcode, authoritative, scope)
    }

    /// Writes the answer for an existing name, following CNAMEs inside the
    /// served zones (RFC 1034 §4.3.2); returns the RCODE, whether the
    /// answer is authoritative (not for a referral at the query name) and
    /// the ECS scope prefix.
    fn answer_chain(
        &mut self,
        snap: &Snapshot,
        query: &Query,
        client: IpAddr,
        mut entry: NameEntry,
        mut owner: Owner,
        msg: &mut Message<'_, '_>,
    ) -> (u16, bool, u8) {
        let table = &snap.table;
        let qtype = query.question.qtype;
        let mut name: &[u8] = query.question.name.as_bytes();
        for link in 0..=MAX_CNAME_CHAIN {
            if let Some(cut) = entry.cut.and_then(|c| table.cuts.get(c as usize)) {
                // The parent side of a delegation holds its DS.
                let parent_side = qtype == rtype::DS && cut.name.wire().len() == name.len();
                let zone = &table.zones[usize::from(entry.zone)];
                if parent_side && let Some(ds) = &cut.ds {
                    let from = msg.out.len();
                    msg.rrset(Section::Answer, owner.pointer(), ds);
                    msg.sign(zone, Section::Answer, from);
                } else if parent_side {
                    msg.nodata(snap, entry, name, owner, qtype);
                } else {
                    msg.referral(zone, cut, owner);
                }
                return (rcode::NOERROR, link > 0 || parent_side, 0);
            }
            let (target, at) = match self.answer_name(snap, query, client, entry, name, owner, msg)
            {
                Step::Done(scope) => return (rcode::NOERROR, true, scope),
                Step::Cname { target, at } => (target, at),
            };
            if link == MAX_CNAME_CHAIN || at > apex::MAX_POINTER {
                break;
            }
            owner = Owner {
                at,
                len: target.len(),
            };
            name = target;
            let lookup = table.lookup(target);
            entry = match existing(snap, target, lookup) {
                Some(entry) => entry,
                // Outside every zone: the resolver follows the CNAME.
                None => match lookup {
                    Lookup::NxDomain(zone) => {
                        return (msg.nxdomain(snap, zone, owner), true, 0);
                    }
                    _ => break,
                },
            };
        }
        (rcode::NOERROR, true, 0)
    }

    /// Writes what one name holds for the query type: the apex's SOA or
    /// NS, a CNAME (to be followed), selected GSLB addresses, name server
    /// glue, a static or dynamic RRset, or NODATA.
    #[allow(clippy::too_many_arguments)]
    fn answer_name<'s>(
        &mut self,
        snap: &'s Snapshot,
        query: &Query,
        client: IpAddr,
        entry: NameEntry,
        name: &[u8],
        owner: Owner,
        msg: &mut Message<'_, '_>,
    ) -> Step<'s> {
        let table = &snap.table;
        let zone = &table.zones[usize::from(entry.zone)];
        let qtype = query.question.qtype;
        if entry.apex && (qtype == rtype::SOA || qtype == rtype::ANY) {
            let from = msg.out.len();
            msg.soa(entry.zone, zone, zone.ttl, Section::Answer, owner.pointer());
            msg.sign(zone, Section::Answer, from);
            return Step::Done(0);
        }
        if entry.apex && qtype == rtype::NS {
            msg.nameservers(table, zone, owner.pointer());
            return Step::Done(0);
        }
        if entry.apex
            && let Some(signer) = zone.signer.as_deref()
            && matches!(qtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY)
        {
            let now = msg.dnssec.as_ref().map_or_else(|| self.now(), |d| d.now);
            if !msg.keys(zone, signer, qtype, owner, now) {
                msg.nodata(snap, entry, name, owner, qtype);
            }
            return Step::Done(0);
        }
        let statics = entry.statics.and_then(|i| table.statics.get(i as usize));
        if let Some(cname) = statics.and_then(|s| s.get(rtype::CNAME)) {
            let from = msg.out.len();
            let Some((target, at)) = msg.cname(owner.pointer(), cname) else {
                return Step::Done(0);
            };
            msg.sign(zone, Section::Answer, from);
            if qtype == rtype::CNAME || qtype == rtype::ANY {
                return Step::Done(0);
            }
            return Step::Cname { target, at };
        }
        let family = match qtype {
            rtype::A => Some(Some(Family::V4)),
            rtype::AAAA => Some(Some(Family::V6)),
            rtype::ANY => Some(None), // RFC 8482: one RRset, whichever family exists
            _ => None,
        };
        if let (Some(family), Some(index)) = (family, entry.record) {
            let from = msg.out.len();
            let scope =
                self.answer_record(snap, query, client, entry, name, index, family, owner, msg);
            if msg.outcome.answered.is_some() {
                msg.sign(zone, Section::Answer, from);
            }
            return Step::Done(scope);
        }
        if let Some(glue) = entry.glue.and_then(|g| table.glue.get(g as usize))
            && let Some(family) = family
        {
            let v4 = family != Some(Family::V6) && !glue.v4.is_empty();
            let v6 = family == Some(Family::V6) || (family.is_none() && glue.v4.is_empty());
            let from = msg.out.len();
            if v4 {
                glue.v4
                    .iter()
                    .for_each(|a| msg.address(owner.pointer(), zone.ttl, IpAddr::V4(*a)));
            } else if v6 && !glue.v6.is_empty() {
                glue.v6
                    .iter()
                    .for_each(|a| msg.address(owner.pointer(), zone.ttl, IpAddr::V6(*a)));
            } else {
                msg.nodata(snap, entry, name, owner, qtype);
                return Step::Done(0);
            }
            msg.sign(zone, Section::Answer, from);
            return Step::Done(0);
        }
        match data::rrset(snap, statics, name, qtype) {
            Some(rrset) => {
                let from = msg.out.len();
                msg.rrset(Section::Answer, owner.pointer(), rrset);
                msg.sign(zone, Section::Answer, from);
            }
            None => msg.nodata(snap, entry, name, owner, qtype),
        }
        Step::Done(0)
    }

    /// Selects and writes the addresses of a GSLB record; returns the ECS
    /// scope prefix.
    #[allow(clippy::too_many_arguments)]
    fn answer_record(
        &mut self,
        snap: &Snapshot,
        query: &Query,
        client: IpAddr,
        entry: NameEntry,
        name: &[u8],
        index: u32,
        family: Option<Family>,
        owner: Owner,
        msg: &mut Message<'_, '_>,
    ) -> u8 {
        let table = &snap.table;
        {
            let record = &table.records[index as usize];
            let family = family.unwrap_or(if snap.health.has_family(record, Family::V4) {
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
                    msg.nodata(snap, entry, name, owner, query.question.qtype);
                    return scope;
                }
            };
            let mut ttl = snap.health.answer_ttl(choice.set, record.ttl);
            if choice.failed_open || snap.health.troubled(choice.set, family) {
                ttl = ttl.min(table.zones[usize::from(record.zone)].degraded_ttl);
            }
            for target in choice.targets(family, &snap.health, record.answers) {
                if msg.is_full() {
                    break; // TC=1 anyway: writing more only costs time
                }
                msg.address(owner.pointer(), ttl, target.addr);
            }
            msg.outcome.answered = Some((index, choice.set.index));
            msg.outcome.failed_open = choice.failed_open;
            scope
        }
    }
}

/// What answering one name left to do.
enum Step<'s> {
    /// The answer for the name is written; the ECS scope prefix.
    Done(u8),
    /// A CNAME was written: follow it to `target`, whose name is spelled
    /// out at offset `at` of the message.
    Cname {
        /// The canonical name, lower-cased wire form.
        target: &'s [u8],
        /// Where the CNAME's data starts in the message.
        at: usize,
    },
}

/// What exists at a lower-cased wire name: the table's entry, or an entry
/// for a name only the dynamic layer holds; `None` when the name does not
/// exist, or lies outside every zone.
#[inline]
fn existing(snap: &Snapshot, name: &[u8], lookup: Lookup) -> Option<NameEntry> {
    match lookup {
        Lookup::Found(entry) => Some(entry),
        Lookup::Referral { zone, cut } => Some(NameEntry {
            zone,
            cut: Some(cut),
            ..NameEntry::default()
        }),
        Lookup::NxDomain(zone) if !snap.dynamic.is_empty() => {
            snap.dynamic.get(name).map(|_| NameEntry {
                zone,
                ..NameEntry::default()
            })
        }
        Lookup::NxDomain(_) | Lookup::Refused => None,
    }
}

/// Where a name being answered is spelled out in the message, uncompressed:
/// the question, or the data of a CNAME answer. Records at the name, and
/// at its apex or delegation, point at it.
#[derive(Debug, Clone, Copy)]
struct Owner {
    /// Offset of the name's first label.
    at: usize,
    /// Its length on the wire.
    len: usize,
}

impl Owner {
    /// A compression pointer to the name.
    fn pointer(self) -> u16 {
        0xC000 | self.at as u16
    }

    /// A compression pointer to the ancestor (apex, delegation) whose wire
    /// form is the last `suffix_len` bytes of the name.
    fn suffix_pointer(self, suffix_len: usize) -> u16 {
        0xC000 | (self.at + self.len - suffix_len) as u16
    }
}

/// Writes a header-and-question-only error response to `header`'s
/// message; the question is echoed when it was readable (it ends at
/// `question_end`).
pub(super) fn refuse(
    packet: &[u8],
    header: query::Header,
    question_end: Option<usize>,
    qtype: u16,
    rcode: u16,
    out: &mut Vec<u8>,
) -> Outcome {
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
    /// Signing, when the query set DO and some zone is signed.
    dnssec: Option<sign::Dnssec<'o>>,
    out: &'o mut Vec<u8>,
    query: &'q Query,
    /// The dynamic layer, for the SOA serials updates changed.
    dynamic: &'q Dynamic,
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
        snap: &'q Snapshot,
        limit: usize,
        out: &'o mut Vec<u8>,
    ) -> Self {
        out.extend_from_slice(&[0; HEADER_LEN]);
        out.extend_from_slice(&packet[HEADER_LEN..query.question.end]);
        Self {
            dnssec: None,
            out,
            query,
            dynamic: &snap.dynamic,
            counts: [0; 3],
            advertised_payload: snap.max_udp_payload,
            limit,
            outcome: Outcome {
                replied: true,
                qtype: query.question.qtype,
                ..Outcome::default()
            },
        }
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
        self.out.extend_from_slice(&class::IN.to_be_bytes());
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
                let at = self.record_head_after_owner(section, rtype::A, ttl);
                self.out.extend_from_slice(&a.octets());
                at
            }
            IpAddr::V6(a) => {
                let at = self.record_head_after_owner(section, rtype::AAAA, ttl);
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

    /// The SOA of zone `index`, with the serial dynamic updates set.
    fn soa(&mut self, index: u16, zone: &Zone, ttl: u32, section: Section, owner: u16) {
        let at = self.record_head(section, owner, rtype::SOA, ttl);
        let serial = self.dynamic.serial(index);
        // SOA data ends with serial, refresh, retry, expire, minimum.
        let split = serial.and_then(|_| zone.soa_rdata.len().checked_sub(20));
        match (serial, split) {
            (Some(serial), Some(names)) => {
                self.out.extend_from_slice(&zone.soa_rdata[..names]);
                self.out.extend_from_slice(&serial.to_be_bytes());
                self.out.extend_from_slice(&zone.soa_rdata[names + 4..]);
            }
            _ => self.out.extend_from_slice(&zone.soa_rdata),
        }
        self.record_end(at);
    }

    /// NODATA or NXDOMAIN body: the SOA of zone `index` in authority with
    /// the negative TTL, its owner pointing into `owner` (a name inside
    /// it), signed in a signed zone ([`nodata`](Self::nodata) and
    /// [`nxdomain`](Self::nxdomain) add the denial).
    fn negative(&mut self, table: &Table, index: u16, owner: Owner) {
        let zone = &table.zones[usize::from(index)];
        let apex = owner.suffix_pointer(zone.origin.wire().len());
        let from = self.out.len();
        self.soa(index, zone, zone.negative_ttl, Section::Authority, apex);
        self.sign(zone, Section::Authority, from);
    }

    /// Writes OPT (when the query had one), truncates to `limit` with TC=1
    /// if needed, and fills in the header.
    fn finish(mut self, rcode: u16, authoritative: bool, scope: u8) -> Outcome {
        let edns = self.query.edns;
        let ecs = edns.and_then(|e| e.ecs);
        let opt_len = edns.map_or(0, |_| 11 + ecs.map_or(0, |e| 8 + e.addr_len()));
        let kind = match rcode {
            // Only a referral is NOERROR without AA.
            rcode::NOERROR if !authoritative => ResponseKind::Ns,
            rcode::NOERROR if self.counts[Section::Answer as usize] == 0 => ResponseKind::NoData,
            rcode::NOERROR if self.query.question.qtype == rtype::NS => ResponseKind::Ns,
            rcode::NOERROR => ResponseKind::Answer,
            rcode::NXDOMAIN => ResponseKind::NxDomain,
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
            dnssec: self.dnssec.map(|d| d.stats).unwrap_or_default(),
            ..self.outcome
        }
    }

    /// The response OPT: our payload size, the extended RCODE bits, version
    /// 0, DO copied, and the client subnet echoed with `scope`.
    fn opt(&mut self, edns: Edns, ecs: Option<ClientSubnet>, rcode: u16, scope: u8) {
        self.counts[Section::Additional as usize] += 1;
        // DO copied; CO echoed to a DO query (RFC 9824 §4).
        let flags = if edns.dnssec_ok {
            edns_flag::DO | if edns.compact_ok { edns_flag::CO } else { 0 }
        } else {
            0
        };
        let ttl = (u32::from(rcode >> 4) << 24) | u32::from(flags);
        self.out.push(0);
        self.out.extend_from_slice(&rtype::OPT.to_be_bytes());
        self.out
            .extend_from_slice(&self.advertised_payload.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        match ecs {
            None => self.out.extend_from_slice(&[0, 0]),
            Some(ecs) => {
                let len = 4 + ecs.addr_len() as u16;
                self.out.extend_from_slice(&(4 + len).to_be_bytes());
                self.out
                    .extend_from_slice(&edns_option::CLIENT_SUBNET.to_be_bytes());
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
mod dnssec_tests;
#[cfg(test)]
mod static_tests;
#[cfg(test)]
mod tests;
