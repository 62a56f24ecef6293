//! Admin API counters: connections turned away or evicted by the caps of
//! the admin and probe listeners, and requests refused as cross-site or
//! because too many explains were running. Plain atomics the admin API
//! bumps and renders.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::family;

/// Which admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `server.admin_listen`.
    Admin,
    /// `server.probe_listen`.
    Probe,
}

impl Listener {
    /// The `listener` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Probe => "probe",
        }
    }
}

/// Why a connection was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener was full and the client among the heaviest.
    MaxConnections,
    /// The client's prefix held its share already.
    MaxConnectionsPerClient,
}

impl Refusal {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxConnectionsPerClient => "max_connections_per_client",
        }
    }
}

/// Why an HTTPS connection to the admin API ended before its first
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The handshake did not finish within `server.admin_header_timeout`.
    Timeout,
    /// The client spoke plain HTTP (it was answered 400 with a hint).
    PlainHttp,
    /// The handshake failed: no common protocol, a client that does not
    /// trust the certificate, garbage.
    Handshake,
}

impl TlsFailure {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::PlainHttp => "plain_http",
            Self::Handshake => "handshake",
        }
    }
}

const TLS_FAILURES: [TlsFailure; 3] = [
    TlsFailure::Timeout,
    TlsFailure::PlainHttp,
    TlsFailure::Handshake,
];

const LISTENERS: [Listener; 2] = [Listener::Admin, Listener::Probe];
const REFUSALS: [Refusal; 2] = [Refusal::MaxConnections, Refusal::MaxConnectionsPerClient];

/// The admin API's counters.
#[derive(Debug, Default)]
pub struct AdminCounters {
    refused: [[AtomicU64; 2]; 2],
    evicted: [AtomicU64; 2],
    /// Requests refused with 403 as cross-site.
    pub cross_site: AtomicU64,
    /// `/explain` requests answered 503 because the explains allowed at
    /// once were running.
    pub explain_busy: AtomicU64,
    tls_failed: [AtomicU64; 3],
}

impl AdminCounters {
    /// Counts a connection closed at accept.
    pub fn refused(&self, listener: Listener, why: Refusal) {
        self.refused[listener as usize][why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed to make room for a lighter client.
    pub fn evicted(&self, listener: Listener) {
        self.evicted[listener as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an HTTPS connection that ended before its first request.
    pub fn tls_failed(&self, why: TlsFailure) {
        self.tls_failed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// HTTPS connections that ended before their first request, so far.
    pub fn tls_failures(&self, why: TlsFailure) -> u64 {
        self.tls_failed[why as usize].load(Ordering::Relaxed)
    }

    /// Connections closed at accept so far.
    pub fn refusals(&self, listener: Listener, why: Refusal) -> u64 {
        self.refused[listener as usize][why as usize].load(Ordering::Relaxed)
    }

    /// Connections evicted so far.
    pub fn evictions(&self, listener: Listener) -> u64 {
        self.evicted[listener as usize].load(Ordering::Relaxed)
    }

    /// Writes the admin families.
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let refused = LISTENERS.iter().flat_map(|&listener| {
            REFUSALS.iter().map(move |&why| {
                (
                    [("listener", listener.label()), ("reason", why.label())],
                    self.refusals(listener, why),
                )
            })
        });
        family(
            encoder,
            "gslb_admin_connections_refused",
            "Admin and probe listener connections closed at once because a cap was reached, by listener and reason",
            MetricType::Counter,
            refused,
        )?;
        let evicted = LISTENERS.map(|l| ([("listener", l.label())], self.evictions(l)));
        family(
            encoder,
            "gslb_admin_connections_evicted",
            "Admin and probe listener connections closed to admit a client holding fewer, while the listener was full",
            MetricType::Counter,
            evicted,
        )?;
        let refused = [
            ("cross_site", self.cross_site.load(Ordering::Relaxed)),
            ("explain_busy", self.explain_busy.load(Ordering::Relaxed)),
        ]
        .map(|(reason, n)| ([("reason", reason)], n));
        family(
            encoder,
            "gslb_admin_requests_refused",
            "Admin API requests refused: cross_site (403, a browser request from another site), explain_busy (503, explains at their limit)",
            MetricType::Counter,
            refused,
        )?;
        let tls = TLS_FAILURES.map(|why| ([("reason", why.label())], self.tls_failures(why)));
        family(
            encoder,
            "gslb_admin_tls_handshake_failures",
            "HTTPS connections to the admin API (server.admin_tls) that ended before a request: timeout (no handshake within admin_header_timeout), plain_http (answered 400), handshake (failed)",
            MetricType::Counter,
            tls,
        )
    }
}
