//! Every counter gslb keeps, in one place.
//!
//! DNS counters sit on the hot path, so they are plain relaxed atomics that
//! the compiled table points at directly (no label lookup per query). They
//! are keyed by zone name and by (record, set) in [`Metrics`], which outlives
//! reloads, so a reload does not reset them. The admin API renders them.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::dns::answer::Outcome;
use crate::table::Table;

/// QTYPE buckets counted separately; everything else is `other`.
pub const QTYPES: [(u16, &str); 6] = [
    (1, "A"),
    (28, "AAAA"),
    (6, "SOA"),
    (2, "NS"),
    (255, "ANY"),
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
    zones: Mutex<HashMap<String, Arc<ZoneCounters>>>,
    sets: Mutex<HashMap<(String, String), Arc<SetCounters>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay meaningful even if a panicking thread held the lock.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// The counters for a freshly compiled table, reusing those of zones
    /// and sets that existed before and dropping those that are gone.
    pub fn counters_for(&self, table: &Table) -> TableCounters {
        let mut zones = lock(&self.zones);
        let zone_counters: Box<[Arc<ZoneCounters>]> = table
            .zones
            .iter()
            .map(|z| zones.entry(z.origin.to_string()).or_default().clone())
            .collect();
        zones.retain(|_, c| Arc::strong_count(c) > 1);
        drop(zones);
        let mut sets = lock(&self.sets);
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
        let mut zones: Vec<_> = lock(&self.zones)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        zones.sort_by(|a, b| a.0.cmp(&b.0));
        zones
    }

    /// A copy of the set counters for rendering.
    pub fn set_counters(&self) -> Vec<((String, String), Arc<SetCounters>)> {
        let mut sets: Vec<_> = lock(&self.sets)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sets.sort_by(|a, b| a.0.cmp(&b.0));
        sets
    }
}
