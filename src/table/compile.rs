//! Compiling a validated config into a [`Table`]: lower-cased wire names in
//! one hash map, SOA data pre-encoded, targets split by family, and each
//! distinct (health check, address) pair given a probe index.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use super::{
    Glue, NO_PROBE, NameEntry, NameServer, Probe, Record, Set, Table, Target, Zone,
    resolved::{AliasSlot, NO_ALIAS},
};
use crate::dnssec::Signer;
use crate::model::{self, Config, HealthCheck};
use crate::name::{Name, suffix_at};

/// Builds the table for a validated config.
pub fn compile(config: &Config) -> Table {
    let mut names: NameMap = HashMap::with_capacity_and_hasher(
        config.records.len() + config.zones.len() * 4,
        foldhash::fast::FixedState::default(),
    );
    let (zones, glue) = compile_zones(config, &mut names);
    add_glue_names(config, &mut names, &zones, &glue);
    let RecordsCompiled {
        records,
        aliases,
        probes,
        set_count,
        ..
    } = compile_records(config, &mut names, &zones);
    let (statics, cuts) = super::statics::compile(&config.zones, &mut names, &glue);
    let mut probe_list: Vec<(Probe, u32)> = probes.into_iter().collect();
    probe_list.sort_by_key(|(_, i)| *i);
    Table {
        zones: zones.into(),
        records: records.into(),
        glue: glue.into(),
        probes: probe_list.into_iter().map(|(p, _)| p).collect(),
        set_count,
        statics: statics.into(),
        cuts: cuts.into(),
        aliases: aliases.into(),
        names,
        keyring: Arc::new(super::keyring::Keyring::new(
            config.zones.iter().filter_map(|z| z.updates.as_ref()),
        )),
        signed: config.zones.iter().any(|z| z.dnssec.is_some()),
    }
}

/// The index of the zone `name` is in, as the table stores it.
fn zone_index(config: &Config, name: &Name) -> Option<u16> {
    model::zone_of(name, config.zones.iter().map(|z| &z.origin)).and_then(|i| u16::try_from(i).ok())
}

/// Compiles the zones, marking each apex in `names`, and collects the
/// name servers' glue: one entry per name server, shared by the zones
/// that list it.
fn compile_zones(config: &Config, names: &mut NameMap) -> (Vec<Zone>, Vec<Glue>) {
    let mut glue: Vec<Glue> = Vec::new();
    let mut glue_index: HashMap<Name, u32> = HashMap::new();
    let mut zones = Vec::with_capacity(config.zones.len());
    for (i, zone) in config.zones.iter().enumerate() {
        let index = u16::try_from(i).unwrap_or(u16::MAX);
        names.entry(zone.origin.wire().into()).or_default().apex = true;
        names.entry(zone.origin.wire().into()).or_default().zone = index;
        let nameservers = zone
            .nameservers
            .iter()
            .map(|(ns, addrs)| NameServer {
                name: ns.clone(),
                labels_before_apex: suffix_at(ns.wire(), zone.origin.wire()),
                glue: (!addrs.is_empty()).then(|| {
                    *glue_index.entry(ns.clone()).or_insert_with(|| {
                        glue.push(glue_of(ns, addrs));
                        u32::try_from(glue.len() - 1).unwrap_or(u32::MAX)
                    })
                }),
            })
            .collect();
        zones.push(Zone {
            origin: zone.origin.clone(),
            ttl: zone.ttl,
            degraded_ttl: zone.degraded_ttl,
            soa_rdata: soa_rdata(&zone.soa),
            negative_ttl: zone.ttl.min(zone.soa.minimum),
            nameservers,
            signer: zone
                .dnssec
                .as_ref()
                .map(|policy| Arc::new(Signer::new(zone.origin.clone(), policy.clone()))),
        });
    }
    (zones, glue)
}

/// Names the glue inside a served zone, so address queries for a name
/// server are answered from its glue.
fn add_glue_names(config: &Config, names: &mut NameMap, zones: &[Zone], glue: &[Glue]) {
    for (i, g) in glue.iter().enumerate() {
        if let Some(zone) = zone_index(config, &g.name) {
            add_name(names, &g.name, &zones[usize::from(zone)].origin, zone).glue =
                u32::try_from(i).ok();
        }
    }
}

/// The compiled records and what their sets share table-wide.
struct RecordsCompiled {
    records: Vec<Record>,
    /// One slot per set with hostname targets.
    aliases: Vec<AliasSlot>,
    /// Each distinct (check, address) pair and its probe index.
    probes: HashMap<Probe, u32>,
    /// Sets so far, which numbers the next set.
    set_count: u32,
    /// What sets share instead of holding a copy each.
    shared: Shared,
}

/// Set ids and geo scopes, one allocation per distinct value: a generated
/// config repeats a few of each across every record, and a copy per set
/// would be most of the table.
#[derive(Default)]
struct Shared {
    ids: HashMap<Box<str>, Arc<str>, foldhash::fast::FixedState>,
    geos: HashMap<model::GeoScope, Arc<model::GeoScope>, foldhash::fast::FixedState>,
}

impl Shared {
    fn id(&mut self, id: &str) -> Arc<str> {
        if let Some(shared) = self.ids.get(id) {
            return shared.clone();
        }
        let shared: Arc<str> = id.into();
        self.ids.insert(id.into(), shared.clone());
        shared
    }

    fn geo(&mut self, geo: &model::GeoScope) -> Arc<model::GeoScope> {
        if let Some(shared) = self.geos.get(geo) {
            return shared.clone();
        }
        let shared = Arc::new(geo.clone());
        self.geos.insert(geo.clone(), shared.clone());
        shared
    }
}

/// Compiles the records in config order, adding each name to `names`.
fn compile_records(config: &Config, names: &mut NameMap, zones: &[Zone]) -> RecordsCompiled {
    let mut compiled = RecordsCompiled {
        records: Vec::with_capacity(config.records.len()),
        aliases: Vec::new(),
        probes: HashMap::new(),
        set_count: 0,
        shared: Shared::default(),
    };
    for record in &config.records {
        let Some(zone) = zone_index(config, &record.name) else {
            continue; // validation guarantees a zone
        };
        let index = u32::try_from(compiled.records.len()).unwrap_or(u32::MAX);
        let sets = compiled.compile_sets(record, index);
        add_name(names, &record.name, &zones[usize::from(zone)].origin, zone).record = Some(index);
        compiled.records.push(Record {
            name: record.name.clone(),
            zone,
            ttl: record.ttl,
            answers: record.answers.unwrap_or(u16::MAX),
            fallback: record.fallback,
            geo_sensitive: record
                .sets
                .iter()
                .any(|s| !s.geo.is_empty() || s.location.is_some()),
            sets,
        });
    }
    compiled
}

impl RecordsCompiled {
    /// Compiles the sets of the record at `index`: numbered table-wide,
    /// their targets given probe indexes, and a set with hostname targets
    /// given an alias slot.
    fn compile_sets(&mut self, record: &model::Record, index: u32) -> Box<[Set]> {
        record
            .sets
            .iter()
            .enumerate()
            .map(|(position, set)| {
                self.set_count += 1;
                let mut compiled =
                    compile_set(set, self.set_count - 1, &mut self.probes, &mut self.shared);
                if !set.hostnames.is_empty() {
                    compiled.alias = u32::try_from(self.aliases.len()).unwrap_or(NO_ALIAS);
                    self.aliases.push(AliasSlot {
                        record: index,
                        set: u32::try_from(position).unwrap_or(u32::MAX),
                        hostnames: set.hostnames.clone().into(),
                        check: set
                            .health_check
                            .as_ref()
                            .map(|check| alias_check(check, &record.name)),
                    });
                }
                compiled
            })
            .collect()
    }
}

/// The check a hostname target's resolved addresses are probed with: the
/// set's, its Host header and SNI defaulting to the record name, since an
/// ingress behind a load balancer name routes by the served name, not by
/// the balancer's address.
fn alias_check(check: &Arc<HealthCheck>, record: &Name) -> Arc<HealthCheck> {
    if check.host.is_some() {
        return check.clone();
    }
    let host = record.to_string();
    let host = host.strip_suffix('.').unwrap_or(&host).to_owned();
    Arc::new(HealthCheck {
        host: Some(host),
        ..(**check).clone()
    })
}

/// The table's name map: lower-cased wire name to what exists there.
pub(super) type NameMap = HashMap<Box<[u8]>, NameEntry, foldhash::fast::FixedState>;

/// Inserts `name` and the empty non-terminals between it and its apex.
pub(super) fn add_name<'m>(
    names: &'m mut NameMap,
    name: &Name,
    origin: &Name,
    zone: u16,
) -> &'m mut NameEntry {
    let mut parent = name.parent();
    while let Some(p) = parent {
        if p.wire().len() <= origin.wire().len() {
            break;
        }
        names.entry(p.wire().into()).or_insert(NameEntry {
            zone,
            ..NameEntry::default()
        });
        parent = p.parent();
    }
    names.entry(name.wire().into()).or_insert(NameEntry {
        zone,
        ..NameEntry::default()
    })
}

fn compile_set(
    set: &model::TargetSet,
    index: u32,
    probes: &mut HashMap<Probe, u32>,
    shared: &mut Shared,
) -> Set {
    let mut targets: Vec<Target> = Vec::with_capacity(set.targets.len());
    // IPv4 first, then IPv6, each in config order.
    let v4 = set.targets.iter().filter(|a| a.is_ipv4());
    for addr in v4.chain(set.targets.iter().filter(|a| a.is_ipv6())) {
        let probe = match &set.health_check {
            None => NO_PROBE,
            Some(check) => {
                let next = u32::try_from(probes.len()).unwrap_or(NO_PROBE);
                *probes
                    .entry(Probe {
                        check: check.clone(),
                        addr: *addr,
                    })
                    .or_insert(next)
            }
        };
        targets.push(Target { addr: *addr, probe });
    }
    let v6_from = targets.iter().take_while(|t| t.addr.is_ipv4()).count();
    Set {
        id: shared.id(&set.id),
        index,
        weight: set.weight,
        priority: set.priority,
        geo: shared.geo(&set.geo),
        location: set.location,
        targets: targets.into(),
        v6_from: u32::try_from(v6_from).unwrap_or(u32::MAX),
        health_check: set.health_check.clone(),
        alias: NO_ALIAS,
    }
}

fn glue_of(name: &Name, addrs: &[IpAddr]) -> Glue {
    Glue {
        name: name.clone(),
        v4: addrs
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect(),
        v6: addrs
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(v6) => Some(*v6),
                IpAddr::V4(_) => None,
            })
            .collect(),
    }
}

fn soa_rdata(soa: &model::Soa) -> Box<[u8]> {
    let mut rdata = Vec::with_capacity(soa.mname.wire().len() + soa.rname.wire().len() + 20);
    rdata.extend_from_slice(soa.mname.wire());
    rdata.extend_from_slice(soa.rname.wire());
    for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
        rdata.extend_from_slice(&value.to_be_bytes());
    }
    rdata.into()
}

/// Shared by tests across the crate: a table from YAML text.
#[cfg(test)]
pub(crate) fn table_from_yaml(yaml: &str) -> std::sync::Arc<Table> {
    // Production's reader, so tests see the YAML exactly as gslb does.
    let config = crate::config::load_from_text("test.yaml", yaml, &[])
        .unwrap_or_else(|e| panic!("test config is valid:\n{e}"));
    std::sync::Arc::new(compile(&config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Family, Lookup};

    const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers:
      ns1.global.example.test.: [192.0.2.53, "2001:db8::53"]
      ns.outside.test.: []
health_checks:
  web: { kind: tcp, port: 80 }
records:
  - name: a.b.global.example.test.
    sets:
      - { id: one, targets: [192.0.2.1, "2001:db8::1"], health_check: web }
      - { id: two, targets: [192.0.2.1], health_check: web }
  - name: global.example.test.
    sets: [{ id: apex, targets: [192.0.2.9] }]
"#;

    fn wire(name: &str) -> Box<[u8]> {
        Name::parse(name).unwrap().wire().into()
    }

    #[test]
    fn names_apex_records_glue_and_empty_non_terminals() {
        let table = table_from_yaml(YAML);
        let Lookup::Found(apex) = table.lookup(&wire("global.example.test")) else {
            panic!("apex exists");
        };
        assert!(apex.apex && apex.record == Some(1));
        let Lookup::Found(ent) = table.lookup(&wire("b.global.example.test")) else {
            panic!("empty non-terminal exists");
        };
        assert_eq!((ent.record, ent.glue, ent.apex), (None, None, false));
        let Lookup::Found(ns) = table.lookup(&wire("ns1.global.example.test")) else {
            panic!("glue name exists");
        };
        assert_eq!(ns.glue, Some(0));
        assert_eq!(
            table.lookup(&wire("x.a.b.global.example.test")),
            Lookup::NxDomain(0)
        );
        assert_eq!(table.lookup(&wire("example.test")), Lookup::Refused);
        assert_eq!(table.lookup(&wire("other.test")), Lookup::Refused);
    }

    #[test]
    fn probes_are_shared_per_check_and_address() {
        let table = table_from_yaml(YAML);
        assert_eq!(
            table.probes.len(),
            2,
            "192.0.2.1 shared by both sets, plus the v6 target"
        );
        let record = &table.records[0];
        assert_eq!(
            record.sets[0].targets(Family::V4)[0].probe,
            record.sets[1].targets(Family::V4)[0].probe
        );
        assert_eq!(
            record.sets[0].targets(Family::V6)[0].addr,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            table.records[1].sets[0].targets(Family::V4)[0].probe,
            NO_PROBE
        );
        assert_eq!(table.set_count, 3);
    }

    #[test]
    fn soa_and_ns_are_precomputed() {
        let table = table_from_yaml(YAML);
        let zone = &table.zones[0];
        assert_eq!(zone.negative_ttl, 30);
        assert!(zone.soa_rdata.starts_with(&wire("ns1.global.example.test")));
        assert_eq!(zone.nameservers.len(), 2);
        let inside = zone.nameservers.iter().find(|n| n.glue.is_some()).unwrap();
        assert_eq!(inside.labels_before_apex, Some(4));
        assert!(
            zone.nameservers
                .iter()
                .any(|n| n.labels_before_apex.is_none())
        );
    }
}
