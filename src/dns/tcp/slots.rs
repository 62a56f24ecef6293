//! Connection slots: the global and per-client caps on open TCP
//! connections, and the shedding of idle ones when the global cap is full.
//!
//! A client is a prefix (`server.tcp_ipv4_prefix` /24 and
//! `server.tcp_ipv6_prefix` /56 by default, grouped as response rate
//! limiting groups them, [`PrefixLengths`]): one network holds many
//! addresses as easily as one, and an IPv6 /64 is a single host's.
//!
//! When every slot is taken, a new connection does not wait and is not
//! refused while some connection sits idle: the oldest idle connection of
//! the prefix with the most connections is closed and its slot handed to
//! the newcomer, as NSD and Knot shed idle TCP clients under load. A few
//! clients holding idle connections open can therefore never lock others
//! out of TCP, which is where truncated answers are fetched; only a full
//! set of connections with messages under way (each bounded by the message
//! timeout) refuses a newcomer.
//!
//! A slot is taken when a connection is accepted and given back when its
//! task ends, however it ends (the guard's `Drop`); a shed connection's
//! slot is given back at once, before its task has noticed. The lock is
//! taken twice per connection, never per query: a connection marks itself
//! idle or busy with one atomic store.

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::metrics::tcp::Rejection;
use crate::rrl::{ClientPrefix, PrefixLengths};

/// The caps, shared by the accept loops of every listen address.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_total: usize,
    max_per_prefix: usize,
    prefixes: PrefixLengths,
    metrics: Arc<Metrics>,
    /// Zero of the idle clock: [`Member::idle_since`] counts from here.
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// Only prefixes with an open connection have an entry, so the map is
    /// bounded by `max_total`.
    by_prefix: HashMap<ClientPrefix, Vec<Arc<Member>>>,
    next_id: u64,
}

/// What the slots know of one open connection.
#[derive(Debug)]
struct Member {
    id: u64,
    /// Milliseconds since [`Inner::epoch`], plus one, at which the
    /// connection went idle; 0 while a message is under way.
    idle_since: AtomicU64,
    /// Cancelled when the connection is shed.
    shed: CancellationToken,
}

/// One held slot; dropping it frees it.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Inner>,
    prefix: ClientPrefix,
    member: Arc<Member>,
}

impl Slots {
    /// Caps of `max_total` connections, `max_per_prefix` from one client
    /// prefix under `prefixes`.
    pub fn new(
        max_total: usize,
        max_per_prefix: usize,
        prefixes: PrefixLengths,
        metrics: Arc<Metrics>,
    ) -> Self {
        metrics.tcp.limit.store(max_total as u64, Ordering::Relaxed);
        Self {
            inner: Arc::new(Inner {
                max_total,
                max_per_prefix,
                prefixes,
                metrics,
                epoch: Instant::now(),
                open: Mutex::default(),
            }),
        }
    }

    /// Takes a slot for a connection from `ip`, shedding an idle
    /// connection if every slot is taken, or says which cap is full (and
    /// counts the rejection).
    pub fn acquire(&self, ip: IpAddr) -> Result<Slot, Rejection> {
        let inner = &self.inner;
        let prefix = inner.prefixes.of(ip);
        let mut open = inner.open.lock();
        let rejection = if open.by_prefix.get(&prefix).map_or(0, Vec::len) >= inner.max_per_prefix {
            Some(Rejection::MaxConnectionsPerIp)
        } else if open.total >= inner.max_total && !open.shed_one(&inner.metrics) {
            Some(Rejection::MaxConnections)
        } else {
            None
        };
        if let Some(why) = rejection {
            drop(open);
            inner.metrics.tcp.rejected(why);
            return Err(why);
        }
        open.next_id += 1;
        let member = Arc::new(Member {
            id: open.next_id,
            idle_since: AtomicU64::new(0),
            shed: CancellationToken::new(),
        });
        open.total += 1;
        open.by_prefix
            .entry(prefix)
            .or_default()
            .push(member.clone());
        inner.metrics.tcp.open.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            inner: inner.clone(),
            prefix,
            member,
        })
    }
}

impl Open {
    /// Closes the oldest idle connection of the prefix with the most
    /// connections (among prefixes with an idle one) and frees its slot;
    /// false if no connection is idle.
    fn shed_one(&mut self, metrics: &Metrics) -> bool {
        // (connections of the prefix, the oldest idle one's time, prefix, index)
        let mut victim: Option<(usize, u64, ClientPrefix, usize)> = None;
        for (prefix, members) in &self.by_prefix {
            let oldest = members
                .iter()
                .enumerate()
                .map(|(i, m)| (m.idle_since.load(Ordering::Relaxed), i))
                .filter(|&(since, _)| since != 0)
                .min();
            let Some((since, index)) = oldest else {
                continue;
            };
            let better = victim.is_none_or(|(count, best_since, ..)| {
                (members.len(), std::cmp::Reverse(since)) > (count, std::cmp::Reverse(best_since))
            });
            if better {
                victim = Some((members.len(), since, *prefix, index));
            }
        }
        let Some((_, _, prefix, index)) = victim else {
            return false;
        };
        let Some(members) = self.by_prefix.get_mut(&prefix) else {
            return false;
        };
        let shed = members.swap_remove(index);
        if members.is_empty() {
            self.by_prefix.remove(&prefix);
        }
        self.total -= 1;
        shed.shed.cancel();
        metrics.tcp.open.fetch_sub(1, Ordering::Relaxed);
        metrics.tcp.shed.fetch_add(1, Ordering::Relaxed);
        true
    }
}

impl Slot {
    /// The connection waits for a new message with nothing under way: it
    /// may be shed from now on.
    #[inline]
    pub fn idle(&self) {
        let since = self.inner.epoch.elapsed().as_millis() as u64 + 1;
        self.member.idle_since.store(since, Ordering::Relaxed);
    }

    /// A message has started: the connection is not shed until it is idle
    /// again.
    #[inline]
    pub fn busy(&self) {
        self.member.idle_since.store(0, Ordering::Relaxed);
    }

    /// Cancelled when the connection is shed to make room for another; its
    /// slot is already free by then.
    pub fn shed_signal(&self) -> CancellationToken {
        self.member.shed.clone()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock();
        let Some(members) = open.by_prefix.get_mut(&self.prefix) else {
            return; // shed: already given back
        };
        let Some(index) = members.iter().position(|m| m.id == self.member.id) else {
            return;
        };
        members.swap_remove(index);
        if members.is_empty() {
            open.by_prefix.remove(&self.prefix);
        }
        open.total = open.total.saturating_sub(1);
        self.inner.metrics.tcp.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
