//! The key RRsets at a signed zone's apex, from its keys' timing at the
//! time of the query: DNSKEY (every published key), and for the parent to
//! take (RFC 7344, RFC 8078) CDS (SHA-256 digests) and CDNSKEY of the SEP
//! keys that sign. They are the zone's data, answered with or without DO.

use super::{Message, Owner, Section};
use crate::dnssec::{Key, Signer};
use crate::iana::rtype;
use crate::table::Zone;

impl Message<'_, '_> {
    /// Writes the `qtype` (DNSKEY, CDS or CDNSKEY) RRset of `zone` at
    /// `owner` and signs it; returns false when the set is empty (NODATA).
    pub(super) fn keys(
        &mut self,
        zone: &Zone,
        signer: &Signer,
        qtype: u16,
        owner: Owner,
        now: u64,
    ) -> bool {
        let from = self.out.len();
        let mut write = |key: &Key| {
            let at = self.record_head(Section::Answer, owner.pointer(), qtype, zone.ttl);
            let rdata = if qtype == rtype::CDS {
                &key.ds
            } else {
                &key.dnskey
            };
            self.out.extend_from_slice(rdata);
            self.record_end(at);
        };
        match qtype {
            rtype::DNSKEY => signer.published(now).for_each(&mut write),
            _ => signer.delegated(now).for_each(&mut write),
        }
        if self.out.len() == from {
            return false;
        }
        self.sign(zone, Section::Answer, from);
        true
    }
}
