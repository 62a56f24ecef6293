//! Response rate limiting on the UDP path: which responses count as one
//! stream, and what a verdict of the limiter ([`super::RateLimiter`]) does
//! to a response.
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
//! their index in the snapshot's table ([`Response::name_id`]), which costs
//! no hashing of names; after a reload that reorders records, a stream may
//! count against a neighbour's name for up to `window` seconds.

use std::{net::IpAddr, sync::atomic::Ordering};

use super::{RateLimiter, ResponseKey, Verdict};
use crate::iana::HEADER_LEN;
use crate::metrics::{self, RrlCounters};

/// Response classes that rate limiting counts apart, as BIND's RRL does
/// (referrals to delegated subzones, large like the apex NS answer with
/// glue, are counted with it as `Ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseKind {
    /// NOERROR with records in the answer section.
    Answer = 0,
    /// Apex NS answer, with glue, or a referral to a delegated subzone.
    Ns = 1,
    /// NOERROR without answers: the name exists but not the type.
    NoData = 2,
    /// NXDOMAIN.
    NxDomain = 3,
    /// Every other RCODE (REFUSED, FORMERR, NOTIMP, BADVERS).
    #[default]
    Error = 4,
}

impl ResponseKind {
    /// Every kind, in index order.
    pub const ALL: [Self; 5] = [
        Self::Answer,
        Self::Ns,
        Self::NoData,
        Self::NxDomain,
        Self::Error,
    ];

    /// Its metric label.
    pub fn label(self) -> &'static str {
        metrics::RESPONSE_KINDS[self as usize]
    }
}

// The metric labels are in the kinds' index order.
const _: () = assert!(ResponseKind::ALL.len() == metrics::RESPONSE_KINDS.len());

/// What rate limiting needs to know of one response the answer engine
/// wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Response {
    /// Its class.
    pub kind: ResponseKind,
    /// QTYPE, when the question parsed.
    pub qtype: u16,
    /// The owner name's identity within the snapshot's table, 0 for errors.
    pub name_id: u32,
    /// Where the question ends in the response.
    pub question_end: u16,
    /// Where the OPT record starts in the response; 0 when it has none.
    pub opt_at: u16,
}

/// The stream key of a response, as BIND keys its kind (see the module
/// docs).
#[inline]
pub fn key(response: &Response) -> ResponseKey {
    let (qtype, name) = match response.kind {
        ResponseKind::Answer | ResponseKind::Ns => (response.qtype, response.name_id),
        ResponseKind::NoData | ResponseKind::NxDomain => (0, response.name_id),
        ResponseKind::Error => (0, 0),
    };
    ResponseKey {
        kind: response.kind as u8,
        qtype,
        name,
    }
}

/// The limiter's verdict on one response to `client` at second `now`.
#[inline]
pub fn check(limiter: &RateLimiter, client: IpAddr, response: &Response, now: u32) -> Verdict {
    limiter.check(client, key(response), now)
}

/// Decides, counts and applies the verdict for one UDP response in `out`:
/// returns whether to send it (truncated in place on a slip).
pub fn admit(
    limiter: &RateLimiter,
    client: IpAddr,
    response: &Response,
    out: &mut Vec<u8>,
    now: u32,
    counters: &RrlCounters,
) -> bool {
    let verdict = check(limiter, client, response, now);
    if verdict == Verdict::Send {
        return true;
    }
    let kind = response.kind as usize;
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
    if response.kind != ResponseKind::Error {
        truncate(out, response);
    }
    true
}

/// Turns the response in `out` into an empty truncated one: header with
/// TC=1 and no records, the question, and the OPT record if it had one.
/// Leaves `out` alone if the response's offsets do not fit it.
pub fn truncate(out: &mut Vec<u8>, response: &Response) {
    let question_end = usize::from(response.question_end);
    let opt_at = usize::from(response.opt_at);
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
