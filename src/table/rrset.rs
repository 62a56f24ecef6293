//! RRsets in wire form: what static records (from the config) and dynamic
//! records (from RFC 2136 updates) answer with, beside the GSLB records'
//! selected addresses.
//!
//! A name holds a handful of RRsets at most, so they sit in a short slice
//! sorted by type and a lookup is a linear scan: no hashing, no allocation.

/// One RRset: every record of one type at one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrSet {
    /// TYPE.
    pub rtype: u16,
    /// TTL of every record of the set (RFC 2181 §5.2: one TTL per RRset).
    pub ttl: u32,
    /// Each record's RDATA exactly as it follows RDLENGTH, names
    /// uncompressed, so answers copy it as is.
    pub rdata: Box<[Box<[u8]>]>,
}

impl RrSet {
    /// Bytes the set takes in a response when its owner is a compression
    /// pointer: per record owner 2, type 2, class 2, TTL 4, RDLENGTH 2.
    pub fn wire_len(&self) -> usize {
        self.rdata.iter().map(|r| 12 + r.len()).sum()
    }
}

/// Every RRset at one name, sorted by type, one per type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RrSets(Box<[RrSet]>);

impl RrSets {
    /// The RRsets of a name; the caller gives at most one per type.
    pub fn new(mut sets: Vec<RrSet>) -> Self {
        sets.sort_by_key(|s| s.rtype);
        Self(sets.into())
    }

    /// The RRset of `rtype`.
    #[inline]
    pub fn get(&self, rtype: u16) -> Option<&RrSet> {
        self.0.iter().find(|s| s.rtype == rtype)
    }

    /// The RRset an `ANY` query gets: one, the lowest type (RFC 8482 §4.2).
    pub fn first(&self) -> Option<&RrSet> {
        self.0.first()
    }

    /// Every RRset, by type.
    pub fn iter(&self) -> impl Iterator<Item = &RrSet> {
        self.0.iter()
    }

    /// True when the name holds no RRset (an empty non-terminal).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rtype: u16, rdata: &[&[u8]]) -> RrSet {
        RrSet {
            rtype,
            ttl: 60,
            rdata: rdata.iter().map(|r| Box::from(*r)).collect(),
        }
    }

    #[test]
    fn sets_are_found_by_type_and_any_takes_the_lowest() {
        let sets = RrSets::new(vec![set(257, &[b"caa"]), set(16, &[b"\x01a", b"\x01b"])]);
        assert_eq!(sets.get(16).map(|s| s.rdata.len()), Some(2));
        assert_eq!(sets.get(257).map(|s| s.rtype), Some(257));
        assert_eq!(sets.get(15), None);
        assert_eq!(sets.first().map(|s| s.rtype), Some(16));
        assert_eq!(sets.iter().map(|s| s.rtype).collect::<Vec<_>>(), [16, 257]);
        assert!(!sets.is_empty() && RrSets::default().is_empty());
    }

    #[test]
    fn wire_len_counts_a_pointer_owner_per_record() {
        assert_eq!(set(16, &[b"\x01a", b"\x02bc"]).wire_len(), 12 + 2 + 12 + 3);
    }
}
