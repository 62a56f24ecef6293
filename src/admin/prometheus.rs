//! `/metrics`: the counters of [`Metrics`] plus what the served snapshot
//! says at scrape time (target states, generation, the rate limiting
//! table), at the [`Detail`] the admin API chose for the request. Bodies
//! are rendered as OpenMetrics and sent as such to a scraper that asks for
//! it, or turned into the Prometheus text format 0.0.4 otherwise
//! ([`Format`]).

use std::collections::BTreeMap;

use axum::body::Bytes;
use std::sync::{Arc, atomic::Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use crate::metrics::{
    ANSWERS, Detail, FAIL_OPEN_ANSWERS as OPEN, Metrics, SetCounters, family, single,
};
use crate::table::Snapshot;

/// Every metric, with the snapshot's readings, as OpenMetrics text: every
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

/// The exposition format of one scrape, chosen from its `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0, for a scraper that prefers it (Prometheus does).
    OpenMetrics,
    /// The Prometheus text format 0.0.4: the default, for `curl` and for
    /// scrapers that do not ask for OpenMetrics.
    Text,
}

/// The media type of OpenMetrics.
const OPENMETRICS: &str = "application/openmetrics-text";

impl Format {
    /// OpenMetrics when `accept` ranks it (version 1.0.0 or unversioned)
    /// above the plain text format, which wins ties and absent headers.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let (mut q, mut version) = (1.0f32, None);
            for param in parts {
                match param.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                    Some((k, v)) if k.eq_ignore_ascii_case("q") => q = v.parse().unwrap_or(0.0),
                    Some((k, v)) if k.eq_ignore_ascii_case("version") => version = Some(v),
                    _ => {}
                }
            }
            if media == OPENMETRICS && version.is_none_or(|v| v == "1.0.0") {
                openmetrics = openmetrics.max(q);
            } else if ["text/plain", "text/*", "*/*"].contains(&media.as_str()) {
                text = text.max(q);
            }
        }
        if openmetrics > 0.0 && openmetrics > text {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// A rendered OpenMetrics body in this format.
    pub fn convert(self, openmetrics: Bytes) -> Bytes {
        match self {
            Self::OpenMetrics => openmetrics,
            Self::Text => to_text_format(&String::from_utf8_lossy(&openmetrics)).into(),
        }
    }
}

/// Turns OpenMetrics text as prometheus-client writes it into the
/// Prometheus text format 0.0.4: there a counter's `# HELP` and `# TYPE`
/// name its samples (`x_total`), not the family (`x`); `# UNIT` and
/// `# EOF` do not exist. Samples, labels and escaping are the same.
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                text.push_str(prefix);
                text.push_str(name);
                if counters.contains(name) {
                    text.push_str("_total");
                }
                text.push(' ');
                text.push_str(tail);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

/// `gslb_targets`: name and help.
const TARGETS: (&str, &str) = (
    "gslb_targets",
    "Targets of every record's sets (a target in several sets counts in each)",
);
/// `gslb_targets_up`: name and help.
const TARGETS_UP: (&str, &str) = (
    "gslb_targets_up",
    "Targets DNS answers may include (health and overrides applied)",
);

/// One (zone, set id)'s sums.
#[derive(Debug, Default)]
struct SetSums {
    answers: u64,
    failed_open: u64,
    targets: u64,
    up: u64,
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
        if self.detail == Detail::PerSet {
            self.encode_sets(&mut encoder)?;
        } else {
            self.encode_answers(&mut encoder)?;
        }
        if self.detail == Detail::PerRecord {
            let targets = snap.table.sets().flat_map(|(record, set)| {
                set.all_targets().iter().map(move |t| {
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
        if self.detail != Detail::PerSet {
            let (mut all, mut up) = (0u64, 0u64);
            for (_, set) in snap.table.sets() {
                for t in set.all_targets().iter() {
                    all += 1;
                    up += u64::from(snap.health.target_up(set, t));
                }
            }
            single(&mut encoder, TARGETS.0, TARGETS.1, MetricType::Gauge, all)?;
            single(
                &mut encoder,
                TARGETS_UP.0,
                TARGETS_UP.1,
                MetricType::Gauge,
                up,
            )?;
        }

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
        self.encode_dnssec(&mut encoder)?;
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

impl SnapshotCollector {
    /// `gslb_answers`, `gslb_fail_open_answers`: by record and set, or
    /// summed over them. The counters are the snapshot's table's: a
    /// reload carries the counts of the sets it keeps, and those of sets it
    /// removes leave the sum, which Prometheus reads as a counter reset.
    fn encode_answers(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snap = &self.snapshot;
        let read = |c: &SetCounters, open: bool| {
            if open { &c.failed_open } else { &c.answers }.load(Ordering::Relaxed)
        };
        if self.detail == Detail::PerRecord {
            for ((name, help), open) in [(ANSWERS, false), (OPEN, true)] {
                let series = snap.table.sets().filter_map(|(record, set)| {
                    let c = snap.counters.sets.get(set.index as usize)?;
                    let labels = [
                        ("record", record.name.to_string()),
                        ("set", set.id.to_string()),
                    ];
                    Some((labels, read(c, open)))
                });
                family(encoder, name, help, MetricType::Counter, series)?;
            }
            return Ok(());
        }
        let (answers, open) = snap.counters.sets.iter().fold((0, 0), |sum, c| {
            (sum.0 + read(c, false), sum.1 + read(c, true))
        });
        for ((name, help), total) in [(ANSWERS, answers), (OPEN, open)] {
            let help = help.replace(", by record and set", " (all records and sets)");
            single(encoder, name, &help, MetricType::Counter, total)?;
        }
        Ok(())
    }

    /// `gslb_dnssec_key_state` (one series per key, its state now as a
    /// label) and `gslb_dnssec_rrsig_cache_entries`, for signed zones.
    fn encode_dnssec(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let signers: Vec<&crate::dnssec::Signer> = self
            .snapshot
            .table
            .zones
            .iter()
            .filter_map(|z| z.signer.as_deref())
            .collect();
        if signers.is_empty() {
            return Ok(());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let keys = signers.iter().flat_map(|signer| {
            signer.policy.keys.iter().map(move |key| {
                let labels = [
                    ("zone", signer.zone.to_string()),
                    ("key_tag", key.tag.to_string()),
                    ("algorithm", key.algorithm.number().to_string()),
                    (
                        "role",
                        crate::dnssec::report::role(key, &signer.policy).to_owned(),
                    ),
                    ("state", key.state(now).label().to_owned()),
                ];
                (labels, 1)
            })
        });
        family(
            encoder,
            "gslb_dnssec_key_state",
            "DNSSEC keys by zone, tag, algorithm, role and state now (created, published, active, inactive, deleted)",
            MetricType::Gauge,
            keys,
        )?;
        let cached = signers
            .iter()
            .map(|s| ([("zone", s.zone.to_string())], s.cached() as u64));
        family(
            encoder,
            "gslb_dnssec_rrsig_cache_entries",
            "RRsets whose signatures the zone's RRSIG cache holds",
            MetricType::Gauge,
            cached,
        )
    }

    /// [`Detail::PerSet`]: answers, fail-open answers and targets summed by
    /// zone and set id over every record.
    fn encode_sets(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snap = &self.snapshot;
        let mut sums: BTreeMap<(u16, &str), SetSums> = BTreeMap::new();
        for (record, set) in snap.table.sets() {
            let sum = sums.entry((record.zone, &*set.id)).or_default();
            if let Some(c) = snap.counters.sets.get(set.index as usize) {
                sum.answers += c.answers.load(Ordering::Relaxed);
                sum.failed_open += c.failed_open.load(Ordering::Relaxed);
            }
            for t in set.all_targets().iter() {
                sum.targets += 1;
                sum.up += u64::from(snap.health.target_up(set, t));
            }
        }
        let zone = |z: u16| {
            snap.table
                .zones
                .get(usize::from(z))
                .map_or_else(String::new, |z| z.origin.to_string())
        };
        let labelled: Vec<_> = sums
            .iter()
            .map(|(&(z, set), sum)| ([("zone", zone(z)), ("set", set.to_owned())], sum))
            .collect();
        let series = |read: fn(&SetSums) -> u64| {
            labelled
                .iter()
                .map(move |(labels, sum)| (labels.clone(), read(sum)))
        };
        family(
            encoder,
            "gslb_answers",
            "Answers served, by zone and set id (per record with server.metrics.per_record)",
            MetricType::Counter,
            series(|s| s.answers),
        )?;
        family(
            encoder,
            "gslb_fail_open_answers",
            "Answers given while no set was healthy (health ignored), by zone and set id",
            MetricType::Counter,
            series(|s| s.failed_open),
        )?;
        let help = |h: &str| format!("{h}, by zone and set id");
        family(
            encoder,
            TARGETS.0,
            &help(TARGETS.1),
            MetricType::Gauge,
            series(|s| s.targets),
        )?;
        family(
            encoder,
            TARGETS_UP.0,
            &help(TARGETS_UP.1),
            MetricType::Gauge,
            series(|s| s.up),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_the_scraper_prefers_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::from_accept(Some("Application/OpenMetrics-Text")),
            Format::OpenMetrics
        );
        for text in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/plain;version=0.0.4"),
            Some("application/openmetrics-text;version=0.0.1"),
            Some("application/openmetrics-text;q=0"),
            Some("application/openmetrics-text;q=0.5, text/plain"),
            Some("application/openmetrics-text;q=junk"),
        ] {
            assert_eq!(Format::from_accept(text), Format::Text, "{text:?}");
        }
    }

    #[test]
    fn text_format_names_counters_by_their_samples_and_drops_openmetrics_lines() {
        let openmetrics = "# HELP a_things Things.\n# TYPE a_things counter\na_things_total{x=\"a b\"} 3\n\
                           # HELP b_level Level.\n# TYPE b_level gauge\n# UNIT b_level seconds\nb_level 1\n\
                           # HELP c_seconds Latency.\n# TYPE c_seconds histogram\nc_seconds_sum 1.5\nc_seconds_count 2\n# EOF\n";
        assert_eq!(
            to_text_format(openmetrics),
            "# HELP a_things_total Things.\n# TYPE a_things_total counter\na_things_total{x=\"a b\"} 3\n\
             # HELP b_level Level.\n# TYPE b_level gauge\nb_level 1\n\
             # HELP c_seconds Latency.\n# TYPE c_seconds histogram\nc_seconds_sum 1.5\nc_seconds_count 2\n"
        );
    }
}
