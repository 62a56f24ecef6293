//! Which addresses may be targets: an address a client is sent to must be
//! one it can connect to, wherever it is.
//!
//! Refused, from the config and from the resolutions of hostname targets:
//! the unspecified addresses (`0.0.0.0`, `::`) and the rest of `0.0.0.0/8`
//! ("this network", a source only, RFC 1122 §3.2.1.3), the broadcast
//! address `255.255.255.255`, multicast (`224.0.0.0/4`, `ff00::/8`) and
//! link-local (`169.254.0.0/16`, `fe80::/10`: a different host on every
//! link, and an IPv6 one needs a zone index DNS cannot carry). Each reads
//! the same through an IPv4-mapped IPv6 address.
//!
//! Loopback (`127.0.0.0/8`, `::1`) stays allowed: it sends each client to
//! itself, which is what a single-host setup and the tests want. Private
//! and documentation ranges are allowed too: gslb often serves clients
//! inside one network, and cannot know which ranges they reach.

use std::net::IpAddr;

/// Why an address cannot be a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0`.
    ThisNetwork,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4` or `ff00::/8`.
    Multicast,
    /// `169.254.0.0/16` or `fe80::/10`.
    LinkLocal,
}

impl Unusable {
    /// Why `ip` cannot be a target, or `None` when it can.
    pub fn of(ip: IpAddr) -> Option<Self> {
        match ip.to_canonical() {
            IpAddr::V4(v4) if v4.is_unspecified() => Some(Self::Unspecified),
            IpAddr::V4(v4) if v4.octets()[0] == 0 => Some(Self::ThisNetwork),
            IpAddr::V4(v4) if v4.is_broadcast() => Some(Self::Broadcast),
            IpAddr::V4(v4) if v4.is_multicast() => Some(Self::Multicast),
            IpAddr::V4(v4) if v4.is_link_local() => Some(Self::LinkLocal),
            IpAddr::V6(v6) if v6.is_unspecified() => Some(Self::Unspecified),
            IpAddr::V6(v6) if v6.is_multicast() => Some(Self::Multicast),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(Self::LinkLocal),
            _ => None,
        }
    }

    /// What is wrong, after the address in a message.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unspecified => "is the unspecified address: no client can connect to it",
            Self::ThisNetwork => "is in 0.0.0.0/8 (\"this network\"), a source address only",
            Self::Broadcast => "is the broadcast address: no client can connect to it",
            Self::Multicast => "is a multicast address: no client can connect to it",
            Self::LinkLocal => {
                "is link-local: it names a different host on every network a client is on"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Option<Unusable> {
        Unusable::of(s.parse().unwrap())
    }

    #[test]
    fn addresses_no_client_can_connect_to_are_unusable() {
        for (addr, why) in [
            ("0.0.0.0", Unusable::Unspecified),
            ("::", Unusable::Unspecified),
            ("0.1.2.3", Unusable::ThisNetwork),
            ("255.255.255.255", Unusable::Broadcast),
            ("224.0.0.1", Unusable::Multicast),
            ("239.255.255.250", Unusable::Multicast),
            ("ff02::1", Unusable::Multicast),
            ("169.254.169.254", Unusable::LinkLocal),
            ("fe80::1", Unusable::LinkLocal),
            ("::ffff:0.0.0.0", Unusable::Unspecified),
            ("::ffff:224.0.0.1", Unusable::Multicast),
        ] {
            assert_eq!(of(addr), Some(why), "{addr}");
        }
    }

    #[test]
    fn loopback_private_and_public_addresses_are_usable() {
        for addr in [
            "127.0.0.1",
            "127.80.1.2",
            "::1",
            "10.1.2.3",
            "192.168.0.1",
            "192.0.2.10",
            "2001:db8::10",
            "fd00::1",
            "8.8.8.8",
            "255.255.255.254",
            "1.0.0.0",
        ] {
            assert_eq!(of(addr), None, "{addr}");
        }
    }
}
