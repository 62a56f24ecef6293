//! Updates refused before they reach the table writer (unsigned, a bad or
//! unknown key, a bad MAC or time, a replay, malformed): what they cost is
//! bounded, so a flood of them cannot fill the log, the disk or the wire.
//!
//! * **Log**: the first refusal of each [`SUMMARY_INTERVAL`] is logged
//!   with its client and reason; the rest are counted per reason, and one
//!   summary line per interval gives the counts. A flood of any size writes
//!   at most two lines per interval.
//! * **Responses** over UDP pass a rate limiter of their own (the
//!   [`crate::rrl`] accounting, [`RESPONSES_PER_SECOND`] per client
//!   prefix), on whether or not `server.rate_limit` is set: a refusal is
//!   about as large as the request, but a spoofed flood must not turn gslb
//!   into a reflector. TCP answers every request: its peer is real.
//!
//! Counters are atomics: listeners on any thread add to them without a
//! lock.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use tracing::info;

use crate::metrics::ddns::UpdateResult;
use crate::model::RateLimit;
use crate::rrl::{RateLimiter, ResponseKey, Verdict};

/// How often refusals are summed up in the log.
pub(super) const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);
/// Refusals answered per second to one client prefix over UDP.
pub(super) const RESPONSES_PER_SECOND: u32 = 10;

/// The reasons, in the order of the summary's fields.
const REASONS: [UpdateResult; 10] = [
    UpdateResult::Unsigned,
    UpdateResult::NotAuth,
    UpdateResult::FormErr,
    UpdateResult::BadKey,
    UpdateResult::BadSig,
    UpdateResult::BadTime,
    UpdateResult::BadTrunc,
    UpdateResult::Replay,
    UpdateResult::Refused,
    UpdateResult::Dropped,
];

/// Refusals since the last summary, and the response limiter.
#[derive(Debug)]
pub(super) struct Refusals {
    counts: [AtomicU64; REASONS.len()],
    /// UDP refusal responses not sent (over the rate).
    unanswered: AtomicU64,
    /// Whether this interval's first refusal was logged.
    logged: AtomicBool,
    limiter: RateLimiter,
}

impl Default for Refusals {
    fn default() -> Self {
        Self {
            counts: Default::default(),
            unanswered: AtomicU64::new(0),
            logged: AtomicBool::new(false),
            limiter: RateLimiter::new(&RateLimit {
                responses_per_second: RESPONSES_PER_SECOND,
                slip: 0,
                ipv4_prefix: 24,
                ipv6_prefix: 56,
                window_secs: 5,
                table_size: 8192,
            }),
        }
    }
}

impl Refusals {
    /// Counts one refusal; logs it when it is the interval's first.
    pub(super) fn note(&self, client: IpAddr, key: &str, result: UpdateResult) {
        if let Some(i) = REASONS.iter().position(|r| *r == result) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        if !self.logged.swap(true, Ordering::Relaxed) {
            info!(
                %client,
                key,
                result = result.label(),
                "update refused; more refusals in the next {}s are summed up in one line",
                SUMMARY_INTERVAL.as_secs()
            );
        }
    }

    /// Whether a UDP refusal to `client` may be sent now; counts the ones
    /// that may not.
    pub(super) fn may_answer_udp(&self, client: IpAddr) -> bool {
        let key = ResponseKey {
            kind: u8::MAX,
            qtype: 0,
            name: 0,
        };
        let send = self.limiter.check(client, key, self.limiter.now()) == Verdict::Send;
        if !send {
            self.unanswered.fetch_add(1, Ordering::Relaxed);
        }
        send
    }

    /// Logs one line with the interval's counts, if there were any, and
    /// starts the next interval.
    pub(super) fn summarize(&self) {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.swap(0, Ordering::Relaxed))
            .collect();
        let unanswered = self.unanswered.swap(0, Ordering::Relaxed);
        self.logged.store(false, Ordering::Relaxed);
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return;
        }
        info!(
            total,
            unsigned = counts[0],
            notauth = counts[1],
            formerr = counts[2],
            badkey = counts[3],
            badsig = counts[4],
            badtime = counts[5],
            badtrunc = counts[6],
            replay = counts[7],
            too_many_for_key = counts[8],
            queue_full = counts[9],
            udp_unanswered = unanswered,
            interval_secs = SUMMARY_INTERVAL.as_secs(),
            "updates refused"
        );
    }

    /// Refusals counted this interval (for tests).
    #[cfg(test)]
    pub(super) fn pending(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_refusals_to_one_prefix_are_limited_per_second() {
        let refusals = Refusals::default();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let sent = (0..100).filter(|_| refusals.may_answer_udp(client)).count();
        assert!(
            sent <= RESPONSES_PER_SECOND as usize * 2,
            "{sent} of 100 answered"
        );
        assert!(refusals.may_answer_udp(other), "another prefix is answered");
    }

    #[test]
    fn counts_reset_with_each_summary() {
        let refusals = Refusals::default();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            refusals.note(client, "", UpdateResult::Unsigned);
        }
        refusals.note(client, "k.", UpdateResult::BadSig);
        assert_eq!(refusals.pending(), 6);
        refusals.summarize();
        assert_eq!(refusals.pending(), 0);
    }
}
