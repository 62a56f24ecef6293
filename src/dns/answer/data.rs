//! Answers from RRsets held as wire data: the zones' static records and
//! the records dynamic updates added. The RDATA is copied as compiled;
//! only the owner is a compression pointer.

use super::{Message, Section};
use crate::iana::rtype;
use crate::table::Snapshot;
use crate::table::rrset::{RrSet, RrSets};

/// The RRset a query for `qtype` at `name` gets from static data, else
/// from the dynamic layer (asked only when it holds anything at all).
pub(super) fn rrset<'s>(
    snap: &'s Snapshot,
    statics: Option<&'s RrSets>,
    name: &[u8],
    qtype: u16,
) -> Option<&'s RrSet> {
    let pick = |sets: &'s RrSets| match qtype {
        rtype::ANY => sets.first(),
        _ => sets.get(qtype),
    };
    statics.and_then(pick).or_else(|| {
        if snap.dynamic.is_empty() {
            return None;
        }
        snap.dynamic.get(name).and_then(|d| pick(&d.rrsets))
    })
}

impl Message<'_, '_> {
    /// Every record of `set`, owned by the name `owner` points at.
    pub(super) fn rrset(&mut self, section: Section, owner: u16, set: &RrSet) {
        for rdata in set.rdata.iter() {
            if self.is_full() {
                return; // TC=1 anyway: writing more only costs time
            }
            let at = self.record_head(section, owner, set.rtype, set.ttl);
            self.out.extend_from_slice(rdata);
            self.record_end(at);
        }
    }

    /// A CNAME answer; returns its target and the offset where the target
    /// is spelled out, for the records of the chain that follow.
    pub(super) fn cname<'s>(&mut self, owner: u16, set: &'s RrSet) -> Option<(&'s [u8], usize)> {
        let target = set.rdata.first()?;
        let at = self.record_head(Section::Answer, owner, set.rtype, set.ttl);
        let target_at = self.out.len();
        self.out.extend_from_slice(target);
        self.record_end(at);
        Some((target, target_at))
    }
}
