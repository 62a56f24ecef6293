//! RFC 2136 dynamic update counters, by key and result. Off the hot path:
//! a mutex-held map. The key label is a configured key's name, `""` for
//! unsigned updates and `unknown` for names no zone configures, so a
//! client cannot grow the label set.

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
            Self::BadKey => "badkey",
            Self::BadTrunc => "badtrunc",
            Self::FormErr => "formerr",
            Self::NotZone => "notzone",
            Self::Prereq => "prereq",
            Self::Dropped => "dropped",
        }
    }
}

/// Update counters.
#[derive(Debug, Default)]
pub struct UpdateCounters {
    by: Mutex<BTreeMap<(String, UpdateResult), u64>>,
}

impl UpdateCounters {
    /// Counts one update signed by `key` (`""`: unsigned).
    pub fn count(&self, key: &str, result: UpdateResult) {
        *self.by.lock().entry((key.to_owned(), result)).or_default() += 1;
    }

    /// Updates counted so far for (`key`, `result`).
    pub fn get(&self, key: &str, result: UpdateResult) -> u64 {
        self.by
            .lock()
            .get(&(key.to_owned(), result))
            .copied()
            .unwrap_or(0)
    }

    /// Writes `gslb_dns_updates_total`.
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let series: Vec<_> = self
            .by
            .lock()
            .iter()
            .map(|((key, result), &n)| {
                (
                    [("key", key.clone()), ("result", result.label().to_owned())],
                    n,
                )
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
