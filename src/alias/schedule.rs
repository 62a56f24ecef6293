//! The life of one hostname target's addresses: when to resolve it again,
//! how long its addresses may be served, and when the table writer must
//! hear about a change.
//!
//! Pure bookkeeping, no I/O and no clock (every call takes `now`), so the
//! refresh and staleness rules are tested alone:
//!
//! * After an answer, the next resolution is due after the upstream TTL,
//!   clamped to `[min_refresh, max_refresh]`: a short TTL does not turn into
//!   a query storm, a long one does not hide a change for hours.
//! * After a failure (timeout, SERVFAIL, no addresses at all), the last
//!   addresses stay; the next attempt backs off from `min_refresh`, doubling
//!   up to `max_refresh`.
//! * Addresses are fresh until the upstream TTL runs out, then stale, and
//!   `max_stale` after that (the serve-stale bound of RFC 8767 §4) they are
//!   expired: the writer then treats them as down, so failover takes over.
//! * Addresses no client can connect to ([`Unusable`]: unspecified,
//!   broadcast, multicast, link-local) are taken out of each answer; an
//!   answer with nothing else counts as a failure.

use std::{net::IpAddr, time::Duration};

use tokio::time::Instant;

use crate::model::AliasPolicy;
use crate::model::target::Unusable;
pub use crate::table::resolved::HostAddrs;

/// The scheduling rules of `server.alias`.
impl AliasPolicy {
    /// Time until the next resolution after an answer with `ttl`.
    pub fn refresh_after(&self, ttl: Duration) -> Duration {
        ttl.clamp(self.min_refresh, self.max_refresh.max(self.min_refresh))
    }

    /// Time until the next attempt after `failures` failures in a row
    /// (at least one): `min_refresh`, doubling, at most `max_refresh`.
    pub fn retry_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.min_refresh
            .saturating_mul(1 << doublings)
            .min(self.max_refresh.max(self.min_refresh))
    }
}

/// One successful resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Every address found, in any order, duplicates allowed.
    pub addrs: Vec<IpAddr>,
    /// The smallest TTL along the answer (CNAME chain included).
    pub ttl: Duration,
}

/// How much the current addresses are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Freshness {
    /// Never resolved: no addresses.
    Unresolved,
    /// Within the upstream TTL.
    Fresh,
    /// Past the upstream TTL, within `max_stale`: still answered.
    Stale,
    /// Past `max_stale`: treated as down.
    Expired,
}

/// One name's state.
#[derive(Debug, Clone)]
pub struct HostState {
    /// Current addresses with the time each was first seen (for `/status`).
    addrs: Vec<(IpAddr, Instant)>,
    /// When the last answer arrived.
    resolved_at: Option<Instant>,
    /// When the last answer's TTL runs out.
    expires: Option<Instant>,
    /// When the next resolution is due.
    next: Instant,
    /// Failures since the last answer.
    failures: u32,
    /// Why the last attempt failed; cleared by an answer.
    last_error: Option<String>,
    /// Whether the last answer had more addresses than `max_addresses`.
    capped: bool,
    /// What the writer was last told.
    reported: Option<HostAddrs>,
    /// The unusable addresses the last answer held, sorted.
    unusable: Vec<IpAddr>,
}

/// What an answer did to a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// What to tell the writer, when it changed.
    pub report: Option<HostAddrs>,
    /// Addresses that appeared.
    pub added: Vec<IpAddr>,
    /// Addresses that went away.
    pub removed: Vec<IpAddr>,
    /// Addresses dropped by `max_addresses`.
    pub dropped: usize,
}

impl HostState {
    /// A name seen for the first time: due at once.
    pub fn new(now: Instant) -> Self {
        Self {
            addrs: Vec::new(),
            resolved_at: None,
            expires: None,
            next: now,
            failures: 0,
            last_error: None,
            capped: false,
            reported: None,
            unusable: Vec::new(),
        }
    }

    /// Takes the addresses no client can use ([`Unusable`]) out of
    /// `answer`; returns them (sorted) when they differ from the last
    /// answer's, so a change is logged once, not on every refresh.
    pub fn screen(&mut self, answer: &mut Answer) -> Option<Vec<IpAddr>> {
        let mut unusable: Vec<IpAddr> = answer
            .addrs
            .iter()
            .copied()
            .filter(|a| Unusable::of(*a).is_some())
            .collect();
        if unusable.is_empty() && self.unusable.is_empty() {
            return None;
        }
        answer.addrs.retain(|a| Unusable::of(*a).is_none());
        unusable.sort_unstable();
        unusable.dedup();
        (unusable != self.unusable).then(|| {
            self.unusable.clone_from(&unusable);
            unusable
        })
    }

    /// The unusable addresses of the last answer, sorted.
    pub fn unusable(&self) -> &[IpAddr] {
        &self.unusable
    }

    /// When the next resolution is due.
    pub fn next_attempt(&self) -> Instant {
        self.next
    }

    /// Whether a resolution is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.next <= now
    }

    /// The next time something changes without an answer: the next
    /// attempt, or the moment the addresses expire if that comes first.
    pub fn next_event(&self, policy: &AliasPolicy) -> Instant {
        self.expiry_event(policy)
            .map_or(self.next, |expiry| expiry.min(self.next))
    }

    /// When the addresses the writer holds as usable will expire; `None`
    /// when it holds none, or holds them as expired already.
    pub fn expiry_event(&self, policy: &AliasPolicy) -> Option<Instant> {
        let usable = self.reported.as_ref().is_some_and(|v| v.usable);
        self.stale_until(policy).filter(|_| usable)
    }

    /// When the addresses stop being usable.
    fn stale_until(&self, policy: &AliasPolicy) -> Option<Instant> {
        self.expires.map(|e| e + policy.max_stale)
    }

    /// How much the addresses are worth at `now`.
    pub fn freshness(&self, now: Instant, policy: &AliasPolicy) -> Freshness {
        match (self.expires, self.stale_until(policy)) {
            (None, _) | (_, None) => Freshness::Unresolved,
            (Some(expires), _) if now < expires => Freshness::Fresh,
            (_, Some(until)) if now < until => Freshness::Stale,
            _ => Freshness::Expired,
        }
    }

    /// The writer's view at `now`.
    pub fn view(&self, now: Instant, policy: &AliasPolicy) -> HostAddrs {
        HostAddrs {
            addrs: self.addrs.iter().map(|(a, _)| *a).collect(),
            expires: self.expires,
            usable: !matches!(self.freshness(now, policy), Freshness::Expired),
        }
    }

    /// Records an answer received at `now`.
    pub fn answered(&mut self, now: Instant, answer: Answer, policy: &AliasPolicy) -> Applied {
        let mut addrs = answer.addrs;
        addrs.sort_unstable();
        addrs.dedup();
        let dropped = addrs.len().saturating_sub(policy.max_addresses);
        addrs.truncate(policy.max_addresses);
        self.capped = dropped > 0;
        let added: Vec<IpAddr> = addrs
            .iter()
            .filter(|a| !self.addrs.iter().any(|(old, _)| old == *a))
            .copied()
            .collect();
        let removed: Vec<IpAddr> = self
            .addrs
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !addrs.contains(a))
            .collect();
        let since = |a: &IpAddr| {
            self.addrs
                .iter()
                .find(|(old, _)| old == a)
                .map_or(now, |(_, at)| *at)
        };
        self.addrs = addrs.iter().map(|a| (*a, since(a))).collect();
        self.resolved_at = Some(now);
        self.expires = Some(now + answer.ttl);
        self.next = now + policy.refresh_after(answer.ttl);
        self.failures = 0;
        self.last_error = None;
        Applied {
            report: self.report(now, policy),
            added,
            removed,
            dropped,
        }
    }

    /// Records a failed attempt at `now`; the last addresses stay.
    pub fn failed(
        &mut self,
        now: Instant,
        error: String,
        policy: &AliasPolicy,
    ) -> Option<HostAddrs> {
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(error);
        self.next = now + policy.retry_after(self.failures);
        self.report(now, policy)
    }

    /// Notices time passing: the view to report when the addresses expired
    /// since the last report.
    pub fn tick(&mut self, now: Instant, policy: &AliasPolicy) -> Option<HostAddrs> {
        self.reported.as_ref()?; // nothing to say before the first attempt
        self.report(now, policy)
    }

    /// The view at `now` if the writer has not seen it yet. The first
    /// report of a name is sent even when it has no addresses, so the
    /// writer (and readiness) knows the first attempt is done.
    fn report(&mut self, now: Instant, policy: &AliasPolicy) -> Option<HostAddrs> {
        let view = self.view(now, policy);
        if self.reported.as_ref() == Some(&view) {
            return None;
        }
        self.reported = Some(view.clone());
        Some(view)
    }

    /// Whether any attempt has finished.
    pub fn attempted(&self) -> bool {
        self.reported.is_some()
    }

    /// The details `/status` shows.
    pub fn status(&self, now: Instant, policy: &AliasPolicy) -> HostStatus {
        HostStatus {
            freshness: self.freshness(now, policy),
            addresses: self
                .addrs
                .iter()
                .map(|(addr, since)| (*addr, now.saturating_duration_since(*since)))
                .collect(),
            resolved_ago: self.resolved_at.map(|at| now.saturating_duration_since(at)),
            ttl_left: self.expires.map(|e| e.saturating_duration_since(now)),
            next_in: self.next.saturating_duration_since(now),
            failures: self.failures,
            last_error: self.last_error.clone(),
            capped: self.capped,
        }
    }
}

/// One name as `/status` shows it, ages relative to when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    /// How much the addresses are worth.
    pub freshness: Freshness,
    /// Each address with how long it has been in the answer.
    pub addresses: Vec<(IpAddr, Duration)>,
    /// Time since the last answer.
    pub resolved_ago: Option<Duration>,
    /// What remains of the upstream TTL.
    pub ttl_left: Option<Duration>,
    /// Time until the next attempt.
    pub next_in: Duration,
    /// Failures since the last answer.
    pub failures: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Whether the last answer had more addresses than kept.
    pub capped: bool,
}

#[cfg(test)]
mod tests;
