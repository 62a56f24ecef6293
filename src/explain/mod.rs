//! Why a client gets the answer it gets: a trace of the DNS path's own
//! decision for one (name, type, client) against a snapshot, rule by rule,
//! optionally under what-if [`assume`]ptions.
//!
//! # What this module owns
//!
//! - [`Question`] and [`explain`], which builds a [`Trace`]: how the client
//!   was located ([`crate::geo::locate_client`], the DNS path's function),
//!   each set's verdict per rule, the sets each rule left (recorded by an
//!   [`Observer`] on [`select_observed`], the very function the DNS path
//!   runs), the candidates with the probability of each and of each target,
//!   whether the answer fails open, and its TTL.
//! - Sampling: `samples` runs the real [`select`] that many times and
//!   reports the shares observed.
//! - [`render`]: the trace as `gslb explain` prints it.
//!
//! # What it does not
//!
//! It serves no HTTP (that is `admin`), reads no packet and publishes
//! nothing: assumptions live in a private copy of the health.

pub mod assume;
pub mod render;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use rand::{SeedableRng, rngs::SmallRng};
use serde::{Deserialize, Serialize};

use crate::geo::{self, ClientLocated, LocateCache, Location};
use crate::health::prober::StatusBoard;
use crate::model::Fallback;
use crate::name::Name;
use crate::select::{
    self, Choice, Narrowed, NoAnswer, Observer, Rule, Scratch, geo_match, select_observed,
};
use crate::table::liveness::{Liveness, Override};
use crate::table::{Family, Lookup, NO_PROBE, Probe, Record, Set, Snapshot, Zone};
use assume::{AssumedChange, Assumption};

/// Most selections one trace may sample.
pub const MAX_SAMPLES: u32 = 100_000;

/// What to explain.
#[derive(Debug, Clone)]
pub struct Question {
    /// Record name.
    pub name: Name,
    /// A or AAAA.
    pub family: Family,
    /// Who asks; `None` is a client located nowhere.
    pub client: Option<ClientArg>,
    /// What-if changes to the health.
    pub assume: Vec<Assumption>,
    /// Real selections to run and count (at most [`MAX_SAMPLES`]).
    pub samples: u32,
}

/// The client of an explained query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientArg {
    /// A query from this source address without ECS.
    Source(IpAddr),
    /// A query carrying this EDNS Client Subnet (address masked to `prefix`).
    Subnet {
        /// The subnet's address, zero past `prefix`.
        addr: IpAddr,
        /// Source prefix length.
        prefix: u8,
    },
}

impl FromStr for ClientArg {
    type Err = String;

    /// `IP` (a source address) or `IP/PREFIX` (an ECS subnet).
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("client {text:?} is not an IP address or IP/PREFIX subnet"))?;
        let Some(prefix) = prefix else {
            return Ok(Self::Source(addr));
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .trim()
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("client {text:?}: the prefix must be 0 to {max}"))?;
        // With /0 the address is the query's source (ECS 0/0 says: do not
        // use my subnet), so it is kept.
        let addr = if prefix == 0 {
            addr
        } else {
            mask(addr, prefix)
        };
        Ok(Self::Subnet { addr, prefix })
    }
}

impl std::fmt::Display for ClientArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source(addr) => write!(f, "{addr}"),
            Self::Subnet { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

/// `addr` with the bits past `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & keep))
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep))
        }
    }
}

/// Why there is no trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The name is in no zone.
    #[error("{0} is in no zone this gslb serves: DNS answers REFUSED")]
    Refused(String),
    /// The name does not exist in its zone.
    #[error("{0} does not exist: DNS answers NXDOMAIN")]
    NxDomain(String),
    /// The name exists but holds no record with sets.
    #[error("{0} has no record with sets ({1}); explain covers A and AAAA records")]
    NotARecord(String, &'static str),
    /// The what-if list does not apply.
    #[error(transparent)]
    Assume(#[from] assume::AssumeError),
}

/// The whole trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Record name.
    pub name: String,
    /// A or AAAA.
    #[serde(rename = "type")]
    pub qtype: String,
    /// The client as asked (`IP` or `IP/PREFIX`), if any.
    pub client: Option<String>,
    /// Generation of the snapshot explained.
    pub generation: u64,
    /// What-if changes applied in memory for this trace only.
    pub assumed: Vec<AssumedChange>,
    /// How the client was located.
    pub located: Located,
    /// Residency: `any` or `none`.
    pub fallback: String,
    /// Every set of the record with its verdict per rule.
    pub sets: Vec<SetVerdict>,
    /// The sets left after each rule, in the order they apply.
    pub steps: Vec<Step>,
    /// `answer` or `nodata`.
    pub outcome: String,
    /// Why the answer is NODATA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodata: Option<String>,
    /// No set was healthy, so health is ignored (the fail-open rule).
    pub failed_open: bool,
    /// The sets the weight rule picks from, with their chances.
    pub candidates: Vec<Candidate>,
    /// Most addresses per answer.
    pub answers: u16,
    /// TTL of the answer (of the SOA for NODATA).
    pub ttl: u32,
    /// Shares seen over real selections, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Samples>,
}

/// How the client was located.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Located {
    /// `ecs` (by the subnet), `source` (by the query's source address),
    /// `nowhere` (no client given, or no GeoIP database), or `not needed`
    /// (no set has geo or location, so DNS looks nothing up).
    pub by: String,
    /// The address looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// The GeoIP network holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Continent code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
    /// ISO 3166-1 country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO 3166-2 subdivision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision: Option<String>,
    /// Latitude and longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<[f64; 2]>,
    /// Scope prefix in the response's ECS option; absent without ECS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_scope: Option<u8>,
}

/// One set and how each rule sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetVerdict {
    /// Set id.
    pub id: String,
    /// Failover tier.
    pub priority: u32,
    /// Weight.
    pub weight: u32,
    /// Override in force (assumptions included).
    #[serde(rename = "override")]
    pub override_state: Override,
    /// Targets of the queried family (the family rule).
    pub targets: Vec<TargetVerdict>,
    /// Has a target DNS may answer (the health rule).
    pub healthy: bool,
    /// Drained by an override: never answers.
    pub drained: bool,
    /// How its geo matches the client: `subdivision`, `country`,
    /// `continent`, `no match`, or `no geo` (the set has none).
    pub geo: String,
    /// Great-circle distance to the client, when both are located.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// One target of the queried family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetVerdict {
    /// Address.
    pub address: IpAddr,
    /// `up`, `down`, `pending` (no result yet, counts as up) or
    /// `unchecked` (no health check).
    pub probe: String,
    /// Whether DNS may answer it (override and probe combined).
    pub serving: bool,
    /// The peer group's fresh views disagree about it (its answers get
    /// the zone's degraded TTL).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contested: bool,
    /// When the peer group's vote overrode this instance's own probe: what
    /// happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<String>,
}

/// The sets one rule left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `family`, `residency`, `drain`, `health`, `priority` or `geo`.
    pub rule: String,
    /// What the rule did, in words.
    pub detail: String,
    /// Set ids left.
    pub sets: Vec<String>,
}

/// A set the weight rule may pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Set id.
    pub set: String,
    /// Its weight.
    pub weight: u32,
    /// Chance of being picked.
    pub probability: f64,
    /// Each target's chance of being in the answer when the set is picked
    /// (rotation and the `answers` limit considered).
    pub targets: Vec<TargetShare>,
    /// The TTL of its answers.
    pub ttl: u32,
    /// Whether that is the zone's degraded TTL: a target of the set is
    /// down or contested, or the record fails open.
    #[serde(default)]
    pub degraded: bool,
}

/// A target's chance of being in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetShare {
    /// Address.
    pub address: IpAddr,
    /// Chance, given its set is picked.
    pub probability: f64,
}

/// What real selections picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// Selections run.
    pub count: u32,
    /// Share of each set picked, in record order; sets never picked are
    /// left out.
    pub sets: Vec<SampleShare>,
}

/// One set's observed share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleShare {
    /// Set id.
    pub set: String,
    /// Fraction of the selections.
    pub share: f64,
}

/// Explains `q` against `snap`; `board` adds "pending" to probe states.
pub fn explain(
    snap: &Snapshot,
    board: Option<&StatusBoard>,
    q: &Question,
) -> Result<Trace, ExplainError> {
    let table = &snap.table;
    let record = find_record(snap, &q.name)?;
    let (health, assumed) = assume::apply(table, &snap.health, &q.assume)?;
    let located = locate(snap, record, q.client);
    let client = located.location;
    let (result, recorder) = observe(record, q.family, &health, client);
    let zone = &table.zones[usize::from(record.zone)];
    let (outcome, nodata, ttl) = outcome(result, q.family, record, zone);
    let candidates = match result {
        Ok(_) => candidates(record, zone.degraded_ttl, q.family, &health, &recorder),
        Err(_) => Vec::new(),
    };
    let samples = (q.samples > 0 && result.is_ok()).then(|| {
        sample(
            record,
            q.family,
            &health,
            &client,
            q.samples.min(MAX_SAMPLES),
        )
    });
    Ok(Trace {
        name: record.name.to_string(),
        qtype: qtype(q.family).to_owned(),
        client: q.client.map(|c| c.to_string()),
        generation: snap.generation,
        assumed,
        located: describe_location(record, q.client, &located),
        fallback: fallback_name(record.fallback).to_owned(),
        sets: record
            .sets
            .iter()
            .map(|s| verdict(snap, board, &health, s, q.family, &client))
            .collect(),
        steps: recorder.steps,
        outcome: outcome.to_owned(),
        nodata,
        failed_open: result.is_ok() && recorder.failed_open,
        candidates,
        answers: record.answers,
        ttl,
        samples,
    })
}

/// Locates the client as the DNS path does: by the ECS subnet when one
/// with a prefix is given, else by the source address.
fn locate(snap: &Snapshot, record: &Record, client: Option<ClientArg>) -> ClientLocated {
    let subnet = match client {
        Some(ClientArg::Subnet { addr, prefix }) if prefix > 0 => Some(addr),
        _ => None,
    };
    let source = match client {
        Some(ClientArg::Source(addr) | ClientArg::Subnet { addr, .. }) => Some(addr),
        None => None,
    };
    let geo_db = snap.geo.as_deref().filter(|_| source.is_some());
    let mut cache = LocateCache::default();
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    geo::locate_client(
        geo_db,
        record.geo_sensitive,
        subnet,
        source.unwrap_or(unspecified),
        &mut cache,
    )
}

/// Runs the DNS path's own selection once, recording the sets each rule
/// left: the trace shows that decision, not a re-implementation of it.
fn observe<'r>(
    record: &'r Record,
    family: Family,
    health: &Liveness,
    client: Location,
) -> (Result<(), NoAnswer>, Recorder<'r>) {
    let mut recorder = Recorder {
        sets: &record.sets,
        steps: Vec::new(),
        left: Vec::new(),
        failed_open: false,
        client,
    };
    let mut rng = SmallRng::seed_from_u64(rand::random());
    let mut scratch = Scratch::default();
    let result = select_observed(
        record,
        family,
        health,
        &client,
        &mut rng,
        &mut scratch,
        &mut recorder,
    );
    (result.map(|_| ()), recorder)
}

/// The outcome's name, why it is NODATA, and its TTL: the record's for an
/// answer, the zone's negative TTL for NODATA.
fn outcome(
    result: Result<(), NoAnswer>,
    family: Family,
    record: &Record,
    zone: &Zone,
) -> (&'static str, Option<String>, u32) {
    match result {
        Ok(()) => ("answer", None, record.ttl),
        Err(NoAnswer::NoTargets) => (
            "nodata",
            Some(format!("no set has {} targets", qtype(family))),
            zone.negative_ttl,
        ),
        Err(NoAnswer::Drained) => (
            "nodata",
            Some("every set that could answer is drained".to_owned()),
            zone.negative_ttl,
        ),
    }
}

/// Residency as the trace names it.
fn fallback_name(fallback: Fallback) -> &'static str {
    match fallback {
        Fallback::Any => "any",
        Fallback::None => "none",
    }
}

fn qtype(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
    }
}

/// The record at `name`, or what DNS says instead.
fn find_record<'s>(snap: &'s Snapshot, name: &Name) -> Result<&'s Record, ExplainError> {
    let table = &snap.table;
    match table.lookup(name.wire()) {
        Lookup::Refused => Err(ExplainError::Refused(name.to_string())),
        Lookup::NxDomain(_) => Err(ExplainError::NxDomain(name.to_string())),
        Lookup::Referral { .. } => Err(ExplainError::NotARecord(
            name.to_string(),
            "it is below a delegation: DNS answers with a referral",
        )),
        Lookup::Found(entry) => match entry.record {
            Some(i) => table
                .records
                .get(i as usize)
                .ok_or(ExplainError::NotARecord(name.to_string(), "no such record")),
            None if entry.apex => Err(ExplainError::NotARecord(
                name.to_string(),
                "it is a zone apex: SOA and NS",
            )),
            None if entry.glue.is_some() => Err(ExplainError::NotARecord(
                name.to_string(),
                "it is a name server's glue",
            )),
            None => Err(ExplainError::NotARecord(
                name.to_string(),
                "it is an empty non-terminal: NODATA",
            )),
        },
    }
}

/// Records the sets each rule leaves.
struct Recorder<'r> {
    sets: &'r [Set],
    steps: Vec<Step>,
    /// The sets left by the last rule.
    left: Vec<u32>,
    failed_open: bool,
    client: Location,
}

impl Observer for Recorder<'_> {
    fn rule(&mut self, rule: Rule, sets: &[u32]) {
        let (name, detail) = match rule {
            Rule::Family => ("family", "sets with targets of the queried type".to_owned()),
            Rule::Residency { level: 0 } => (
                "residency",
                "fallback none, but no set's geo matches the client: ordinary rules".to_owned(),
            ),
            Rule::Residency { level } => (
                "residency",
                format!(
                    "fallback none: the client matches by {}, so only these sets may answer, even when down",
                    level_name(level)
                ),
            ),
            Rule::Drain => ("drain", "drained sets never answer".to_owned()),
            Rule::Health { failed_open } => {
                self.failed_open = failed_open;
                let detail = if failed_open {
                    "no set is healthy: fail open, health ignored"
                } else {
                    "sets with a healthy target"
                };
                ("health", detail.to_owned())
            }
            Rule::Priority { tier } => ("priority", format!("lowest priority left: {tier}")),
            Rule::Location(by) => ("geo", self.narrowed(by)),
        };
        self.steps.push(Step {
            rule: name.to_owned(),
            detail,
            sets: sets
                .iter()
                .map(|&i| self.sets[i as usize].id.to_string())
                .collect(),
        });
        self.left.clear();
        self.left.extend_from_slice(sets);
    }
}

impl Recorder<'_> {
    fn narrowed(&self, by: Narrowed) -> String {
        match by {
            Narrowed::GeoMatch { level } => {
                let place = match level {
                    3 => self.client.subdivision.map(|s| s.to_string()),
                    2 => self.client.country.map(|c| c.to_string()),
                    _ => self.client.continent.map(|c| c.to_string()),
                };
                format!(
                    "best geo match: {} {}",
                    level_name(level),
                    place.unwrap_or_default()
                )
            }
            Narrowed::Nearest { km } => {
                format!("no geo matches: nearest located set, {km:.0} km away")
            }
            Narrowed::NoGeo => {
                "no geo matches and no distance is known: sets without geo".to_owned()
            }
            Narrowed::All => {
                "no geo matches, no distance is known, every set has geo: all stay".to_owned()
            }
        }
    }
}

fn level_name(level: u8) -> &'static str {
    match level {
        3 => "subdivision",
        2 => "country",
        1 => "continent",
        _ => "no match",
    }
}

/// The candidates left after the geo rule, with the weight rule's chances.
fn candidates(
    record: &Record,
    degraded_ttl: u32,
    family: Family,
    health: &Liveness,
    rec: &Recorder<'_>,
) -> Vec<Candidate> {
    let shares = select::weight_shares(&record.sets, &rec.left);
    rec.left
        .iter()
        .zip(shares)
        .map(|(&i, probability)| {
            let set = &record.sets[i as usize];
            // As the DNS path picks the TTL (dns::answer).
            let ttl = health.answer_ttl(set, record.ttl);
            let degraded = rec.failed_open || health.troubled(set, family);
            Candidate {
                set: set.id.to_string(),
                weight: set.weight,
                probability,
                targets: target_shares(set, family, health, rec.failed_open, record.answers),
                ttl: if degraded { ttl.min(degraded_ttl) } else { ttl },
                degraded,
            }
        })
        .collect()
}

/// Each target's chance of being answered when `set` is picked: the
/// rotation is uniform over the family's targets, and [`Choice::targets`]
/// (the DNS path's) filters and cuts for each.
fn target_shares(
    set: &Set,
    family: Family,
    health: &Liveness,
    failed_open: bool,
    answers: u16,
) -> Vec<TargetShare> {
    let targets = health.targets(set, family);
    let n = targets.len().max(1);
    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for rotation in 0..n {
        let choice = Choice {
            set,
            failed_open,
            rotation,
        };
        for t in choice.targets(family, health, answers) {
            *counts.entry(t.addr).or_default() += 1;
        }
    }
    targets
        .iter()
        .map(|t| TargetShare {
            address: t.addr,
            probability: counts.get(&t.addr).copied().unwrap_or(0) as f64 / n as f64,
        })
        .collect()
}

/// Runs the real selection `count` times; shares by set.
fn sample(
    record: &Record,
    family: Family,
    health: &Liveness,
    client: &Location,
    count: u32,
) -> Samples {
    let mut rng = SmallRng::seed_from_u64(rand::random());
    let mut scratch = Scratch::default();
    let mut picked = vec![0u32; record.sets.len()];
    let first = record.sets.first().map_or(0, |s| s.index);
    for _ in 0..count {
        if let Ok(choice) = select::select(record, family, health, client, &mut rng, &mut scratch) {
            // Sets of a record have consecutive indexes.
            if let Some(n) = picked.get_mut((choice.set.index - first) as usize) {
                *n += 1;
            }
        }
    }
    Samples {
        count,
        sets: record
            .sets
            .iter()
            .zip(picked)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| SampleShare {
                set: s.id.to_string(),
                share: f64::from(n) / f64::from(count),
            })
            .collect(),
    }
}

fn describe_location(
    record: &Record,
    client: Option<ClientArg>,
    located: &ClientLocated,
) -> Located {
    let ecs = matches!(client, Some(ClientArg::Subnet { .. }));
    let by = match (client, located.looked_up) {
        (None, _) => "nowhere",
        (Some(_), _) if !record.geo_sensitive => "not needed",
        (Some(_), None) => "nowhere",
        (Some(ClientArg::Subnet { prefix, .. }), Some(_)) if prefix > 0 => "ecs",
        (Some(_), Some(_)) => "source",
    };
    let l = located.location;
    Located {
        by: by.to_owned(),
        address: located.looked_up,
        network: located.looked_up.map(|a| {
            format!(
                "{}/{}",
                mask(a.to_canonical(), located.network_prefix),
                located.network_prefix
            )
        }),
        continent: l.continent.map(|c| c.to_string()),
        country: l.country.map(|c| c.to_string()),
        subdivision: l.subdivision.map(|s| s.to_string()),
        coordinates: l.coordinates.map(|c| [c.lat, c.lon]),
        ecs_scope: ecs.then_some(located.scope),
    }
}

fn verdict(
    snap: &Snapshot,
    board: Option<&StatusBoard>,
    health: &Liveness,
    set: &Set,
    family: Family,
    client: &Location,
) -> SetVerdict {
    let targets = health.targets(set, family);
    let geo = if set.geo.is_empty() {
        "no geo"
    } else {
        level_name(geo_match(&set.geo, client))
    };
    SetVerdict {
        id: set.id.to_string(),
        priority: set.priority,
        weight: set.weight,
        override_state: health.override_of(set),
        targets: targets
            .iter()
            .map(|t| TargetVerdict {
                address: t.addr,
                probe: probe_state(snap, board, health, set, t.probe, t.addr).to_owned(),
                serving: health.target_up(set, t),
                contested: t.probe != NO_PROBE && snap.health.contested.is_set(t.probe as usize),
                quorum: quorum_note(snap, board, set, t),
            })
            .collect(),
        healthy: health.any_up(set, targets),
        drained: health.drained(set),
        geo: geo.to_owned(),
        distance_km: client
            .coordinates
            .zip(set.location)
            .map(|(c, l)| (l.distance_km(&c) * 10.0).round() / 10.0),
    }
}

/// What the peer group's vote did to a target whose state differs from
/// this instance's own probe result.
fn quorum_note(
    snap: &Snapshot,
    board: Option<&StatusBoard>,
    set: &Set,
    target: &crate::table::Target,
) -> Option<String> {
    if target.probe == NO_PROBE {
        return None;
    }
    let check = set.health_check.as_ref()?;
    let probe = Probe {
        check: check.clone(),
        addr: target.addr,
    };
    let own = board?.get(&probe)?.up?;
    let vote = snap.health.probes.is_up(target.probe as usize);
    let word = |up: bool| if up { "up" } else { "down" };
    (own != vote).then(|| {
        format!(
            "this instance's probe says {}, the peer group's vote says {}: the vote decides",
            word(own),
            word(vote)
        )
    })
}

/// The probe's state in `health` (assumptions included); `pending` when
/// the prober has no result yet (such a target counts as up).
fn probe_state(
    snap: &Snapshot,
    board: Option<&StatusBoard>,
    health: &Liveness,
    set: &Set,
    probe: u32,
    addr: IpAddr,
) -> &'static str {
    if probe == NO_PROBE {
        return "unchecked";
    }
    let up = health.probes.is_up(probe as usize);
    let assumed = up != snap.health.probes.is_up(probe as usize);
    let pending = !assumed
        && board
            .zip(set.health_check.as_ref())
            .is_some_and(|(board, check)| {
                board
                    .get(&Probe {
                        check: check.clone(),
                        addr,
                    })
                    .is_none_or(|d| d.up.is_none())
            });
    match (pending, up) {
        (true, _) => "pending",
        (false, true) => "up",
        (false, false) => "down",
    }
}
