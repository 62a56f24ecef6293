//! The DNS codes gslb reads and writes, named once (IANA's "Domain Name
//! System (DNS) Parameters" registry), after NLnet Labs' `domain` crate
//! (`base/iana`). Each kind has its own module so a use reads as what it is
//! (`rtype::SOA`, `rcode::REFUSED`); the values stay the plain integers the
//! wire carries, so the hot path compares them without conversions.

/// The fixed DNS message header (RFC 1035 §4.1.1): id, flags and the
/// four section counts.
pub const HEADER_LEN: usize = 12;

/// Resource record types (RFC 1035 §3.2.2 and later RFCs).
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Authoritative name server.
    pub const NS: u16 = 2;
    /// Canonical name (alias).
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address (RFC 3596).
    pub const AAAA: u16 = 28;
    /// Service location (RFC 2782).
    pub const SRV: u16 = 33;
    /// EDNS(0) OPT pseudo-record (RFC 6891).
    pub const OPT: u16 = 41;
    /// Delegation signer (RFC 4034).
    pub const DS: u16 = 43;
    /// A signature over an RRset (RFC 4034).
    pub const RRSIG: u16 = 46;
    /// Next secure: what exists at a name (RFC 4034; compact denial, RFC 9824).
    pub const NSEC: u16 = 47;
    /// A zone's public key (RFC 4034).
    pub const DNSKEY: u16 = 48;
    /// Child copy of DS, for the parent to take (RFC 7344).
    pub const CDS: u16 = 59;
    /// Child copy of DNSKEY, for the parent to take (RFC 7344).
    pub const CDNSKEY: u16 = 60;
    /// Signals a name that does not exist in compact denial (RFC 9824).
    pub const NXNAME: u16 = 128;
    /// Transaction signature (RFC 8945).
    pub const TSIG: u16 = 250;
    /// Incremental zone transfer (RFC 1995).
    pub const IXFR: u16 = 251;
    /// Full zone transfer (RFC 5936).
    pub const AXFR: u16 = 252;
    /// Obsolete mailbox query (RFC 1035).
    pub const MAILB: u16 = 253;
    /// Obsolete mail agent query (RFC 1035).
    pub const MAILA: u16 = 254;
    /// Any type (RFC 8482 answers it minimally).
    pub const ANY: u16 = 255;
    /// Certification authority authorization (RFC 8659).
    pub const CAA: u16 = 257;
}

/// Classes (RFC 1035 §3.2.4, RFC 2136 §2.4).
pub mod class {
    /// Internet.
    pub const IN: u16 = 1;
    /// NONE: an update deleting a record, or a prerequisite that a record
    /// does not exist.
    pub const NONE: u16 = 254;
    /// ANY: an update deleting an RRset, or a prerequisite that one exists.
    pub const ANY: u16 = 255;
}

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9).
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// The message could not be read.
    pub const FORMERR: u16 = 1;
    /// The server failed (an update it could not make durable).
    pub const SERVFAIL: u16 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// The opcode is not implemented.
    pub const NOTIMP: u16 = 4;
    /// Refused by policy.
    pub const REFUSED: u16 = 5;
    /// A name exists that an update prerequisite says should not.
    pub const YXDOMAIN: u16 = 6;
    /// An RRset exists that an update prerequisite says should not.
    pub const YXRRSET: u16 = 7;
    /// An RRset an update prerequisite needs does not exist.
    pub const NXRRSET: u16 = 8;
    /// Not authoritative, or (with TSIG) not authorized.
    pub const NOTAUTH: u16 = 9;
    /// A name outside the zone.
    pub const NOTZONE: u16 = 10;
    /// Unsupported EDNS version (an extended rcode, RFC 6891).
    pub const BADVERS: u16 = 16;
}

/// TSIG errors, carried in the TSIG record's error field (RFC 8945 §5.2).
pub mod tsig_error {
    /// The MAC did not verify.
    pub const BADSIG: u16 = 16;
    /// The key is not known.
    pub const BADKEY: u16 = 17;
    /// The time is outside the fudge.
    pub const BADTIME: u16 = 18;
    /// The MAC was truncated too far.
    pub const BADTRUNC: u16 = 22;
}

/// Opcodes (RFC 1035 §4.1.1, RFC 2136 §1).
pub mod opcode {
    /// A standard query.
    pub const QUERY: u8 = 0;
    /// A dynamic update.
    pub const UPDATE: u8 = 5;
}

/// EDNS header flags, the low 16 bits of the OPT TTL (RFC 6891 §6.1.3).
pub mod edns_flag {
    /// DNSSEC OK (RFC 3225).
    pub const DO: u16 = 0x8000;
    /// Compact Answers OK: NXDOMAIN may be signalled in a compact-denial
    /// answer's RCODE (RFC 9824 §4).
    pub const CO: u16 = 0x4000;
}

/// EDNS option codes (RFC 6891 §6.1.2).
pub mod edns_option {
    /// Client subnet (RFC 7871).
    pub const CLIENT_SUBNET: u16 = 8;
}
