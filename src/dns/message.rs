//! A general reader for DNS messages on the rare paths: dynamic updates
//! (RFC 2136) and TSIG records (RFC 8945).
//!
//! Unlike the query reader in [`super::query`], which refuses compression
//! and copies nothing, this one follows compression pointers (clients such
//! as nsupdate compress the owner names of an update) and returns owned,
//! lower-cased names. It is still strict: a pointer must point strictly
//! backwards, so a pointer loop cannot trap it; names are at most 255
//! bytes; every record must fit the message. It never panics on any input.

use crate::name::MAX_NAME_LEN;

/// A lower-cased, uncompressed wire name read from a message.
pub type WireName = Box<[u8]>;

/// Reads the (possibly compressed) name at `at`; returns it lower-cased
/// and uncompressed, and the offset just past its bytes at `at`.
pub fn read_name(packet: &[u8], at: usize) -> Option<(WireName, usize)> {
    let mut name = Vec::with_capacity(32);
    let mut pos = at;
    // Where reading continues in the message: fixed at the first pointer.
    let mut end = None;
    // Every pointer must point before the label that holds it.
    let mut limit = at;
    loop {
        let len = *packet.get(pos)?;
        match len & 0xC0 {
            0xC0 => {
                let low = *packet.get(pos + 1)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                if target >= limit {
                    return None;
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            0x00 => {
                let len = usize::from(len);
                let label = packet.get(pos + 1..pos + 1 + len)?;
                if name.len() + 1 + len > MAX_NAME_LEN {
                    return None;
                }
                name.push(len as u8);
                name.extend(label.iter().map(u8::to_ascii_lowercase));
                pos += 1 + len;
                if len == 0 {
                    return Some((name.into_boxed_slice(), end.unwrap_or(pos)));
                }
            }
            _ => return None, // extended label types (RFC 6891 §5)
        }
    }
}

/// One resource record as it appears in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Where the record starts (its owner name) in the message.
    pub start: usize,
    /// Owner name, lower-cased and uncompressed.
    pub name: WireName,
    /// TYPE.
    pub rtype: u16,
    /// CLASS.
    pub class: u16,
    /// TTL.
    pub ttl: u32,
    /// Where RDATA lies in the message.
    pub rdata: std::ops::Range<usize>,
}

impl RawRecord {
    /// Offset just past the record.
    pub fn end(&self) -> usize {
        self.rdata.end
    }
}

/// Reads the resource record at `at`.
pub fn read_record(packet: &[u8], at: usize) -> Option<RawRecord> {
    let (name, after) = read_name(packet, at)?;
    let fixed = packet.get(after..after + 10)?;
    let word = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
    let rdata = after + 10..after + 10 + usize::from(word(8));
    packet.get(rdata.clone())?;
    Some(RawRecord {
        start: at,
        name,
        rtype: word(0),
        class: word(2),
        ttl: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        rdata,
    })
}

/// Reads a question (name, type, class) at `at`; returns it and the offset
/// past it.
pub fn read_question(packet: &[u8], at: usize) -> Option<(WireName, u16, u16, usize)> {
    let (name, after) = read_name(packet, at)?;
    let fixed = packet.get(after..after + 4)?;
    Some((
        name,
        u16::from_be_bytes([fixed[0], fixed[1]]),
        u16::from_be_bytes([fixed[2], fixed[3]]),
        after + 4,
    ))
}

/// RDATA with any embedded names uncompressed and lower-cased, for the
/// types whose RDATA may hold compressed names (RFC 3597 §4: those of RFC
/// 1035) and for SRV; other types' RDATA is taken as is. Comparing two
/// RRs then compares these bytes (RFC 2136 §1.1: RRs are compared by
/// their data, names without regard to case). Empty RDATA, which the
/// existence prerequisites and RRset deletes of every type carry (RFC 2136
/// §2.4.1, §2.4.3, §2.5.2), is returned empty.
pub fn canonical_rdata(
    packet: &[u8],
    rtype: u16,
    rdata: std::ops::Range<usize>,
) -> Option<Vec<u8>> {
    use crate::iana::rtype::{CNAME, MX, NS, PTR, SOA, SRV};
    let (fixed_before, names, fixed_after) = match rtype {
        NS | CNAME | PTR => (0, 1, 0),
        MX => (2, 1, 0),
        SRV => (6, 1, 0),
        SOA => (0, 2, 20),
        _ => return packet.get(rdata).map(<[u8]>::to_vec),
    };
    if rdata.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::with_capacity(rdata.len());
    let mut at = rdata.start;
    out.extend_from_slice(packet.get(at..at + fixed_before)?);
    at += fixed_before;
    for _ in 0..names {
        if at >= rdata.end {
            return None;
        }
        let (name, after) = read_name(&packet[..rdata.end], at)?;
        out.extend_from_slice(&name);
        at = after;
    }
    out.extend_from_slice(packet.get(at..at + fixed_after)?);
    (at + fixed_after == rdata.end).then_some(out)
}

/// Writes `text` (dotted, absolute or not) as a wire name, for tests.
#[cfg(test)]
pub(crate) fn wire_name(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in text
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header followed by `body`.
    fn message(body: &[u8]) -> Vec<u8> {
        let mut p = vec![0; 12];
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn reads_plain_and_compressed_names_lowercased() {
        let mut p = message(&wire_name("Zone.TEST"));
        let zone_at = 12;
        let second = p.len();
        p.extend_from_slice(b"\x03WWW\xC0");
        p.push(zone_at as u8);
        let (name, end) = read_name(&p, zone_at).unwrap();
        assert_eq!(&*name, b"\x04zone\x04test\x00");
        assert_eq!(end, second);
        let (name, end) = read_name(&p, second).unwrap();
        assert_eq!(&*name, b"\x03www\x04zone\x04test\x00");
        assert_eq!(end, p.len(), "reading goes on after the first pointer");
    }

    #[test]
    fn rejects_loops_forward_pointers_and_long_names() {
        // A pointer to itself, and one pointing forward.
        let p = message(b"\xC0\x0C");
        assert_eq!(read_name(&p, 12), None);
        let p = message(b"\xC0\x0E\x00");
        assert_eq!(read_name(&p, 12), None);
        // Two pointers pointing at each other through a label.
        let p = message(b"\x01a\xC0\x10\x01b\xC0\x0C");
        assert_eq!(read_name(&p, 16), None);
        // Extended label type, truncation.
        assert_eq!(read_name(&message(b"\x40"), 12), None);
        assert_eq!(read_name(&message(b"\x05ab"), 12), None);
        // 256 bytes on the wire.
        let long = vec!["abcdefghij"; 23].join(".") + ".a";
        assert_eq!(wire_name(&long).len(), 256);
        assert_eq!(read_name(&message(&wire_name(&long)), 12), None);
        let fits = vec!["abcdefghij"; 23].join(".");
        assert!(read_name(&message(&wire_name(&fits)), 12).is_some());
    }

    #[test]
    fn reads_records_and_questions() {
        let mut p = message(&wire_name("a.test"));
        p.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 60, 0, 3, 2, b'h', b'i']);
        let rr = read_record(&p, 12).unwrap();
        assert_eq!(
            (rr.rtype, rr.class, rr.ttl, rr.rdata.clone()),
            (16, 1, 60, 30..33)
        );
        assert_eq!(rr.end(), p.len());
        assert_eq!(read_record(&p[..p.len() - 1], 12), None, "rdata overruns");
        let (name, qtype, qclass, end) = read_question(&p, 12).unwrap();
        assert_eq!(
            (&*name, qtype, qclass, end),
            (&b"\x01a\x04test\x00"[..], 16, 1, 24)
        );
    }

    #[test]
    fn canonical_rdata_uncompresses_names_of_rfc1035_types() {
        let mut p = message(&wire_name("Mail.Test"));
        let rdata_at = p.len();
        p.extend_from_slice(&[0, 10, 0xC0, 12]);
        let mx = canonical_rdata(&p, 15, rdata_at..p.len()).unwrap();
        assert_eq!(mx, b"\x00\x0a\x04mail\x04test\x00");
        // TXT is taken as is, case included.
        assert_eq!(canonical_rdata(&p, 16, 12..17).unwrap(), b"\x04Mail");
        // Empty RDATA, as prerequisites and RRset deletes carry it.
        assert_eq!(canonical_rdata(&p, 5, 12..12).unwrap(), b"");
        // A name that runs past the RDATA, or bytes left over.
        assert_eq!(canonical_rdata(&p, 5, rdata_at..rdata_at + 3), None);
        assert_eq!(canonical_rdata(&p, 5, 12..rdata_at + 1), None);
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut base = message(&wire_name("www.example.test"));
        base.extend_from_slice(&[0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xC0, 16]);
        for _ in 0..100_000 {
            let mut p = base.clone();
            for _ in 0..next() % 4 + 1 {
                let i = (next() as usize) % p.len();
                p[i] = next() as u8;
            }
            p.truncate((next() as usize) % (p.len() + 1));
            let at = (next() as usize) % (p.len() + 1);
            let _ = read_name(&p, at);
            if let Some(rr) = read_record(&p, at) {
                let _ = canonical_rdata(&p, rr.rtype, rr.rdata);
            }
        }
    }
}
