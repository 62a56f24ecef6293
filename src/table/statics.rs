//! Compiling the zones' static records into the table: one [`RrSets`] per
//! name, the name entries (and the empty non-terminals above them), and the
//! delegations with their glue resolved once, so a referral is written
//! without a single lookup.

use crate::iana::rtype;
use std::collections::{BTreeMap, HashMap};

use super::compile::{NameMap, add_name};
use super::rrset::{RrSet, RrSets};
use super::{Cut, Glue};
use crate::model::Zone;
use crate::name::Name;

/// A name's static records while grouping: zone index and type -> (TTL,
/// RDATA list).
type Grouped = BTreeMap<Name, (u16, BTreeMap<u16, (u32, Vec<Box<[u8]>>)>)>;

/// Adds every zone's static records to `names`; returns the RRsets (indexed
/// by [`NameEntry::statics`](super::NameEntry::statics)) and the
/// delegations (indexed by [`NameEntry::cut`](super::NameEntry::cut)).
/// `glue` are the apex name servers' addresses, answered in referrals whose
/// name servers they are.
pub(super) fn compile(
    zones: &[Zone],
    names: &mut NameMap,
    glue: &[Glue],
) -> (Vec<RrSets>, Vec<Cut>) {
    let grouped = group(zones);
    let mut statics = Vec::with_capacity(grouped.len());
    for (name, (zone, sets)) in &grouped {
        let origin = &zones[usize::from(*zone)].origin;
        let sets = sets
            .iter()
            .map(|(&rtype, (ttl, rdata))| RrSet {
                rtype,
                ttl: *ttl,
                rdata: rdata.clone().into(),
            })
            .collect();
        add_name(names, name, origin, *zone).statics = u32::try_from(statics.len()).ok();
        statics.push(RrSets::new(sets));
    }
    let cuts = cuts(zones, &grouped, glue);
    for (index, cut) in cuts.iter().enumerate() {
        let index = u32::try_from(index).ok();
        if let Some(entry) = names.get_mut(cut.name.wire()) {
            entry.cut = index;
        }
    }
    if !cuts.is_empty() {
        let below = grouped.keys().chain(glue.iter().map(|g| &g.name));
        mark_below_cuts(names, &cuts, below);
    }
    (statics, cuts)
}

/// Groups the static records by name and type, in type order.
fn group(zones: &[Zone]) -> Grouped {
    let mut grouped = Grouped::new();
    for (z, zone) in zones.iter().enumerate() {
        let z = u16::try_from(z).unwrap_or(u16::MAX);
        for record in &zone.statics {
            let (_, sets) = grouped
                .entry(record.name.clone())
                .or_insert_with(|| (z, BTreeMap::new()));
            let (_, rdata) = sets
                .entry(record.rtype.code())
                .or_insert_with(|| (record.ttl, Vec::new()));
            rdata.push(record.data.wire().into());
        }
    }
    grouped
}

/// The delegations: NS RRsets below an apex, each with the addresses gslb
/// holds for its name servers.
fn cuts(zones: &[Zone], grouped: &Grouped, glue: &[Glue]) -> Vec<Cut> {
    let apex_glue: HashMap<&[u8], &Glue> = glue.iter().map(|g| (g.name.wire(), g)).collect();
    let held: HashMap<&[u8], _> = grouped
        .iter()
        .map(|(n, (_, sets))| (n.wire(), sets))
        .collect();
    let mut cuts = Vec::new();
    for (name, (zone, sets)) in grouped {
        let Some((ttl, ns)) = sets.get(&rtype::NS) else {
            continue;
        };
        if *name == zones[usize::from(*zone)].origin {
            continue;
        }
        let zone_ttl = zones[usize::from(*zone)].ttl;
        let mut addresses = Vec::new();
        for (k, target) in ns.iter().enumerate() {
            let k = u16::try_from(k).unwrap_or(u16::MAX);
            if let Some(target_sets) = held.get(&target[..]) {
                for rtype in [rtype::A, rtype::AAAA] {
                    if let Some((ttl, rdata)) = target_sets.get(&rtype) {
                        addresses.push((k, rrset(rtype, *ttl, rdata.clone())));
                    }
                }
            } else if let Some(g) = apex_glue.get(&target[..]) {
                let v4 = g.v4.iter().map(|a| Box::from(a.octets()));
                let v6 = g.v6.iter().map(|a| Box::from(a.octets()));
                for (rtype, rdata) in [(rtype::A, v4.collect()), (rtype::AAAA, v6.collect())] {
                    let rdata: Vec<Box<[u8]>> = rdata;
                    if !rdata.is_empty() {
                        addresses.push((k, rrset(rtype, zone_ttl, rdata)));
                    }
                }
            }
        }
        cuts.push(Cut {
            name: name.clone(),
            zone: *zone,
            ns: rrset(rtype::NS, *ttl, ns.clone()),
            glue: addresses.into(),
            ds: sets
                .get(&rtype::DS)
                .map(|(ttl, ds)| rrset(rtype::DS, *ttl, ds.clone())),
        });
    }
    cuts
}

fn rrset(rtype: u16, ttl: u32, rdata: Vec<Box<[u8]>>) -> RrSet {
    RrSet {
        rtype,
        ttl,
        rdata: rdata.into(),
    }
}

/// Marks each of `below` that lies under a delegation, and the empty
/// non-terminals between it and the delegation, with that delegation.
fn mark_below_cuts<'n>(names: &mut NameMap, cuts: &[Cut], below: impl Iterator<Item = &'n Name>) {
    let by_name: HashMap<&[u8], u32> = cuts
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.name.wire(), u32::try_from(i).ok()?)))
        .collect();
    for name in below {
        // A name in a zone nested below the delegation is that zone's.
        let Some(zone) = names.get(name.wire()).map(|e| e.zone) else {
            continue;
        };
        let mut path = vec![name.clone()];
        let mut parent = name.parent();
        while let Some(p) = parent {
            if let Some(&cut) = by_name.get(p.wire()) {
                if cuts[cut as usize].zone != zone {
                    break;
                }
                for on_path in &path {
                    if let Some(entry) = names.get_mut(on_path.wire()) {
                        entry.cut = Some(cut);
                    }
                }
                break;
            }
            parent = p.parent();
            path.push(p);
        }
    }
}
