//! `gslb_overrides{state,source}`: the overrides in force, by what they
//! force and where they come from. A gauge with all four series always
//! present (0 included), so an alert on a drain left behind
//! (`gslb_overrides{state="down"} > 0` for hours) needs no `absent()`.
//! The table writer sets the counts after every change.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::family;

/// The `source` labels: the admin API (and the peer group, which shares
/// its overrides), and record files (crd-sync writes GslbOverride objects
/// there).
pub const SOURCES: [&str; 2] = ["admin", "kubernetes"];
/// The `state` labels.
pub const STATES: [&str; 2] = ["down", "up"];

/// The counts, by [`SOURCES`] then [`STATES`] index.
#[derive(Debug, Default)]
pub struct OverrideCounts {
    counts: [[AtomicU64; STATES.len()]; SOURCES.len()],
}

/// One source's overrides in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forced {
    /// Sets drained.
    pub down: u64,
    /// Sets forced up.
    pub up: u64,
}

impl OverrideCounts {
    /// Sets the counts of the admin API's and of the record files'
    /// overrides.
    pub fn set(&self, admin: Forced, kubernetes: Forced) {
        for (source, forced) in [admin, kubernetes].into_iter().enumerate() {
            self.counts[source][0].store(forced.down, Ordering::Relaxed);
            self.counts[source][1].store(forced.up, Ordering::Relaxed);
        }
    }

    /// The count of `source` ([`SOURCES`]) and `state` ([`STATES`]).
    pub fn get(&self, source: &str, state: &str) -> Option<u64> {
        let s = SOURCES.iter().position(|l| *l == source)?;
        let t = STATES.iter().position(|l| *l == state)?;
        Some(self.counts[s][t].load(Ordering::Relaxed))
    }

    /// Writes the `gslb_overrides` family.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let series = SOURCES.iter().enumerate().flat_map(|(s, source)| {
            STATES.iter().enumerate().map(move |(t, state)| {
                (
                    [
                        ("state", (*state).to_owned()),
                        ("source", (*source).to_owned()),
                    ],
                    self.counts[s][t].load(Ordering::Relaxed),
                )
            })
        });
        family(
            encoder,
            "gslb_overrides",
            "Overrides in force, by state and source (admin: the admin API and the peer group; kubernetes: GslbOverride objects through crd-sync's record file)",
            MetricType::Gauge,
            series,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn all_four_series_are_rendered_even_at_zero() {
        let metrics = Arc::new(Metrics::default());
        metrics
            .overrides
            .set(Forced { down: 2, up: 0 }, Forced::default());
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(
            &mut text,
            &metrics.registry(crate::metrics::Detail::Aggregate),
        )
        .expect("encodes");
        for series in [
            "gslb_overrides{state=\"down\",source=\"admin\"} 2",
            "gslb_overrides{state=\"up\",source=\"admin\"} 0",
            "gslb_overrides{state=\"down\",source=\"kubernetes\"} 0",
            "gslb_overrides{state=\"up\",source=\"kubernetes\"} 0",
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
    }
}
