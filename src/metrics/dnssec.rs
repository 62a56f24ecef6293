//! DNSSEC signing counters: RRsets whose signatures came from the cache
//! or were made while answering, the time spent making them, and
//! failures. Plain atomics the DNS path adds to once per signed response;
//! the keys' states are read from the snapshot by the admin API.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;

use super::{family, single};

/// Signing, over all zones.
#[derive(Debug, Default)]
pub struct SigningCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    nanos: AtomicU64,
    errors: AtomicU64,
}

impl SigningCounters {
    /// Counts one response's signing.
    #[inline]
    pub fn count(&self, hits: u64, misses: u64, nanos: u64, errors: u64) {
        if hits > 0 {
            self.hits.fetch_add(hits, Ordering::Relaxed);
        }
        if misses > 0 {
            self.misses.fetch_add(misses, Ordering::Relaxed);
            self.nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        if errors > 0 {
            self.errors.fetch_add(errors, Ordering::Relaxed);
        }
    }

    /// (hits, misses) so far.
    pub fn lookups(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// `gslb_dnssec_rrsig_cache_lookups`, `gslb_dnssec_signing_seconds`,
    /// `gslb_dnssec_signing_errors`.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (hits, misses) = self.lookups();
        family(
            encoder,
            "gslb_dnssec_rrsig_cache_lookups",
            "RRsets signed in answers, by whether the RRSIG cache had their signatures (hit) or they were made while answering (miss)",
            MetricType::Counter,
            [([("result", "hit")], hits), ([("result", "miss")], misses)],
        )?;
        let seconds = encoder.encode_descriptor(
            "gslb_dnssec_signing_seconds",
            "Time spent making RRSIGs while answering (cache misses)",
            None,
            MetricType::Counter,
        )?;
        prometheus_client::metrics::counter::ConstCounter::new(
            self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
        .encode(seconds)?;
        single(
            encoder,
            "gslb_dnssec_signing_errors",
            "RRsets left unsigned because signing failed",
            MetricType::Counter,
            self.errors.load(Ordering::Relaxed),
        )
    }
}
