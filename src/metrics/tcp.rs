//! DNS-over-TCP counters: open connections, the cap in force, connections
//! turned away, idle ones shed, accept errors and timeouts. Plain atomics that the TCP
//! listener bumps and the admin API renders; they know no socket type.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::{family, single};

/// Why a TCP connection was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `server.tcp_max_connections` (or the fd budget's lower cap) was reached.
    MaxConnections,
    /// `server.tcp_max_connections_per_ip` was reached for the client's
    /// prefix (`server.tcp_ipv4_prefix` / `tcp_ipv6_prefix`).
    MaxConnectionsPerIp,
}

impl Rejection {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxConnectionsPerIp => "max_connections_per_ip",
        }
    }
}

/// Why the server closed an open TCP connection on a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// No message started within `server.tcp_idle_timeout`.
    Idle,
    /// A message that had started did not arrive whole in time (slow or
    /// stalled client holding a slot).
    Message,
    /// The client did not read its answers in time.
    Write,
}

impl Timeout {
    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Message => "message",
            Self::Write => "write",
        }
    }
}

/// The TCP listener's counters.
#[derive(Debug, Default)]
pub struct TcpCounters {
    /// Connections open now.
    pub open: AtomicU64,
    /// The connection cap in force (configured, or lowered by the fd budget).
    pub limit: AtomicU64,
    rejected: [AtomicU64; 2],
    /// Idle connections closed to make room for a new one at the cap.
    pub shed: AtomicU64,
    /// Failed `accept` calls (EMFILE, ENFILE, ENOBUFS...).
    pub accept_errors: AtomicU64,
    timeouts: [AtomicU64; 3],
}

impl TcpCounters {
    /// Counts a connection closed at once.
    pub fn rejected(&self, why: Rejection) {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed by a timeout.
    pub fn timed_out(&self, why: Timeout) {
        self.timeouts[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed at once for `why` so far.
    pub fn rejections(&self, why: Rejection) -> u64 {
        self.rejected[why as usize].load(Ordering::Relaxed)
    }

    /// Connections closed by `why` so far.
    pub fn timeouts_of(&self, why: Timeout) -> u64 {
        self.timeouts[why as usize].load(Ordering::Relaxed)
    }

    /// Writes the TCP families.
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        single(
            encoder,
            "gslb_tcp_connections",
            "DNS-over-TCP connections open now",
            MetricType::Gauge,
            self.open.load(Ordering::Relaxed),
        )?;
        single(
            encoder,
            "gslb_tcp_max_connections",
            "DNS-over-TCP connection cap in force (server.tcp_max_connections, lowered to fit the fd limit)",
            MetricType::Gauge,
            self.limit.load(Ordering::Relaxed),
        )?;
        let rejected = [Rejection::MaxConnections, Rejection::MaxConnectionsPerIp]
            .map(|why| ([("reason", why.label())], self.rejections(why)));
        family(
            encoder,
            "gslb_tcp_rejected",
            "DNS-over-TCP connections closed at once because a cap was reached",
            MetricType::Counter,
            rejected,
        )?;
        single(
            encoder,
            "gslb_tcp_shed",
            "Idle DNS-over-TCP connections closed to admit a new one when every slot was taken",
            MetricType::Counter,
            self.shed.load(Ordering::Relaxed),
        )?;
        single(
            encoder,
            "gslb_tcp_accept_errors",
            "Failed TCP accepts (such as EMFILE); the listener backs off",
            MetricType::Counter,
            self.accept_errors.load(Ordering::Relaxed),
        )?;
        let timeouts = [Timeout::Idle, Timeout::Message, Timeout::Write]
            .map(|why| ([("kind", why.label())], self.timeouts_of(why)));
        family(
            encoder,
            "gslb_tcp_timeouts",
            "DNS-over-TCP connections closed by a timeout, by kind",
            MetricType::Counter,
            timeouts,
        )
    }
}
