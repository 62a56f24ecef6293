//! The apex NS answer: every name server of the zone, then the addresses
//! (glue) of each one gslb serves.
//!
//! All glue is written. When the whole answer does not fit the transport,
//! it goes out with TC=1 and empty sections, and the resolver retries over
//! TCP: RFC 9471 §3 has a server set TC rather than leave out glue of
//! in-domain name servers, since resolvers would otherwise only ever try
//! the few servers whose addresses fitted. Config validation rejects a
//! zone whose NS answer could not fit even a TCP message
//! ([`nameservers_response_len`]).
//!
//! Glue owner names are compression pointers to the name in the NS record
//! data. A pointer has 14 bits: past offset 0x3FFF (very many or very long
//! name server names, over TCP) the owner is spelled out instead.

use std::net::IpAddr;

use super::{HEADER_LEN, Message, Section, TYPE_NS};
use crate::name::{Name, suffix_at};
use crate::table::{NameServer, Table, Zone};

/// Bytes of a record in front of its RDATA when the owner is a pointer:
/// owner 2, type 2, class 2, TTL 4, RDLENGTH 2.
pub(super) const RR_HEAD_LEN: usize = 12;
/// Largest offset a compression pointer reaches (RFC 1035 §4.1.4).
pub(super) const MAX_POINTER: usize = 0x3FFF;
/// The largest OPT gslb writes: fixed part, and a client subnet option
/// with a full IPv6 address.
const MAX_OPT_LEN: usize = 11 + 4 + 4 + 16;

impl Message<'_, '_> {
    /// Apex NS answer, with all glue for the name servers gslb serves;
    /// `apex` points at the apex name in the message.
    pub(super) fn nameservers(&mut self, table: &Table, zone: &Zone, apex: u16) {
        // Where the first NS record's data will start; the glue pass walks
        // the same lengths instead of keeping a list of offsets.
        let mut rdata_at = self.out.len() + RR_HEAD_LEN;
        for ns in zone.nameservers.iter() {
            if self.is_full() {
                return;
            }
            let at = self.record_head(Section::Answer, apex, TYPE_NS, zone.ttl);
            self.ns_name(ns, apex);
            self.record_end(at);
        }
        for ns in zone.nameservers.iter() {
            let name_at = rdata_at;
            rdata_at += RR_HEAD_LEN + rdata_len(ns.name.wire(), ns.labels_before_apex);
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

/// Length of an NS record's data as [`Message::ns_name`] writes it.
fn rdata_len(wire: &[u8], labels_before_apex: Option<usize>) -> usize {
    labels_before_apex.map_or(wire.len(), |prefix| prefix + 2)
}

/// Size of the largest response to an NS query at the apex of `origin`:
/// header, question, every NS record, all glue, and an OPT with an IPv6
/// client subnet, as [`Message::nameservers`] writes them. Config
/// validation uses it to reject a zone whose NS answer would not fit a DNS
/// message (65,535 bytes), which not even TCP could carry.
pub fn nameservers_response_len(origin: &Name, nameservers: &[(Name, Vec<IpAddr>)]) -> usize {
    let rdata = |ns: &Name| rdata_len(ns.wire(), suffix_at(ns.wire(), origin.wire()));
    let question = HEADER_LEN + origin.wire().len() + 4;
    let ns_records: usize = nameservers
        .iter()
        .map(|(ns, _)| RR_HEAD_LEN + rdata(ns))
        .sum();
    let mut len = question + ns_records;
    let mut name_at = question + RR_HEAD_LEN;
    for (ns, addrs) in nameservers {
        let owner = if name_at <= MAX_POINTER { 2 } else { rdata(ns) };
        for addr in addrs {
            let addr_len = if addr.is_ipv4() { 4 } else { 16 };
            len += owner + RR_HEAD_LEN - 2 + addr_len;
        }
        name_at += RR_HEAD_LEN + rdata(ns);
    }
    len + MAX_OPT_LEN
}
