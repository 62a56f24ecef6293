//! Response rate limiting (RRL) for UDP, after BIND's `rate-limit`, Knot's
//! `rrl` module and the Vixie/Schryver technical note: the accounting here,
//! and in [`response`] what counts as one stream and what a verdict does to
//! a response; the limiter lives in the snapshot so a reload
//! that changes `server.rate_limit` replaces it and others keep it.
//!
//! An authoritative server answers whoever the source address claims to
//! be, so a spoofed flood turns it into a reflector: apex NS with glue is 30
//! times the query. RRL caps how many identical responses one client
//! prefix gets per second. Past the cap a response is dropped, and every
//! `slip`-th one is sent instead as an empty truncated response (TC=1,
//! header and question, OPT kept): a real resolver behind a spoofed-upon
//! address retries over TCP, which cannot be spoofed and is never limited.
//!
//! # Accounting
//!
//! Each stream has a credit balance, in whole seconds as BIND: it starts at
//! the rate, each response costs one, each second adds the rate back up to
//! the rate. Below zero the response is limited; the balance can sink to
//! `-window × rate` (capped at 2^27), so a prefix that flooded must stay
//! under the rate for up to `window` seconds before it is answered again.
//! A stream untouched for longer than `window` starts afresh.
//!
//! # The table
//!
//! A fixed array of `table_size` 64-bit words allocated when the limiter is
//! built, in buckets of eight (one cache line); a stream hashes with a
//! per-process random key to one bucket and keeps one word there, updated
//! with compare-and-swap. The UDP workers share it without a lock, and a
//! query allocates nothing. A new stream takes an empty word, else one
//! older than the window, else the stalest one that is **not** being
//! limited. Streams being limited are never evicted, so a flood of spoofed
//! sources, whose streams are all within their rate, cannot push out the
//! state that limits the real flood. When all eight words of a bucket are
//! streams being limited, the new stream is not tracked and its response
//! is truncated (errors, which are as small, are sent as they are): that
//! fails closed without amplification, and real clients still get their
//! answer over TCP. `gslb_rrl_untracked_total` counts it.
//!
//! TCP is never limited: only the UDP path consults it. The grouping of
//! clients into prefixes ([`PrefixLengths`]) is shared with the TCP
//! connection caps.

pub mod response;

use std::{
    hash::BuildHasher,
    net::IpAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use crate::model::RateLimit;

/// Words per bucket: one 64-byte cache line.
const SLOTS: usize = 8;
/// Compare-and-swap attempts before a response is let through uncounted.
/// A failed attempt means another worker updated the bucket, so the loop
/// always makes progress; the bound keeps the hot path wait-free.
const ATTEMPTS: usize = 8;
/// Seconds a word's time may run ahead of a worker's clock (workers read
/// the clock once per batch) and still count as now.
const MAX_SKEW: u32 = 2;

/// A bucket of stream words.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Bucket([AtomicU64; SLOTS]);

/// What tells one client's streams apart: the response's kind, and the
/// QTYPE and name where its kind counts them (zero where it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseKey {
    /// Index of the response kind.
    pub kind: u8,
    /// QTYPE, or 0.
    pub qtype: u16,
    /// The owner name's identity in the snapshot's table, or 0.
    pub name: u32,
}

/// How clients are grouped: one IPv4 /`ipv4` or IPv6 /`ipv6` network is
/// one client, since an attacker holds a whole network as easily as one
/// address (an IPv6 /64 is one host's). Response rate limiting and the TCP
/// connection caps both count per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLengths {
    v4_mask: u32,
    v6_mask: u128,
}

/// The network a client address belongs to, under some [`PrefixLengths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientPrefix {
    /// The address with its host bits cleared (IPv4 in the low 32 bits).
    bits: u128,
    v6: bool,
}

impl PrefixLengths {
    /// Groups IPv4 clients by their first `ipv4` bits and IPv6 clients by
    /// their first `ipv6` (lengths past 32 or 128 count as whole addresses).
    pub fn new(ipv4: u8, ipv6: u8) -> Self {
        Self {
            v4_mask: u32::MAX
                .checked_shl(32 - u32::from(ipv4.min(32)))
                .unwrap_or(0),
            v6_mask: u128::MAX
                .checked_shl(128 - u32::from(ipv6.min(128)))
                .unwrap_or(0),
        }
    }

    /// The network of `client`; an IPv4-mapped IPv6 address (a dual-stack
    /// socket's view of an IPv4 client) is that IPv4 client.
    #[inline]
    pub fn of(&self, client: IpAddr) -> ClientPrefix {
        match client.to_canonical() {
            IpAddr::V4(a) => ClientPrefix {
                bits: u128::from(u32::from(a) & self.v4_mask),
                v6: false,
            },
            IpAddr::V6(a) => ClientPrefix {
                bits: u128::from(a) & self.v6_mask,
                v6: true,
            },
        }
    }
}

impl std::fmt::Display for ClientPrefix {
    /// The network as an address, e.g. `192.0.2.0` or `2001:db8::`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v6 {
            std::net::Ipv6Addr::from(self.bits).fmt(f)
        } else {
            std::net::Ipv4Addr::from(self.bits as u32).fmt(f)
        }
    }
}

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: send it.
    Send,
    /// Over the rate: send nothing.
    Drop,
    /// Over the rate, but this one goes out truncated.
    Slip,
    /// No room to track the stream: truncate it (fail closed).
    Untracked,
}

/// One stream's state, packed into a word: tag (12 bits, never 0 so an
/// empty word is 0), time (20 bits, seconds), balance (28 bits, offset),
/// slip counter (4 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stream {
    /// Hash bits that tell streams of one bucket apart.
    tag: u16,
    /// Limiter second of the last response, modulo 2^20.
    time: u32,
    /// Responses left this second; negative is debt.
    balance: i32,
    /// Limited responses since the last slip.
    slips: u8,
}

const TAG_MASK: u64 = (1 << 12) - 1;
const TIME_BITS: u32 = 20;
const TIME_MASK: u32 = (1 << TIME_BITS) - 1;
const BALANCE_BITS: u32 = 28;
const BALANCE_OFFSET: i64 = 1 << (BALANCE_BITS - 1);
/// The deepest debt a word can hold.
const MIN_BALANCE: i64 = -BALANCE_OFFSET;

impl Stream {
    fn pack(self) -> u64 {
        let balance = (i64::from(self.balance) + BALANCE_OFFSET) as u64;
        u64::from(self.tag)
            | (u64::from(self.time & TIME_MASK) << 12)
            | (balance << 32)
            | (u64::from(self.slips) << 60)
    }

    fn unpack(word: u64) -> Self {
        let balance = ((word >> 32) & ((1 << BALANCE_BITS) - 1)) as i64 - BALANCE_OFFSET;
        Self {
            tag: (word & TAG_MASK) as u16,
            time: ((word >> 12) as u32) & TIME_MASK,
            balance: balance as i32,
            slips: (word >> 60) as u8,
        }
    }

    /// Whole seconds since the stream's last response; a time slightly
    /// ahead of `now` (another worker's newer clock reading) counts as 0.
    /// The 20-bit time wraps every 12 days: a stream idle that long may be
    /// read as recent, which at worst applies its old balance for up to
    /// `window` seconds.
    fn age(&self, now: u32) -> u32 {
        let delta = now.wrapping_sub(self.time) & TIME_MASK;
        if delta > TIME_MASK - MAX_SKEW {
            0
        } else {
            delta
        }
    }
}

/// The shared response rate limiter of one configuration. Lives in the
/// snapshot; the table writer keeps the same one across reloads that do
/// not change `server.rate_limit`, so reloads do not forgive floods.
pub struct RateLimiter {
    buckets: Box<[Bucket]>,
    /// Per-process random hash key: a client cannot aim its streams at a
    /// bucket of its choosing.
    hasher: foldhash::fast::RandomState,
    rate: i32,
    /// Lowest balance: `-window × rate`, capped by what a word holds.
    floor: i32,
    window: u32,
    slip: u8,
    prefixes: PrefixLengths,
    /// Second 0 of the limiter's clock.
    started: Instant,
    config: RateLimit,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Allocates the table for `config` (`table_size` × 8 bytes, rounded up
    /// to whole buckets).
    pub fn new(config: &RateLimit) -> Self {
        let buckets = (config.table_size as usize).div_ceil(SLOTS).max(1);
        let rate = config.responses_per_second.min(BALANCE_OFFSET as u32 - 1) as i32;
        let floor = (-i64::from(config.window_secs) * i64::from(rate)).max(MIN_BALANCE + 1);
        Self {
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
            rate,
            floor: floor as i32,
            window: config.window_secs,
            slip: config.slip,
            prefixes: PrefixLengths::new(config.ipv4_prefix, config.ipv6_prefix),
            started: Instant::now(),
            config: *config,
        }
    }

    /// The settings it was built from.
    pub fn config(&self) -> &RateLimit {
        &self.config
    }

    /// The limiter's clock in whole seconds; UDP workers read it once per
    /// batch.
    pub fn now(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    /// Words in the table.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// Streams seen within the window, for the metrics scrape (reads the
    /// whole table: off the hot path).
    pub fn live_streams(&self, now: u32) -> usize {
        self.buckets
            .iter()
            .flat_map(|b| b.0.iter())
            .map(|w| w.load(Ordering::Relaxed))
            .filter(|&w| w != 0 && Stream::unpack(w).age(now) <= self.window)
            .count()
    }

    /// The verdict for one response to `client` at second `now`.
    pub fn check(&self, client: IpAddr, key: ResponseKey, now: u32) -> Verdict {
        let hash = self.hash(client, key);
        let index = ((hash >> 32) * self.buckets.len() as u64) >> 32;
        let bucket = &self.buckets[index as usize];
        let tag = ((hash & TAG_MASK) as u16).max(1);
        for _ in 0..ATTEMPTS {
            let Some((slot, word, stream)) = self.find(bucket, tag, now) else {
                return Verdict::Untracked;
            };
            let (next, verdict) = self.debit(stream, now);
            if bucket.0[slot]
                .compare_exchange_weak(word, next.pack(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return verdict;
            }
        }
        Verdict::Send
    }

    /// The stream's hash: the client prefix and the response's key.
    fn hash(&self, client: IpAddr, key: ResponseKey) -> u64 {
        let ClientPrefix { bits: prefix, v6 } = self.prefixes.of(client);
        let meta = (u64::from(v6) << 63)
            | (u64::from(key.kind) << 48)
            | (u64::from(key.qtype) << 32)
            | u64::from(key.name);
        self.hasher.hash_one((prefix, meta))
    }

    /// The stream's word in `bucket`, or the word to replace with a new
    /// stream: (slot, current word, stream state to debit).
    fn find(&self, bucket: &Bucket, tag: u16, now: u32) -> Option<(usize, u64, Stream)> {
        // (slot, word, eviction preference: higher is better)
        let mut victim: Option<(usize, u64, u64)> = None;
        for (slot, cell) in bucket.0.iter().enumerate() {
            let word = cell.load(Ordering::Relaxed);
            let preference = if word == 0 {
                u64::MAX
            } else {
                let stream = Stream::unpack(word);
                if stream.tag == tag {
                    return Some((slot, word, stream));
                }
                match self.eviction_preference(stream, now) {
                    Some(p) => p,
                    None => continue,
                }
            };
            if victim.is_none_or(|(_, _, best)| preference > best) {
                victim = Some((slot, word, preference));
            }
        }
        let fresh = Stream {
            tag,
            time: now,
            balance: self.rate,
            slips: 0,
        };
        victim.map(|(slot, word, _)| (slot, word, fresh))
    }

    /// How willing we are to evict a stream: expired ones first, then the
    /// stalest of those within their rate; `None` for one being limited.
    fn eviction_preference(&self, stream: Stream, now: u32) -> Option<u64> {
        let age = stream.age(now);
        if age > self.window {
            return Some(u64::MAX - 1);
        }
        let credited = i64::from(stream.balance) + i64::from(self.rate) * i64::from(age);
        (credited >= 0).then_some(u64::from(age))
    }

    /// Charges one response to `stream` at second `now`.
    fn debit(&self, mut stream: Stream, now: u32) -> (Stream, Verdict) {
        let age = stream.age(now);
        if age > self.window {
            stream.balance = self.rate;
            stream.slips = 0;
        } else if age > 0 {
            let credited = i64::from(stream.balance) + i64::from(self.rate) * i64::from(age);
            if credited >= i64::from(self.rate) {
                stream.balance = self.rate;
                stream.slips = 0;
            } else {
                stream.balance = credited as i32;
            }
        }
        stream.time = now & TIME_MASK;
        stream.balance -= 1;
        if stream.balance >= 0 {
            return (stream, Verdict::Send);
        }
        stream.balance = stream.balance.max(self.floor);
        // As BIND: the first limited response slips, then every `slip`-th.
        let verdict = if self.slip == 0 {
            Verdict::Drop
        } else {
            let first = stream.slips == 0;
            stream.slips += 1;
            if stream.slips >= self.slip {
                stream.slips = 0;
            }
            if first { Verdict::Slip } else { Verdict::Drop }
        };
        (stream, verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_group_by_prefix_and_a_mapped_address_is_its_ipv4_client() {
        let lengths = PrefixLengths::new(24, 56);
        let of = |s: &str| lengths.of(s.parse().unwrap());
        assert_eq!(of("192.0.2.1"), of("192.0.2.254"));
        assert_eq!(of("192.0.2.1"), of("::ffff:192.0.2.9"));
        assert_ne!(of("192.0.2.1"), of("192.0.3.1"));
        assert_eq!(of("2001:db8:0:ff::1"), of("2001:db8:0:0::2"));
        assert_ne!(of("2001:db8:0:100::1"), of("2001:db8::1"));
        // The same bits in the two families are two clients.
        assert_ne!(of("0.0.0.1"), of("::1"));
        assert_eq!(of("192.0.2.77").to_string(), "192.0.2.0");
        assert_eq!(of("2001:db8:0:ff::1").to_string(), "2001:db8::");
        let whole = PrefixLengths::new(32, 128);
        assert_ne!(
            whole.of("::1".parse().unwrap()),
            whole.of("::2".parse().unwrap())
        );
    }

    #[test]
    fn a_stream_word_holds_every_field_at_its_limits() {
        for stream in [
            Stream {
                tag: 1,
                time: 0,
                balance: (MIN_BALANCE + 1) as i32,
                slips: 0,
            },
            Stream {
                tag: 0xFFF,
                time: TIME_MASK,
                balance: (BALANCE_OFFSET - 1) as i32,
                slips: 15,
            },
            Stream {
                tag: 0x5A5,
                time: 123_456,
                balance: -1,
                slips: 9,
            },
        ] {
            assert_ne!(stream.pack(), 0, "a stream is never an empty word");
            assert_eq!(Stream::unpack(stream.pack()), stream);
        }
    }
}
