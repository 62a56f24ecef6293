//! The hot reader: DNS queries off the wire (RFC 1035 §4, RFC 6891 EDNS,
//! RFC 7871 Client Subnet) into a view on the stack, without allocating,
//! once per query.
//!
//! gslb only ever answers queries, so this reader is strict about what a
//! query may hold: one question with no compression, no OPT outside the
//! additional section, at most one OPT, a well-formed ECS option, a TSIG
//! record only last, and nothing after the last record. Anything else is
//! [`Malformed`]. Messages of other shapes (UPDATE, the TSIG record's
//! fields) are read by [`super::message`], off the hot path.

use crate::iana::{HEADER_LEN, edns_flag, edns_option, rtype};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::name::MAX_NAME_LEN;

/// The fixed header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Query id, echoed.
    pub id: u16,
    /// The flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE.
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// Answer count.
    pub ancount: u16,
    /// Authority count.
    pub nscount: u16,
    /// Additional count.
    pub arcount: u16,
}

impl Header {
    /// Reads the header, or `None` when the packet is shorter than one.
    pub fn read(packet: &[u8]) -> Option<Self> {
        let word = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
        (packet.len() >= HEADER_LEN).then(|| Self {
            id: word(0),
            flags: word(2),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// QR: the message is a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 = QUERY).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }
}

/// A lower-cased copy of a query name, on the stack.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl NameBuf {
    /// The lower-cased wire name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameBuf {}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NameBuf({:?})",
            self.as_bytes().escape_ascii().to_string()
        )
    }
}

/// The question of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// The name, lower-cased for lookup. The packet keeps the original case,
    /// which responses copy.
    pub name: NameBuf,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// Offset just past the question in the packet.
    pub end: usize,
}

/// EDNS Client Subnet as sent by a resolver (RFC 7871 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// 1 = IPv4, 2 = IPv6.
    pub family: u16,
    /// Significant leading bits of `addr`.
    pub source_prefix: u8,
    /// The address, zero beyond `source_prefix`.
    pub addr: IpAddr,
}

impl ClientSubnet {
    /// Address bytes that go on the wire: just enough for the prefix.
    pub fn addr_len(&self) -> usize {
        usize::from(self.source_prefix).div_ceil(8)
    }
}

/// The OPT pseudo-record of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// Requester's UDP payload size.
    pub payload: u16,
    /// EDNS version; gslb speaks 0.
    pub version: u8,
    /// DNSSEC OK, copied into the response (RFC 3225 §3): answers from a
    /// signed zone carry their RRSIGs and compact denial.
    pub dnssec_ok: bool,
    /// Compact Answers OK (RFC 9824 §4): a compact denial of a name may
    /// say NXDOMAIN in its RCODE.
    pub compact_ok: bool,
    /// Client Subnet, if sent.
    pub ecs: Option<ClientSubnet>,
}

/// A parsed query.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// Header.
    pub header: Header,
    /// The one question.
    pub question: Question,
    /// OPT, if present.
    pub edns: Option<Edns>,
    /// Where the TSIG record starts when the query is signed (RFC 8945):
    /// it is the last record, and the request path verifies it before the
    /// answer and signs the response after.
    pub tsig_at: Option<usize>,
}

/// Why a packet is not a query gslb can answer normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not worth an answer: no full header, or a response (answering
    /// responses invites reflection loops).
    Drop,
    /// FORMERR. When the fault lies after the question, the error can echo
    /// it: it ends at `question_end`.
    FormErr {
        /// Offset just past the question, if it parsed.
        question_end: Option<usize>,
    },
}

/// Parses a query. Opcode is not checked here: the caller answers NOTIMP.
pub fn parse(packet: &[u8]) -> Result<Query, Malformed> {
    let header = Header::read(packet).ok_or(Malformed::Drop)?;
    if header.is_response() {
        return Err(Malformed::Drop);
    }
    let form_err = |question: Option<Question>| Malformed::FormErr {
        question_end: question.map(|q| q.end),
    };
    if header.qdcount != 1 {
        return Err(form_err(None));
    }
    let question = read_question(packet, HEADER_LEN).ok_or(form_err(None))?;
    let mut at = question.end;
    for _ in 0..u32::from(header.ancount) + u32::from(header.nscount) {
        let rr = read_rr(packet, at).ok_or(form_err(Some(question)))?;
        if rr.rtype == rtype::OPT {
            return Err(form_err(Some(question)));
        }
        at = rr.end;
    }
    let mut edns = None;
    let mut tsig_at = None;
    for i in 0..header.arcount {
        let rr = read_rr(packet, at).ok_or(form_err(Some(question)))?;
        if rr.rtype == rtype::TSIG {
            // RFC 8945 §5.2: a TSIG record anywhere but last is FORMERR.
            if i + 1 != header.arcount {
                return Err(form_err(Some(question)));
            }
            tsig_at = Some(at);
        }
        if rr.rtype == rtype::OPT {
            if edns.is_some() || rr.name_len != 1 {
                return Err(form_err(Some(question)));
            }
            edns = Some(read_opt(packet, &rr).ok_or(form_err(Some(question)))?);
        }
        at = rr.end;
    }
    if at != packet.len() {
        return Err(form_err(Some(question)));
    }
    Ok(Query {
        header,
        question,
        edns,
        tsig_at,
    })
}

/// Reads the question at `at`, lower-casing its name. Compression is not
/// allowed: nothing precedes the first name to point at.
fn read_question(packet: &[u8], mut at: usize) -> Option<Question> {
    let mut name = NameBuf {
        bytes: [0; MAX_NAME_LEN],
        len: 0,
    };
    let mut len = 0usize;
    loop {
        let label = usize::from(*packet.get(at)?);
        if label > 63 || len + 1 + label > MAX_NAME_LEN {
            return None; // pointer, extended label type, or too long
        }
        let bytes = packet.get(at + 1..at + 1 + label)?;
        name.bytes[len] = label as u8;
        for (dst, src) in name.bytes[len + 1..len + 1 + label].iter_mut().zip(bytes) {
            *dst = src.to_ascii_lowercase();
        }
        len += 1 + label;
        at += 1 + label;
        if label == 0 {
            break;
        }
    }
    name.len = len as u8;
    let fixed = packet.get(at..at + 4)?;
    Some(Question {
        name,
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        end: at + 4,
    })
}

/// The parts of a resource record the reader needs.
struct RawRr {
    rtype: u16,
    class: u16,
    ttl: u32,
    name_len: usize,
    rdata: std::ops::Range<usize>,
    end: usize,
}

/// Reads one resource record at `start`, skipping (not following) name
/// compression, so a pointer loop cannot trap the reader.
fn read_rr(packet: &[u8], start: usize) -> Option<RawRr> {
    let mut at = start;
    let mut total = 0usize;
    loop {
        let label = *packet.get(at)?;
        match label & 0xC0 {
            0xC0 => {
                packet.get(at + 1)?;
                at += 2;
                break;
            }
            0x00 => {
                at += 1 + usize::from(label);
                total += 1 + usize::from(label);
                if total > MAX_NAME_LEN {
                    return None;
                }
                if label == 0 {
                    break;
                }
            }
            _ => return None,
        }
    }
    let fixed = packet.get(at..at + 10)?;
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata = at + 10..at + 10 + rdlen;
    packet.get(rdata.clone())?;
    Some(RawRr {
        rtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        class: u16::from_be_bytes([fixed[2], fixed[3]]),
        ttl: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        name_len: at - start,
        end: rdata.end,
        rdata,
    })
}

/// Reads OPT fields and the options gslb acts on.
fn read_opt(packet: &[u8], rr: &RawRr) -> Option<Edns> {
    let mut ecs = None;
    let mut options = &packet[rr.rdata.clone()];
    while !options.is_empty() {
        let head = options.get(..4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = options.get(4..4 + len)?;
        if code == edns_option::CLIENT_SUBNET {
            if ecs.is_some() {
                return None;
            }
            ecs = Some(read_ecs(data)?);
        }
        options = &options[4 + len..];
    }
    Some(Edns {
        payload: rr.class,
        version: (rr.ttl >> 16) as u8,
        dnssec_ok: rr.ttl & u32::from(edns_flag::DO) != 0,
        compact_ok: rr.ttl & u32::from(edns_flag::CO) != 0,
        ecs,
    })
}

/// Reads ECS data, enforcing RFC 7871 §6: a known family, a prefix that fits
/// it, exactly enough address bytes, and zeros past the prefix.
fn read_ecs(data: &[u8]) -> Option<ClientSubnet> {
    let head = data.get(..4)?;
    let family = u16::from_be_bytes([head[0], head[1]]);
    let source_prefix = head[2];
    let addr_bytes = &data[4..];
    let max_prefix = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    if source_prefix > max_prefix || addr_bytes.len() != usize::from(source_prefix).div_ceil(8) {
        return None;
    }
    let mut full = [0u8; 16];
    full[..addr_bytes.len()].copy_from_slice(addr_bytes);
    let spare_bits = addr_bytes.len() * 8 - usize::from(source_prefix);
    if let Some(last) = addr_bytes.last()
        && spare_bits > 0
        && last & ((1u8 << spare_bits) - 1) != 0
    {
        return None;
    }
    let addr = if family == 1 {
        IpAddr::V4(Ipv4Addr::new(full[0], full[1], full[2], full[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(full))
    };
    Some(ClientSubnet {
        family,
        source_prefix,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` (dotted) of `qtype`, with optional OPT rdata.
    pub(crate) fn query(name: &str, qtype: u16, opt: Option<&[u8]>) -> Vec<u8> {
        let mut p = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            u8::from(opt.is_some()),
        ];
        for label in name.trim_end_matches('.').split('.') {
            p.push(label.len() as u8);
            p.extend_from_slice(label.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        if let Some(rdata) = opt {
            p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0]);
            p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            p.extend_from_slice(rdata);
        }
        p
    }

    fn ecs(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 8];
        o.extend_from_slice(&(4 + addr.len() as u16).to_be_bytes());
        o.extend_from_slice(&family.to_be_bytes());
        o.extend_from_slice(&[source, 0]);
        o.extend_from_slice(addr);
        o
    }

    fn form_err(packet: &[u8]) -> bool {
        matches!(parse(packet), Err(Malformed::FormErr { .. }))
    }

    #[test]
    fn parses_a_plain_query_lowercasing_the_name() {
        let q = parse(&query("WWW.Example.TEST", 1, None)).unwrap();
        assert_eq!(q.header.id, 0x1234);
        assert_eq!(
            q.question.name.as_bytes(),
            b"\x03www\x07example\x04test\x00"
        );
        assert_eq!((q.question.qtype, q.question.qclass), (1, 1));
        assert!(q.edns.is_none());
    }

    #[test]
    fn parses_edns_and_ecs() {
        let q = parse(&query("a.test", 28, Some(&ecs(1, 24, &[198, 51, 100])))).unwrap();
        let edns = q.edns.unwrap();
        assert_eq!(
            (edns.payload, edns.version, edns.dnssec_ok),
            (1232, 0, true)
        );
        let subnet = edns.ecs.unwrap();
        assert_eq!((subnet.family, subnet.source_prefix), (1, 24));
        assert_eq!(subnet.addr, "198.51.100.0".parse::<IpAddr>().unwrap());
        let q = parse(&query(
            "a.test",
            28,
            Some(&ecs(2, 48, &[0x20, 1, 0xd, 0xb8, 0, 2])),
        ))
        .unwrap();
        assert_eq!(
            q.edns.unwrap().ecs.unwrap().addr,
            "2001:db8:2::".parse::<IpAddr>().unwrap()
        );
        let q = parse(&query("a.test", 1, Some(&ecs(1, 0, &[])))).unwrap();
        assert_eq!(q.edns.unwrap().ecs.unwrap().source_prefix, 0);
    }

    #[test]
    fn rejects_bad_ecs() {
        assert!(
            form_err(&query("a.test", 1, Some(&ecs(1, 33, &[1, 2, 3, 4, 5])))),
            "prefix too long"
        );
        assert!(
            form_err(&query("a.test", 1, Some(&ecs(1, 24, &[1, 2, 3, 4])))),
            "too many bytes"
        );
        assert!(
            form_err(&query("a.test", 1, Some(&ecs(1, 24, &[1, 2])))),
            "too few bytes"
        );
        assert!(
            form_err(&query("a.test", 1, Some(&ecs(1, 23, &[1, 2, 3])))),
            "bits past the prefix"
        );
        assert!(
            form_err(&query("a.test", 1, Some(&ecs(3, 8, &[1])))),
            "unknown family"
        );
        let mut two = ecs(1, 8, &[1]);
        two.extend(ecs(1, 8, &[1]));
        assert!(form_err(&query("a.test", 1, Some(&two))), "two ECS options");
        assert!(
            form_err(&query("a.test", 1, Some(&[0, 8, 0, 9, 0]))),
            "option overruns"
        );
    }

    #[test]
    fn drops_short_packets_and_responses() {
        assert_eq!(parse(&[0; 11]).unwrap_err(), Malformed::Drop);
        let mut response = query("a.test", 1, None);
        response[2] |= 0x80;
        assert_eq!(parse(&response).unwrap_err(), Malformed::Drop);
    }

    #[test]
    fn rejects_malformed_questions() {
        let mut p = query("a.test", 1, None);
        p[5] = 2;
        assert_eq!(
            parse(&p).unwrap_err(),
            Malformed::FormErr { question_end: None },
            "qdcount 2"
        );
        let mut p = query("a.test", 1, None);
        p[5] = 0;
        assert!(form_err(&p), "qdcount 0");
        // A question name that points at itself: a compression loop.
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1];
        assert!(form_err(&p));
        p.truncate(13);
        assert!(form_err(&p), "truncated pointer");
        assert!(form_err(&query("a.test", 1, None)[..20]), "truncated name");
        let mut p = query("a.test", 1, None);
        p.push(0);
        assert!(form_err(&p), "trailing garbage");
        let long = vec!["abcdefghij"; 24].join(".");
        assert!(form_err(&query(&long, 1, None)), "name over 255 bytes");
    }

    #[test]
    fn skips_pointer_loops_in_other_sections_without_following_them() {
        let mut p = query("a.test", 1, None);
        p[7] = 1; // one answer RR whose owner is a pointer to itself
        let at = p.len() as u8;
        p.extend_from_slice(&[0xC0, at, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        assert!(parse(&p).is_ok());
        p[7] = 2;
        assert!(form_err(&p), "counts past the end");
    }

    #[test]
    fn rejects_misplaced_or_duplicate_opt() {
        let mut p = query("a.test", 1, Some(&[]));
        p[11] = 2;
        p.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert!(form_err(&p), "two OPT");
        let mut p = query("a.test", 1, Some(&[]));
        p[11] = 0;
        p[9] = 1;
        assert!(form_err(&p), "OPT in authority");
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = query("www.example.test", 1, Some(&ecs(1, 24, &[1, 2, 3])));
        for _ in 0..200_000 {
            let mut p = base.clone();
            let flips = next() % 4 + 1;
            for _ in 0..flips {
                let i = (next() as usize) % p.len();
                p[i] = next() as u8;
            }
            p.truncate((next() as usize) % (p.len() + 1));
            let _ = parse(&p);
        }
    }
}
