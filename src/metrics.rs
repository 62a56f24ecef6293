//! Every counter gslb keeps, in one place.
//!
//! DNS counters sit on the hot path, so they are plain relaxed atomics that
//! the compiled table points at directly (no label lookup per query). They
//! are keyed by zone name and by (record, set) in [`Metrics`], which outlives
//! reloads, so a reload does not reset them. Probe metrics, off the hot path,
//! are prometheus-client families. [`Metrics::render`] writes them all in
//! the Prometheus text format for the admin API.

pub mod tcp;
pub mod updates;

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::dns::answer::{Outcome, ResponseKind};
use crate::health::probe::Finding;
use crate::table::{Snapshot, Table};

/// QTYPE buckets counted separately; everything else is `other`.
pub const QTYPES: [(u16, &str); 12] = [
    (1, "A"),
    (28, "AAAA"),
    (6, "SOA"),
    (2, "NS"),
    (255, "ANY"),
    (5, "CNAME"),
    (15, "MX"),
    (16, "TXT"),
    (33, "SRV"),
    (257, "CAA"),
    (43, "DS"),
    (0, "other"),
];
/// RCODE buckets; everything else is `other`.
pub const RCODES: [(u16, &str); 8] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
    (u16::MAX, "other"),
];

fn bucket<T>(table: &[(u16, T)], value: u16) -> usize {
    table
        .iter()
        .position(|(v, _)| *v == value)
        .unwrap_or(table.len() - 1)
}

/// Query counts of one zone by QTYPE and RCODE.
#[derive(Debug, Default)]
pub struct ZoneCounters {
    /// `[qtype bucket][rcode bucket]`.
    pub queries: [[AtomicU64; RCODES.len()]; QTYPES.len()],
    /// Responses sent with TC=1.
    pub truncated: AtomicU64,
    /// NODATA answers because every set that could answer was drained.
    pub drained: AtomicU64,
}

/// Answer counts of one (record, set).
#[derive(Debug, Default)]
pub struct SetCounters {
    /// Answers served from the set.
    pub answers: AtomicU64,
    /// Of those, answers that ignored health because no set was healthy.
    pub failed_open: AtomicU64,
}

/// The counters a compiled table's queries land in, by index.
#[derive(Debug, Default)]
pub struct TableCounters {
    /// By zone index; queries outside every zone go to [`Metrics::outside`].
    pub zones: Box<[Arc<ZoneCounters>]>,
    /// By set index.
    pub sets: Box<[Arc<SetCounters>]>,
}

/// Responses response rate limiting held back, by [`ResponseKind`] index.
/// Responses let through are not counted: that would cost every query an
/// atomic add on a shared line.
#[derive(Debug, Default)]
pub struct RrlCounters {
    /// Limited responses not sent.
    pub dropped: [AtomicU64; ResponseKind::ALL.len()],
    /// Limited responses sent truncated (errors: sent as they were).
    pub slipped: [AtomicU64; ResponseKind::ALL.len()],
    /// Responses of streams the full table could not track, truncated;
    /// also counted in `slipped`.
    pub untracked: AtomicU64,
}

/// Labels of a probe series.
type ProbeLabels = [(&'static str, String); 3];
/// Labels of a per-target series.
type TargetLabels = [(&'static str, String); 2];
/// Builds the probe latency histogram: 1 ms to about 16 s.
type HistogramFn = fn() -> Histogram;

fn probe_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Probe metrics, kept by prometheus-client.
#[derive(Debug)]
struct ProbeMetrics {
    /// Probes by check, target and result.
    results: Family<ProbeLabels, Counter>,
    /// Probe latency by check.
    seconds: Family<[(&'static str, String); 1], Histogram, HistogramFn>,
    /// Probe state by check and target (1 up, 0 down).
    up: Family<TargetLabels, Gauge>,
    /// Probes that waited for a slot, by class (`serving`, `down`).
    slot_waits: Family<[(&'static str, String); 1], Counter>,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        Self {
            results: Family::default(),
            seconds: Family::new_with_constructor(probe_histogram),
            up: Family::default(),
            slot_waits: Family::default(),
        }
    }
}

/// One probe's metric series.
#[derive(Debug, Clone)]
pub struct ProbeHandles {
    ok: Counter,
    fail: Counter,
    seconds: Histogram,
    up: Gauge,
}

impl ProbeHandles {
    /// Counts one probe and the state after it.
    pub fn observe(&self, finding: &Finding, up: Option<bool>) {
        if finding.passed { &self.ok } else { &self.fail }.inc();
        self.seconds.observe(finding.latency.as_secs_f64());
        if let Some(up) = up {
            self.up.set(i64::from(up));
        }
    }
}

/// Process-wide metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Queries that fell outside every zone, or were malformed.
    pub outside: Arc<ZoneCounters>,
    /// Successful config (re)loads.
    pub reloads: AtomicU64,
    /// Rejected config reloads.
    pub reload_failures: AtomicU64,
    /// Generation of the published snapshot.
    pub generation: AtomicU64,
    /// DNS-over-TCP connections, rejections and timeouts.
    pub tcp: tcp::TcpCounters,
    /// Admin API connections closed at once because
    /// `admin_max_connections` were open.
    pub admin_connections_refused: AtomicU64,
    /// `/status` bodies rendered (readers share one per generation).
    pub admin_status_renders: AtomicU64,
    /// `/metrics` bodies rendered.
    pub admin_metrics_renders: AtomicU64,
    /// Response rate limiting; kept across reloads like the DNS counters.
    pub rrl: RrlCounters,
    /// RFC 2136 dynamic updates by key and result.
    pub updates: updates::UpdateCounters,
    zones: Mutex<HashMap<String, Arc<ZoneCounters>>>,
    sets: Mutex<HashMap<(String, String), Arc<SetCounters>>>,
    probes: ProbeMetrics,
}

impl Metrics {
    /// The counters for a freshly compiled table, reusing those of zones
    /// and sets that existed before and dropping those that are gone.
    pub fn counters_for(&self, table: &Table) -> TableCounters {
        let mut zones = self.zones.lock();
        let zone_counters: Box<[Arc<ZoneCounters>]> = table
            .zones
            .iter()
            .map(|z| zones.entry(z.origin.to_string()).or_default().clone())
            .collect();
        zones.retain(|_, c| Arc::strong_count(c) > 1);
        drop(zones);
        let mut sets = self.sets.lock();
        let set_counters: Box<[Arc<SetCounters>]> = table
            .sets()
            .map(|(r, s)| {
                sets.entry((r.name.to_string(), s.id.to_string()))
                    .or_default()
                    .clone()
            })
            .collect();
        sets.retain(|_, c| Arc::strong_count(c) > 1);
        TableCounters {
            zones: zone_counters,
            sets: set_counters,
        }
    }

    /// Counts one query's outcome.
    #[inline]
    pub fn observe(&self, counters: &TableCounters, outcome: &Outcome) {
        if !outcome.replied {
            return;
        }
        let zone = outcome
            .zone
            .and_then(|z| counters.zones.get(usize::from(z)))
            .unwrap_or(&self.outside);
        zone.queries[bucket(&QTYPES, outcome.qtype)][bucket(&RCODES, outcome.rcode)]
            .fetch_add(1, Ordering::Relaxed);
        if outcome.truncated {
            zone.truncated.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.drained {
            zone.drained.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(set) = outcome
            .answered
            .and_then(|(_, s)| counters.sets.get(s as usize))
        {
            set.answers.fetch_add(1, Ordering::Relaxed);
            if outcome.failed_open {
                set.failed_open.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A consistent-enough copy of zone counters for rendering.
    pub fn zone_counters(&self) -> Vec<(String, Arc<ZoneCounters>)> {
        let mut zones: Vec<_> = self
            .zones
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        zones.sort_by(|a, b| a.0.cmp(&b.0));
        zones
    }

    /// A copy of the set counters for rendering.
    pub fn set_counters(&self) -> Vec<((String, String), Arc<SetCounters>)> {
        let mut sets: Vec<_> = self
            .sets
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sets.sort_by(|a, b| a.0.cmp(&b.0));
        sets
    }
}

impl Metrics {
    /// The series of one probe, looked up once so each probe result costs
    /// a few atomic adds instead of label allocations and a map lookup.
    pub fn probe_handles(&self, check: &str, target: IpAddr) -> ProbeHandles {
        // One statement each: `get_or_create` returns a read guard, and a
        // second call while it lives could need the write lock (deadlock).
        let labels = |result: &str| {
            [
                ("check", check.to_owned()),
                ("target", target.to_string()),
                ("result", result.to_owned()),
            ]
        };
        let ok = self.probes.results.get_or_create(&labels("ok")).clone();
        let fail = self.probes.results.get_or_create(&labels("fail")).clone();
        let seconds = self
            .probes
            .seconds
            .get_or_create(&[("check", check.to_owned())])
            .clone();
        let up = self
            .probes
            .up
            .get_or_create(&[("check", check.to_owned()), ("target", target.to_string())])
            .clone();
        ProbeHandles {
            ok,
            fail,
            seconds,
            up,
        }
    }

    /// Drops the series of a probe a reload removed.
    pub fn forget_probe(&self, check: &str, target: IpAddr) {
        for result in ["ok", "fail"] {
            let labels = [
                ("check", check.to_owned()),
                ("target", target.to_string()),
                ("result", result.to_owned()),
            ];
            self.probes.results.remove(&labels);
        }
        self.probes
            .up
            .remove(&[("check", check.to_owned()), ("target", target.to_string())]);
    }

    /// Counts a probe that waited for a slot (`class`: `serving` or `down`).
    pub fn probe_slot_waited(&self, class: &str) {
        self.probes
            .slot_waits
            .get_or_create(&[("class", class.to_owned())])
            .inc();
    }

    /// Every metric in the Prometheus text format.
    pub fn render(self: &Arc<Self>, snapshot: Arc<Snapshot>, ready: bool) -> String {
        let mut registry = Registry::default();
        registry.register(
            "gslb_probes",
            "Health probes by check, target and result",
            self.probes.results.clone(),
        );
        registry.register(
            "gslb_probe_duration_seconds",
            "Health probe latency by check",
            self.probes.seconds.clone(),
        );
        registry.register(
            "gslb_probe_up",
            "Health state by check and target after rise/fall (1 up, 0 down)",
            self.probes.up.clone(),
        );
        registry.register(
            "gslb_probe_slot_waits",
            "Health probes that waited for a slot because the probes in flight were at their cap, by target class (serving, down)",
            self.probes.slot_waits.clone(),
        );
        registry.register_collector(Box::new(SnapshotCollector {
            metrics: self.clone(),
            snapshot,
            ready,
        }));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// Renders the hot-path counters and the snapshot's state at scrape time.
#[derive(Debug)]
struct SnapshotCollector {
    metrics: Arc<Metrics>,
    snapshot: Arc<Snapshot>,
    ready: bool,
}

/// One counter or gauge family: its series as (labels, value).
fn family<L: prometheus_client::encoding::EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    series: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in series {
        let encoder = metric.encode_family(&labels)?;
        match kind {
            MetricType::Gauge => ConstGauge::new(value as i64).encode(encoder)?,
            _ => ConstCounter::new(value).encode(encoder)?,
        }
    }
    Ok(())
}

/// One unlabelled counter or gauge.
fn single(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, kind)?;
    match kind {
        MetricType::Gauge => ConstGauge::new(value as i64).encode(metric),
        _ => ConstCounter::new(value).encode(metric),
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        let mut zones = m.zone_counters();
        zones.push(("".to_owned(), m.outside.clone()));
        let mut queries = Vec::new();
        for (zone, counters) in &zones {
            for (q, (_, qtype)) in QTYPES.iter().enumerate() {
                for (r, (_, rcode)) in RCODES.iter().enumerate() {
                    let value = counters.queries[q][r].load(Ordering::Relaxed);
                    if value > 0 {
                        queries.push((
                            [
                                ("zone", zone.clone()),
                                ("qtype", (*qtype).to_owned()),
                                ("rcode", (*rcode).to_owned()),
                            ],
                            value,
                        ));
                    }
                }
            }
        }
        family(
            &mut encoder,
            "gslb_dns_queries",
            "DNS queries answered, by zone (empty: outside every zone or malformed), QTYPE and RCODE",
            MetricType::Counter,
            queries,
        )?;
        let truncated = zones
            .iter()
            .map(|(z, c)| ([("zone", z.clone())], c.truncated.load(Ordering::Relaxed)));
        family(
            &mut encoder,
            "gslb_dns_truncated",
            "UDP responses sent with TC=1",
            MetricType::Counter,
            truncated,
        )?;
        let drained = zones
            .iter()
            .map(|(z, c)| ([("zone", z.clone())], c.drained.load(Ordering::Relaxed)));
        family(
            &mut encoder,
            "gslb_drained_nodata_answers",
            "NODATA answers given because every set that could answer was drained by an override",
            MetricType::Counter,
            drained,
        )?;
        let sets = m.set_counters();
        let answers = sets.iter().map(|((r, s), c)| {
            (
                [("record", r.clone()), ("set", s.clone())],
                c.answers.load(Ordering::Relaxed),
            )
        });
        family(
            &mut encoder,
            "gslb_answers",
            "Answers served, by record and set",
            MetricType::Counter,
            answers,
        )?;
        let open = sets.iter().map(|((r, s), c)| {
            (
                [("record", r.clone()), ("set", s.clone())],
                c.failed_open.load(Ordering::Relaxed),
            )
        });
        family(
            &mut encoder,
            "gslb_fail_open_answers",
            "Answers given while no set was healthy (health ignored)",
            MetricType::Counter,
            open,
        )?;
        let snap = &self.snapshot;
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
        self.encode_rrl(&mut encoder)?;
        single(
            &mut encoder,
            "gslb_config_reloads",
            "Config loads that were applied",
            MetricType::Counter,
            m.reloads.load(Ordering::Relaxed),
        )?;
        single(
            &mut encoder,
            "gslb_config_reload_failures",
            "Config reloads rejected (the previous config kept serving)",
            MetricType::Counter,
            m.reload_failures.load(Ordering::Relaxed),
        )?;
        single(
            &mut encoder,
            "gslb_admin_connections_refused",
            "Admin API connections closed at once because admin_max_connections were open",
            MetricType::Counter,
            m.admin_connections_refused.load(Ordering::Relaxed),
        )?;
        let renders = [
            ("status", m.admin_status_renders.load(Ordering::Relaxed)),
            ("metrics", m.admin_metrics_renders.load(Ordering::Relaxed)),
        ]
        .map(|(document, n)| ([("document", document.to_owned())], n));
        family(
            &mut encoder,
            "gslb_admin_renders",
            "Admin API documents rendered; concurrent readers of one generation share one",
            MetricType::Counter,
            renders,
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
        m.tcp.encode(&mut encoder)?;
        m.updates.encode(&mut encoder)?;
        Ok(())
    }
}

impl SnapshotCollector {
    /// `gslb_rrl_*`: what response rate limiting held back, and its table.
    fn encode_rrl(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let rrl = &self.metrics.rrl;
        let series = |counters: &[AtomicU64; ResponseKind::ALL.len()]| {
            ResponseKind::ALL
                .iter()
                .map(|kind| {
                    (
                        [("kind", kind.label())],
                        counters[*kind as usize].load(Ordering::Relaxed),
                    )
                })
                .collect::<Vec<_>>()
        };
        family(
            encoder,
            "gslb_rrl_dropped",
            "UDP responses rate limiting dropped, by kind",
            MetricType::Counter,
            series(&rrl.dropped),
        )?;
        family(
            encoder,
            "gslb_rrl_slipped",
            "UDP responses rate limiting sent truncated (TC=1) instead of dropping, by kind",
            MetricType::Counter,
            series(&rrl.slipped),
        )?;
        single(
            encoder,
            "gslb_rrl_untracked",
            "UDP responses truncated because the rate limiting table had no room for their stream",
            MetricType::Counter,
            rrl.untracked.load(Ordering::Relaxed),
        )?;
        let limiter = self.snapshot.rate_limiter.as_deref();
        single(
            encoder,
            "gslb_rrl_table_capacity",
            "Streams the rate limiting table can hold (0: rate limiting is off)",
            MetricType::Gauge,
            limiter.map_or(0, |l| l.capacity() as u64),
        )?;
        single(
            encoder,
            "gslb_rrl_table_streams",
            "Streams in the rate limiting table seen within the window",
            MetricType::Gauge,
            limiter.map_or(0, |l| l.live_streams(l.now()) as u64),
        )
    }
}
