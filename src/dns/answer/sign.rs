//! Signing answers as they are written: when the query set DO and the
//! owner's zone is signed, each authoritative RRset the engine writes
//! (answer and authority sections) is followed at once by its RRSIGs.
//!
//! Signing right after each RRset, rather than over the finished
//! message, keeps every compression pointer valid (pointers only point
//! back, and nothing is inserted before what they point at) and leaves
//! truncation where it was, in [`Message::finish`]. The records just
//! written are read back from the message into the responder's reusable
//! [`CanonicalRrset`]: owner and names in RDATA expanded (the apex NS
//! answer points its names at the question) and lower-cased (RFC 4034
//! §6.2), records sorted. The zone's [`Signer`](crate::dnssec::Signer)
//! copies the RRSIGs from its cache or makes them. Glue in the additional
//! section is not signed (resolvers do not need it signed; RFC 4035 §3.1.1
//! lets it go).

use super::{Message, Section};
use crate::dnssec::{CanonicalRrset, Signed};
use crate::iana::{class, rtype};
use crate::name::MAX_NAME_LEN;
use crate::table::Zone;

/// What signing cost one response, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignStats {
    /// RRsets whose signatures came from the cache.
    pub hits: u16,
    /// RRsets signed while answering.
    pub misses: u16,
    /// Time spent signing, nanoseconds.
    pub nanos: u64,
    /// RRsets left unsigned because signing failed.
    pub errors: u16,
}

/// The DNSSEC side of a response being written: set when the query has
/// DO and the snapshot has a signed zone.
#[derive(Debug)]
pub(super) struct Dnssec<'s> {
    /// Unix seconds: which keys sign, which signatures are fresh.
    pub(super) now: u64,
    /// The query set Compact Answers OK.
    pub(super) compact_ok: bool,
    /// The responder's reusable canonical RRset.
    pub(super) set: &'s mut CanonicalRrset,
    /// What signing cost so far.
    pub(super) stats: SignStats,
}

impl Message<'_, '_> {
    /// Whether RRsets of `zone` get signed in this response.
    pub(super) fn signs(&self, zone: &Zone) -> bool {
        self.dnssec.is_some() && zone.signer.is_some()
    }

    /// Signs the RRset written since `from` (records of one owner and
    /// type) with `zone`'s keys, appending its RRSIGs to `section`.
    pub(super) fn sign(&mut self, zone: &Zone, section: Section, from: usize) {
        let (Some(dnssec), Some(signer)) = (self.dnssec.as_mut(), zone.signer.as_deref()) else {
            return;
        };
        if from >= self.out.len() || self.out.len() > self.limit {
            return; // nothing written, or TC=1 anyway
        }
        let Some(owner_end) = canonical_rrset(self.out, from, dnssec.set) else {
            return;
        };
        let set = &*dnssec.set;
        let (ttl, out) = (set.ttl(), &mut *self.out);
        let mut written = 0u16;
        let result = signer.rrsigs(set, dnssec.now, |rdata| {
            out.extend_from_within(from..owner_end);
            out.extend_from_slice(&rtype::RRSIG.to_be_bytes());
            out.extend_from_slice(&class::IN.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(rdata);
            written += 1;
        });
        self.counts[section as usize] += written;
        let stats = &mut dnssec.stats;
        match result {
            Ok(Signed::Hit) => stats.hits = stats.hits.saturating_add(1),
            Ok(Signed::Miss { nanos }) => {
                stats.misses = stats.misses.saturating_add(1);
                stats.nanos = stats.nanos.saturating_add(nanos);
            }
            Err(_) => stats.errors = stats.errors.saturating_add(1),
        }
    }
}

/// Reads the records of one RRset from `msg[from..]` into `set` in
/// canonical form; returns where the first record's owner ends (its
/// encoding is copied as the RRSIGs' owner).
fn canonical_rrset(msg: &[u8], from: usize, set: &mut CanonicalRrset) -> Option<usize> {
    let owner_end = skip_name(msg, from)?;
    let fixed = msg.get(owner_end..owner_end + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    expand_name(msg, from, set.start(rtype, ttl))?;
    let mut at = from;
    while at < msg.len() {
        let head = skip_name(msg, at)? + 10;
        let rdlen = usize::from(u16::from_be_bytes([
            *msg.get(head - 2)?,
            *msg.get(head - 1)?,
        ]));
        let end = head + rdlen;
        let rdata = msg.get(head..end)?;
        canonical_rdata(msg, rtype, head, rdata, set.begin_rdata())?;
        set.end_rdata();
        at = end;
    }
    set.finish();
    Some(owner_end)
}

/// Appends the canonical form of `rdata` (at `at` in `msg`) of `rtype`:
/// the names of the types gslb serves that hold names expanded and
/// lower-cased, everything else as is.
fn canonical_rdata(
    msg: &[u8],
    rtype: u16,
    at: usize,
    rdata: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    match rtype {
        rtype::NS | rtype::CNAME | rtype::PTR => {
            expand_name(msg, at, out)?;
        }
        rtype::MX => {
            out.extend_from_slice(rdata.get(..2)?);
            expand_name(msg, at + 2, out)?;
        }
        rtype::SRV => {
            out.extend_from_slice(rdata.get(..6)?);
            expand_name(msg, at + 6, out)?;
        }
        rtype::SOA => {
            let rname = skip_name(msg, at)?;
            expand_name(msg, at, out)?;
            expand_name(msg, rname, out)?;
            out.extend_from_slice(rdata.get(rdata.len().checked_sub(20)?..)?);
        }
        _ => out.extend_from_slice(rdata),
    }
    Some(())
}

/// Where the (possibly compressed) name at `at` ends in the message.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l if l <= 63 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// Appends the name at `at` to `out`, following compression pointers
/// (backwards only, so no loop) and lower-casing it.
fn expand_name(msg: &[u8], mut at: usize, out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    loop {
        let len = *msg.get(at)?;
        if len & 0xC0 == 0xC0 {
            let target = usize::from(u16::from_be_bytes([len, *msg.get(at + 1)?]) & 0x3FFF);
            if target >= at {
                return None;
            }
            at = target;
            continue;
        }
        if len > 63 || out.len() - start + 1 + usize::from(len) > MAX_NAME_LEN {
            return None;
        }
        let label = msg.get(at..at + 1 + usize::from(len))?;
        out.extend(label.iter().map(u8::to_ascii_lowercase));
        if len == 0 {
            return Some(());
        }
        at += 1 + usize::from(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_expanded_through_pointers_and_lower_cased() {
        // Header stand-in, then WWW.Example.TEST at 12, then a name "ns"
        // pointing at Example.TEST (offset 16).
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03WWW\x07Example\x04TEST\x00");
        let ns_at = msg.len();
        msg.extend_from_slice(b"\x02NS\xC0\x10");
        let mut out = Vec::new();
        expand_name(&msg, ns_at, &mut out).unwrap();
        assert_eq!(out, b"\x02ns\x07example\x04test\x00");
        assert_eq!(skip_name(&msg, ns_at), Some(msg.len()));
        // A pointer forward (or at itself) is refused.
        let mut looped = msg.clone();
        let at = looped.len();
        looped.extend_from_slice(&(0xC000u16 | at as u16).to_be_bytes());
        assert_eq!(expand_name(&looped, at, &mut Vec::new()), None);
    }

    #[test]
    fn a_written_rrset_reads_back_canonical() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03WWW\x07Example\x04TEST\x00\x00\x01\x00\x01");
        let from = msg.len();
        for addr in [[192, 0, 2, 20], [192, 0, 2, 3]] {
            msg.extend_from_slice(b"\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04");
            msg.extend_from_slice(&addr);
        }
        let mut set = CanonicalRrset::default();
        assert_eq!(canonical_rrset(&msg, from, &mut set), Some(from + 2));
        assert_eq!(set.owner(), b"\x03www\x07example\x04test\x00");
        assert_eq!((set.rtype(), set.ttl(), set.len()), (1, 30, 2));
        assert_eq!(set.rdatas().next(), Some(&[192, 0, 2, 3][..]));
    }
}
