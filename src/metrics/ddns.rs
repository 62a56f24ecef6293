//! RFC 2136 dynamic update counters, by key and result. Off the query hot
//! path: a mutex-held map, which a flood of refused updates takes without
//! allocating once its key label exists. The key label is a configured
//! key's name, `""` for unsigned updates and `unknown` for names no zone
//! configures, so a client cannot grow the label set.

use parking_lot::Mutex;
use std::collections::BTreeMap;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::family;

/// How an update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateResult {
    /// Applied (NOERROR).
    Ok,
    /// Not allowed by the zone's policy or caps (REFUSED).
    Refused,
    /// Unsigned (REFUSED).
    Unsigned,
    /// A zone gslb does not serve (NOTAUTH).
    NotAuth,
    /// TSIG MAC did not match.
    BadSig,
    /// TSIG time outside the fudge.
    BadTime,
    /// A signed request whose MAC was accepted before (NOTAUTH/BADTIME).
    Replay,
    /// Unknown TSIG key or algorithm.
    BadKey,
    /// Truncated TSIG MAC.
    BadTrunc,
    /// Malformed (FORMERR).
    FormErr,
    /// A name outside the zone (NOTZONE).
    NotZone,
    /// A prerequisite failed (NXDOMAIN, YXDOMAIN, YXRRSET, NXRRSET).
    Prereq,
    /// Not processed: the update queue was full or the server stopping.
    Dropped,
    /// Applied, but the state file could not be written (SERVFAIL).
    Unsaved,
}

impl UpdateResult {
    /// The `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Unsigned => "unsigned",
            Self::NotAuth => "notauth",
            Self::BadSig => "badsig",
            Self::BadTime => "badtime",
            Self::Replay => "replay",
            Self::BadKey => "badkey",
            Self::BadTrunc => "badtrunc",
            Self::FormErr => "formerr",
            Self::NotZone => "notzone",
            Self::Prereq => "prereq",
            Self::Dropped => "dropped",
            Self::Unsaved => "unsaved",
        }
    }

    /// Every result, in label order of the exposition.
    const ALL: [Self; 14] = [
        Self::Ok,
        Self::Refused,
        Self::Unsigned,
        Self::NotAuth,
        Self::BadSig,
        Self::BadTime,
        Self::Replay,
        Self::BadKey,
        Self::BadTrunc,
        Self::FormErr,
        Self::NotZone,
        Self::Prereq,
        Self::Dropped,
        Self::Unsaved,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Update counters.
#[derive(Debug, Default)]
pub struct UpdateCounters {
    /// Per key label, a count per result ([`UpdateResult::ALL`] order).
    by: Mutex<BTreeMap<String, [u64; UpdateResult::ALL.len()]>>,
}

impl UpdateCounters {
    /// Counts one update signed by `key` (`""`: unsigned).
    pub fn count(&self, key: &str, result: UpdateResult) {
        let mut by = self.by.lock();
        if !by.contains_key(key) {
            by.insert(key.to_owned(), Default::default());
        }
        if let Some(counts) = by.get_mut(key) {
            counts[result.index()] += 1;
        }
    }

    /// Updates counted so far for (`key`, `result`).
    pub fn get(&self, key: &str, result: UpdateResult) -> u64 {
        self.by
            .lock()
            .get(key)
            .map_or(0, |counts| counts[result.index()])
    }

    /// Writes `gslb_dns_updates_total`.
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let series: Vec<_> = self
            .by
            .lock()
            .iter()
            .flat_map(|(key, counts)| {
                UpdateResult::ALL
                    .iter()
                    .zip(counts)
                    .filter(|&(_, &n)| n > 0)
                    .map(|(result, &n)| {
                        (
                            [("key", key.clone()), ("result", result.label().to_owned())],
                            n,
                        )
                    })
            })
            .collect();
        family(
            encoder,
            "gslb_dns_updates",
            "RFC 2136 dynamic updates by TSIG key (empty: unsigned) and result",
            MetricType::Counter,
            series,
        )
    }
}
