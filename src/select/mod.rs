//! Answer selection: the design's seven rules and the drain rule as one pure
//! function of (record, family, health, client location, RNG). No I/O, no
//! clock, no logging, no allocation once the caller's [`Scratch`] has grown:
//! the DNS path calls it per query and benches and tests call it alone.

use rand::{Rng, RngExt};

use crate::geo::Location;
use crate::health::Health;
use crate::model::{Fallback, GeoScope};
use crate::table::{Family, Record, Set, Target};

#[cfg(test)]
mod tests;

/// Reusable memory for [`select`], one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Indexes of the sets still in the running.
    candidates: Vec<u32>,
}

/// The set chosen for one answer.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'t> {
    /// The chosen set.
    pub set: &'t Set,
    /// No set was healthy, so health was ignored (rule 6).
    pub failed_open: bool,
    /// Where the per-query rotation of the set's targets starts.
    pub rotation: usize,
}

impl<'t> Choice<'t> {
    /// The addresses to answer: the set's healthy targets of `family` (all
    /// of them when failing open), rotated, at most `limit`.
    pub fn targets<'a>(
        &'a self,
        family: Family,
        health: &'a Health,
        limit: u16,
    ) -> impl Iterator<Item = &'a Target> + 'a
    where
        't: 'a,
    {
        let targets: &'a [Target] = health.targets(self.set, family);
        let n = targets.len();
        (0..n)
            .map(move |i| &targets[(self.rotation + i) % n])
            .filter(move |t| self.failed_open || health.target_up(self.set, t))
            .take(usize::from(limit))
    }
}

/// Why no set answers; either way the answer is NODATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// No set has targets of the queried family (rule 1).
    NoTargets,
    /// Every set that could answer is drained by an operator (drain rule).
    Drained,
}

/// Picks the set that answers a query of `family` for `record`.
///
/// The drain rule: a set an operator drained (override `down`) never
/// answers, not even when failing open. It is removed after rules 1 and 7
/// and before health is looked at, so rule 6 fails open among the sets
/// that are not drained, and when every remaining set is drained the answer
/// is NODATA ([`NoAnswer::Drained`]). With residency, a client whose own
/// region's sets are all drained gets NODATA rather than an answer from
/// another region.
pub fn select<'t, R: Rng + ?Sized>(
    record: &'t Record,
    family: Family,
    health: &Health,
    client: &Location,
    rng: &mut R,
    scratch: &mut Scratch,
) -> Result<Choice<'t>, NoAnswer> {
    let sets = &record.sets;
    let cands = &mut scratch.candidates;
    cands.clear();
    // Rule 1: only sets with targets of the queried family.
    cands.extend(
        sets.iter()
            .enumerate()
            .filter(|(_, s)| !health.targets(s, family).is_empty())
            .map(|(i, _)| i as u32),
    );
    if cands.is_empty() {
        return Err(NoAnswer::NoTargets);
    }
    let set = |i: &u32| &sets[*i as usize];
    // Rule 7: residency narrows by geo before health and priority.
    if record.fallback == Fallback::None {
        keep_best_geo_match(sets, cands, client);
    }
    // The drain rule.
    cands.retain(|i| !health.drained(set(i)));
    if cands.is_empty() {
        return Err(NoAnswer::Drained);
    }
    // Rule 2, and rule 6 when nothing is healthy.
    let healthy = |i: &u32| health.any_up(set(i), health.targets(set(i), family));
    let failed_open = !cands.iter().any(healthy);
    if !failed_open {
        cands.retain(healthy);
    }
    // Rule 3: the lowest priority value among what is left.
    let top = cands.iter().map(|i| set(i).priority).min().unwrap_or(0);
    cands.retain(|i| set(i).priority == top);
    // Rule 4.
    narrow_by_location(sets, cands, client);
    // Rule 5.
    let chosen = set(&pick_weighted(sets, cands, rng));
    let rotation = rng.random_range(0..health.targets(chosen, family).len().max(1));
    Ok(Choice {
        set: chosen,
        failed_open,
        rotation,
    })
}

/// How specifically a set's geo matches a client: 3 subdivision, 2 country,
/// 1 continent, 0 not at all.
pub fn geo_match(scope: &GeoScope, client: &Location) -> u8 {
    if client
        .subdivision
        .is_some_and(|s| scope.subdivisions.contains(&s))
    {
        3
    } else if client.country.is_some_and(|c| scope.countries.contains(&c)) {
        2
    } else if client
        .continent
        .is_some_and(|c| scope.continents.contains(&c))
    {
        1
    } else {
        0
    }
}

/// Keeps the sets that match the client most specifically, if any match.
/// Returns whether some set matched.
fn keep_best_geo_match(sets: &[Set], cands: &mut Vec<u32>, client: &Location) -> bool {
    let level = |i: &u32| geo_match(&sets[*i as usize].geo, client);
    let best = cands.iter().map(level).max().unwrap_or(0);
    if best > 0 {
        cands.retain(|i| level(i) == best);
    }
    best > 0
}

/// Rule 4: best geo match; else the nearest located set; else the sets with
/// no geo; else all.
fn narrow_by_location(sets: &[Set], cands: &mut Vec<u32>, client: &Location) {
    if keep_best_geo_match(sets, cands, client) {
        return;
    }
    if let Some(here) = client.coordinates {
        let distance = |i: &u32| sets[*i as usize].location.map(|l| l.distance_km(&here));
        if let Some(nearest) = cands.iter().filter_map(distance).min_by(f64::total_cmp) {
            cands.retain(|i| distance(i).is_some_and(|d| d <= nearest));
            return;
        }
    }
    if cands.iter().any(|i| sets[*i as usize].geo.is_empty()) {
        cands.retain(|i| sets[*i as usize].geo.is_empty());
    }
}

/// Rule 5: a set at random in proportion to weight; weight-0 sets only
/// when every remaining set has weight 0. `cands` is never empty here.
fn pick_weighted<R: Rng + ?Sized>(sets: &[Set], cands: &[u32], rng: &mut R) -> u32 {
    let total: u64 = cands
        .iter()
        .map(|i| u64::from(sets[*i as usize].weight))
        .sum();
    if total == 0 {
        return cands[rng.random_range(0..cands.len())];
    }
    let mut ticket = rng.random_range(0..total);
    for &i in cands {
        let weight = u64::from(sets[i as usize].weight);
        if ticket < weight {
            return i;
        }
        ticket -= weight;
    }
    cands[cands.len() - 1]
}
