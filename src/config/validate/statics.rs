//! `zones[].static`: records served as written. Each entry is checked on its
//! own (name inside its zone, known type, TTL, data that parses), then the
//! entries are checked together and against the GSLB records, for what DNS
//! forbids or cannot answer:
//!
//! * an RRset has one TTL and no duplicate records;
//! * a CNAME is alone at its name: no other static record, no GSLB record,
//!   no name server glue, not the apex (RFC 1034 §3.6.2, RFC 2181 §10.1);
//!   chains of static CNAMEs end within [`MAX_CNAME_CHAIN`] links and
//!   never loop;
//! * NS below the apex delegates: nothing else at the delegation point but
//!   its DS (the signed child's, only there), nothing below it but glue (A/AAAA of its name servers), no GSLB record
//!   at or below it, and a name server inside the delegation has glue;
//! * NS, MX and SRV point at names, never at aliases (RFC 2181 §10.3);
//! * the apex NS come from `nameservers`, the SOA from `soa`;
//! * A/AAAA never sit where a GSLB record or name server glue answers them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Checker;
use crate::config::raw::RawZone;
use crate::config::settings as s;
use crate::model::{Record, StaticRecord, Zone, zone_of};
use crate::name::Name;
use crate::rdata::{self, MAX_CNAME_CHAIN, RecordType};

/// Largest RRset on the wire: with the question, a full CNAME chain and the
/// OPT it still fits a 65,535-byte TCP message.
const MAX_RRSET_BYTES: usize = 16_384;

/// One parsed entry and where it was written.
struct Entry {
    path: String,
    zone: usize,
    record: StaticRecord,
}

/// Checks every zone's `static` list and fills in `Zone::statics`. `raw`
/// are the config's zones, `zones` the validated ones (duplicates and zones
/// whose origin did not parse are missing). `records` are the GSLB records,
/// record files included; `max_records` caps GSLB and static records
/// together.
pub(super) fn check(
    check: &mut Checker<'_>,
    raw: &[RawZone],
    zones: &mut [Zone],
    records: &[Record],
    max_records: Option<usize>,
) {
    let total: usize = raw.iter().map(|z| z.statics.len()).sum();
    if let Some(max) = max_records
        && total + records.len() > max
    {
        check.error(
            "zones",
            format!(
                "{total} static and {} GSLB records, more than server.max_records ({max})",
                records.len()
            ),
        );
        return;
    }
    let entries = parse_all(check, raw, zones);
    let rules = Rules::new(zones, records, &entries);
    rules.rrsets(check);
    rules.apex(check);
    rules.aliases(check);
    rules.delegations(check);
    rules.targets(check);
    rules.chains(check);
    for entry in entries {
        zones[entry.zone].statics.push(entry.record);
    }
}

/// Parses every entry of every validated zone.
fn parse_all(check: &mut Checker<'_>, raw: &[RawZone], zones: &[Zone]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut claimed = BTreeSet::new();
    for (i, raw_zone) in raw.iter().enumerate() {
        // The first zone with an origin is the one validation kept.
        let Some(zone) = Name::parse(&raw_zone.origin)
            .ok()
            .and_then(|o| zones.iter().position(|z| z.origin == o))
        else {
            continue;
        };
        if !claimed.insert(zone) {
            continue;
        }
        for (k, raw_static) in raw_zone.statics.iter().enumerate() {
            let path = format!("zones[{i}].static[{k}]");
            if let Some(record) = parse_one(check, &path, zones, zone, raw_static) {
                entries.push(Entry { path, zone, record });
            }
        }
    }
    entries
}

fn parse_one(
    check: &mut Checker<'_>,
    path: &str,
    zones: &[Zone],
    zone: usize,
    raw: &crate::config::raw::RawStatic,
) -> Option<StaticRecord> {
    let origin = &zones[zone].origin;
    let name = match rdata::owner_name(&raw.name, origin) {
        Ok(name) => check_zone_of(check, path, zones, zone, name),
        Err(e) => {
            let message = format!("{:?} is not a domain name: it {e}", raw.name);
            check.error(format!("{path}.name"), message);
            None
        }
    };
    let rtype = RecordType::from_mnemonic(&raw.rtype);
    match rtype {
        None if raw.rtype.eq_ignore_ascii_case("SOA") => check.error(
            format!("{path}.type"),
            "the zone's SOA comes from its `soa` field",
        ),
        None => {
            let types: Vec<&str> = RecordType::ALL.iter().map(|t| t.mnemonic()).collect();
            check.error(
                format!("{path}.type"),
                format!("{:?} is not one of {}", raw.rtype, types.join(", ")),
            );
        }
        Some(_) => {}
    }
    // Up to a week: these records do not fail over, so the one-day cap
    // of GSLB records does not apply.
    let ttl = check.int_or(
        format!("{path}.ttl"),
        raw.ttl,
        i64::from(zones[zone].ttl),
        &s::STATIC_TTL,
    );
    let rtype = rtype?;
    let data = rdata::parse(rtype, &raw.data, origin)
        .map_err(|e| {
            let message = format!("invalid {rtype} data {:?}: {e}", raw.data);
            check.error(format!("{path}.data"), message);
        })
        .ok();
    Some(StaticRecord {
        name: name?,
        rtype,
        ttl: ttl?,
        data: data?,
    })
}

/// The name, if it lies in zone `zone` and in no zone nested inside it.
fn check_zone_of(
    check: &mut Checker<'_>,
    path: &str,
    zones: &[Zone],
    zone: usize,
    name: Name,
) -> Option<Name> {
    let origin = &zones[zone].origin;
    if !name.is_within(origin) {
        check.error(
            format!("{path}.name"),
            format!("{name} is not inside the zone {origin}"),
        );
        return None;
    }
    // `name` is inside `zone`, so a zone serving it instead is nested there.
    let serving = zone_of(&name, zones.iter().map(|z| &z.origin));
    if let Some(nested) = serving.filter(|&i| i != zone).and_then(|i| zones.get(i)) {
        check.error(
            format!("{path}.name"),
            format!(
                "{name} lies in the zone {}, which gslb also serves: list it under that zone",
                nested.origin
            ),
        );
        return None;
    }
    Some(name)
}

/// The entries indexed for the rules that relate them.
struct Rules<'a> {
    zones: &'a [Zone],
    entries: &'a [Entry],
    /// Entry indexes by (name, type), in config order.
    rrsets: BTreeMap<(&'a Name, RecordType), Vec<usize>>,
    /// Entry indexes by name, in config order.
    names: BTreeMap<&'a Name, Vec<usize>>,
    /// GSLB records by name.
    records: HashMap<&'a Name, &'a Record>,
    /// Apex name servers that have glue, with the zone that lists them.
    glue: HashMap<&'a Name, &'a Name>,
    /// Delegation points (static NS below an apex): the first NS entry.
    cuts: BTreeMap<&'a Name, usize>,
}

impl<'a> Rules<'a> {
    fn new(zones: &'a [Zone], records: &'a [Record], entries: &'a [Entry]) -> Self {
        let mut rrsets: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        let mut names: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        let mut cuts = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            let r = &e.record;
            rrsets.entry((&r.name, r.rtype)).or_default().push(i);
            names.entry(&r.name).or_default().push(i);
            if r.rtype == RecordType::Ns && r.name != zones[e.zone].origin {
                cuts.entry(&r.name).or_insert(i);
            }
        }
        let glue = zones
            .iter()
            .flat_map(|z| {
                z.nameservers
                    .iter()
                    .filter(|(_, addrs)| !addrs.is_empty())
                    .map(move |(ns, _)| (ns, &z.origin))
            })
            .collect();
        Self {
            zones,
            entries,
            rrsets,
            names,
            records: records.iter().map(|r| (&r.name, r)).collect(),
            glue,
            cuts,
        }
    }

    fn entry(&self, i: usize) -> &'a Entry {
        &self.entries[i]
    }

    /// One TTL per RRset, no duplicate records, a bounded size.
    fn rrsets(&self, check: &mut Checker<'_>) {
        for ((name, rtype), members) in &self.rrsets {
            let first = self.entry(members[0]);
            for (n, &i) in members.iter().enumerate().skip(1) {
                let e = self.entry(i);
                if e.record.ttl != first.record.ttl {
                    check.error(
                        format!("{}.ttl", e.path),
                        format!(
                            "{} differs from the TTL {} of the {rtype} record at {name} in {}: the records of an RRset share one TTL",
                            e.record.ttl, first.record.ttl, first.path
                        ),
                    );
                }
                if let Some(&j) = members[..n]
                    .iter()
                    .find(|&&j| self.entry(j).record.data == e.record.data)
                {
                    check.error(
                        format!("{}.data", e.path),
                        format!("duplicates {}", self.entry(j).path),
                    );
                }
            }
            let bytes: usize = members
                .iter()
                .map(|&i| 12 + self.entry(i).record.data.wire().len())
                .sum();
            if bytes > MAX_RRSET_BYTES {
                check.error(
                    format!("{}.data", first.path),
                    format!(
                        "the {rtype} records at {name} take {bytes} bytes in an answer, more than {MAX_RRSET_BYTES}"
                    ),
                );
            }
        }
    }

    /// The apex's SOA and NS come from the zone's own fields.
    fn apex(&self, check: &mut Checker<'_>) {
        for e in self.entries {
            let zone = &self.zones[e.zone];
            if e.record.name != zone.origin {
                continue;
            }
            let message = match e.record.rtype {
                RecordType::Ns => "the apex NS records come from the zone's `nameservers`",
                RecordType::Cname => {
                    "a CNAME cannot be at the zone apex, which holds the SOA and NS records"
                }
                _ => continue,
            };
            check.error(format!("{}.type", e.path), message);
        }
    }

    /// A CNAME is alone at its name; A/AAAA never shadow GSLB records or
    /// name server glue.
    fn aliases(&self, check: &mut Checker<'_>) {
        for e in self.entries {
            let name = &e.record.name;
            let rtype = e.record.rtype;
            let is_address = matches!(rtype, RecordType::A | RecordType::Aaaa);
            if rtype != RecordType::Cname && !is_address {
                continue;
            }
            if let Some(record) = self.records.get(name) {
                check.error(
                    format!("{}.name", e.path),
                    format!(
                        "{name} is also a GSLB record (in {}), which answers A and AAAA there{}",
                        record.source,
                        if is_address {
                            ""
                        } else {
                            "; a CNAME cannot share its name"
                        }
                    ),
                );
            }
            if let Some(origin) = self.glue.get(name) {
                check.error(
                    format!("{}.name", e.path),
                    format!(
                        "{name} is a name server of the zone {origin}, whose addresses come from its `nameservers`"
                    ),
                );
            }
            if rtype != RecordType::Cname {
                continue;
            }
            let others = &self.names[name];
            if let Some(&other) = others.iter().find(|&&i| !std::ptr::eq(self.entry(i), e)) {
                let other = self.entry(other);
                check.error(
                    format!("{}.name", e.path),
                    format!(
                        "{name} also has a {} record ({}): a CNAME cannot share its name with other data",
                        other.record.rtype, other.path
                    ),
                );
            }
        }
    }

    /// What a delegation point allows at and below it.
    fn delegations(&self, check: &mut Checker<'_>) {
        let ns_targets: BTreeSet<&Name> = self
            .entries
            .iter()
            .filter(|e| e.record.rtype == RecordType::Ns)
            .filter_map(|e| e.record.data.target())
            .collect();
        for e in self.entries {
            let name = &e.record.name;
            let rtype = e.record.rtype;
            let at_cut = self.cuts.contains_key(name);
            if at_cut && !matches!(rtype, RecordType::Ns | RecordType::Ds) {
                check.error(
                    format!("{}.name", e.path),
                    format!(
                        "{name} is delegated ({}): only NS and DS records sit at a delegation point, the rest belongs in the child zone",
                        self.entry(self.cuts[name]).path
                    ),
                );
            }
            if rtype == RecordType::Ds && !at_cut {
                check.error(
                    format!("{}.type", e.path),
                    format!(
                        "DS records belong at a delegation point (a name with static NS records); {name} has none"
                    ),
                );
            }
            let Some((cut, at)) = self.cut_above(e.zone, name) else {
                continue;
            };
            let glue =
                matches!(rtype, RecordType::A | RecordType::Aaaa) && ns_targets.contains(name);
            if !glue {
                check.error(
                    format!("{}.name", e.path),
                    format!(
                        "{name} lies below the delegation {cut} ({}): only glue, the A/AAAA records of a delegation's name servers, may be there",
                        self.entry(at).path
                    ),
                );
            }
        }
        for record in self.records.values() {
            let zone = zone_of(&record.name, self.zones.iter().map(|z| &z.origin));
            let cut = self.cuts.get(&record.name).map(|&at| (&record.name, at));
            let cut = cut.or_else(|| zone.and_then(|z| self.cut_above(z, &record.name)));
            if let Some((cut, at)) = cut {
                check.error(
                    format!("{}.name", self.entry(at).path),
                    format!(
                        "delegates {cut}, where the GSLB record {} (in {}) lies: a GSLB record cannot sit at or below a delegation",
                        record.name, record.source
                    ),
                );
            }
        }
        for (&cut, &at) in &self.cuts {
            for &i in &self.rrsets[&(cut, RecordType::Ns)] {
                let e = self.entry(i);
                let Some(target) = e.record.data.target().filter(|t| t.is_within(cut)) else {
                    continue;
                };
                let has_glue = [RecordType::A, RecordType::Aaaa]
                    .iter()
                    .any(|&t| self.rrsets.contains_key(&(target, t)));
                if !has_glue {
                    check.error(
                        format!("{}.data", e.path),
                        format!(
                            "the name server {target} lies inside the delegation {cut} ({}), so it needs glue: add static A or AAAA records for it",
                            self.entry(at).path
                        ),
                    );
                }
            }
        }
    }

    /// The closest delegation strictly above `name` within its zone, with
    /// its first NS entry.
    fn cut_above(&self, zone: usize, name: &Name) -> Option<(&'a Name, usize)> {
        if self.cuts.is_empty() {
            return None;
        }
        let origin = &self.zones.get(zone)?.origin;
        let mut parent = name.parent();
        while let Some(p) = parent {
            if !p.is_within(origin) || &p == origin {
                return None;
            }
            if let Some((&cut, &at)) = self.cuts.get_key_value(&p) {
                return Some((cut, at));
            }
            parent = p.parent();
        }
        None
    }

    /// NS, MX and SRV point at real names, not at aliases.
    fn targets(&self, check: &mut Checker<'_>) {
        for e in self.entries {
            if !matches!(
                e.record.rtype,
                RecordType::Ns | RecordType::Mx | RecordType::Srv
            ) {
                continue;
            }
            let Some(target) = e.record.data.target() else {
                continue;
            };
            if let Some(alias) = self.rrsets.get(&(target, RecordType::Cname)) {
                check.error(
                    format!("{}.data", e.path),
                    format!(
                        "{target} is a CNAME ({}); {} records must point at a canonical name (RFC 2181 §10.3)",
                        self.entry(alias[0]).path,
                        e.record.rtype
                    ),
                );
            }
        }
    }

    /// Static CNAME chains end, within [`MAX_CNAME_CHAIN`] links.
    fn chains(&self, check: &mut Checker<'_>) {
        let next = |name: &Name| {
            self.rrsets
                .get(&(name, RecordType::Cname))
                .and_then(|members| self.entry(members[0]).record.data.target())
        };
        for ((name, rtype), members) in &self.rrsets {
            if *rtype != RecordType::Cname {
                continue;
            }
            let mut chain: Vec<&Name> = vec![name];
            let mut at: &Name = name;
            while let Some(target) = next(at) {
                if chain.contains(&target) {
                    chain.push(target);
                    let shown: Vec<String> = chain.iter().map(ToString::to_string).collect();
                    check.error(
                        format!("{}.data", self.entry(members[0]).path),
                        format!("the CNAME chain loops: {}", shown.join(" -> ")),
                    );
                    break;
                }
                chain.push(target);
                if chain.len() > MAX_CNAME_CHAIN + 1 {
                    check.error(
                        format!("{}.data", self.entry(members[0]).path),
                        format!(
                            "the CNAME chain from {name} is longer than {MAX_CNAME_CHAIN} links, more than gslb follows"
                        ),
                    );
                    break;
                }
                at = target;
            }
        }
    }
}

#[cfg(test)]
mod tests;
