//! `gslb_dns_response_seconds{transport}`: how long a query spends in the
//! server, from the listener having it to its answer handed to the kernel,
//! sampled so that the hot path pays nearly nothing.
//!
//! Each listener thread keeps a [`Sampler`] (a plain counter, no atomic):
//! one query in [`SAMPLE_EVERY`] is timed, with two clock reads, and lands
//! in fixed buckets of relaxed atomics (no lock, no allocation). The
//! histogram counts sampled queries only: its `_count` is about 1 in
//! `SAMPLE_EVERY` of `gslb_dns_queries_total`, its quantiles are those of
//! every query.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

/// One query in this many is timed.
pub const SAMPLE_EVERY: u32 = 64;

/// Upper bounds of the buckets in nanoseconds: 10 µs to 100 ms (a UDP
/// batch of 32 queries takes some tens of µs; more is a stalled thread).
const BOUNDS_NANOS: [u64; 13] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
];

/// Chooses the queries to time: one per [`SAMPLE_EVERY`] taken. One per
/// listener thread, owned by its loop.
#[derive(Debug, Default)]
pub struct Sampler {
    /// Queries since the last sample.
    seen: u32,
}

impl Sampler {
    /// Takes `queries` more; whether one of them is the one to time.
    #[inline]
    pub fn take(&mut self, queries: usize) -> bool {
        let queries = u32::try_from(queries).unwrap_or(u32::MAX);
        self.seen = self.seen.saturating_add(queries);
        if self.seen >= SAMPLE_EVERY {
            self.seen -= SAMPLE_EVERY.min(self.seen);
            true
        } else {
            false
        }
    }
}

/// One transport's histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [AtomicU64; BOUNDS_NANOS.len() + 1],
    /// Sum of the samples in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one sample.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS
            .iter()
            .position(|bound| nanos <= *bound)
            .unwrap_or(BOUNDS_NANOS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// (sum in seconds, count, buckets as prometheus-client wants them).
    fn read(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let buckets: Vec<(f64, u64)> = BOUNDS_NANOS
            .iter()
            .map(|b| *b as f64 / 1e9)
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, count, buckets)
    }
}

/// The histograms by transport.
#[derive(Debug, Default)]
pub struct DnsLatency {
    /// Answers over UDP: a sampled query's whole batch, from `recvmmsg`
    /// returning to `sendmmsg` returning (every query of a batch is sent
    /// at the end of it).
    pub udp: Histogram,
    /// Answers over TCP: from a whole message in the buffer to its answer
    /// written to the socket.
    pub tcp: Histogram,
}

impl DnsLatency {
    /// Writes `gslb_dns_response_seconds`.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "gslb_dns_response_seconds",
            "Time a query spends in the server, from the listener having it to its answer handed to the kernel, by transport; one query in 64 is timed",
            None,
            MetricType::Histogram,
        )?;
        for (transport, histogram) in [("udp", &self.udp), ("tcp", &self.tcp)] {
            let (sum, count, buckets) = histogram.read();
            let labels = [("transport", transport)];
            let mut series = metric.encode_family(&labels)?;
            series.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                sum, count, &buckets, None,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_in_sample_every_is_timed() {
        let mut sampler = Sampler::default();
        let timed = (0..SAMPLE_EVERY * 10).filter(|_| sampler.take(1)).count();
        assert_eq!(timed, 10);
        // Batches: a batch holding the 64th query is timed, once.
        let mut sampler = Sampler::default();
        let timed = (0..20).filter(|_| sampler.take(32)).count();
        assert_eq!(timed, 20 * 32 / SAMPLE_EVERY as usize);
    }

    #[test]
    fn samples_land_in_their_buckets() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(7));
        histogram.observe(Duration::from_micros(10));
        histogram.observe(Duration::from_micros(11));
        histogram.observe(Duration::from_secs(3));
        let (sum, count, buckets) = histogram.read();
        assert_eq!(count, 4);
        assert!((sum - 3.000_028).abs() < 1e-9, "{sum}");
        assert_eq!(buckets[0], (10e-6, 2));
        assert_eq!(buckets[1], (25e-6, 1));
        assert_eq!(buckets[buckets.len() - 1], (f64::INFINITY, 1));
    }

    #[test]
    fn encodes_a_histogram_per_transport() {
        let latency = DnsLatency::default();
        latency.udp.observe(Duration::from_micros(30));
        let mut registry = prometheus_client::registry::Registry::default();
        #[derive(Debug)]
        struct Collect(std::sync::Arc<DnsLatency>);
        impl prometheus_client::collector::Collector for Collect {
            fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
                self.0.encode(&mut encoder)
            }
        }
        registry.register_collector(Box::new(Collect(std::sync::Arc::new(latency))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for line in [
            "# TYPE gslb_dns_response_seconds histogram",
            "gslb_dns_response_seconds_count{transport=\"udp\"} 1",
            "gslb_dns_response_seconds_bucket{le=\"0.00005\",transport=\"udp\"} 1",
            "gslb_dns_response_seconds_bucket{le=\"0.000025\",transport=\"udp\"} 0",
            "gslb_dns_response_seconds_count{transport=\"tcp\"} 0",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
