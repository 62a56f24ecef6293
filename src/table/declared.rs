//! The overrides the record files declare (`overrides:`, which crd-sync
//! writes from GslbOverride objects), as the table writer keeps them
//! between reloads.
//!
//! They come and go with the config: a reload replaces them all. For a set
//! that has one, it is the override in force, whatever the admin API or
//! the peer group say; those stay in the [book](super::overrides) and apply
//! again once the declared one is gone. They never enter the peer
//! document: every instance reads its own crd-sync's file, and crd-sync
//! merges every cluster's objects the same way, so instances agree without
//! exchanging them. One whose record or set the config lacks is inactive
//! until the set is there, like a saved or a peer's override; unlike an
//! admin override, a reload that removes the set does not clear it: the
//! object still exists, and the file is what says it does.

use std::collections::BTreeMap;

use super::Table;
use super::liveness::{Override, SetOverrides};
use super::overrides::{ListedOverride, OverrideSource, set_index};
use crate::metrics::overrides::Forced;
use crate::model::{FileOverride, OverrideState};
use crate::name::Name;

impl From<OverrideState> for Override {
    fn from(state: OverrideState) -> Self {
        match state {
            OverrideState::Up => Self::Up,
            OverrideState::Down => Self::Down,
        }
    }
}

/// The declared overrides by (record, set id).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Declared {
    by_set: BTreeMap<(Name, String), FileOverride>,
}

/// How the declared overrides changed from one config to the next.
#[derive(Debug, Default)]
pub struct Changes<'a> {
    /// New, or changed (state, reason or object).
    pub set: Vec<&'a FileOverride>,
    /// Gone.
    pub cleared: Vec<&'a FileOverride>,
}

impl Declared {
    /// The overrides of a config (validation allows one per set).
    pub fn new(list: &[FileOverride]) -> Self {
        Self {
            by_set: list
                .iter()
                .map(|o| ((o.record.clone(), o.set.clone()), o.clone()))
                .collect(),
        }
    }

    /// The declared override of `record`'s set `set`, if any.
    pub fn get(&self, record: &Name, set: &str) -> Option<&FileOverride> {
        self.by_set.get(&(record.clone(), set.to_owned()))
    }

    /// `overrides` (the book's) with every active declared one in its
    /// set's place.
    pub fn apply(&self, table: &Table, mut overrides: SetOverrides) -> SetOverrides {
        for ((record, set), declared) in &self.by_set {
            if let Ok(index) = set_index(table, record, set) {
                overrides = overrides.with(index, declared.state.into());
            }
        }
        overrides
    }

    /// The declared overrides whose record or set `table` lacks.
    pub fn inactive(&self, table: &Table) -> Vec<&FileOverride> {
        self.by_set
            .iter()
            .filter(|((record, set), _)| set_index(table, record, set).is_err())
            .map(|(_, o)| o)
            .collect()
    }

    /// What `next` sets or clears that `self` did not.
    pub fn changes<'a>(&'a self, next: &'a Self) -> Changes<'a> {
        let set = next
            .by_set
            .iter()
            .filter(|(key, o)| self.by_set.get(key) != Some(o))
            .map(|(_, o)| o)
            .collect();
        let cleared = self
            .by_set
            .iter()
            .filter(|(key, _)| !next.by_set.contains_key(key))
            .map(|(_, o)| o)
            .collect();
        Changes { set, cleared }
    }

    /// How many drain and how many force up.
    pub fn counts(&self) -> Forced {
        let down = self
            .by_set
            .values()
            .filter(|o| o.state == OverrideState::Down)
            .count() as u64;
        Forced {
            down,
            up: self.by_set.len() as u64 - down,
        }
    }

    /// Every declared override as `GET /overrides` lists it.
    pub fn listed(&self) -> impl Iterator<Item = ListedOverride> + '_ {
        self.by_set.values().map(|o| ListedOverride {
            record: o.record.to_string(),
            set: o.set.clone(),
            state: o.state.into(),
            source: OverrideSource::Kubernetes,
            reason: o.reason.clone(),
            client: None,
            at: o.at.clone(),
            version: None,
            object: o.object.clone(),
        })
    }
}
