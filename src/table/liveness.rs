//! Liveness: target health as the DNS path sees it. [`Liveness`] holds one
//! bit per probe (up or down, after the peer group's vote) and an
//! operator override per set, inside each snapshot; the prober that
//! produces the bits is the `health` module.
//!
//! The bits live in fixed-size chunks behind `Arc`s, so publishing a flip
//! copies one 512-byte chunk and the chunk pointers, whatever the table size.
//! Overrides ([`SetOverrides`]) are stored the same way, two bits per set,
//! so an operator's PUT costs the same on 10 sets or 300,000.

use std::sync::Arc;

use super::{
    Family, NO_PROBE, Record, Set, Target,
    resolved::{NO_ALIAS, Resolved},
};

/// Bits per chunk of [`ProbeBits`].
const CHUNK_BITS: usize = 4096;
/// Words per chunk.
const CHUNK_WORDS: usize = CHUNK_BITS / 64;

type Chunk = [u64; CHUNK_WORDS];

/// An operator's word on a set, which beats probe results.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Override {
    /// Probes decide.
    #[default]
    Auto,
    /// Answer the set's targets whatever the probes say.
    Up,
    /// Drain the set.
    Down,
}

impl Override {
    /// The two bits [`SetOverrides`] stores.
    fn bits(self) -> u64 {
        match self {
            Self::Auto => 0,
            Self::Up => 1,
            Self::Down => 2,
        }
    }
}

/// Copy-on-write bitset of probe states, bit set = up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeBits {
    chunks: Arc<[Arc<Chunk>]>,
    len: usize,
}

impl ProbeBits {
    /// `len` probes, all up: a target counts as up until probed.
    pub fn all_up(len: usize) -> Self {
        Self::from_fn(len, |_| true)
    }

    /// `len` probes with states from `up`.
    pub fn from_fn(len: usize, mut up: impl FnMut(usize) -> bool) -> Self {
        let chunks = (0..len.div_ceil(CHUNK_BITS))
            .map(|c| {
                let mut chunk = [0u64; CHUNK_WORDS];
                let start = c * CHUNK_BITS;
                for i in start..len.min(start + CHUNK_BITS) {
                    if up(i) {
                        chunk[(i - start) / 64] |= 1 << (i % 64);
                    }
                }
                Arc::new(chunk)
            })
            .collect();
        Self { chunks, len }
    }

    /// Whether probe `i` is up; out-of-range probes count as up.
    #[inline]
    pub fn is_up(&self, i: usize) -> bool {
        match self.chunks.get(i / CHUNK_BITS) {
            Some(chunk) => chunk[(i % CHUNK_BITS) / 64] & (1 << (i % 64)) != 0,
            None => true,
        }
    }

    /// A copy with probe `i` set to `up`, sharing every other chunk.
    pub fn with(&self, i: usize, up: bool) -> Self {
        if i >= self.len || self.is_up(i) == up {
            return self.clone();
        }
        let mut chunks: Vec<Arc<Chunk>> = self.chunks.to_vec();
        let chunk = Arc::make_mut(&mut chunks[i / CHUNK_BITS]);
        let word = &mut chunk[(i % CHUNK_BITS) / 64];
        if up {
            *word |= 1 << (i % 64);
        } else {
            *word &= !(1 << (i % 64));
        }
        Self {
            chunks: chunks.into(),
            len: self.len,
        }
    }

    /// Whether bit `i` is set; out-of-range bits are not.
    #[inline]
    pub fn is_set(&self, i: usize) -> bool {
        i < self.len && self.is_up(i)
    }

    /// Number of bits set.
    pub fn count(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.iter().map(|w| w.count_ones() as usize).sum::<usize>())
            .sum()
    }

    /// Number of probes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no probes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Sets per chunk of [`SetOverrides`]: two bits each.
const SETS_PER_CHUNK: usize = CHUNK_WORDS * 32;

/// Copy-on-write overrides by set index, two bits per set (0 auto, 1 up,
/// 2 down). Chunks no override touches are one shared all-auto chunk, so a
/// table with no overrides costs a pointer per 2,048 sets, and a change
/// copies one 512-byte chunk plus the chunk pointers.
#[derive(Debug, Clone, Default)]
pub struct SetOverrides {
    chunks: Arc<[Arc<Chunk>]>,
}

impl SetOverrides {
    /// `sets` sets, none overridden.
    pub fn none(sets: usize) -> Self {
        let auto = Arc::new([0u64; CHUNK_WORDS]);
        Self {
            chunks: (0..sets.div_ceil(SETS_PER_CHUNK))
                .map(|_| auto.clone())
                .collect(),
        }
    }

    /// The override of set `i`; out-of-range sets are `Auto`.
    #[inline]
    pub fn get(&self, i: usize) -> Override {
        let Some(chunk) = self.chunks.get(i / SETS_PER_CHUNK) else {
            return Override::Auto;
        };
        let slot = i % SETS_PER_CHUNK;
        match (chunk[slot / 32] >> ((slot % 32) * 2)) & 0b11 {
            1 => Override::Up,
            2 => Override::Down,
            _ => Override::Auto,
        }
    }

    /// A copy with set `i` set to `state`, sharing every other chunk.
    /// Out-of-range sets are left alone (they do not exist).
    pub fn with(&self, i: usize, state: Override) -> Self {
        if i / SETS_PER_CHUNK >= self.chunks.len() || self.get(i) == state {
            return self.clone();
        }
        let mut chunks: Vec<Arc<Chunk>> = self.chunks.to_vec();
        let chunk = Arc::make_mut(&mut chunks[i / SETS_PER_CHUNK]);
        let slot = i % SETS_PER_CHUNK;
        let shift = (slot % 32) * 2;
        chunk[slot / 32] = (chunk[slot / 32] & !(0b11 << shift)) | (state.bits() << shift);
        Self {
            chunks: chunks.into(),
        }
    }

    /// A copy with each `(set, state)` of `changes` applied in order,
    /// sharing every chunk none touches: the chunk pointers are copied once
    /// and each touched chunk once, however many sets change (a what-if
    /// that drains a cluster of 100,000 sets costs a pass, not 100,000
    /// copies). Out-of-range sets are left alone.
    pub fn with_many(&self, changes: impl IntoIterator<Item = (usize, Override)>) -> Self {
        let mut chunks: Option<Vec<Arc<Chunk>>> = None;
        for (i, state) in changes {
            if i / SETS_PER_CHUNK >= self.chunks.len() {
                continue;
            }
            let chunks = chunks.get_or_insert_with(|| self.chunks.to_vec());
            let chunk = Arc::make_mut(&mut chunks[i / SETS_PER_CHUNK]);
            let slot = i % SETS_PER_CHUNK;
            let shift = (slot % 32) * 2;
            chunk[slot / 32] = (chunk[slot / 32] & !(0b11 << shift)) | (state.bits() << shift);
        }
        match chunks {
            Some(chunks) => Self {
                chunks: chunks.into(),
            },
            None => self.clone(),
        }
    }

    /// Whether `other` shares the chunk that holds set `i` (tests check
    /// that a change copies one chunk only).
    pub fn shares_chunk_with(&self, other: &Self, i: usize) -> bool {
        match (
            self.chunks.get(i / SETS_PER_CHUNK),
            other.chunks.get(i / SETS_PER_CHUNK),
        ) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Health as of one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    /// Probe states, indexed by `Target::probe`: this instance's own,
    /// or the peer group's vote (`server.health_quorum`).
    pub probes: ProbeBits,
    /// Probes whose fresh views (this instance's and its peers') disagree;
    /// empty without peers. Answers that involve one get the zone's
    /// degraded TTL.
    pub contested: ProbeBits,
    /// Overrides indexed by `Set::index`.
    pub overrides: SetOverrides,
    /// The current targets of sets with hostname targets (their IP
    /// targets and resolved addresses), which change with resolution as
    /// probe states change with probes.
    pub resolved: Resolved,
}

impl Liveness {
    /// The health rule: a target is healthy if its set is forced up,
    /// or it is not forced down and has no check or its probe is up.
    #[inline]
    pub fn target_up(&self, set: &Set, target: &Target) -> bool {
        match self.override_of(set) {
            Override::Up => true,
            Override::Down => false,
            Override::Auto => target.probe == NO_PROBE || self.probes.is_up(target.probe as usize),
        }
    }

    /// The override on a set.
    #[inline]
    pub fn override_of(&self, set: &Set) -> Override {
        self.overrides.get(set.index as usize)
    }

    /// Whether an operator drained the set: it never answers, not even
    /// when failing open.
    #[inline]
    pub fn drained(&self, set: &Set) -> bool {
        self.override_of(set) == Override::Down
    }

    /// The targets of `family` a set answers now: its compiled targets, or
    /// for a set with hostname targets, those of its alias slot.
    #[inline]
    pub fn targets<'a>(&'a self, set: &'a Set, family: Family) -> &'a [Target] {
        if set.alias == NO_ALIAS {
            set.targets(family)
        } else {
            self.resolved.targets(set.alias, family)
        }
    }

    /// Whether any set of `record` has targets of `family` now.
    pub fn has_family(&self, record: &Record, family: Family) -> bool {
        record
            .sets
            .iter()
            .any(|s| !self.targets(s, family).is_empty())
    }

    /// The answer TTL of a set: `ttl`, lowered for a set with hostname
    /// targets to what remains of their upstream TTL (one atomic load).
    #[inline]
    pub fn answer_ttl(&self, set: &Set, ttl: u32) -> u32 {
        if set.alias == NO_ALIAS {
            ttl
        } else {
            self.resolved.ttl(set.alias, ttl)
        }
    }

    /// Whether an answer from `set` involves trouble: one of its targets of
    /// `family` is down, or the peer group's views disagree about one.
    /// Such answers get the zone's degraded TTL.
    #[inline]
    pub fn troubled(&self, set: &Set, family: Family) -> bool {
        self.targets(set, family).iter().any(|t| {
            t.probe != NO_PROBE
                && (!self.target_up(set, t) || self.contested.is_set(t.probe as usize))
        })
    }

    /// Whether a set has a healthy target among `targets`.
    #[inline]
    pub fn any_up(&self, set: &Set, targets: &[Target]) -> bool {
        targets.iter().any(|t| self.target_up(set, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_flip_without_touching_others() {
        let bits = ProbeBits::all_up(10_000);
        assert!((0..10_000).all(|i| bits.is_up(i)));
        let down = bits.with(4097, false);
        assert!(!down.is_up(4097));
        assert!(bits.is_up(4097), "the original is unchanged");
        assert!(down.is_up(4096) && down.is_up(4098));
        assert!(
            Arc::ptr_eq(&bits.chunks[0], &down.chunks[0]),
            "untouched chunks are shared"
        );
        assert!(down.with(4097, true).is_up(4097));
        assert!(bits.is_up(20_000), "out of range counts as up");
    }

    #[test]
    fn an_override_copies_one_chunk_whatever_the_set_count() {
        // 300,000 sets: the size at which rebuilding a per-set array on
        // every PUT took 47 ms.
        let sets = 300_000;
        let none = SetOverrides::none(sets);
        let one = none.with(150_001, Override::Down);
        assert_eq!(one.get(150_001), Override::Down);
        assert_eq!(
            none.get(150_001),
            Override::Auto,
            "the original is unchanged"
        );
        let copied = (0..sets)
            .step_by(SETS_PER_CHUNK)
            .filter(|&i| !one.shares_chunk_with(&none, i))
            .count();
        assert_eq!(copied, 1, "exactly one chunk is copied");
        let two = one.with(7, Override::Up).with(150_002, Override::Down);
        assert_eq!(
            (two.get(7), two.get(150_001), two.get(150_002), two.get(8)),
            (Override::Up, Override::Down, Override::Down, Override::Auto)
        );
        assert_eq!(two.with(7, Override::Auto).get(7), Override::Auto);
        assert_eq!(
            two.get(sets + 5_000),
            Override::Auto,
            "out of range is auto"
        );
        assert_eq!(
            none.with(sets + 5_000, Override::Down).get(sets + 5_000),
            Override::Auto,
            "sets that do not exist cannot be overridden"
        );
    }

    #[test]
    fn many_overrides_copy_each_touched_chunk_once() {
        let sets = 300_000;
        let none = SetOverrides::none(sets);
        let every_third: Vec<_> = (0..sets).step_by(3).map(|i| (i, Override::Down)).collect();
        let many = none.with_many(every_third.iter().copied());
        assert!((0..sets).all(|i| many.get(i)
            == if i % 3 == 0 {
                Override::Down
            } else {
                Override::Auto
            }));
        assert_eq!(none.get(0), Override::Auto, "the original is unchanged");
        // Later changes win, as one `with` after another would.
        let later = many.with_many([
            (3, Override::Up),
            (3, Override::Auto),
            (sets + 5_000, Override::Down),
        ]);
        assert_eq!(
            (later.get(3), later.get(6)),
            (Override::Auto, Override::Down)
        );
        let copied = (0..sets)
            .step_by(SETS_PER_CHUNK)
            .filter(|&i| !later.shares_chunk_with(&many, i))
            .count();
        assert_eq!(copied, 1, "only the chunk of set 3");
        assert!(many.with_many([]).shares_chunk_with(&many, 0));
    }

    #[test]
    fn from_fn_sets_exact_bits() {
        let bits = ProbeBits::from_fn(130, |i| i % 3 == 0);
        assert!((0..130).all(|i| bits.is_up(i) == (i % 3 == 0)));
    }
}
