//! `/metrics`: the counters of [`Metrics`] plus what the served snapshot
//! says at scrape time (target states, generation, the rate limiting
//! table), in the Prometheus text format, at the [`Detail`] the admin API
//! chose for the request.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use crate::metrics::{Detail, Metrics, family, single};
use crate::table::Snapshot;

/// Every metric, with the snapshot's readings, as Prometheus text: every
/// series, per record, set and target.
pub fn render(metrics: &Arc<Metrics>, snapshot: Arc<Snapshot>, ready: bool) -> String {
    render_at(metrics, snapshot, ready, Detail::PerRecord)
}

/// The metrics at `detail`: [`Detail::Aggregate`] names no record, set or
/// target address.
pub fn render_at(
    metrics: &Arc<Metrics>,
    snapshot: Arc<Snapshot>,
    ready: bool,
    detail: Detail,
) -> String {
    let mut registry = metrics.registry(detail);
    registry.register_collector(Box::new(SnapshotCollector {
        snapshot,
        ready,
        detail,
    }));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// Reads the snapshot being served at scrape time.
#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<Snapshot>,
    ready: bool,
    detail: Detail,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snap = &self.snapshot;
        if self.detail == Detail::PerRecord {
            let targets = snap.table.sets().flat_map(|(record, set)| {
                set.targets.iter().flatten().map(move |t| {
                    let labels = [
                        ("record", record.name.to_string()),
                        ("set", set.id.to_string()),
                        ("target", t.addr.to_string()),
                    ];
                    (labels, u64::from(snap.health.target_up(set, t)))
                })
            });
            family(
                &mut encoder,
                "gslb_target_up",
                "Whether DNS answers may include the target (health and overrides applied)",
                MetricType::Gauge,
                targets,
            )?;
        }
        let (mut all, mut up) = (0u64, 0u64);
        for (_, set) in snap.table.sets() {
            for t in set.targets.iter().flatten() {
                all += 1;
                up += u64::from(snap.health.target_up(set, t));
            }
        }
        single(
            &mut encoder,
            "gslb_targets",
            "Targets of every record's sets (a target in several sets counts in each)",
            MetricType::Gauge,
            all,
        )?;
        single(
            &mut encoder,
            "gslb_targets_up",
            "Targets DNS answers may include (health and overrides applied)",
            MetricType::Gauge,
            up,
        )?;

        single(
            &mut encoder,
            "gslb_snapshot_generation",
            "Generation of the snapshot being served",
            MetricType::Gauge,
            snap.generation,
        )?;
        single(
            &mut encoder,
            "gslb_records",
            "Records in the served table",
            MetricType::Gauge,
            snap.table.records.len() as u64,
        )?;
        single(
            &mut encoder,
            "gslb_ready",
            "1 once the first round of health checks is done",
            MetricType::Gauge,
            u64::from(self.ready),
        )?;
        let limiter = snap.rate_limiter.as_deref();
        single(
            &mut encoder,
            "gslb_rrl_table_capacity",
            "Streams the rate limiting table can hold (0: rate limiting is off)",
            MetricType::Gauge,
            limiter.map_or(0, |l| l.capacity() as u64),
        )?;
        single(
            &mut encoder,
            "gslb_rrl_table_streams",
            "Streams in the rate limiting table seen within the window",
            MetricType::Gauge,
            limiter.map_or(0, |l| l.live_streams(l.now()) as u64),
        )
    }
}
