//! Connection slots of one admin listener: a global cap, a cap per client
//! prefix (IPv4 /32, IPv6 /64: one host, one subnet as IPv6 hosts get
//! them), and eviction when the global cap is full.
//!
//! A client can hold at most `max_per_client` connections, so a flood from
//! one address cannot fill the listener. Many addresses together can still
//! fill it; then a newcomer whose prefix holds fewer connections than the
//! heaviest prefix takes the oldest connection of that prefix instead of
//! being refused. A prober (the kubelet, a load balancer) holding one
//! short connection therefore always gets in, however many addresses a
//! flood comes from; only clients as heavy as the heaviest are refused.
//!
//! The lock is taken twice per connection (accept, close), never per
//! request; eviction scans the prefixes, at most `max_total` of them.

use std::{
    collections::{BTreeMap, HashMap},
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

pub use crate::metrics::admin::Refusal as Refused;

/// Bits of an IPv6 address that name one client: a /64 is what one host or
/// one LAN gets, and an attacker holds all of its addresses at once.
pub const IPV6_CLIENT_PREFIX: u8 = 64;

/// The caps of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most connections open at once.
    pub max_total: usize,
    /// Most connections open at once from one client prefix.
    pub max_per_client: usize,
}

/// The slots of one listener, shared by its accept loop and connections.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    caps: Caps,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// Numbers connections in accept order, so the oldest of a prefix is
    /// the first of its map.
    next_id: u64,
    /// Only prefixes with an open connection have an entry, so the map is
    /// bounded by `max_total`. Each connection's token closes it when it
    /// is evicted.
    by_client: HashMap<IpAddr, BTreeMap<u64, CancellationToken>>,
}

/// One held slot; dropping it frees it.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Inner>,
    client: IpAddr,
    id: u64,
    evicted: CancellationToken,
    /// Set when this admission evicted another connection.
    pub evicted_other: bool,
}

/// The prefix `ip` is counted under: the address itself for IPv4 (an
/// IPv4-mapped IPv6 address is the same client), its /64 for IPv6.
pub fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let keep = u128::MAX << (128 - u32::from(IPV6_CLIENT_PREFIX));
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

impl Slots {
    /// Slots under `caps`.
    pub fn new(caps: Caps) -> Self {
        Self {
            inner: Arc::new(Inner {
                caps,
                open: Mutex::default(),
            }),
        }
    }

    /// Takes a slot for a connection from `ip`, evicting the oldest
    /// connection of the heaviest prefix when the listener is full and
    /// `ip`'s prefix is lighter; or says which cap turned it away.
    pub fn acquire(&self, ip: IpAddr) -> Result<Slot, Refused> {
        let client = client_prefix(ip);
        let caps = self.inner.caps;
        let mut open = self.inner.open.lock();
        let held = open.by_client.get(&client).map_or(0, BTreeMap::len);
        if held >= caps.max_per_client {
            return Err(Refused::MaxConnectionsPerClient);
        }
        let mut evicted_other = false;
        if open.total >= caps.max_total {
            if !open.evict_heavier_than(held) {
                return Err(Refused::MaxConnections);
            }
            evicted_other = true;
        }
        let id = open.next_id;
        open.next_id += 1;
        open.total += 1;
        let evicted = CancellationToken::new();
        open.by_client
            .entry(client)
            .or_default()
            .insert(id, evicted.clone());
        Ok(Slot {
            inner: self.inner.clone(),
            client,
            id,
            evicted,
            evicted_other,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.open.lock().total
    }
}

impl Open {
    /// Closes the oldest connection of the prefix holding the most, if it
    /// holds more than `held`; whether one was closed.
    fn evict_heavier_than(&mut self, held: usize) -> bool {
        let Some((&heaviest, _)) = self
            .by_client
            .iter()
            .max_by_key(|(_, conns)| conns.len())
            .filter(|(_, conns)| conns.len() > held)
        else {
            return false;
        };
        let Some(conns) = self.by_client.get_mut(&heaviest) else {
            return false;
        };
        if let Some((_, token)) = conns.pop_first() {
            token.cancel();
            self.total = self.total.saturating_sub(1);
        }
        if conns.is_empty() {
            self.by_client.remove(&heaviest);
        }
        true
    }
}

impl Slot {
    /// Resolves when another client's admission evicted this connection:
    /// the connection's task then closes it.
    pub async fn evicted(&self) {
        self.evicted.cancelled().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock();
        let Some(conns) = open.by_client.get_mut(&self.client) else {
            return;
        };
        // An evicted connection was already taken off the count.
        if conns.remove(&self.id).is_some() {
            if conns.is_empty() {
                open.by_client.remove(&self.client);
            }
            open.total = open.total.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn slots(max_total: usize, max_per_client: usize) -> Slots {
        Slots::new(Caps {
            max_total,
            max_per_client,
        })
    }

    #[test]
    fn one_client_holds_at_most_its_share() {
        let slots = slots(100, 2);
        let held: Vec<_> = (0..2).map(|_| slots.acquire(ip("192.0.2.1"))).collect();
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(
            slots.acquire(ip("192.0.2.1")).unwrap_err(),
            Refused::MaxConnectionsPerClient
        );
        assert_eq!(
            slots.acquire(ip("::ffff:192.0.2.1")).unwrap_err(),
            Refused::MaxConnectionsPerClient,
            "the same client through a dual-stack socket"
        );
        assert!(slots.acquire(ip("192.0.2.2")).is_ok(), "a neighbour is not");
        drop(held);
        assert!(slots.acquire(ip("192.0.2.1")).is_ok(), "freed on close");
        assert_eq!(slots.open(), 0);
        assert!(slots.inner.open.lock().by_client.is_empty());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let slots = slots(100, 2);
        let _a = slots.acquire(ip("2001:db8:0:1::1")).unwrap();
        let _b = slots.acquire(ip("2001:db8:0:1:ffff::2")).unwrap();
        assert_eq!(
            slots.acquire(ip("2001:db8:0:1::3")).unwrap_err(),
            Refused::MaxConnectionsPerClient
        );
        assert!(slots.acquire(ip("2001:db8:0:2::1")).is_ok());
    }

    #[test]
    fn a_full_listener_evicts_the_oldest_of_the_heaviest_client() {
        let slots = slots(4, 3);
        let first = slots.acquire(ip("192.0.2.1")).unwrap();
        let second = slots.acquire(ip("192.0.2.1")).unwrap();
        let third = slots.acquire(ip("192.0.2.1")).unwrap();
        let other = slots.acquire(ip("192.0.2.2")).unwrap();
        // Full: a newcomer with none takes the heaviest client's oldest.
        let probe = slots.acquire(ip("192.0.2.9")).unwrap();
        assert!(probe.evicted_other);
        assert!(first.evicted.is_cancelled(), "the oldest of 192.0.2.1");
        assert!(!second.evicted.is_cancelled() && !other.evicted.is_cancelled());
        assert_eq!(slots.open(), 4);
        // The evicted connection closing does not free a second slot.
        drop(first);
        assert_eq!(slots.open(), 4);
        // 192.0.2.1 (2), 192.0.2.2 (1), 192.0.2.9 (1): a client as heavy
        // as the heaviest is refused; a lighter one evicts.
        assert_eq!(
            slots.acquire(ip("192.0.2.1")).unwrap_err(),
            Refused::MaxConnections
        );
        let again = slots.acquire(ip("192.0.2.2")).unwrap();
        assert!(second.evicted.is_cancelled());
        drop((second, third, other, probe, again));
        assert_eq!(slots.open(), 0);
        assert!(slots.inner.open.lock().by_client.is_empty());
    }

    #[test]
    fn with_every_client_at_one_a_newcomer_still_gets_in_only_by_evicting_a_heavier() {
        let slots = slots(2, 1);
        let _a = slots.acquire(ip("192.0.2.1")).unwrap();
        let _b = slots.acquire(ip("192.0.2.2")).unwrap();
        let c = slots.acquire(ip("192.0.2.3")).unwrap();
        assert!(c.evicted_other, "holding none, it is lighter than each");
        assert_eq!(slots.open(), 2);
    }
}
