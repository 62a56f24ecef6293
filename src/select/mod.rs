//! Answer selection: the design's seven rules and the drain rule as one pure
//! function of (record, family, health, client location, RNG). No I/O, no
//! clock, no logging, no allocation once the caller's [`Scratch`] has grown:
//! the DNS path calls it per query and benches and tests call it alone.

use rand::{Rng, RngExt};

use crate::geo::Location;
use crate::model::{Fallback, GeoScope};
use crate::table::liveness::Liveness;
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
    /// No set was healthy, so health was ignored (the fail-open rule).
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
        health: &'a Liveness,
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
    /// No set has targets of the queried family (the family rule).
    NoTargets,
    /// Every set that could answer is drained by an operator (drain rule).
    Drained,
}

/// A rule of [`select`], as reported to an [`Observer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// The family rule: sets with targets of the queried family.
    Family,
    /// The residency rule (`fallback: none`): the sets whose geo matches the client at
    /// `level` ([`geo_match`]); 0 means none matched and all stay.
    Residency {
        /// How specifically the kept sets match.
        level: u8,
    },
    /// The drain rule: sets an operator drained are gone.
    Drain,
    /// The health rule, or the fail-open rule when `failed_open`.
    Health {
        /// No set was healthy, so all stayed.
        failed_open: bool,
    },
    /// The priority rule: the sets of the lowest priority value.
    Priority {
        /// That value.
        tier: u32,
    },
    /// The geo rule.
    Location(Narrowed),
}

/// How the geo rule narrowed the sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Narrowed {
    /// Kept the sets whose geo matches at `level` ([`geo_match`]).
    GeoMatch {
        /// 3 subdivision, 2 country, 1 continent.
        level: u8,
    },
    /// No geo matched: kept the located set(s) nearest to the client.
    Nearest {
        /// Their distance from the client.
        km: f64,
    },
    /// No geo matched and no distance was known: kept the sets without geo.
    NoGeo,
    /// Nothing to narrow by: kept them all.
    All,
}

/// Watches [`select_observed`] apply its rules. The methods default to
/// doing nothing, so an observer implements only what it records.
pub trait Observer {
    /// `rule` left `sets` (indexes into the record's sets, in order).
    #[inline(always)]
    fn rule(&mut self, rule: Rule, sets: &[u32]) {
        let _ = (rule, sets);
    }
}

/// The observer of the DNS path: records nothing, costs nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl Observer for Unobserved {}

/// Picks the set that answers a query of `family` for `record`.
///
/// The drain rule: a set an operator drained (override `down`) never
/// answers, not even when failing open. It is removed after rules 1 and 7
/// and before health is looked at, so the fail-open rule fails open among the sets
/// that are not drained, and when every remaining set is drained the answer
/// is NODATA ([`NoAnswer::Drained`]). With residency, a client whose own
/// region's sets are all drained gets NODATA rather than an answer from
/// another region.
#[inline]
pub fn select<'t, R: Rng + ?Sized>(
    record: &'t Record,
    family: Family,
    health: &Liveness,
    client: &Location,
    rng: &mut R,
    scratch: &mut Scratch,
) -> Result<Choice<'t>, NoAnswer> {
    select_observed(
        record,
        family,
        health,
        client,
        rng,
        scratch,
        &mut Unobserved,
    )
}

/// [`select`], reporting the sets left after each rule to `observer`. The
/// DNS path runs this very function through [`select`] with
/// [`Unobserved`], whose empty methods compile away; `/explain` runs it
/// with an observer that records a trace, so a trace shows the decision
/// the hot path makes, not a re-implementation of it.
pub fn select_observed<'t, R: Rng + ?Sized, O: Observer>(
    record: &'t Record,
    family: Family,
    health: &Liveness,
    client: &Location,
    rng: &mut R,
    scratch: &mut Scratch,
    observer: &mut O,
) -> Result<Choice<'t>, NoAnswer> {
    let sets = &record.sets;
    let cands = &mut scratch.candidates;
    cands.clear();
    // The family rule: only sets with targets of the queried family.
    cands.extend(
        sets.iter()
            .enumerate()
            .filter(|(_, s)| !health.targets(s, family).is_empty())
            .map(|(i, _)| i as u32),
    );
    observer.rule(Rule::Family, cands);
    if cands.is_empty() {
        return Err(NoAnswer::NoTargets);
    }
    let set = |i: &u32| &sets[*i as usize];
    // The residency rule: residency narrows by geo before health and priority.
    if record.fallback == Fallback::None {
        let level = keep_best_geo_match(sets, cands, client);
        observer.rule(Rule::Residency { level }, cands);
    }
    // The drain rule.
    cands.retain(|i| !health.drained(set(i)));
    observer.rule(Rule::Drain, cands);
    if cands.is_empty() {
        return Err(NoAnswer::Drained);
    }
    // The health rule, and the fail-open rule when nothing is healthy.
    let healthy = |i: &u32| health.any_up(set(i), health.targets(set(i), family));
    let failed_open = !cands.iter().any(healthy);
    if !failed_open {
        cands.retain(healthy);
    }
    observer.rule(Rule::Health { failed_open }, cands);
    // The priority rule: the lowest priority value among what is left.
    let top = cands.iter().map(|i| set(i).priority).min().unwrap_or(0);
    cands.retain(|i| set(i).priority == top);
    observer.rule(Rule::Priority { tier: top }, cands);
    // The geo rule.
    let by = narrow_by_location(sets, cands, client);
    observer.rule(Rule::Location(by), cands);
    // The weight rule.
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
/// Returns the level matched ([`geo_match`]), 0 when none did.
fn keep_best_geo_match(sets: &[Set], cands: &mut Vec<u32>, client: &Location) -> u8 {
    let level = |i: &u32| geo_match(&sets[*i as usize].geo, client);
    let best = cands.iter().map(level).max().unwrap_or(0);
    if best > 0 {
        cands.retain(|i| level(i) == best);
    }
    best
}

/// The geo rule: best geo match; else the nearest located set; else the sets with
/// no geo; else all. Returns which of these applied.
fn narrow_by_location(sets: &[Set], cands: &mut Vec<u32>, client: &Location) -> Narrowed {
    let level = keep_best_geo_match(sets, cands, client);
    if level > 0 {
        return Narrowed::GeoMatch { level };
    }
    if let Some(here) = client.coordinates {
        let distance = |i: &u32| sets[*i as usize].location.map(|l| l.distance_km(&here));
        if let Some(nearest) = cands.iter().filter_map(distance).min_by(f64::total_cmp) {
            cands.retain(|i| distance(i).is_some_and(|d| d <= nearest));
            return Narrowed::Nearest { km: nearest };
        }
    }
    if cands.iter().any(|i| sets[*i as usize].geo.is_empty()) {
        cands.retain(|i| sets[*i as usize].geo.is_empty());
        return Narrowed::NoGeo;
    }
    Narrowed::All
}

/// Probability that the weight rule picks each of `cands` (indexes into `sets`), in
/// the order given: weight over the total, or equal shares when every
/// weight is 0, exactly as `pick_weighted` draws.
pub fn weight_shares<'a>(sets: &'a [Set], cands: &'a [u32]) -> impl Iterator<Item = f64> + 'a {
    let total: u64 = cands
        .iter()
        .map(|i| u64::from(sets[*i as usize].weight))
        .sum();
    cands.iter().map(move |i| {
        if total == 0 {
            1.0 / cands.len() as f64
        } else {
            sets[*i as usize].weight as f64 / total as f64
        }
    })
}

/// The weight rule: a set at random in proportion to weight; weight-0 sets only
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
