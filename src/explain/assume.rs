//! What-if assumptions for `/explain`: `assume=eu-west:down,...` changes
//! overrides and probe states in a private copy of the snapshot's health,
//! which the trace is computed against and then dropped. Nothing is sent
//! to the table writer, so DNS answers never see an assumption.
//!
//! # Syntax
//!
//! A comma-separated list of `SUBJECT:STATE` items (at most
//! [`MAX_ASSUMPTIONS`]); the state is after the last colon:
//!
//! * `ADDRESS:down` / `ADDRESS:up`: every probe of that target address
//!   fails (passes), in every set and record that has it, as if the probes
//!   said so. A set whose targets are all down fails open like a set that
//!   is really down. An address with no health check cannot be assumed
//!   down (probes never touch it): drain its set instead.
//! * `RECORD/SET:down|up|auto`: the override of one record's set, exactly
//!   as `PUT /overrides/RECORD/SET` would set it: `down` drains (the set
//!   never answers, not even failing open), `up` forces it healthy, `auto`
//!   clears an override in force.
//! * `SET:down|up|auto`: the same for every set with that id, in every
//!   record. Set ids name clusters, so `eu-west:down` asks what happens
//!   when the eu-west cluster drains for all the names it serves.
//!
//! An address is read first; then `RECORD/SET` when the text before the
//! first `/` names a record (set ids may hold `/`, as crd-sync's
//! `namespace/name` do); else the whole subject is a set id.
//!
//! # Cost
//!
//! A set id may name a set in every record, so one item can touch every
//! set of the table. The work stays proportional to the table once per
//! item: items for the same subject collapse to the last one (the user's
//! final word), at most [`MAX_ASSUMPTIONS`] are taken, each item's changes
//! are applied to the copy-on-write health in one pass
//! ([`SetOverrides::with_many`](crate::table::liveness::SetOverrides::with_many)),
//! and the trace lists the first [`MAX_LISTED_SETS`] sets an item changed
//! with their count, not all of them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::table::Table;
use crate::table::liveness::{Liveness, Override};

/// Most items in one `assume` list.
pub const MAX_ASSUMPTIONS: usize = 32;

/// Most sets an [`AssumedChange`] names; `set_count` has them all.
pub const MAX_LISTED_SETS: usize = 10;

/// One `SUBJECT:STATE` item, checked for syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    /// The item as written, for the trace.
    pub text: String,
    subject: String,
    state: Override,
}

/// What an assumption changed, for the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssumedChange {
    /// The item as written.
    pub assumption: String,
    /// The first [`MAX_LISTED_SETS`] sets whose override it set, as
    /// `RECORD/SET`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<String>,
    /// How many sets it set the override of (`sets` lists the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub set_count: usize,
    /// Probes whose state changed (target assumptions).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub probes: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A list that cannot be applied, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("assume: {0}")]
pub struct AssumeError(String);

/// Parses `a:down,b/c:up`; an empty list is no assumption. Of several
/// items for one subject only the last is kept, where it stands: applying
/// the earlier ones would only be undone by it.
pub fn parse(text: &str) -> Result<Vec<Assumption>, AssumeError> {
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect();
    if items.len() > MAX_ASSUMPTIONS {
        return Err(AssumeError(format!(
            "{} items; at most {MAX_ASSUMPTIONS} are allowed",
            items.len()
        )));
    }
    let parsed = items
        .into_iter()
        .map(parse_item)
        .collect::<Result<Vec<_>, _>>()?;
    let last_of = |key: &str| parsed.iter().rposition(|a| a.key() == key);
    Ok(parsed
        .iter()
        .enumerate()
        .filter(|(i, a)| last_of(&a.key()) == Some(*i))
        .map(|(_, a)| a.clone())
        .collect())
}

impl Assumption {
    /// What the item is about: an address in canonical form, else the
    /// subject as written.
    fn key(&self) -> String {
        match self.subject.parse::<IpAddr>() {
            Ok(addr) => addr.to_canonical().to_string(),
            Err(_) => self.subject.clone(),
        }
    }
}

fn parse_item(item: &str) -> Result<Assumption, AssumeError> {
    let Some((subject, state)) = item.rsplit_once(':') else {
        return Err(AssumeError(format!(
            "{item:?} has no state: write SET:down, RECORD/SET:down or ADDRESS:down (or :up, :auto)"
        )));
    };
    let state = match state.to_ascii_lowercase().as_str() {
        "down" => Override::Down,
        "up" => Override::Up,
        "auto" => Override::Auto,
        _ => {
            return Err(AssumeError(format!(
                "{item:?}: {state:?} is not a state; use up, down or auto"
            )));
        }
    };
    if subject.is_empty() {
        return Err(AssumeError(format!("{item:?} names no set or address")));
    }
    Ok(Assumption {
        text: item.to_owned(),
        subject: subject.to_owned(),
        state,
    })
}

/// `health` with `assumptions` applied, and what each changed. The input
/// is not touched: the result is a private copy-on-write copy.
pub fn apply(
    table: &Table,
    health: &Liveness,
    assumptions: &[Assumption],
) -> Result<(Liveness, Vec<AssumedChange>), AssumeError> {
    let mut health = health.clone();
    let mut changes = Vec::with_capacity(assumptions.len());
    for a in assumptions {
        let change = match a.subject.parse::<IpAddr>() {
            Ok(addr) => assume_target(table, &mut health, a, addr.to_canonical())?,
            Err(_) => assume_sets(table, &mut health, a)?,
        };
        changes.push(change);
    }
    Ok((health, changes))
}

fn assume_target(
    table: &Table,
    health: &mut Liveness,
    a: &Assumption,
    addr: IpAddr,
) -> Result<AssumedChange, AssumeError> {
    let up = match a.state {
        Override::Up => true,
        Override::Down => false,
        Override::Auto => {
            return Err(AssumeError(format!(
                "{:?}: a target is assumed up or down; auto applies to sets",
                a.text
            )));
        }
    };
    let probes: Vec<usize> = table
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.addr == addr)
        .map(|(i, _)| i)
        .collect();
    if probes.is_empty() {
        let in_a_set = table
            .sets()
            .any(|(_, s)| s.all_targets().iter().any(|t| t.addr == addr));
        let why = if in_a_set {
            "has no health check, so probes never take it down; assume its set down instead (SET:down)"
        } else {
            "is a target of no set"
        };
        return Err(AssumeError(format!("{:?}: {addr} {why}", a.text)));
    }
    for &i in &probes {
        health.probes = health.probes.with(i, up);
    }
    Ok(AssumedChange {
        assumption: a.text.clone(),
        sets: Vec::new(),
        set_count: 0,
        probes: probes.len(),
    })
}

fn assume_sets(
    table: &Table,
    health: &mut Liveness,
    a: &Assumption,
) -> Result<AssumedChange, AssumeError> {
    let one_record = a.subject.split_once('/').and_then(|(record, set)| {
        let name = Name::parse(record).ok()?;
        Some((table.record(&name)?, set))
    });
    let mut sets = Vec::new();
    let mut set_count = 0;
    match one_record {
        Some((record, id)) => {
            let Some(set) = record.sets.iter().find(|s| &*s.id == id) else {
                let ids: Vec<&str> = record.sets.iter().map(|s| &*s.id).collect();
                return Err(AssumeError(format!(
                    "{:?}: {} has no set {id:?} (its sets: {})",
                    a.text,
                    record.name,
                    ids.join(", ")
                )));
            };
            health.overrides = health.overrides.with(set.index as usize, a.state);
            sets.push(format!("{}/{}", record.name, set.id));
            set_count = 1;
        }
        None => {
            let matched = table.sets().filter(|(_, s)| *s.id == *a.subject);
            let changes = matched.map(|(record, set)| {
                if sets.len() < MAX_LISTED_SETS {
                    sets.push(format!("{}/{}", record.name, set.id));
                }
                set_count += 1;
                (set.index as usize, a.state)
            });
            health.overrides = health.overrides.with_many(changes);
            if set_count == 0 {
                return Err(AssumeError(format!(
                    "{:?}: no record has a set {:?}, and it is not a RECORD/SET of a record or an address",
                    a.text, a.subject
                )));
            }
        }
    }
    Ok(AssumedChange {
        assumption: a.text.clone(),
        sets,
        set_count,
        probes: 0,
    })
}
