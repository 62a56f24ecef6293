//! The apex NS answer: every name server of the zone, then the addresses
//! (glue) of each one gslb serves.
//!
//! All glue is written. When the whole answer does not fit the transport,
//! it goes out with TC=1 and empty sections, and the resolver retries over
//! TCP: RFC 9471 §3 has a server set TC rather than leave out glue of
//! in-domain name servers, since resolvers would otherwise only ever try
//! the few servers whose addresses fitted. Config validation rejects a
//! zone whose NS answer could not fit even a TCP message
//! ([`nameservers_response_len`](crate::model::ns_answer::nameservers_response_len),
//! which counts the layout written here).
//!
//! Glue owner names are compression pointers to the name in the NS record
//! data. A pointer has 14 bits: past offset 0x3FFF (very many or very long
//! name server names, over TCP) the owner is spelled out instead.

use crate::iana::rtype;
use std::net::IpAddr;

use super::{Message, Section};
use crate::model::ns_answer::ns_rdata_len;
pub(super) use crate::model::ns_answer::{MAX_POINTER, RR_HEAD_LEN};
use crate::table::{NameServer, Table, Zone};

impl Message<'_, '_> {
    /// Apex NS answer, with all glue for the name servers gslb serves;
    /// `apex` points at the apex name in the message.
    pub(super) fn nameservers(&mut self, table: &Table, zone: &Zone, apex: u16) {
        // Where the first NS record's data will start; the glue pass walks
        // the same lengths instead of keeping a list of offsets.
        let from = self.out.len();
        let mut rdata_at = from + RR_HEAD_LEN;
        for ns in zone.nameservers.iter() {
            if self.is_full() {
                return;
            }
            let at = self.record_head(Section::Answer, apex, rtype::NS, zone.ttl);
            self.ns_name(ns, apex);
            self.record_end(at);
        }
        // The RRSIGs go between the NS RRset and the glue, which points
        // back into the NS data.
        self.sign(zone, Section::Answer, from);
        for ns in zone.nameservers.iter() {
            let name_at = rdata_at;
            rdata_at += RR_HEAD_LEN + ns_rdata_len(ns.name.wire(), ns.labels_before_apex);
            let Some(glue) = ns.glue.and_then(|g| table.glue.get(g as usize)) else {
                continue;
            };
            let v4 = glue.v4.iter().map(|a| IpAddr::V4(*a));
            for addr in v4.chain(glue.v6.iter().map(|a| IpAddr::V6(*a))) {
                if self.is_full() {
                    return;
                }
                if name_at <= MAX_POINTER {
                    self.out
                        .extend_from_slice(&(0xC000 | name_at as u16).to_be_bytes());
                } else {
                    self.ns_name(ns, apex);
                }
                self.address_after_owner(Section::Additional, zone.ttl, addr);
            }
        }
    }

    /// A name server's name: its labels in front of the apex and a pointer
    /// to the apex when it lies in the zone, else the whole name.
    fn ns_name(&mut self, ns: &NameServer, apex: u16) {
        match ns.labels_before_apex {
            Some(prefix) => {
                self.out.extend_from_slice(&ns.name.wire()[..prefix]);
                self.out.extend_from_slice(&apex.to_be_bytes());
            }
            None => self.out.extend_from_slice(ns.name.wire()),
        }
    }
}
