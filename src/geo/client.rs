//! Locating the client of one query: by its EDNS Client Subnet when the
//! query has one, else by the packet's source, and the ECS scope prefix the
//! answer carries (RFC 7871). The DNS path and `/explain` both call
//! [`locate_client`], so a trace reports the location and scope the DNS
//! answer is built from.

use std::net::IpAddr;

use super::{GeoDb, LocateCache, Location};

/// How a query's client was located.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClientLocated {
    /// Where the client is; all `None` when nothing was looked up or the
    /// database knows nothing of the address.
    pub location: Location,
    /// The address looked up (the ECS subnet's, else the source), when a
    /// lookup was made.
    pub looked_up: Option<IpAddr>,
    /// Prefix length of the database network holding `looked_up`, counted
    /// in that address's own family (IPv4 lengths for IPv4-mapped ones).
    pub network_prefix: u8,
    /// ECS scope prefix for the response: the network's prefix when the
    /// ECS subnet decided the location, else 0 (RFC 7871 §7.2.1).
    pub scope: u8,
}

/// Locates a query's client. `needed` is false when the answer does not
/// depend on location (no set has `geo` or `location`): then nothing is
/// looked up and the scope is 0. `subnet` is the ECS address when the query
/// carries one with a source prefix above 0.
#[inline]
pub fn locate_client(
    geo: Option<&GeoDb>,
    needed: bool,
    subnet: Option<IpAddr>,
    source: IpAddr,
    cache: &mut LocateCache,
) -> ClientLocated {
    let Some(geo) = geo.filter(|_| needed) else {
        return ClientLocated::default();
    };
    match subnet {
        Some(addr) => {
            let located = geo.locate_with(addr, cache);
            ClientLocated {
                location: located.location,
                looked_up: Some(addr),
                network_prefix: located.prefix_len,
                scope: scope_in_family(addr, located.prefix_len),
            }
        }
        None => {
            let addr = source.to_canonical();
            let located = geo.locate_with(addr, cache);
            ClientLocated {
                location: located.location,
                looked_up: Some(addr),
                network_prefix: located.prefix_len,
                scope: 0,
            }
        }
    }
}

/// The ECS scope in the query's own family. GeoIP locates an IPv4-mapped
/// IPv6 subnet (`::ffff:a.b.c.d`) in its IPv4 tree and gives an IPv4 prefix
/// length; in a family-2 option that length counts from the start of the
/// IPv6 address, so the 96 bits in front are added (a bare /26 would claim
/// the answer holds for all of `::/26`).
fn scope_in_family(subnet: IpAddr, prefix_len: u8) -> u8 {
    match subnet {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => prefix_len.saturating_add(96).min(128),
        _ => prefix_len,
    }
}
