//! Target health. [`Health`] is what the DNS path sees: one bit per probe
//! (up or down) and an operator override per set, held inside each
//! snapshot. [`prober`] runs the probes ([`probe`]) and turns their results
//! into flips through pure rise/fall counting ([`hysteresis`]), within a
//! bounded number of probes in flight ([`slots`]).
//!
//! The bits live in fixed-size chunks behind `Arc`s, so publishing a flip
//! copies one 512-byte chunk and the chunk pointers, whatever the table size.

pub mod hysteresis;
pub mod probe;
pub mod prober;
pub mod slots;

use std::sync::Arc;

use crate::table::{NO_PROBE, Set, Target};

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

/// Copy-on-write bitset of probe states, bit set = up.
#[derive(Debug, Clone, Default)]
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

    /// Number of probes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no probes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Health as of one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Probe states, indexed by `Target::probe`.
    pub probes: ProbeBits,
    /// Overrides indexed by `Set::index`; missing entries are `Auto`.
    pub overrides: Arc<[Override]>,
}

impl Health {
    /// Rule 2 of the design: a target is healthy if its set is forced up,
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
        self.overrides
            .get(set.index as usize)
            .copied()
            .unwrap_or_default()
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
    fn from_fn_sets_exact_bits() {
        let bits = ProbeBits::from_fn(130, |i| i % 3 == 0);
        assert!((0..130).all(|i| bits.is_up(i) == (i % 3 == 0)));
    }
}
