//! Denial of existence in signed zones: compact denial (RFC 9824), what
//! Cloudflare and NS1 serve. Every negative answer carries one NSEC at the
//! name asked about, whose next name is `\000.<name>` (so it covers no
//! other name) and whose bitmap lists the types that exist there, plus
//! RRSIG and NSEC:
//!
//! * a name that exists without the type asked (NODATA): its types,
//!   without the one asked;
//! * a name that does not exist: NXNAME (128) alone, and the RCODE is
//!   NOERROR, or NXDOMAIN when the query set Compact Answers OK;
//! * an empty non-terminal: RRSIG and NSEC only;
//! * a delegation (static NS below the apex) without static DS: NS, which
//!   proves it has no DS, in the referral and in a DS query's NODATA (with
//!   a static DS, the referral carries the DS RRset and its RRSIG instead).
//!
//! The NSEC's TTL is the SOA's negative TTL (RFC 9077). Without DO, or in
//! an unsigned zone, negative answers are written as before.

use super::{Message, Owner, Section};
use crate::iana::{rcode, rtype};
use crate::table::{Family, NameEntry, Snapshot, Zone};

/// Most types one NSEC lists: what any name gslb serves can hold.
const MAX_TYPES: usize = 32;

/// The types that exist at a name, for an NSEC type bitmap; sorted, on
/// the stack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Types {
    list: [u16; MAX_TYPES],
    len: usize,
}

impl Types {
    fn new() -> Self {
        Self {
            list: [0; MAX_TYPES],
            len: 0,
        }
    }

    /// Adds `t`, keeping the list sorted and free of duplicates.
    fn add(&mut self, t: u16) {
        let list = &mut self.list[..self.len];
        let Err(at) = list.binary_search(&t) else {
            return;
        };
        if self.len == MAX_TYPES {
            return;
        }
        self.list.copy_within(at..self.len, at + 1);
        self.list[at] = t;
        self.len += 1;
    }

    fn remove(&mut self, t: u16) {
        if let Ok(at) = self.list[..self.len].binary_search(&t) {
            self.list.copy_within(at + 1..self.len, at);
            self.len -= 1;
        }
    }

    /// The type bitmap (RFC 4034 §4.1.2): per window of 256 types in use,
    /// its number, its length and its bits.
    fn write_bitmap(&self, out: &mut Vec<u8>) {
        let types = &self.list[..self.len];
        let mut i = 0;
        while i < types.len() {
            let window = (types[i] >> 8) as u8;
            let mut bits = [0u8; 32];
            let mut used = 0;
            while i < types.len() && (types[i] >> 8) as u8 == window {
                let low = usize::from(types[i] as u8);
                bits[low / 8] |= 0x80 >> (low % 8);
                used = low / 8 + 1;
                i += 1;
            }
            out.push(window);
            out.push(used as u8);
            out.extend_from_slice(&bits[..used]);
        }
    }
}

/// The types at an existing name in `zone` (its table entry), at `now`.
pub(super) fn types_at(
    snap: &Snapshot,
    zone: &Zone,
    entry: NameEntry,
    name: &[u8],
    now: u64,
) -> Types {
    let table = &snap.table;
    let mut types = Types::new();
    types.add(rtype::RRSIG);
    types.add(rtype::NSEC);
    if let Some(cut) = entry.cut {
        types.add(rtype::NS);
        if table.cuts.get(cut as usize).is_some_and(|c| c.ds.is_some()) {
            types.add(rtype::DS);
        }
        return types;
    }
    if entry.apex {
        for t in [rtype::SOA, rtype::NS, rtype::DNSKEY] {
            types.add(t);
        }
        if let Some(signer) = &zone.signer
            && signer.delegated(now).next().is_some()
        {
            types.add(rtype::CDS);
            types.add(rtype::CDNSKEY);
        }
    }
    if let Some(record) = entry.record.and_then(|r| table.records.get(r as usize)) {
        for (family, t) in [(Family::V4, rtype::A), (Family::V6, rtype::AAAA)] {
            if snap.health.has_family(record, family) {
                types.add(t);
            }
        }
    }
    if let Some(glue) = entry.glue.and_then(|g| table.glue.get(g as usize)) {
        if !glue.v4.is_empty() {
            types.add(rtype::A);
        }
        if !glue.v6.is_empty() {
            types.add(rtype::AAAA);
        }
    }
    if let Some(statics) = entry.statics.and_then(|s| table.statics.get(s as usize)) {
        statics.iter().for_each(|set| types.add(set.rtype));
    }
    if !snap.dynamic.is_empty()
        && let Some(dynamic) = snap.dynamic.get(name)
    {
        dynamic.rrsets.iter().for_each(|set| types.add(set.rtype));
    }
    types
}

impl Message<'_, '_> {
    /// NODATA for `qtype` at the existing name `name` (its `entry`),
    /// written at `owner`: the SOA, and in a signed zone with DO its
    /// RRSIG and the compact-denial NSEC.
    pub(super) fn nodata(
        &mut self,
        snap: &Snapshot,
        entry: NameEntry,
        name: &[u8],
        owner: Owner,
        qtype: u16,
    ) {
        self.negative(&snap.table, entry.zone, owner);
        let zone = &snap.table.zones[usize::from(entry.zone)];
        if !self.signs(zone) {
            return;
        }
        let now = self.dnssec.as_ref().map_or(0, |d| d.now);
        let mut types = types_at(snap, zone, entry, name, now);
        types.remove(qtype);
        self.nsec(zone, owner, &types);
    }

    /// The answer for a name of zone `index` that does not exist, written
    /// at `owner`; returns the RCODE: NXDOMAIN, or in a signed zone with
    /// DO, NOERROR unless the query set Compact Answers OK (RFC 9824 §3.2).
    pub(super) fn nxdomain(&mut self, snap: &Snapshot, index: u16, owner: Owner) -> u16 {
        self.negative(&snap.table, index, owner);
        let zone = &snap.table.zones[usize::from(index)];
        if !self.signs(zone) {
            return rcode::NXDOMAIN;
        }
        let mut types = Types::new();
        for t in [rtype::RRSIG, rtype::NSEC, rtype::NXNAME] {
            types.add(t);
        }
        self.nsec(zone, owner, &types);
        match self.dnssec.as_ref() {
            Some(d) if d.compact_ok => rcode::NXDOMAIN,
            _ => rcode::NOERROR,
        }
    }

    /// The NSEC of a delegation at `cut` (a name spelled out in the
    /// message): NS, no DS.
    pub(super) fn delegation_nsec(&mut self, zone: &Zone, cut: Owner) {
        if !self.signs(zone) {
            return;
        }
        let mut types = Types::new();
        for t in [rtype::NS, rtype::RRSIG, rtype::NSEC] {
            types.add(t);
        }
        self.nsec(zone, cut, &types);
    }

    /// Writes and signs the compact-denial NSEC at `owner` (spelled out,
    /// uncompressed, in the message) in the authority section.
    fn nsec(&mut self, zone: &Zone, owner: Owner, types: &Types) {
        let from = self.out.len();
        let at = self.record_head(
            Section::Authority,
            owner.pointer(),
            rtype::NSEC,
            zone.negative_ttl,
        );
        // Next name: \000.<owner>, lower-cased, uncompressed.
        self.out.extend_from_slice(&[1, 0]);
        let name_at = self.out.len();
        self.out.extend_from_within(owner.at..owner.at + owner.len);
        self.out[name_at..].make_ascii_lowercase();
        types.write_bitmap(self.out);
        self.record_end(at);
        self.sign(zone, Section::Authority, from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_use_one_window_per_256_types() {
        let mut types = Types::new();
        for t in [
            rtype::CAA,
            rtype::A,
            rtype::NSEC,
            rtype::RRSIG,
            rtype::A,
            rtype::NXNAME,
        ] {
            types.add(t);
        }
        let mut out = Vec::new();
        types.write_bitmap(&mut out);
        // Window 0: A (1), RRSIG (46), NSEC (47), NXNAME (128); window 1: CAA (257).
        let mut window0 = vec![0u8; 17];
        window0[0] = 0x40;
        window0[5] = 0x03;
        window0[16] = 0x80;
        let mut expected = vec![0, 17];
        expected.extend_from_slice(&window0);
        expected.extend_from_slice(&[1, 1, 0x40]);
        assert_eq!(out, expected);
        types.remove(rtype::NXNAME);
        types.remove(rtype::CAA);
        let mut out = Vec::new();
        types.write_bitmap(&mut out);
        assert_eq!(out, [0, 6, 0x40, 0, 0, 0, 0, 0x03]);
    }
}
