//! The RRSIG cache: signatures kept per distinct RRset (its canonical key:
//! owner, type, TTL, sorted data), so the variants a GSLB record answers
//! (geo, weights, failover) are each signed once and then copied.
//!
//! Sharded by the key's hash, each shard behind its own `RwLock`: a hit
//! takes one shard's read lock, copies the signatures out and sets the
//! entry's reference bit; only a miss takes a write lock, after signing
//! outside any lock. Each shard holds at most its share of `rrsig_cache`
//! entries and evicts by CLOCK (second chance): a flood of one-off RRsets
//! (the denial NSECs of random names) cycles through the entries nobody
//! asked for again, and the busy ones keep their place.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

/// Shards of a cache large enough to have them.
const SHARDS: usize = 16;
/// A cache smaller than this keeps one shard, so its bound is exact.
const MIN_SHARDED: usize = SHARDS * 64;

/// What a cached entry holds besides its key.
#[derive(Debug)]
struct Slot {
    hash: u64,
    key: Box<[u8]>,
    /// The RRSIG RDATAs, each preceded by its length (u16).
    rrsigs: Box<[u8]>,
    /// When the signatures expire (Unix seconds).
    expiration: u64,
    /// Which of the zone's keys made them.
    keys: u64,
    /// Set by a hit, cleared as the CLOCK hand passes.
    referenced: AtomicBool,
}

#[derive(Debug, Default)]
struct Shard {
    index: HashMap<u64, usize, foldhash::fast::FixedState>,
    slots: Vec<Slot>,
    hand: usize,
}

/// A cached entry fit to serve.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    /// Keys that must have made the signatures (a rollover changes them).
    pub keys: u64,
    /// Signatures expiring before this are made anew.
    pub fresh_until: u64,
}

/// The bounded, sharded RRSIG cache of one zone.
#[derive(Debug)]
pub struct RrsigCache {
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
    hasher: foldhash::fast::RandomState,
}

impl RrsigCache {
    /// A cache of at most `capacity` RRsets (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shards = if capacity < MIN_SHARDED { 1 } else { SHARDS };
        Self {
            shards: (0..shards).map(|_| RwLock::default()).collect(),
            per_shard: capacity.div_ceil(shards),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        &self.shards[(hash >> 56) as usize % self.shards.len()]
    }

    /// Hands the cached RRSIG RDATAs of `key` to `write` one by one, when
    /// they are there and fit `wanted`; returns whether they were.
    pub fn read(&self, key: &[u8], wanted: Wanted, mut write: impl FnMut(&[u8])) -> bool {
        let hash = self.hash(key);
        let shard = self.shard(hash).read();
        let Some(slot) = shard.index.get(&hash).and_then(|i| shard.slots.get(*i)) else {
            return false;
        };
        if *slot.key != *key || slot.keys != wanted.keys || slot.expiration < wanted.fresh_until {
            return false;
        }
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        for_each_rrsig(&slot.rrsigs, &mut write);
        true
    }

    /// Keeps `rrsigs` (length-prefixed RDATAs) for `key`, replacing what
    /// the key had, evicting an entry not used since the hand last passed
    /// when the shard is full.
    pub fn insert(&self, key: &[u8], rrsigs: Box<[u8]>, expiration: u64, keys: u64) {
        let hash = self.hash(key);
        let mut shard = self.shard(hash).write();
        let slot = Slot {
            hash,
            key: key.into(),
            rrsigs,
            expiration,
            keys,
            referenced: AtomicBool::new(false),
        };
        if let Some(&i) = shard.index.get(&hash) {
            shard.slots[i] = slot;
            return;
        }
        if shard.slots.len() < self.per_shard {
            let i = shard.slots.len();
            shard.slots.push(slot);
            shard.index.insert(hash, i);
            return;
        }
        let victim = shard.clock_victim();
        let old = std::mem::replace(&mut shard.slots[victim], slot);
        shard.index.remove(&old.hash);
        shard.index.insert(hash, victim);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().slots.len()).sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Most entries it holds.
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }
}

impl Shard {
    /// The slot to reuse: the first past the hand whose reference bit is
    /// clear, clearing the bits it passes (bounded: two turns at most).
    fn clock_victim(&mut self) -> usize {
        let len = self.slots.len();
        for _ in 0..2 * len {
            let i = self.hand % len;
            self.hand = (i + 1) % len;
            if !self.slots[i].referenced.swap(false, Ordering::Relaxed) {
                return i;
            }
        }
        self.hand % len
    }
}

/// Calls `write` with each RDATA of a length-prefixed list.
pub fn for_each_rrsig(mut list: &[u8], write: &mut impl FnMut(&[u8])) {
    while let [hi, lo, rest @ ..] = list {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        write(&rest[..len]);
        list = &rest[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rdata: &[u8]) -> Box<[u8]> {
        let mut v = (rdata.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(rdata);
        v.into()
    }

    fn get(cache: &RrsigCache, key: &[u8], wanted: Wanted) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        cache
            .read(key, wanted, |r| got.extend_from_slice(r))
            .then_some(got)
    }

    const NOW: Wanted = Wanted {
        keys: 1,
        fresh_until: 100,
    };

    #[test]
    fn hits_need_the_same_key_keys_and_time_left() {
        let cache = RrsigCache::new(10);
        assert!(get(&cache, b"k", NOW).is_none());
        cache.insert(b"k", one(b"sig"), 200, 1);
        assert_eq!(get(&cache, b"k", NOW).as_deref(), Some(&b"sig"[..]));
        assert!(get(&cache, b"other", NOW).is_none());
        let rolled = Wanted { keys: 3, ..NOW };
        assert!(get(&cache, b"k", rolled).is_none(), "another key signs now");
        let late = Wanted {
            fresh_until: 201,
            ..NOW
        };
        assert!(get(&cache, b"k", late).is_none(), "too little time left");
    }

    #[test]
    fn the_bound_holds_and_busy_entries_stay() {
        let cache = RrsigCache::new(4);
        cache.insert(b"busy", one(b"b"), 200, 1);
        for i in 0..100u8 {
            assert!(get(&cache, b"busy", NOW).is_some(), "round {i}");
            cache.insert(&[i], one(&[i]), 200, 1);
            assert!(cache.len() <= 4);
        }
        assert_eq!(cache.capacity(), 4);
    }

    #[test]
    fn large_caches_are_sharded_within_their_bound() {
        let cache = RrsigCache::new(5000);
        for i in 0..20_000u32 {
            cache.insert(&i.to_be_bytes(), one(b"s"), 200, 1);
        }
        assert!(cache.len() <= cache.capacity());
        assert!(cache.capacity() < 5000 + SHARDS);
    }
}
