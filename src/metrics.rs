//! Every counter gslb keeps, in one place, and their names.
//!
//! A leaf: it knows no other module of gslb, so every layer can count into
//! it. Callers hand it plain values (names, codes, durations).
//!
//! DNS counters sit on the hot path, so they are plain relaxed atomics that
//! the compiled table points at directly (no label lookup per query). They
//! are keyed by zone name and by (record, set) in [`Metrics`], which outlives
//! reloads, so a reload does not reset them. Probe metrics, off the hot path,
//! are prometheus-client families. [`Metrics::registry`] holds them all for
//! the admin API, which adds what it reads from the snapshot.

pub mod admin;
pub mod config;
pub mod ddns;
pub mod dnssec;
pub mod latency;
pub mod overrides;
pub mod peers;
pub mod process;
pub mod tcp;

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

/// Labels of the response kinds rate limiting counts apart, in the order
/// of the DNS layer's kinds.
pub const RESPONSE_KINDS: [&str; 5] = ["answer", "ns", "nodata", "nxdomain", "error"];

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

impl ZoneCounters {
    /// Counts one response by QTYPE and RCODE.
    #[inline]
    pub fn count(&self, qtype: u16, rcode: u16) {
        self.queries[bucket(&QTYPES, qtype)][bucket(&RCODES, rcode)]
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// `gslb_answers`: name and help, rendered with the snapshot's table
/// (`admin::prometheus`), which names the sets.
pub const ANSWERS: (&str, &str) = ("gslb_answers", "Answers served, by record and set");
/// `gslb_fail_open_answers`: name and help, like [`ANSWERS`].
pub const FAIL_OPEN_ANSWERS: (&str, &str) = (
    "gslb_fail_open_answers",
    "Answers given while no set was healthy (health ignored), by record and set",
);

/// Answer counts of one (record, set).
#[derive(Debug, Default)]
pub struct SetCounters {
    /// Answers served from the set.
    pub answers: AtomicU64,
    /// Of those, answers that ignored health because no set was healthy.
    pub failed_open: AtomicU64,
}

impl SetCounters {
    /// Carries `before`'s counts into these (a reload's new table): they
    /// go on counting from there.
    pub fn carry(&self, before: &Self) {
        for (to, from) in [
            (&self.answers, &before.answers),
            (&self.failed_open, &before.failed_open),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// The counters a compiled table's queries land in, by index.
#[derive(Debug, Default)]
pub struct TableCounters {
    /// By zone index; queries outside every zone go to [`Metrics::outside`].
    pub zones: Box<[Arc<ZoneCounters>]>,
    /// By set index: inline, 16 bytes a set, since a table may hold
    /// millions of sets. A reload carries the counts of the sets it keeps
    /// into the new table's (`Table::counters`).
    pub sets: Box<[SetCounters]>,
}

/// Responses response rate limiting held back, by [`RESPONSE_KINDS`] index.
/// Responses let through are not counted: that would cost every query an
/// atomic add on a shared line.
#[derive(Debug, Default)]
pub struct RrlCounters {
    /// Limited responses not sent.
    pub dropped: [AtomicU64; RESPONSE_KINDS.len()],
    /// Limited responses sent truncated (errors: sent as they were).
    pub slipped: [AtomicU64; RESPONSE_KINDS.len()],
    /// Responses of streams the full table could not track, truncated;
    /// also counted in `slipped`.
    pub untracked: AtomicU64,
}

/// How much of the metrics one scrape sees. Series that name records, sets
/// or target addresses are shown only to operators; an
/// [`Aggregate`](Self::Aggregate) scrape gets the same counters summed
/// under the same names without those labels, so a public scrape reveals
/// the totals but not what the operator routes are locked for. Operators
/// get [`PerSet`](Self::PerSet) sums unless `server.metrics.per_record`
/// asks for [`PerRecord`](Self::PerRecord) series, whose number grows with
/// the table. The admin API decides which a request gets, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Totals only: no record, set or target address in any label.
    Aggregate,
    /// Sums by zone and set id, probes by check: a few series per set id,
    /// however many records share it.
    PerSet,
    /// Every series, labelled by record, set and target.
    PerRecord,
}

/// The `result` labels of probe counters.
const PROBE_RESULTS: [&str; 2] = ["ok", "fail"];
/// The `class` labels of probe slot waits.
const SLOT_CLASSES: [&str; 2] = ["serving", "down"];

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
    /// Probes by result only, for aggregate scrapes.
    totals: Family<[(&'static str, String); 1], Counter>,
    /// Probes by check and result, for per-set scrapes.
    by_check: Family<[(&'static str, String); 2], Counter>,
    /// Probe latency by check.
    seconds: Family<[(&'static str, String); 1], Histogram, HistogramFn>,
    /// Probe state by check and target (1 up, 0 down).
    up: Family<TargetLabels, Gauge>,
    /// Probes that waited for a slot, by class (`serving`, `down`).
    slot_waits: Family<[(&'static str, String); 1], Counter>,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        let probes = Self {
            results: Family::default(),
            totals: Family::default(),
            by_check: Family::default(),
            seconds: Family::new_with_constructor(probe_histogram),
            up: Family::default(),
            slot_waits: Family::default(),
        };
        // Series whose labels are known up front exist from the start at 0,
        // so a quiet server's rate() is 0, not absent.
        for result in PROBE_RESULTS {
            drop(
                probes
                    .totals
                    .get_or_create(&[("result", result.to_owned())]),
            );
        }
        for class in SLOT_CLASSES {
            drop(
                probes
                    .slot_waits
                    .get_or_create(&[("class", class.to_owned())]),
            );
        }
        probes
    }
}

/// One probe's metric series.
#[derive(Debug, Clone)]
pub struct ProbeHandles {
    ok: Counter,
    fail: Counter,
    ok_total: Counter,
    fail_total: Counter,
    ok_check: Counter,
    fail_check: Counter,
    seconds: Histogram,
    up: Gauge,
}

impl ProbeHandles {
    /// Counts one probe, how long it took, and the state after it.
    pub fn observe(&self, passed: bool, latency: Duration, up: Option<bool>) {
        if passed {
            self.ok.inc();
            self.ok_total.inc();
            self.ok_check.inc();
        } else {
            self.fail.inc();
            self.fail_total.inc();
            self.fail_check.inc();
        }
        self.seconds.observe(latency.as_secs_f64());
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
    /// Sampled time from a query's arrival to its answer, by transport.
    pub dns_latency: latency::DnsLatency,
    /// Admin and probe listener caps, cross-site and busy refusals.
    pub admin: admin::AdminCounters,
    /// `/status` bodies rendered (readers share one per generation).
    pub admin_status_renders: AtomicU64,
    /// `/metrics` bodies rendered.
    pub admin_metrics_renders: AtomicU64,
    /// Response rate limiting; kept across reloads like the DNS counters.
    pub rrl: RrlCounters,
    /// RFC 2136 dynamic updates by key and result.
    pub updates: ddns::UpdateCounters,
    /// The peer group: peers' reachability and lag, the vote's views.
    pub peers: peers::PeerMetrics,
    /// Overrides in force by state and source.
    pub overrides: overrides::OverrideCounts,
    /// The last config load's outcome and what it set.
    pub config: config::ConfigReadings,
    /// DNSSEC signing: cache hits and misses, time spent signing.
    pub dnssec: dnssec::SigningCounters,
    zones: Mutex<HashMap<String, Arc<ZoneCounters>>>,
    probes: ProbeMetrics,
}

impl Metrics {
    /// The counters for a freshly compiled table, given its zone origins and
    /// its number of sets: zones reuse the counters of zones that existed
    /// before (and those gone are dropped); sets start at zero, for the
    /// caller to carry over what it keeps.
    pub fn counters_for(
        &self,
        zone_names: impl IntoIterator<Item = String>,
        set_count: usize,
    ) -> TableCounters {
        let mut zones = self.zones.lock();
        let zone_counters: Box<[Arc<ZoneCounters>]> = zone_names
            .into_iter()
            .map(|z| zones.entry(z).or_default().clone())
            .collect();
        zones.retain(|_, c| Arc::strong_count(c) > 1);
        drop(zones);
        TableCounters {
            zones: zone_counters,
            sets: (0..set_count).map(|_| SetCounters::default()).collect(),
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
        let total = |result: &str| {
            self.probes
                .totals
                .get_or_create(&[("result", result.to_owned())])
                .clone()
        };
        let ok_total = total("ok");
        let fail_total = total("fail");
        let by_check = |result: &str| {
            self.probes
                .by_check
                .get_or_create(&[("check", check.to_owned()), ("result", result.to_owned())])
                .clone()
        };
        let ok_check = by_check("ok");
        let fail_check = by_check("fail");
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
            ok_total,
            fail_total,
            ok_check,
            fail_check,
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

    /// A registry of every metric this module keeps at `detail`, for the
    /// admin API to add its snapshot readings to and encode.
    pub fn registry(self: &Arc<Self>, detail: Detail) -> Registry {
        let mut registry = Registry::default();
        match detail {
            Detail::PerRecord => {
                registry.register(
                    "gslb_probes",
                    "Health probes by check, target and result",
                    self.probes.results.clone(),
                );
                registry.register(
                    "gslb_probe_up",
                    "Health state by check and target after rise/fall (1 up, 0 down)",
                    self.probes.up.clone(),
                );
            }
            Detail::PerSet => registry.register(
                "gslb_probes",
                "Health probes by check and result (per target with server.metrics.per_record)",
                self.probes.by_check.clone(),
            ),
            Detail::Aggregate => registry.register(
                "gslb_probes",
                "Health probes by result (per check and target with the admin token)",
                self.probes.totals.clone(),
            ),
        }
        registry.register(
            "gslb_probe_duration_seconds",
            "Health probe latency by check",
            self.probes.seconds.clone(),
        );
        registry.register(
            "gslb_probe_slot_waits",
            "Health probes that waited for a slot because the probes in flight were at their cap, by target class (serving, down)",
            self.probes.slot_waits.clone(),
        );
        registry.register_collector(Box::new(CounterCollector {
            metrics: self.clone(),
        }));
        registry
    }
}

/// Renders the hot-path counters at scrape time; those of sets are the
/// snapshot's (`admin::prometheus`).
#[derive(Debug)]
struct CounterCollector {
    metrics: Arc<Metrics>,
}

/// One counter or gauge family: its series as (labels, value).
pub fn family<L: prometheus_client::encoding::EncodeLabelSet>(
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
pub fn single(
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

/// `gslb_dns_queries` series: one per (zone, QTYPE, RCODE) counted at
/// least once, so idle combinations add no series.
fn query_series(zones: &[(String, Arc<ZoneCounters>)]) -> Vec<([(&'static str, String); 3], u64)> {
    let mut queries = Vec::new();
    for (zone, counters) in zones {
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
    queries
}

impl Collector for CounterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        self.encode_zones(&mut encoder)?;
        m.dns_latency.encode(&mut encoder)?;
        self.encode_rrl(&mut encoder)?;
        self.encode_reloads(&mut encoder)?;
        m.admin.encode(&mut encoder)?;
        self.encode_renders(&mut encoder)?;
        m.tcp.encode(&mut encoder)?;
        m.updates.encode(&mut encoder)?;
        m.peers.encode(&mut encoder)?;
        m.overrides.encode(&mut encoder)?;
        m.config.encode(&mut encoder)?;
        m.dnssec.encode(&mut encoder)?;
        process::encode(&mut encoder)
    }
}

impl CounterCollector {
    /// `gslb_dns_queries`, `gslb_dns_truncated`,
    /// `gslb_drained_nodata_answers`: by zone, the empty zone counting
    /// queries outside every zone.
    fn encode_zones(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        let mut zones = m.zone_counters();
        zones.push(("".to_owned(), m.outside.clone()));
        family(
            encoder,
            "gslb_dns_queries",
            "DNS queries answered, by zone (empty: outside every zone or malformed), QTYPE and RCODE",
            MetricType::Counter,
            query_series(&zones),
        )?;
        let truncated = zones
            .iter()
            .map(|(z, c)| ([("zone", z.clone())], c.truncated.load(Ordering::Relaxed)));
        family(
            encoder,
            "gslb_dns_truncated",
            "UDP responses sent with TC=1",
            MetricType::Counter,
            truncated,
        )?;
        let drained = zones
            .iter()
            .map(|(z, c)| ([("zone", z.clone())], c.drained.load(Ordering::Relaxed)));
        family(
            encoder,
            "gslb_drained_nodata_answers",
            "NODATA answers given because every set that could answer was drained by an override",
            MetricType::Counter,
            drained,
        )
    }

    /// `gslb_config_reloads`, `gslb_config_reload_failures`.
    fn encode_reloads(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        single(
            encoder,
            "gslb_config_reloads",
            "Config loads that were applied",
            MetricType::Counter,
            m.reloads.load(Ordering::Relaxed),
        )?;
        single(
            encoder,
            "gslb_config_reload_failures",
            "Config reloads rejected (the previous config kept serving)",
            MetricType::Counter,
            m.reload_failures.load(Ordering::Relaxed),
        )
    }

    /// `gslb_admin_renders`: by document.
    fn encode_renders(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        let renders = [
            ("status", m.admin_status_renders.load(Ordering::Relaxed)),
            ("metrics", m.admin_metrics_renders.load(Ordering::Relaxed)),
        ]
        .map(|(document, n)| ([("document", document.to_owned())], n));
        family(
            encoder,
            "gslb_admin_renders",
            "Admin API documents rendered; concurrent readers of one generation share one",
            MetricType::Counter,
            renders,
        )
    }

    /// `gslb_rrl_*`: what response rate limiting held back.
    fn encode_rrl(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let rrl = &self.metrics.rrl;
        let series = |counters: &[AtomicU64; RESPONSE_KINDS.len()]| {
            RESPONSE_KINDS
                .iter()
                .zip(counters)
                .map(|(kind, n)| ([("kind", *kind)], n.load(Ordering::Relaxed)))
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
        )
    }
}
