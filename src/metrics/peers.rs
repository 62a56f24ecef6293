//! The peer group's metrics: each peer's reachability and exchange lag,
//! and how many fresh views the health vote counts and how many targets
//! they disagree on. Off the hot path: a mutex-held map keyed by the
//! configured peer names, so a peer cannot grow the label set.

use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::{family, single};

/// One peer's readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeerReading {
    /// Whether its view is fresh (the last exchange succeeded in time).
    pub up: bool,
    /// Seconds from a change on the peer to its arrival here, for the
    /// latest change received.
    pub lag_seconds: f64,
    /// When the last exchange succeeded, seconds since the Unix epoch.
    pub last_exchange: f64,
    /// Exchanges that failed (unreachable, refused, malformed, too big).
    pub failures: u64,
}

/// The peer group's metrics.
#[derive(Debug, Default)]
pub struct PeerMetrics {
    /// Peer views counted in the health vote now.
    pub views_fresh: AtomicU64,
    /// Targets on which the fresh views disagree.
    pub disagreements: AtomicU64,
    peers: Mutex<BTreeMap<String, PeerReading>>,
}

impl PeerMetrics {
    /// Keeps series for exactly `names` (the configured peers).
    pub fn configure<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut peers = self.peers.lock();
        let wanted: Vec<&str> = names.into_iter().collect();
        peers.retain(|name, _| wanted.contains(&name.as_str()));
        for name in wanted {
            peers.entry(name.to_owned()).or_default();
        }
    }

    /// Changes one peer's reading, if it is configured.
    pub fn update(&self, peer: &str, change: impl FnOnce(&mut PeerReading)) {
        if let Some(reading) = self.peers.lock().get_mut(peer) {
            change(reading);
        }
    }

    /// A copy of every peer's reading.
    pub fn readings(&self) -> Vec<(String, PeerReading)> {
        self.peers
            .lock()
            .iter()
            .map(|(name, reading)| (name.clone(), *reading))
            .collect()
    }

    /// Writes the `gslb_peer_*` and `gslb_health_*` families.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let readings = self.readings();
        let labelled = |value: fn(&PeerReading) -> u64| {
            readings
                .iter()
                .map(move |(name, r)| ([("peer", name.clone())], value(r)))
                .collect::<Vec<_>>()
        };
        family(
            encoder,
            "gslb_peer_up",
            "Whether the peer's view is fresh (1) or not (0)",
            MetricType::Gauge,
            labelled(|r| u64::from(r.up)),
        )?;
        family(
            encoder,
            "gslb_peer_exchange_failures",
            "Exchanges with the peer that failed",
            MetricType::Counter,
            labelled(|r| r.failures),
        )?;
        gauge_f64(
            encoder,
            "gslb_peer_exchange_lag_seconds",
            "Seconds from the latest change on the peer to its arrival here",
            readings.iter().map(|(n, r)| (n, r.lag_seconds)),
        )?;
        gauge_f64(
            encoder,
            "gslb_peer_last_exchange_timestamp_seconds",
            "When the last exchange with the peer succeeded (Unix time)",
            readings.iter().map(|(n, r)| (n, r.last_exchange)),
        )?;
        single(
            encoder,
            "gslb_peer_views_fresh",
            "Peer health views counted in the vote now (0: this instance decides alone)",
            MetricType::Gauge,
            self.views_fresh.load(Ordering::Relaxed),
        )?;
        single(
            encoder,
            "gslb_health_disagreements",
            "Targets on which the fresh health views of the peer group disagree",
            MetricType::Gauge,
            self.disagreements.load(Ordering::Relaxed),
        )
    }
}

fn gauge_f64<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (&'a String, f64)>,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (peer, value) in series {
        let labels = [("peer", peer.clone())];
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}
