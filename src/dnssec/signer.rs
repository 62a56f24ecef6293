//! A signed zone's signer: its keys, its signature window and its RRSIG
//! cache, shared by every worker.
//!
//! Which keys sign is decided per RRset at the time of the query, from
//! the keys' timing: a key with the SEP flag signs the DNSKEY, CDS and
//! CDNSKEY RRsets; the other active keys sign everything else; when no
//! key without SEP is active (a CSK), the SEP keys sign everything, and
//! when no SEP key is active the others sign the DNSKEY RRset too.
//!
//! Signatures start an hour before the hour of signing (`inception`,
//! aligned so every instance makes the same window, and a resolver with a
//! clock a little behind still accepts them) and end
//! `signature_validity` later; a cached signature with less than
//! `signature_refresh` left is made anew.

use std::sync::Arc;
use std::time::Instant;

use super::cache::{RrsigCache, Wanted};
use super::canonical::{CanonicalRrset, label_count};
use super::key::{Key, SignError};
use crate::iana::{class, rtype};
use crate::name::Name;

/// Inception is aligned to this many seconds, and set one step back.
pub const INCEPTION_STEP_SECS: u64 = 3600;
/// Most keys a zone may list (the cache records its signers as a bit mask).
pub const MAX_KEYS: usize = 64;

/// A zone's `dnssec` settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Keys, in config order.
    pub keys: Vec<Arc<Key>>,
    /// Lifetime of a signature from its inception, seconds.
    pub validity_secs: u32,
    /// A signature with less than this left is made anew, seconds.
    pub refresh_secs: u32,
    /// Most RRsets whose signatures are kept.
    pub rrsig_cache: usize,
}

/// What answering one RRset's signatures cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// Copied from the cache.
    Hit,
    /// Made now, in this many nanoseconds.
    Miss {
        /// Time spent signing.
        nanos: u64,
    },
}

/// The signer of one zone.
#[derive(Debug)]
pub struct Signer {
    /// The zone apex: the RRSIG signer name.
    pub zone: Name,
    /// Settings and keys.
    pub policy: Policy,
    cache: RrsigCache,
}

impl Signer {
    /// A signer with an empty cache.
    pub fn new(zone: Name, policy: Policy) -> Self {
        let cache = RrsigCache::new(policy.rrsig_cache);
        Self {
            zone,
            policy,
            cache,
        }
    }

    /// Whether `other` would sign as this one does, so a reload can keep
    /// this signer and its cache.
    pub fn same_as(&self, zone: &Name, policy: &Policy) -> bool {
        self.zone == *zone && self.policy == *policy
    }

    /// The keys in the DNSKEY RRset at `now`.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &Key> {
        self.policy
            .keys
            .iter()
            .map(|k| &**k)
            .filter(move |k| k.timing.published(now))
    }

    /// The SEP keys whose DS the parent should hold at `now` (CDS and
    /// CDNSKEY, RFC 8078): those signing.
    pub fn delegated(&self, now: u64) -> impl Iterator<Item = &Key> {
        self.policy
            .keys
            .iter()
            .map(|k| &**k)
            .filter(move |k| k.is_sep() && k.timing.signs(now))
    }

    /// The keys (as a bit mask of their index) that sign an RRset of
    /// `rtype` at `now`.
    pub fn signing_keys(&self, rtype: u16, now: u64) -> u64 {
        let (mut sep, mut other) = (0u64, 0u64);
        for (i, key) in self.policy.keys.iter().enumerate().take(MAX_KEYS) {
            if key.timing.signs(now) {
                *if key.is_sep() { &mut sep } else { &mut other } |= 1 << i;
            }
        }
        let key_set = matches!(rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY);
        match (key_set, sep, other) {
            (true, 0, other) => other,
            (true, sep, _) => sep,
            (false, sep, 0) => sep,
            (false, _, other) => other,
        }
    }

    /// The signature window for signing at `now`: (inception, expiration).
    pub fn window(&self, now: u64) -> (u64, u64) {
        let inception =
            (now / INCEPTION_STEP_SECS * INCEPTION_STEP_SECS).saturating_sub(INCEPTION_STEP_SECS);
        (inception, inception + u64::from(self.policy.validity_secs))
    }

    /// Hands the RRSIG RDATAs over `set` (finished) to `write`, from the
    /// cache or made now.
    pub fn rrsigs(
        &self,
        set: &CanonicalRrset,
        now: u64,
        mut write: impl FnMut(&[u8]),
    ) -> Result<Signed, SignError> {
        let keys = self.signing_keys(set.rtype(), now);
        let wanted = Wanted {
            keys,
            fresh_until: now + u64::from(self.policy.refresh_secs),
        };
        if self.cache.read(set.key(), wanted, &mut write) {
            return Ok(Signed::Hit);
        }
        let started = Instant::now();
        let (inception, expiration) = self.window(now);
        let mut list = Vec::new();
        let mut data = Vec::new();
        for (i, key) in self.policy.keys.iter().enumerate().take(MAX_KEYS) {
            if keys & (1 << i) == 0 {
                continue;
            }
            let rdata = rrsig_rdata(key, &self.zone, set, inception, expiration, &mut data)?;
            list.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            list.extend_from_slice(&rdata);
            write(&rdata);
        }
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.cache.insert(set.key(), list.into(), expiration, keys);
        Ok(Signed::Miss { nanos })
    }

    /// RRsets whose signatures are cached now.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// The RRSIG RDATA by `key` over `set` (RFC 4034 §3.1, §3.1.8.1): the
/// fields, the signer name uncompressed, then the signature over those
/// fields and the RRset in canonical form. `data` is scratch.
pub fn rrsig_rdata(
    key: &Key,
    zone: &Name,
    set: &CanonicalRrset,
    inception: u64,
    expiration: u64,
    data: &mut Vec<u8>,
) -> Result<Vec<u8>, SignError> {
    let mut rdata = Vec::with_capacity(18 + zone.wire().len() + 64);
    rdata.extend_from_slice(&set.rtype().to_be_bytes());
    rdata.push(key.algorithm.number());
    rdata.push(label_count(set.owner()));
    rdata.extend_from_slice(&set.ttl().to_be_bytes());
    // Serial-number arithmetic (RFC 4034 §3.1.5): the low 32 bits.
    rdata.extend_from_slice(&(expiration as u32).to_be_bytes());
    rdata.extend_from_slice(&(inception as u32).to_be_bytes());
    rdata.extend_from_slice(&key.tag.to_be_bytes());
    rdata.extend_from_slice(zone.wire());
    data.clear();
    data.extend_from_slice(&rdata);
    for record in set.rdatas() {
        data.extend_from_slice(set.owner());
        data.extend_from_slice(&set.rtype().to_be_bytes());
        data.extend_from_slice(&class::IN.to_be_bytes());
        data.extend_from_slice(&set.ttl().to_be_bytes());
        data.extend_from_slice(&(record.len() as u16).to_be_bytes());
        data.extend_from_slice(record);
    }
    rdata.extend_from_slice(&key.sign(data)?);
    Ok(rdata)
}
