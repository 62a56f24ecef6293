//! RRsets in canonical form (RFC 4034 §6): the owner lower-cased and
//! uncompressed, the RDATA of each record canonical (names in the types of
//! §6.2 lower-cased and uncompressed: the caller writes them so), the
//! records sorted by RDATA as unsigned octet strings with duplicates
//! dropped, and one TTL, the original one.
//!
//! [`CanonicalRrset`] is built in buffers the caller keeps and reuses, so
//! building one per answered RRset allocates nothing once they have grown.
//! Its [`key`](CanonicalRrset::key) (owner, type, TTL, sorted data) is
//! what the RRSIG cache is keyed by: two answers that hold the same
//! addresses in another order share one signature.

/// One RRset, canonical, in reusable buffers.
#[derive(Debug, Default, Clone)]
pub struct CanonicalRrset {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    /// Each record's RDATA, in the order pushed.
    staged: Vec<u8>,
    /// (start, end) of each record's RDATA in `staged`, sorted by
    /// [`finish`](Self::finish).
    ranges: Vec<(u32, u32)>,
    /// Where the RDATA being written starts in `staged`.
    open: usize,
    /// owner | type | TTL | (RDLENGTH | RDATA) per sorted record.
    key: Vec<u8>,
}

impl CanonicalRrset {
    /// Starts a new RRset of `rtype` with (original) `ttl`; returns the
    /// owner buffer, cleared, for the caller to write the lower-cased wire
    /// owner into.
    pub fn start(&mut self, rtype: u16, ttl: u32) -> &mut Vec<u8> {
        self.rtype = rtype;
        self.ttl = ttl;
        self.staged.clear();
        self.ranges.clear();
        self.key.clear();
        self.owner.clear();
        &mut self.owner
    }

    /// Starts the next record's RDATA; returns the buffer to append its
    /// canonical form to, closed by [`end_rdata`](Self::end_rdata).
    pub fn begin_rdata(&mut self) -> &mut Vec<u8> {
        self.open = self.staged.len();
        &mut self.staged
    }

    /// Closes the record begun by [`begin_rdata`](Self::begin_rdata).
    pub fn end_rdata(&mut self) {
        self.ranges
            .push((self.open as u32, self.staged.len() as u32));
    }

    /// Adds a record whose canonical RDATA is `rdata`.
    pub fn push_rdata(&mut self, rdata: &[u8]) {
        self.begin_rdata().extend_from_slice(rdata);
        self.end_rdata();
    }

    /// Sorts the records, drops duplicates and builds the key.
    pub fn finish(&mut self) {
        let staged = &self.staged;
        let slice = |r: &(u32, u32)| &staged[r.0 as usize..r.1 as usize];
        self.ranges.sort_unstable_by(|a, b| slice(a).cmp(slice(b)));
        self.ranges.dedup_by(|a, b| slice(a) == slice(b));
        self.key.extend_from_slice(&self.owner);
        self.key.extend_from_slice(&self.rtype.to_be_bytes());
        self.key.extend_from_slice(&self.ttl.to_be_bytes());
        for range in &self.ranges {
            let data = slice(range);
            self.key
                .extend_from_slice(&(data.len() as u16).to_be_bytes());
            self.key.extend_from_slice(data);
        }
    }

    /// The lower-cased wire owner.
    pub fn owner(&self) -> &[u8] {
        &self.owner
    }

    /// TYPE.
    pub fn rtype(&self) -> u16 {
        self.rtype
    }

    /// The original TTL.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The cache key: owner, type, TTL and the sorted records.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The records' RDATA in canonical order (after [`finish`](Self::finish)).
    pub fn rdatas(&self) -> impl Iterator<Item = &[u8]> {
        self.ranges
            .iter()
            .map(|r| &self.staged[r.0 as usize..r.1 as usize])
    }

    /// How many records the set holds (after [`finish`](Self::finish)).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// Number of labels of a wire name, the root not counted (the RRSIG
/// Labels field; gslb serves no wildcards).
pub fn label_count(wire: &[u8]) -> u8 {
    let mut count = 0u8;
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            break;
        }
        count = count.saturating_add(1);
        at += 1 + usize::from(len);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_sort_by_rdata_and_duplicates_go() {
        let mut set = CanonicalRrset::default();
        set.start(1, 30).extend_from_slice(b"\x01a\x00");
        for rdata in [[192, 0, 2, 20], [192, 0, 2, 3], [192, 0, 2, 20]] {
            set.push_rdata(&rdata);
        }
        set.finish();
        let rdatas: Vec<&[u8]> = set.rdatas().collect();
        assert_eq!(rdatas, [&[192, 0, 2, 3][..], &[192, 0, 2, 20]]);
        assert_eq!(
            set.key(),
            b"\x01a\x00\x00\x01\x00\x00\x00\x1e\x00\x04\xc0\x00\x02\x03\x00\x04\xc0\x00\x02\x14"
        );
        // The same records in another order make the same key.
        let mut other = CanonicalRrset::default();
        other.start(1, 30).extend_from_slice(b"\x01a\x00");
        other.push_rdata(&[192, 0, 2, 3]);
        other.push_rdata(&[192, 0, 2, 20]);
        other.finish();
        assert_eq!(set.key(), other.key());
    }

    #[test]
    fn shorter_rdata_sorts_first_when_a_prefix() {
        let mut set = CanonicalRrset::default();
        set.start(16, 30).push(0);
        set.push_rdata(b"\x02ab");
        set.push_rdata(b"\x01a");
        set.push_rdata(b"\x02a");
        set.finish();
        let rdatas: Vec<&[u8]> = set.rdatas().collect();
        assert_eq!(rdatas, [&b"\x01a"[..], b"\x02a", b"\x02ab"]);
    }

    #[test]
    fn labels_are_counted_without_the_root() {
        assert_eq!(label_count(b"\x03www\x07example\x04test\x00"), 3);
        assert_eq!(label_count(b"\x00"), 0);
    }
}
