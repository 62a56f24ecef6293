//! Referrals: the answer for names at or below a delegation (static NS
//! below an apex), where gslb is not authoritative. As RFC 1034 §4.3.2
//! step 3b and Knot and NSD do: AA clear (unless a CNAME of gslb's own led
//! here), no answer records, the delegation's NS RRset in the authority
//! section and the addresses gslb holds for those name servers in the
//! additional section.
//!
//! All glue is written; when it does not fit, the response goes out with
//! TC=1 rather than without glue, as for the apex NS answer (RFC 9471 §3).
//! Glue owners are compression pointers to the names in the NS data. In a
//! signed zone, a query with DO also gets the delegation's DS RRset (static
//! DS records) with its RRSIG, or else the NSEC that proves it has none
//! ([`super::denial`]); the NS RRset and the glue are not signed (the
//! child's data, RFC 4035 §2.2).

use super::apex::{MAX_POINTER, RR_HEAD_LEN};
use super::{Message, Owner, Section};
use crate::table::{Cut, Zone};

impl Message<'_, '_> {
    /// The referral to `cut` (of `zone`) for the name at `owner` (the cut
    /// or below); in a signed zone with DO, the NSEC that proves the
    /// delegation has no DS follows the NS RRset.
    pub(super) fn referral(&mut self, zone: &Zone, cut: &Cut, owner: Owner) {
        let cut_len = cut.name.wire().len();
        let cut_pointer = owner.suffix_pointer(cut_len);
        let first_rdata = self.out.len() + RR_HEAD_LEN;
        self.rrset(Section::Authority, cut_pointer, &cut.ns);
        let cut_owner = Owner {
            at: owner.at + owner.len - cut_len,
            len: cut_len,
        };
        match &cut.ds {
            // The child is signed: its DS, signed, in the referral.
            Some(ds) if self.signs(zone) => {
                let from = self.out.len();
                self.rrset(Section::Authority, cut_pointer, ds);
                self.sign(zone, Section::Authority, from);
            }
            Some(_) => {}
            None => self.delegation_nsec(zone, cut_owner),
        }
        // The glue pass walks the NS lengths again instead of keeping a
        // list of offsets.
        let mut next = 0;
        let mut rdata_at = first_rdata;
        for (ns, addresses) in cut.glue.iter() {
            let ns = usize::from(*ns);
            while next < ns {
                rdata_at += RR_HEAD_LEN + cut.ns.rdata.get(next).map_or(0, |r| r.len());
                next += 1;
            }
            let Some(ns_name) = cut.ns.rdata.get(ns) else {
                return;
            };
            for rdata in addresses.rdata.iter() {
                if self.is_full() {
                    return;
                }
                if rdata_at <= MAX_POINTER {
                    self.out
                        .extend_from_slice(&(0xC000 | rdata_at as u16).to_be_bytes());
                } else {
                    self.out.extend_from_slice(ns_name);
                }
                let at = self.record_head_after_owner(
                    Section::Additional,
                    addresses.rtype,
                    addresses.ttl,
                );
                self.out.extend_from_slice(rdata);
                self.record_end(at);
            }
        }
    }
}
