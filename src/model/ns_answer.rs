//! The size of a zone's apex NS answer on the wire.
//!
//! Validation needs it: a zone whose name servers and glue cannot fit one
//! DNS message (65,535 bytes) is refused, and one that does not fit
//! `server.max_udp_payload` draws a warning. The answer engine
//! (`dns::answer`) writes that answer with the record layout defined here,
//! so the size computed at load time and the bytes written agree (a test
//! there pins one against the other).

use crate::iana::HEADER_LEN;
use std::net::IpAddr;

use crate::name::{Name, suffix_at};

/// Bytes of a record in front of its RDATA when the owner is a pointer:
/// owner 2, type 2, class 2, TTL 4, RDLENGTH 2.
pub const RR_HEAD_LEN: usize = 12;
/// Largest offset a compression pointer reaches (RFC 1035 §4.1.4).
pub const MAX_POINTER: usize = 0x3FFF;
/// The largest OPT gslb writes: fixed part, and a client subnet option
/// with a full IPv6 address.
const MAX_OPT_LEN: usize = 11 + 4 + 4 + 16;

/// Length of an NS record's data as the answer engine writes it: the
/// labels in front of the apex and a pointer to the apex when the name
/// server lies in the zone (`labels_before_apex`, see
/// [`suffix_at`]), else the whole name.
pub fn ns_rdata_len(wire: &[u8], labels_before_apex: Option<usize>) -> usize {
    labels_before_apex.map_or(wire.len(), |prefix| prefix + 2)
}

/// Size of the largest response to an NS query at the apex of `origin`:
/// header, question, every NS record, all glue, and an OPT with an IPv6
/// client subnet. Glue owner names are pointers to the name in the NS
/// record data while that lies within [`MAX_POINTER`], else spelled out.
pub fn nameservers_response_len(origin: &Name, nameservers: &[(Name, Vec<IpAddr>)]) -> usize {
    let rdata = |ns: &Name| ns_rdata_len(ns.wire(), suffix_at(ns.wire(), origin.wire()));
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
