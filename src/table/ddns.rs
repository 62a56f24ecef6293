//! Dynamic DNS (RFC 2136), the state side: what updates add to a zone,
//! beside the config's records. The wire side is `dns::update`, the
//! policy `model::ddns` (validated by `config::validate::ddns`), the
//! writer's part `table::writer::ddns`, the counters `metrics::ddns`.
//!
//! The table writer owns one [`DynamicZone`] per zone and is the only one
//! to change it: [`DynamicZone::apply`] runs an authenticated update
//! through RFC 2136's steps, all or nothing, and the writer publishes the
//! result ([`published::Dynamic`], the read side) in the next snapshot.
//! Queries never wait for an update; an update is visible to every query that loads a
//! snapshot published after it.
//!
//! The config's records (GSLB records, static records, the apex SOA and
//! NS, glue) are read-only here: they count for prerequisites, and an
//! update may not add to an RRset the config owns, but no update changes
//! them. They are seen through [`StaticZone`], which keeps this module
//! free of how the table stores them.
//!
//! RFC 2136 by section, as gslb applies it:
//!
//! * §3.2 prerequisites, in order, against the zone before the update:
//!   FORMERR for a TTL or data where none may be, NOTZONE for names
//!   outside the zone, NXDOMAIN/YXDOMAIN for "name (not) in use",
//!   NXRRSET/YXRRSET for "RRset (does not) exist", and NXRRSET when a
//!   value-dependent RRset differs.
//! * §3.3 permission: every change must be allowed to the key by the
//!   zone's `allow` rules, else REFUSED. A "delete all RRsets" (class and
//!   type ANY) needs the key to be allowed some type at the name and
//!   deletes only the types it is allowed.
//! * §3.4.1 prescan: FORMERR for bad classes, meta types, and TTLs or data
//!   where none may be; NOTZONE for names outside the zone.
//! * §3.4.2 changes: adds (an RR equal to one present only renews the
//!   RRset's TTL; the whole RRset takes the TTL of the latest add, RFC 2181
//!   §5.2), RRset deletes (class ANY) and single-RR deletes (class NONE).
//!   An add at a name that has a CNAME is ignored (§3.4.2.2); an add to an
//!   RRset of the config, or below a delegation, is REFUSED, and so is a
//!   delete of one: the config's records are read-only.
//! * Names: every owner name, and every name in RDATA, must be one gslb
//!   can hold (letters, digits, `-` and `_` in each label; no `.` inside a
//!   label), else REFUSED. Records are served and saved in text form, so
//!   a name whose text reads back as another name would pass these checks
//!   as one name and be served as another.
//! * Caps: TTLs above `max_ttl` are lowered to it; an update that would
//!   leave its key with more than `max_records_per_key` records is
//!   REFUSED; so is one that would put more than `max_rrset_bytes` of
//!   records at one name (so every name stays answerable over TCP), and
//!   RDATA over [`MAX_RDATA`] bytes.

pub mod published;
pub mod saved;
pub mod txt;

use crate::iana::{class, rtype};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::ddns::{RR_OVERHEAD, UpdatePolicy};
use crate::name::Name;

/// Largest RDATA of a dynamic record, bytes: a challenge TXT record is 44
/// bytes and a 4096-bit DKIM key about 750, while one key's records stay
/// within `max_records_per_key` × 4 KiB.
pub const MAX_RDATA: usize = 4096;

/// Types that are never data (RFC 2136 §3.4.1.2's ANY, AXFR, MAILA,
/// MAILB, and IXFR, OPT and TSIG, which only live in messages).
fn is_meta(rtype: u16) -> bool {
    matches!(rtype, 41 | 250 | 251 | 252 | 253 | 254)
}

/// A resource record of an update message (RFC 2136 §2.4, §2.5), as the
/// DNS path read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRr {
    /// Owner, lower-cased wire form.
    pub name: Box<[u8]>,
    /// TYPE.
    pub rtype: u16,
    /// CLASS: the zone's, ANY or NONE, each with its own meaning.
    pub class: u16,
    /// TTL.
    pub ttl: u32,
    /// RDATA, with any names uncompressed and lower-cased.
    pub rdata: Box<[u8]>,
}

/// The prerequisite and update sections of an authenticated update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Prerequisite section (RFC 2136 §2.4).
    pub prerequisites: Vec<UpdateRr>,
    /// Update section (§2.5).
    pub changes: Vec<UpdateRr>,
}

/// Why an update was not applied; each maps to an RCODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Malformed (FORMERR).
    #[error("malformed: {0}")]
    FormErr(&'static str),
    /// A name that should be in use is not (NXDOMAIN).
    #[error("prerequisite failed: a name is not in use")]
    NxDomain,
    /// A name that should not be in use is (YXDOMAIN).
    #[error("prerequisite failed: a name is in use")]
    YxDomain,
    /// An RRset that should not exist does (YXRRSET).
    #[error("prerequisite failed: an RRset exists")]
    YxRrset,
    /// An RRset that should exist does not, or differs (NXRRSET).
    #[error("prerequisite failed: an RRset does not exist or differs")]
    NxRrset,
    /// A name outside the zone (NOTZONE).
    #[error("a name is outside the zone")]
    NotZone,
    /// Not allowed (REFUSED).
    #[error("refused: {0}")]
    Refused(&'static str),
}

impl Refusal {
    /// The response code.
    pub fn rcode(self) -> u16 {
        match self {
            Self::FormErr(_) => 1,
            Self::NxDomain => 3,
            Self::Refused(_) => 5,
            Self::YxDomain => 6,
            Self::YxRrset => 7,
            Self::NxRrset => 8,
            Self::NotZone => 10,
        }
    }
}

/// Why a dynamic record may not be added at a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The name has a CNAME: RFC 2136 §3.4.2.2 ignores the add.
    Cname,
    /// The config has an RRset of this type at the name.
    Config,
    /// The name lies at or below a delegation: gslb is not authoritative.
    BelowDelegation,
}

/// What the config puts in a zone, as updates see it.
pub trait StaticZone {
    /// Whether `name` belongs to this zone: inside its origin and not in
    /// another zone gslb serves below it.
    fn contains(&self, name: &[u8]) -> bool;
    /// Whether `name` owns at least one record of the config (an empty
    /// non-terminal owns none).
    fn name_in_use(&self, name: &[u8]) -> bool;
    /// The RDATA of the config's RRset (`name`, `rtype`), names
    /// uncompressed and lower-cased, or `None` when there is none.
    fn rrset(&self, name: &[u8], rtype: u16) -> Option<Vec<Vec<u8>>>;
    /// Whether a dynamic record of `rtype` may be added at `name`.
    fn may_add(&self, name: &[u8], rtype: u16) -> Result<(), Conflict>;
}

/// A dynamic RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrset {
    /// TTL of every record in it.
    pub ttl: u32,
    /// Its records, in the order they were added.
    pub records: Vec<DynamicRecord>,
}

/// One dynamic record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicRecord {
    /// RDATA.
    pub rdata: Box<[u8]>,
    /// The key that added it: its records count against that key's cap,
    /// and it goes when that key may no longer write it.
    pub key: Name,
}

/// The dynamic records of one zone, kept by the table writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicZone {
    /// RRsets by owner (lower-cased wire form) and type.
    names: BTreeMap<Box<[u8]>, BTreeMap<u16, Rrset>>,
}

/// Who applies an update and to what.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a, S: ?Sized> {
    /// The zone's origin.
    pub origin: &'a Name,
    /// The zone's update policy.
    pub policy: &'a UpdatePolicy,
    /// The config's records of the zone.
    pub statics: &'a S,
    /// The key that signed the update.
    pub key: &'a Name,
}

/// A dynamic record dropped by a reload, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Owner.
    pub name: String,
    /// RR type.
    pub rtype: u16,
    /// The key that added it.
    pub key: Name,
    /// Why it went.
    pub why: &'static str,
}

impl DynamicZone {
    /// Applies `update` (RFC 2136 §3.2 to §3.4), all or nothing. Returns
    /// whether the zone changed (an update may succeed and change nothing,
    /// such as deleting a record that is not there).
    pub fn apply<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        update: &Update,
    ) -> Result<bool, Refusal> {
        check_names(update)?;
        self.check_prerequisites(ctx, &update.prerequisites)?;
        check_permission(ctx, &update.changes)?;
        prescan(ctx, &update.changes)?;
        let mut next = self.clone();
        for rr in &update.changes {
            next.change(ctx, rr)?;
        }
        let after = next.records_of(ctx.key);
        if after > ctx.policy.max_records_per_key as usize && after > self.records_of(ctx.key) {
            return Err(Refusal::Refused(
                "the key would have more records than max_records_per_key",
            ));
        }
        let cap = ctx.policy.max_rrset_bytes as usize;
        for rr in update.changes.iter().filter(|rr| rr.class == class::IN) {
            let bytes = next.bytes_at(&rr.name);
            if bytes > cap && bytes > self.bytes_at(&rr.name) {
                return Err(Refusal::Refused(
                    "the records at the name would be over max_rrset_bytes",
                ));
            }
        }
        let changed = next != *self;
        *self = next;
        Ok(changed)
    }

    /// What the dynamic records at `name` take in an answer: RDATA and
    /// [`RR_OVERHEAD`] per record.
    pub fn bytes_at(&self, name: &[u8]) -> usize {
        self.names.get(name).map_or(0, |sets| {
            sets.values()
                .flat_map(|set| &set.records)
                .map(|r| RR_OVERHEAD + r.rdata.len())
                .sum()
        })
    }

    /// RFC 2136 §3.2, against the zone as it is.
    fn check_prerequisites<S: StaticZone + ?Sized>(
        &self,
        ctx: &Context<'_, S>,
        prerequisites: &[UpdateRr],
    ) -> Result<(), Refusal> {
        let mut expected: BTreeMap<(&[u8], u16), BTreeSet<&[u8]>> = BTreeMap::new();
        for rr in prerequisites {
            if rr.ttl != 0 {
                return Err(Refusal::FormErr("a prerequisite has a TTL"));
            }
            if !ctx.statics.contains(&rr.name) {
                return Err(Refusal::NotZone);
            }
            let no_data = || {
                if rr.rdata.is_empty() {
                    Ok(())
                } else {
                    Err(Refusal::FormErr("an existence prerequisite has data"))
                }
            };
            match rr.class {
                class::ANY => {
                    no_data()?;
                    if rr.rtype == rtype::ANY {
                        if !self.name_in_use(ctx, &rr.name) {
                            return Err(Refusal::NxDomain);
                        }
                    } else if self.rrset_data(ctx, &rr.name, rr.rtype).is_none() {
                        return Err(Refusal::NxRrset);
                    }
                }
                class::NONE => {
                    no_data()?;
                    if rr.rtype == rtype::ANY {
                        if self.name_in_use(ctx, &rr.name) {
                            return Err(Refusal::YxDomain);
                        }
                    } else if self.rrset_data(ctx, &rr.name, rr.rtype).is_some() {
                        return Err(Refusal::YxRrset);
                    }
                }
                class::IN => {
                    expected
                        .entry((&rr.name, rr.rtype))
                        .or_default()
                        .insert(&rr.rdata);
                }
                _ => return Err(Refusal::FormErr("a prerequisite has a bad class")),
            }
        }
        for ((name, rtype), want) in expected {
            let have = self.rrset_data(ctx, name, rtype).unwrap_or_default();
            let have: BTreeSet<&[u8]> = have.iter().map(Vec::as_slice).collect();
            if have != want {
                return Err(Refusal::NxRrset);
            }
        }
        Ok(())
    }

    fn name_in_use<S: StaticZone + ?Sized>(&self, ctx: &Context<'_, S>, name: &[u8]) -> bool {
        ctx.statics.name_in_use(name) || self.names.contains_key(name)
    }

    /// The RRset's data, the config's or the dynamic one.
    fn rrset_data<S: StaticZone + ?Sized>(
        &self,
        ctx: &Context<'_, S>,
        name: &[u8],
        rtype: u16,
    ) -> Option<Vec<Vec<u8>>> {
        ctx.statics.rrset(name, rtype).or_else(|| {
            self.rrset(name, rtype)
                .map(|set| set.records.iter().map(|r| r.rdata.to_vec()).collect())
        })
    }

    /// RFC 2136 §3.4.2 for one RR, on the working copy.
    fn change<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        rr: &UpdateRr,
    ) -> Result<(), Refusal> {
        const READ_ONLY: Refusal = Refusal::Refused("the config's records are read-only");
        match rr.class {
            class::ANY if rr.rtype == rtype::ANY => {
                let types = ctx.policy.types_allowed(ctx.key, ctx.origin, &rr.name);
                if types
                    .iter()
                    .any(|&t| ctx.statics.rrset(&rr.name, t).is_some())
                {
                    return Err(READ_ONLY);
                }
                for rtype in types {
                    self.remove_rrset(&rr.name, rtype);
                }
            }
            class::ANY | class::NONE if ctx.statics.rrset(&rr.name, rr.rtype).is_some() => {
                return Err(READ_ONLY);
            }
            class::ANY => self.remove_rrset(&rr.name, rr.rtype),
            class::NONE => self.remove_record(&rr.name, rr.rtype, &rr.rdata),
            _ => return self.add(ctx, rr),
        }
        Ok(())
    }

    fn add<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        rr: &UpdateRr,
    ) -> Result<(), Refusal> {
        match ctx.statics.may_add(&rr.name, rr.rtype) {
            Ok(()) => {}
            Err(Conflict::Cname) => return Ok(()),
            Err(Conflict::Config) => {
                return Err(Refusal::Refused(
                    "the config has records of this type there",
                ));
            }
            Err(Conflict::BelowDelegation) => {
                return Err(Refusal::Refused("the name is at or below a delegation"));
            }
        }
        if name_from_wire(&rr.name).is_none() {
            return Err(Refusal::Refused(
                "owner names may hold letters, digits, '-' and '_' only",
            ));
        }
        let ttl = rr.ttl.min(ctx.policy.max_ttl);
        let set = self
            .names
            .entry(rr.name.clone())
            .or_default()
            .entry(rr.rtype)
            .or_insert_with(|| Rrset {
                ttl,
                records: Vec::new(),
            });
        set.ttl = ttl;
        if !set.records.iter().any(|r| r.rdata == rr.rdata) {
            set.records.push(DynamicRecord {
                rdata: rr.rdata.clone(),
                key: ctx.key.clone(),
            });
        }
        Ok(())
    }

    fn remove_rrset(&mut self, name: &[u8], rtype: u16) {
        if let Some(sets) = self.names.get_mut(name) {
            sets.remove(&rtype);
            if sets.is_empty() {
                self.names.remove(name);
            }
        }
    }

    /// Deletes one record (a peer's deletion); returns whether it was
    /// there.
    pub fn delete(&mut self, name: &[u8], rtype: u16, rdata: &[u8]) -> bool {
        let had = self
            .rrset(name, rtype)
            .is_some_and(|set| set.records.iter().any(|r| *r.rdata == *rdata));
        self.remove_record(name, rtype, rdata);
        had
    }

    fn remove_record(&mut self, name: &[u8], rtype: u16, rdata: &[u8]) {
        let Some(sets) = self.names.get_mut(name) else {
            return;
        };
        if let Some(set) = sets.get_mut(&rtype) {
            set.records.retain(|r| *r.rdata != *rdata);
            if set.records.is_empty() {
                sets.remove(&rtype);
            }
        }
        if sets.is_empty() {
            self.names.remove(name);
        }
    }

    /// The dynamic RRset (`name`, `rtype`).
    pub fn rrset(&self, name: &[u8], rtype: u16) -> Option<&Rrset> {
        self.names.get(name)?.get(&rtype)
    }

    /// How many records `key` added that are still here.
    pub fn records_of(&self, key: &Name) -> usize {
        self.records().filter(|(_, _, _, r)| r.key == *key).count()
    }

    /// How many records the zone has.
    pub fn len(&self) -> usize {
        self.records().count()
    }

    /// Whether the zone has no dynamic records.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every record: (owner, type, TTL, record).
    pub fn records(&self) -> impl Iterator<Item = (&[u8], u16, u32, &DynamicRecord)> {
        self.names.iter().flat_map(|(name, sets)| {
            sets.iter().flat_map(move |(&rtype, set)| {
                set.records
                    .iter()
                    .map(move |record| (&**name, rtype, set.ttl, record))
            })
        })
    }

    /// Every RRset: (owner, type, RRset).
    pub fn rrsets(&self) -> impl Iterator<Item = (&[u8], u16, &Rrset)> {
        self.names
            .iter()
            .flat_map(|(name, sets)| sets.iter().map(move |(&rtype, set)| (&**name, rtype, set)))
    }

    /// After a reload: keeps the records the zone's (new) policy still
    /// lets their key write and the config leaves room for, with TTLs
    /// lowered to the new `max_ttl`; returns the others. `policy` is
    /// `None` when the zone no longer takes updates.
    pub fn retain_allowed<S: StaticZone + ?Sized>(
        &mut self,
        origin: &Name,
        policy: Option<&UpdatePolicy>,
        statics: &S,
    ) -> Vec<Dropped> {
        let mut dropped = Vec::new();
        for (name, sets) in &mut self.names {
            for (&rtype, set) in sets.iter_mut() {
                let why = match policy {
                    None => Some("the zone no longer takes updates"),
                    Some(_) if !statics.contains(name) => Some("the name left the zone"),
                    Some(_) => match statics.may_add(name, rtype) {
                        Ok(()) => None,
                        Err(Conflict::Cname) => Some("the config has a CNAME there"),
                        Err(Conflict::Config) => Some("the config has records of this type there"),
                        Err(Conflict::BelowDelegation) => Some("the name is below a delegation"),
                    },
                };
                set.records.retain(|record| {
                    let why = why.or_else(|| {
                        let policy = policy?;
                        if policy.key(record.key.wire()).is_none() {
                            Some("its key is gone")
                        } else if !policy.allows(&record.key, origin, name, rtype) {
                            Some("its key may no longer write it")
                        } else {
                            None
                        }
                    });
                    if let Some(why) = why {
                        dropped.push(Dropped {
                            name: name_from_wire(name).map_or_else(String::new, |n| n.to_string()),
                            rtype,
                            key: record.key.clone(),
                            why,
                        });
                    }
                    why.is_none()
                });
                if let Some(policy) = policy {
                    set.ttl = set.ttl.min(policy.max_ttl);
                }
            }
            sets.retain(|_, set| !set.records.is_empty());
        }
        self.names.retain(|_, sets| !sets.is_empty());
        dropped
    }
}

/// Every name of the update, owners and names in RDATA, must be one gslb
/// can hold: its text form (how records are served and saved) must read
/// back as the same labels.
fn check_names(update: &Update) -> Result<(), Refusal> {
    let holdable = |wire: &[u8]| name_from_wire(wire).is_some_and(|n| n.wire() == wire);
    for rr in update.prerequisites.iter().chain(&update.changes) {
        let names_ok = holdable(&rr.name)
            && rdata_names(rr.rtype, &rr.rdata)
                .is_some_and(|names| names.into_iter().all(holdable));
        if !names_ok {
            return Err(Refusal::Refused(
                "a name has a label gslb cannot hold: only letters, digits, '-' and '_' (no '.' inside a label)",
            ));
        }
    }
    Ok(())
}

/// The names in uncompressed RDATA of the RFC 1035 types that hold names,
/// and SRV; none for other types and for empty RDATA. `None` when the
/// RDATA does not have the type's layout.
fn rdata_names(rtype: u16, rdata: &[u8]) -> Option<Vec<&[u8]>> {
    let (before, count) = match rtype {
        2 | 5 | 12 => (0, 1), // NS, CNAME, PTR
        15 => (2, 1),         // MX
        33 => (6, 1),         // SRV
        6 => (0, 2),          // SOA
        _ => return Some(Vec::new()),
    };
    if rdata.is_empty() {
        return Some(Vec::new());
    }
    let mut names = Vec::with_capacity(count);
    let mut at = before;
    for _ in 0..count {
        let start = at;
        loop {
            let len = usize::from(*rdata.get(at)?);
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
        names.push(rdata.get(start..at)?);
    }
    Some(names)
}

/// RFC 2136 §3.3: every change must be allowed to the key.
fn check_permission<S: ?Sized>(ctx: &Context<'_, S>, changes: &[UpdateRr]) -> Result<(), Refusal> {
    for rr in changes {
        let allowed = if rr.class == class::ANY && rr.rtype == rtype::ANY {
            !ctx.policy
                .types_allowed(ctx.key, ctx.origin, &rr.name)
                .is_empty()
        } else {
            ctx.policy.allows(ctx.key, ctx.origin, &rr.name, rr.rtype)
        };
        if !allowed {
            return Err(Refusal::Refused("the key may not write this name and type"));
        }
    }
    Ok(())
}

/// RFC 2136 §3.4.1, and the data checks of the types gslb stores.
fn prescan<S: StaticZone + ?Sized>(
    ctx: &Context<'_, S>,
    changes: &[UpdateRr],
) -> Result<(), Refusal> {
    for rr in changes {
        if !ctx.statics.contains(&rr.name) {
            return Err(Refusal::NotZone);
        }
        let meta = is_meta(rr.rtype);
        let bad = match rr.class {
            class::IN => meta || rr.rtype == rtype::ANY,
            class::ANY => rr.ttl != 0 || !rr.rdata.is_empty() || (meta && rr.rtype != rtype::ANY),
            class::NONE => rr.ttl != 0 || meta || rr.rtype == rtype::ANY,
            _ => true,
        };
        if bad {
            return Err(Refusal::FormErr(
                "a change has a bad class, type, TTL or data length",
            ));
        }
        if rr.class == class::IN {
            if rr.rdata.len() > MAX_RDATA {
                return Err(Refusal::Refused("the record's data is over 4096 bytes"));
            }
            if rr.rtype == rtype::TXT && !txt::is_valid(&rr.rdata) {
                return Err(Refusal::FormErr("TXT data is not a list of strings"));
            }
        }
    }
    Ok(())
}

/// A validated name from a lower-cased wire name; `None` when a label has
/// characters config names may not have.
pub fn name_from_wire(wire: &[u8]) -> Option<Name> {
    let mut text = String::with_capacity(wire.len());
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            return Name::parse(&text).ok();
        }
        let label = wire.get(at + 1..at + 1 + usize::from(len))?;
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(std::str::from_utf8(label).ok()?);
        at += 1 + usize::from(len);
    }
    None
}

#[cfg(test)]
mod tests;
