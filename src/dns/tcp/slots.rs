//! Connection slots: the global and per-client-address caps on open TCP
//! connections. A slot is taken when a connection is accepted and given
//! back when its task ends, however it ends (the guard's `Drop`).
//!
//! The lock is taken twice per connection, never per query.

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, atomic::Ordering},
};

use crate::metrics::Metrics;
use crate::metrics::tcp::Rejection;

/// The caps, shared by the accept loops of every listen address.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_total: usize,
    max_per_ip: usize,
    metrics: Arc<Metrics>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// Only addresses with an open connection have an entry, so the map
    /// is bounded by `max_total`.
    per_ip: HashMap<IpAddr, usize>,
}

/// One held slot; dropping it frees it.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

impl Slots {
    /// Caps of `max_total` connections, `max_per_ip` from one address.
    pub fn new(max_total: usize, max_per_ip: usize, metrics: Arc<Metrics>) -> Self {
        metrics.tcp.limit.store(max_total as u64, Ordering::Relaxed);
        Self {
            inner: Arc::new(Inner {
                max_total,
                max_per_ip,
                metrics,
                open: Mutex::default(),
            }),
        }
    }

    /// Takes a slot for a connection from `ip`, or says which cap is full
    /// (and counts the rejection).
    pub fn acquire(&self, ip: IpAddr) -> Result<Slot, Rejection> {
        // An IPv4 client on a dual-stack socket is the same client.
        let ip = ip.to_canonical();
        let inner = &self.inner;
        let mut open = inner.open.lock();
        let rejection = if open.total >= inner.max_total {
            Some(Rejection::MaxConnections)
        } else if open.per_ip.get(&ip).copied().unwrap_or(0) >= inner.max_per_ip {
            Some(Rejection::MaxConnectionsPerIp)
        } else {
            None
        };
        if let Some(why) = rejection {
            drop(open);
            inner.metrics.tcp.rejected(why);
            return Err(why);
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_default() += 1;
        inner.metrics.tcp.open.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            inner: inner.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
        self.inner.metrics.tcp.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_full_global_cap_rejects_every_address() {
        let metrics = Arc::new(Metrics::default());
        let slots = Slots::new(2, 5, metrics.clone());
        let _a = slots.acquire(ip("192.0.2.1")).unwrap();
        let b = slots.acquire(ip("192.0.2.2")).unwrap();
        assert_eq!(
            slots.acquire(ip("192.0.2.3")).unwrap_err(),
            Rejection::MaxConnections
        );
        drop(b);
        assert!(slots.acquire(ip("192.0.2.3")).is_ok());
        assert_eq!(metrics.tcp.rejections(Rejection::MaxConnections), 1);
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let metrics = Arc::new(Metrics::default());
        let slots = Slots::new(100, 2, metrics.clone());
        let held: Vec<_> = (0..2)
            .map(|_| slots.acquire(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(
            slots.acquire(ip("192.0.2.1")).unwrap_err(),
            Rejection::MaxConnectionsPerIp
        );
        // The same client over a dual-stack socket counts as the same.
        assert_eq!(
            slots.acquire(ip("::ffff:192.0.2.1")).unwrap_err(),
            Rejection::MaxConnectionsPerIp
        );
        let other = slots.acquire(ip("192.0.2.2")).unwrap();
        assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 3);
        drop(held);
        drop(other);
        assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 0);
        assert!(
            slots.inner.open.lock().per_ip.is_empty(),
            "addresses with no connection leave the map"
        );
        assert_eq!(metrics.tcp.rejections(Rejection::MaxConnectionsPerIp), 2);
    }
}
