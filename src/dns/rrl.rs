//! Response rate limiting on the UDP path: which responses count as one
//! stream, and what a verdict of the limiter ([`crate::rrl`]) does to a
//! response.
//!
//! A stream is (client prefix, [`ResponseKind`], name, QTYPE), as BIND:
//!
//! | kind | name | QTYPE |
//! |---|---|---|
//! | answer, ns | the owner name | yes |
//! | nodata | the owner name | no |
//! | nxdomain | the zone (random names in one zone are one stream) | no |
//! | error | none (every error to a prefix is one stream) | no |
//!
//! Counting per name means a resolver asking for many different names is
//! not limited by its total rate, only by how often it repeats one answer,
//! which a caching resolver does about once per TTL. Names are identified by
//! their index in the snapshot's table ([`Outcome::name_id`]), which costs
//! no hashing of names; after a reload that reorders records, a stream may
//! count against a neighbour's name for up to `window` seconds.

use std::{net::IpAddr, sync::atomic::Ordering};

use super::answer::{Outcome, ResponseKind};
use crate::iana::HEADER_LEN;
use crate::metrics::RrlCounters;
use crate::rrl::ResponseKey;
pub use crate::rrl::{RateLimiter, Verdict};

/// The stream key of a response, as BIND keys its kind (see the module
/// docs).
#[inline]
pub fn key(outcome: &Outcome) -> ResponseKey {
    let (qtype, name) = match outcome.kind {
        ResponseKind::Answer | ResponseKind::Ns => (outcome.qtype, outcome.name_id),
        ResponseKind::NoData | ResponseKind::NxDomain => (0, outcome.name_id),
        ResponseKind::Error => (0, 0),
    };
    ResponseKey {
        kind: outcome.kind as u8,
        qtype,
        name,
    }
}

/// The limiter's verdict on one response to `client` at second `now`.
#[inline]
pub fn check(limiter: &RateLimiter, client: IpAddr, outcome: &Outcome, now: u32) -> Verdict {
    limiter.check(client, key(outcome), now)
}

/// Decides, counts and applies the verdict for one UDP response in `out`:
/// returns whether to send it (truncated in place on a slip).
pub fn admit(
    limiter: &RateLimiter,
    client: IpAddr,
    outcome: &Outcome,
    out: &mut Vec<u8>,
    now: u32,
    counters: &RrlCounters,
) -> bool {
    let verdict = check(limiter, client, outcome, now);
    if verdict == Verdict::Send {
        return true;
    }
    let kind = outcome.kind as usize;
    match verdict {
        Verdict::Drop => {
            counters.dropped[kind].fetch_add(1, Ordering::Relaxed);
            return false;
        }
        Verdict::Untracked => {
            counters.untracked.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    counters.slipped[kind].fetch_add(1, Ordering::Relaxed);
    // BIND leaks errors instead of truncating them: they carry no
    // records, so the two are the same size, and TC=1 would only
    // send the client to TCP for a REFUSED.
    if outcome.kind != ResponseKind::Error {
        truncate(out, outcome);
    }
    true
}

/// Turns the response in `out` into an empty truncated one: header with
/// TC=1 and no records, the question, and the OPT record if it had one.
/// Leaves `out` alone if the outcome's offsets do not fit it.
pub fn truncate(out: &mut Vec<u8>, outcome: &Outcome) {
    let question_end = usize::from(outcome.question_end);
    let opt_at = usize::from(outcome.opt_at);
    if question_end < HEADER_LEN || question_end > out.len() {
        return;
    }
    let has_opt = opt_at >= question_end && opt_at < out.len();
    if has_opt {
        out.copy_within(opt_at.., question_end);
        out.truncate(question_end + (out.len() - opt_at));
    } else {
        out.truncate(question_end);
    }
    out[2] |= 0x02; // TC
    out[6..12].copy_from_slice(&[0, 0, 0, 0, 0, u8::from(has_opt)]);
}

#[cfg(test)]
mod tests;
