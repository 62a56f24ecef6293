//! The writer's side of RFC 2136 updates: the dynamic records of every
//! zone, kept by origin so they outlive reloads (zone indexes do not),
//! each zone's SOA serial, and the view of the compiled table that
//! prerequisites and conflicts are checked against.
//!
//! Each record also carries the version of its last change (a deletion
//! leaves a tombstone): the peer group shares dynamic records as a map
//! merged last-writer-wins per record, so an update accepted by one
//! instance is answered by all. A peer's record is added as an update by
//! its key would be, through this instance's own policy and caps.

use crate::iana::rtype;
use std::collections::BTreeMap;

use tracing::{info, warn};

use super::super::ddns::published::Dynamic;
use super::super::ddns::saved::{SavedRecord, SavedZone, SharedRecord};
use super::super::ddns::{
    Conflict, Context, DynamicZone, Refusal, StaticZone, Update, name_from_wire, txt,
};
use super::super::rrset::{RrSet, RrSets};
use super::super::shared::version::{Clock, Version, now_ms};
use super::super::shared::{MAX_CLOCK_AHEAD, TOMBSTONE_TTL};
use super::super::{Family, Lookup, Table};
use crate::model::Config;
use crate::model::ddns::UPDATABLE_TYPES;
use crate::name::Name;

/// Why the writer did not apply an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// gslb does not serve the zone (NOTAUTH, RFC 2136 §3.1.1).
    #[error("gslb is not authoritative for the zone")]
    NotAuth,
    /// Not signed: gslb takes signed updates only (REFUSED).
    #[error("unsigned updates are refused")]
    Unsigned,
    /// The zone takes no updates, or not from this key (REFUSED).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// RFC 2136 processing turned it down.
    #[error(transparent)]
    Rejected(Refusal),
    /// The writer has stopped.
    #[error("the server is shutting down")]
    Stopped,
}

/// One zone's dynamic state.
#[derive(Debug, Clone, Default)]
pub(super) struct ZoneState {
    /// Its records.
    pub(super) records: DynamicZone,
    /// The SOA serial answered instead of the config's, once an update
    /// changed the zone; kept so it never goes back.
    pub(super) serial: Option<u32>,
    /// The last change of each record that changed since versions exist,
    /// deletions included.
    stamps: BTreeMap<RecordKey, Stamp>,
}

/// A record in the shared map: owner (wire), type, RDATA.
type RecordKey = (Box<[u8]>, u16, Box<[u8]>);

/// A record's last change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    version: Version,
    present: bool,
}

/// What a merge of a peer's records did.
#[derive(Debug, Default)]
pub(super) struct RecordsMerged {
    /// Records taken in (newer than this instance's).
    pub(super) taken: Vec<SharedRecord>,
    /// Records refused, with why.
    pub(super) refused: Vec<(SharedRecord, String)>,
}

/// Every record of a zone with its TTL and key.
fn contents(zone: &DynamicZone) -> BTreeMap<RecordKey, (u32, Name)> {
    zone.records()
        .map(|(name, rtype, ttl, record)| {
            (
                (name.into(), rtype, record.rdata.clone()),
                (ttl, record.key.clone()),
            )
        })
        .collect()
}

impl ZoneState {
    /// Stamps every record that differs between `before` and now with a
    /// new version from `clock`.
    fn stamp_changes(&mut self, before: &BTreeMap<RecordKey, (u32, Name)>, clock: &mut Clock) {
        let now_ms = now_ms();
        let after = contents(&self.records);
        let keys: std::collections::BTreeSet<&RecordKey> =
            before.keys().chain(after.keys()).collect();
        for key in keys {
            if before.get(key) != after.get(key) {
                let stamp = Stamp {
                    version: clock.tick(now_ms),
                    present: after.contains_key(key),
                };
                self.stamps.insert(key.clone(), stamp);
            }
        }
    }

    /// The zone's records in the state file's and the peers' form:
    /// present ones with their versions, and tombstones.
    fn saved_records(&self) -> Vec<SavedRecord> {
        let mut records = self.records.save();
        for record in &mut records {
            if let Ok(parsed) = record.parse() {
                let key = (parsed.name.wire().into(), parsed.rtype, parsed.rdata.into());
                if let Some(stamp) = self.stamps.get(&key) {
                    record.version = stamp.version.clone();
                }
            }
        }
        for ((name, rtype, rdata), stamp) in &self.stamps {
            let (Some(owner), false) = (name_from_wire(name), stamp.present) else {
                continue;
            };
            let Some((_, type_name)) = UPDATABLE_TYPES.iter().find(|(t, _)| t == rtype) else {
                continue;
            };
            records.push(SavedRecord {
                name: owner.to_string(),
                rtype: (*type_name).to_owned(),
                ttl: 0,
                data: txt::to_text(rdata),
                key: String::new(),
                present: false,
                version: stamp.version.clone(),
            });
        }
        records
    }
}

/// Every zone's dynamic state, by origin.
#[derive(Debug, Clone, Default)]
pub(super) struct DynamicState {
    pub(super) zones: BTreeMap<Name, ZoneState>,
}

/// RFC 1982: whether serial `a` is greater than `b`.
fn serial_gt(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// The larger of two serials in RFC 1982 arithmetic.
pub(super) fn serial_max(a: u32, b: u32) -> u32 {
    if serial_gt(b, a) { b } else { a }
}

/// The serial after a change: one more than the last answered, but never
/// behind the config's (whose default, the load's Unix time, moves on).
pub(super) fn next_serial(compiled: u32, previous: Option<u32>) -> u32 {
    match previous {
        None => compiled.wrapping_add(1),
        Some(previous) => serial_max(compiled, previous.wrapping_add(1)),
    }
}

impl DynamicState {
    /// Applies a verified update to the zone at `origin_wire` of `table`.
    /// Returns whether the zone changed.
    pub(super) fn apply(
        &mut self,
        table: &Table,
        config: &Config,
        origin_wire: &[u8],
        key: Option<&Name>,
        update: &Update,
        clock: &mut Clock,
    ) -> Result<bool, UpdateError> {
        let index = table
            .zones
            .iter()
            .position(|z| z.origin.wire() == origin_wire)
            .ok_or(UpdateError::NotAuth)?;
        let origin = &table.zones[index].origin;
        let policy = config
            .zones
            .get(index)
            .and_then(|z| z.updates.as_ref())
            .ok_or(UpdateError::Refused("the zone takes no updates"))?;
        let key = key.ok_or(UpdateError::Unsigned)?;
        if policy.key(key.wire()).is_none() {
            return Err(UpdateError::Refused("the key is not one of the zone's"));
        }
        let statics = TableZone::new(table, index);
        let ctx = Context {
            origin,
            policy,
            statics: &statics,
            key,
        };
        let state = self.zones.entry(origin.clone()).or_default();
        let before = contents(&state.records);
        let changed = state
            .records
            .apply(&ctx, update)
            .map_err(UpdateError::Rejected)?;
        if changed {
            let compiled = config.zones[index].soa.serial;
            state.serial = Some(next_serial(compiled, state.serial));
            state.stamp_changes(&before, clock);
        }
        Ok(changed)
    }

    /// After a reload: drops (and logs) the records that the new config's
    /// zones, policies or records no longer allow; keeps serials from
    /// going back. Returns whether any record was dropped.
    pub(super) fn retain_allowed(&mut self, table: &Table, config: &Config) -> bool {
        let mut dropped_any = false;
        self.zones.retain(|origin, state| {
            let index = table.zones.iter().position(|z| z.origin == *origin);
            let dropped = match index {
                None => {
                    let n = state.records.len();
                    if n > 0 {
                        warn!(zone = %origin, records = n, "dynamic records dropped: the reload removed their zone");
                    }
                    dropped_any |= n > 0;
                    return false;
                }
                Some(index) => state.records.retain_allowed(
                    origin,
                    config.zones[index].updates.as_ref(),
                    &TableZone::new(table, index),
                ),
            };
            for d in &dropped {
                warn!(zone = %origin, name = %d.name, rtype = d.rtype, key = %d.key, why = d.why, "dynamic record dropped by the reload");
            }
            dropped_any |= !dropped.is_empty();
            true
        });
        dropped_any
    }

    /// Restores saved zones through the current config; logs what is not
    /// allowed any more. Returns whether anything was dropped.
    pub(super) fn restore(&mut self, table: &Table, config: &Config, saved: &[SavedZone]) -> bool {
        let mut dropped_any = false;
        for zone in saved {
            let index = Name::parse(&zone.origin)
                .ok()
                .and_then(|o| table.zones.iter().position(|z| z.origin == o));
            let Some(index) = index else {
                warn!(zone = %zone.origin, records = zone.records.len(), "saved dynamic records dropped: gslb no longer serves their zone");
                dropped_any |= !zone.records.is_empty();
                continue;
            };
            let origin = table.zones[index].origin.clone();
            let Some(policy) = config.zones[index].updates.as_ref() else {
                if !zone.records.is_empty() {
                    warn!(zone = %origin, records = zone.records.len(), "saved dynamic records dropped: the zone takes no updates");
                    dropped_any = true;
                }
                continue;
            };
            let statics = TableZone::new(table, index);
            let ctx = Context {
                origin: &origin,
                policy,
                statics: &statics,
                key: &origin,
            };
            let state = self.zones.entry(origin.clone()).or_default();
            let rejected = state.records.restore(&ctx, &zone.records);
            for (record, why) in &rejected {
                warn!(zone = %origin, name = %record.name, rtype = %record.rtype, key = %record.key, why = %why, "saved dynamic record dropped");
                dropped_any = true;
            }
            for record in zone
                .records
                .iter()
                .filter(|r| !rejected.iter().any(|(x, _)| x == *r))
            {
                if let Ok(parsed) = record.parse() {
                    let key = (parsed.name.wire().into(), parsed.rtype, parsed.rdata.into());
                    let stamp = Stamp {
                        version: record.version.clone(),
                        present: record.present,
                    };
                    state.stamps.insert(key, stamp);
                }
            }
            let compiled = config.zones[index].soa.serial;
            state.serial = Some(serial_max(compiled, zone.serial));
            info!(zone = %origin, records = state.records.len(), serial = zone.serial, "dynamic records restored");
        }
        dropped_any
    }

    /// The read layer queries see: every dynamic RRset, and the serial
    /// of each zone an update changed (never behind the config's).
    pub(super) fn layer(&self, table: &Table, config: &Config) -> Dynamic {
        let mut names: BTreeMap<Name, Vec<RrSet>> = BTreeMap::new();
        let mut serials = vec![None; table.zones.len()];
        for (index, zone) in table.zones.iter().enumerate() {
            let Some(state) = self.zones.get(&zone.origin) else {
                continue;
            };
            let compiled = config.zones.get(index).map_or(0, |z| z.soa.serial);
            serials[index] = state.serial.map(|s| serial_max(compiled, s));
            for (owner, rtype, set) in state.records.rrsets() {
                let Some(owner) = name_from_wire(owner) else {
                    continue;
                };
                names.entry(owner).or_default().push(RrSet {
                    rtype,
                    ttl: set.ttl,
                    rdata: set.records.iter().map(|r| r.rdata.clone()).collect(),
                });
            }
        }
        Dynamic::build(
            table,
            names
                .into_iter()
                .map(|(name, sets)| (name, RrSets::new(sets))),
            serials,
        )
    }

    /// What the state file keeps.
    pub(super) fn save(&self) -> Vec<SavedZone> {
        self.zones
            .iter()
            .filter_map(|(origin, state)| {
                Some(SavedZone {
                    origin: origin.to_string(),
                    serial: state.serial?,
                    records: state.saved_records(),
                })
            })
            .collect()
    }

    /// What the peers are shown: every zone's records and tombstones.
    pub(super) fn shared(&self) -> Vec<SharedRecord> {
        self.zones
            .iter()
            .flat_map(|(origin, state)| {
                state
                    .saved_records()
                    .into_iter()
                    .map(|record| SharedRecord {
                        zone: origin.to_string(),
                        record,
                    })
            })
            .collect()
    }

    /// Forgets tombstones older than [`TOMBSTONE_TTL`].
    pub(super) fn expire_tombstones(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(TOMBSTONE_TTL.as_millis() as u64);
        for state in self.zones.values_mut() {
            state
                .stamps
                .retain(|_, s| s.present || s.version.ms >= oldest);
        }
    }

    /// Merges a peer's records: each that is newer than this instance's
    /// is added (through this instance's policy and caps, as an update by
    /// its key) or deleted. Refused: zones this instance does not serve or
    /// that take no updates, records its policy does not allow, and
    /// versions more than [`MAX_CLOCK_AHEAD`] ahead of `now_ms`.
    pub(super) fn merge(
        &mut self,
        table: &Table,
        config: &Config,
        items: &[SharedRecord],
        now_ms: u64,
    ) -> RecordsMerged {
        let mut merged = RecordsMerged::default();
        let horizon = now_ms.saturating_add(MAX_CLOCK_AHEAD.as_millis() as u64);
        for item in items {
            match self.merge_one(table, config, item, horizon) {
                Ok(true) => merged.taken.push(item.clone()),
                Ok(false) => {}
                Err(why) => merged.refused.push((item.clone(), why)),
            }
        }
        merged
    }

    /// Merges one record; whether it was newer than this instance's.
    fn merge_one(
        &mut self,
        table: &Table,
        config: &Config,
        item: &SharedRecord,
        horizon: u64,
    ) -> Result<bool, String> {
        let index = Name::parse(&item.zone)
            .ok()
            .and_then(|o| table.zones.iter().position(|z| z.origin == o))
            .ok_or("the zone is not one this instance serves")?;
        let policy = config.zones[index]
            .updates
            .as_ref()
            .ok_or("the zone takes no updates here")?;
        if item.record.version.ms > horizon {
            return Err("its version is ahead of this instance's clock".into());
        }
        let parsed = item.record.parse()?;
        let origin = table.zones[index].origin.clone();
        let key: RecordKey = (
            parsed.name.wire().into(),
            parsed.rtype,
            parsed.rdata.clone().into(),
        );
        let state = self.zones.entry(origin.clone()).or_default();
        if state
            .stamps
            .get(&key)
            .is_some_and(|s| s.version >= item.record.version)
        {
            return Ok(false);
        }
        let changed = if item.record.present {
            let statics = TableZone::new(table, index);
            let ctx = Context {
                origin: &origin,
                policy,
                statics: &statics,
                key: &origin,
            };
            state.records.add_as_key(&ctx, &parsed, item.record.ttl)?
        } else {
            state.records.delete(&key.0, key.1, &key.2)
        };
        let stamp = Stamp {
            version: item.record.version.clone(),
            present: item.record.present,
        };
        state.stamps.insert(key, stamp);
        if changed {
            let compiled = config.zones[index].soa.serial;
            state.serial = Some(next_serial(compiled, state.serial));
        }
        Ok(true)
    }
}

/// The compiled table's records of one zone, as updates see them.
pub(crate) struct TableZone<'t> {
    table: &'t Table,
    zone: u16,
}

impl<'t> TableZone<'t> {
    pub(crate) fn new(table: &'t Table, zone: usize) -> Self {
        Self {
            table,
            zone: u16::try_from(zone).unwrap_or(u16::MAX),
        }
    }
}

impl StaticZone for TableZone<'_> {
    fn contains(&self, name: &[u8]) -> bool {
        match self.table.lookup(name) {
            Lookup::Found(entry) => entry.zone == self.zone,
            Lookup::NxDomain(zone) | Lookup::Referral { zone, .. } => zone == self.zone,
            Lookup::Refused => false,
        }
    }

    fn name_in_use(&self, name: &[u8]) -> bool {
        match self.table.lookup(name) {
            Lookup::Found(e) => {
                e.apex || e.record.is_some() || e.glue.is_some() || e.statics.is_some()
            }
            _ => false,
        }
    }

    fn rrset(&self, name: &[u8], rtype: u16) -> Option<Vec<Vec<u8>>> {
        let Lookup::Found(entry) = self.table.lookup(name) else {
            return None;
        };
        let zone = &self.table.zones[usize::from(entry.zone)];
        let family = match rtype {
            rtype::SOA if entry.apex => return Some(vec![zone.soa_rdata.to_vec()]),
            rtype::NS if entry.apex => {
                return Some(
                    zone.nameservers
                        .iter()
                        .map(|ns| ns.name.wire().to_vec())
                        .collect(),
                );
            }
            rtype::A => Family::V4,
            rtype::AAAA => Family::V6,
            _ => {
                let set = self.table.statics_at(name)?.get(rtype)?;
                return Some(set.rdata.iter().map(|r| r.to_vec()).collect());
            }
        };
        let mut data: Vec<Vec<u8>> = Vec::new();
        if let Some(set) = self.table.statics_at(name).and_then(|s| s.get(rtype)) {
            data.extend(set.rdata.iter().map(|r| r.to_vec()));
        }
        if let Some(record) = entry
            .record
            .and_then(|r| self.table.records.get(r as usize))
        {
            // A GSLB record's answer changes with health and the client:
            // its RRset is every address it may answer.
            for set in &record.sets {
                for target in set.targets(family) {
                    data.push(ip_rdata(target.addr));
                }
            }
        }
        if let Some(glue) = entry.glue.and_then(|g| self.table.glue.get(g as usize)) {
            match family {
                Family::V4 => data.extend(glue.v4.iter().map(|a| a.octets().to_vec())),
                Family::V6 => data.extend(glue.v6.iter().map(|a| a.octets().to_vec())),
            }
        }
        data.sort();
        data.dedup();
        (!data.is_empty()).then_some(data)
    }

    fn may_add(&self, name: &[u8], rtype: u16) -> Result<(), Conflict> {
        match self.table.lookup(name) {
            Lookup::Referral { .. } => return Err(Conflict::BelowDelegation),
            Lookup::Found(e) if e.cut.is_some() => return Err(Conflict::BelowDelegation),
            _ => {}
        }
        let statics = self.table.statics_at(name);
        if rtype != rtype::CNAME && statics.is_some_and(|s| s.get(rtype::CNAME).is_some()) {
            return Err(Conflict::Cname);
        }
        match self.rrset(name, rtype) {
            Some(_) => Err(Conflict::Config),
            None => Ok(()),
        }
    }
}

fn ip_rdata(addr: std::net::IpAddr) -> Vec<u8> {
    match addr {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl DynamicState {
        /// `apply` with a clock of its own, for tests of one instance.
        fn apply_now(
            &mut self,
            table: &Table,
            config: &Config,
            origin_wire: &[u8],
            key: Option<&Name>,
            update: &Update,
        ) -> Result<bool, UpdateError> {
            let mut clock = Clock::new("test");
            self.apply(table, config, origin_wire, key, update, &mut clock)
        }
    }
    use crate::iana::class;
    use crate::table::compile;
    use crate::table::ddns::UpdateRr;

    /// A zone with a static TXT, a CNAME and a delegation, and a key that
    /// may write TXT at `_acme-challenge.*` and at `alias`, `sub`'s child
    /// and `txt` (so the config's data, not the policy, decides there).
    fn setup(dir: &std::path::Path, allow_key: bool) -> (Config, Table) {
        let secret = dir.join("key");
        std::fs::write(&secret, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n").unwrap();
        let key = if allow_key { "acme." } else { "other." };
        let yaml = format!(
            r#"
server: {{ dns_listen: ["127.0.0.1:0"] }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., serial: 100 }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
    static:
      - {{ name: alias, type: CNAME, data: webapp }}
      - {{ name: _acme-challenge.x.cn, type: CNAME, data: webapp }}
      - {{ name: txt, type: TXT, data: '"config"' }}
      - {{ name: sub, type: NS, data: ns.sub }}
      - {{ name: ns.sub, type: A, data: 192.0.2.1 }}
    updates:
      keys: [{{ name: {key}, secret_file: "{}" }}]
      allow: [{{ key: {key}, names: ["_acme-challenge.*", alias, txt, x.sub], types: [TXT] }}]
records:
  - name: webapp.global.example.test.
    sets: [{{ id: one, targets: [192.0.2.10] }}]
"#,
            secret.display()
        );
        let config = crate::config::load_from_text("test.yaml", &yaml, &[]).unwrap();
        let table = compile::compile(&config);
        (config, table)
    }

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn add(owner: &str, data: &[u8]) -> Update {
        Update {
            prerequisites: Vec::new(),
            changes: vec![UpdateRr {
                name: name(owner).wire().into(),
                rtype: 16,
                class: class::IN,
                ttl: 60,
                rdata: data.into(),
            }],
        }
    }

    const ZONE: &str = "global.example.test";

    #[test]
    fn the_configs_records_decide_where_a_key_may_write() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        let mut apply = |owner: &str| {
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&acme),
                &add(owner, b"\x01t"),
            )
        };
        let refused = |why| Err(UpdateError::Rejected(Refusal::Refused(why)));
        assert_eq!(
            apply("txt.global.example.test"),
            refused("the config has records of this type there")
        );
        assert_eq!(
            apply("x.sub.global.example.test"),
            refused("the name is at or below a delegation")
        );
        assert_eq!(
            apply("alias.global.example.test"),
            Ok(false),
            "ignored at a CNAME"
        );
        assert_eq!(
            apply("_acme-challenge.webapp.global.example.test"),
            Ok(true)
        );
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                name("example.test").wire(),
                Some(&acme),
                &add("_acme-challenge.example.test", b"\x01t")
            ),
            Err(UpdateError::NotAuth)
        );
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                None,
                &add("_acme-challenge.global.example.test", b"\x01t")
            ),
            Err(UpdateError::Unsigned)
        );
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&name("stranger.")),
                &add("_acme-challenge.global.example.test", b"\x01t")
            ),
            Err(UpdateError::Refused("the key is not one of the zone's"))
        );
    }

    #[test]
    fn prerequisites_see_gslb_records_static_data_and_dynamic_data() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        let prereq = |owner: &str, rtype: u16, class: u16| {
            let mut update = add("_acme-challenge.global.example.test", b"\x01p");
            update.prerequisites.push(UpdateRr {
                name: name(owner).wire().into(),
                rtype,
                class,
                ttl: 0,
                rdata: Box::default(),
            });
            update
        };
        let mut run =
            |update: &Update| state.apply_now(&table, &config, zone.wire(), Some(&acme), update);
        // "RRset exists": webapp's A (a GSLB record), txt's static TXT.
        assert_eq!(
            run(&prereq("webapp.global.example.test", 1, class::ANY)),
            Ok(true)
        );
        assert_eq!(
            run(&prereq("txt.global.example.test", 16, class::ANY)),
            Ok(false)
        );
        // "RRset does not exist" fails on the static TXT: YXRRSET.
        assert_eq!(
            run(&prereq("txt.global.example.test", 16, class::NONE)),
            Err(UpdateError::Rejected(Refusal::YxRrset))
        );
        // "Name not in use" fails on a GSLB record's name: YXDOMAIN.
        assert_eq!(
            run(&prereq(
                "webapp.global.example.test",
                rtype::ANY,
                class::NONE
            )),
            Err(UpdateError::Rejected(Refusal::YxDomain))
        );
        // The dynamic record itself counts.
        assert_eq!(
            run(&prereq(
                "_acme-challenge.global.example.test",
                16,
                class::ANY
            )),
            Ok(false)
        );
    }

    #[test]
    fn the_layer_has_the_records_and_a_serial_that_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        let owner = "_acme-challenge.a.b.global.example.test";
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&acme),
                &add(owner, b"\x01t")
            ),
            Ok(true)
        );
        let layer = state.layer(&table, &config);
        let at = layer.get(name(owner).wire()).expect("the record is served");
        assert_eq!(at.rrsets.get(16).map(|s| s.rdata.len()), Some(1));
        assert!(
            layer.get(name("a.b.global.example.test").wire()).is_some(),
            "empty non-terminal"
        );
        assert_eq!(layer.serial(0), Some(101));
        // A no-op does not bump it; a delete does.
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&acme),
                &add(owner, b"\x01t")
            ),
            Ok(false)
        );
        let mut delete = add(owner, b"\x01t");
        delete.changes[0].class = class::NONE;
        delete.changes[0].ttl = 0;
        assert_eq!(
            state.apply_now(&table, &config, zone.wire(), Some(&acme), &delete),
            Ok(true)
        );
        let layer = state.layer(&table, &config);
        assert!(layer.get(name(owner).wire()).is_none());
        assert_eq!(layer.serial(0), Some(102));
        let saved = state.save();
        let present = saved[0].records.iter().filter(|r| r.present).count();
        assert_eq!((saved[0].serial, present), (102, 0));
        assert_eq!(
            saved[0].records.len(),
            1,
            "the deletion is kept for the peers"
        );
    }

    #[test]
    fn a_reload_or_restore_without_the_key_drops_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let owner = "_acme-challenge.global.example.test";
        let zone = name(ZONE);
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&name("acme.")),
                &add(owner, b"\x01t")
            ),
            Ok(true)
        );
        let saved = state.save();
        // Restored under the same config: the record is back.
        let mut restored = DynamicState::default();
        assert!(!restored.restore(&table, &config, &saved));
        assert!(
            restored
                .layer(&table, &config)
                .get(name(owner).wire())
                .is_some()
        );
        // A config whose rules name another key.
        let (config, table) = setup(dir.path(), false);
        assert!(state.retain_allowed(&table, &config), "dropped");
        assert!(
            state
                .layer(&table, &config)
                .get(name(owner).wire())
                .is_none()
        );
        assert_eq!(
            state.layer(&table, &config).serial(0),
            Some(101),
            "the serial stays"
        );
        let mut restored = DynamicState::default();
        assert!(restored.restore(&table, &config, &saved));
        assert!(
            restored
                .layer(&table, &config)
                .get(name(owner).wire())
                .is_none()
        );
    }

    /// A wire name of `labels` followed by the zone's: a label may hold a
    /// dot, which the text form would read as two labels.
    fn dotted(labels: &[&str]) -> Box<[u8]> {
        let mut wire = Vec::new();
        for label in labels {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.extend_from_slice(name(ZONE).wire());
        wire.into()
    }

    fn add_at(owner: Box<[u8]>, data: &[u8]) -> Update {
        Update {
            prerequisites: Vec::new(),
            changes: vec![UpdateRr {
                name: owner,
                rtype: 16,
                class: class::IN,
                ttl: 60,
                rdata: data.into(),
            }],
        }
    }

    const NO_DOTS: Result<bool, UpdateError> = Err(UpdateError::Rejected(Refusal::Refused(
        "a name has a label gslb cannot hold: only letters, digits, '-' and '_' (no '.' inside a label)",
    )));

    #[test]
    fn a_dotted_label_cannot_slip_a_txt_beside_a_static_cname() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        // Served and saved as _acme-challenge.x.cn, where the config has a CNAME.
        let owner = dotted(&["_acme-challenge", "x.cn"]);
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                name(ZONE).wire(),
                Some(&name("acme.")),
                &add_at(owner, b"\x01t")
            ),
            NO_DOTS
        );
    }

    #[test]
    fn a_dotted_label_cannot_reach_below_a_delegation() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        // Served and saved as _acme-challenge.x.sub, below the delegation sub.
        let owner = dotted(&["_acme-challenge", "x.sub"]);
        assert_eq!(
            state.apply_now(
                &table,
                &config,
                name(ZONE).wire(),
                Some(&name("acme.")),
                &add_at(owner, b"\x01t")
            ),
            NO_DOTS
        );
    }

    #[test]
    fn a_dotted_label_cannot_make_two_rrsets_at_one_name() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        let plain = dotted(&["_acme-challenge", "a", "b"]);
        let mut apply =
            |update: &Update| state.apply_now(&table, &config, zone.wire(), Some(&acme), update);
        assert_eq!(apply(&add_at(plain, b"\x03one")), Ok(true));
        let dotted_add = apply(&add_at(dotted(&["_acme-challenge", "a.b"]), b"\x03two"));
        let layer = state.layer(&table, &config);
        let at = layer
            .get(name("_acme-challenge.a.b.global.example.test").wire())
            .expect("served");
        let txt: Vec<_> = at.rrsets.iter().filter(|s| s.rtype == 16).collect();
        assert_eq!(txt.len(), 1, "one TXT RRset at the name: {txt:?}");
        assert_eq!(dotted_add, NO_DOTS);
    }

    #[test]
    fn a_dotted_label_cannot_merge_records_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        for owner in [
            dotted(&["_acme-challenge", "a", "b"]),
            dotted(&["_acme-challenge", "a.b"]),
        ] {
            let _ = state.apply_now(
                &table,
                &config,
                zone.wire(),
                Some(&acme),
                &add_at(owner, b"\x01t"),
            );
        }
        let served = |state: &DynamicState| {
            let layer = state.layer(&table, &config);
            layer
                .get(name("_acme-challenge.a.b.global.example.test").wire())
                .map_or(0, |at| {
                    at.rrsets.iter().map(|s| s.rdata.len()).sum::<usize>()
                })
        };
        let before = served(&state);
        let mut restored = DynamicState::default();
        assert!(!restored.restore(&table, &config, &state.save()));
        assert_eq!(
            served(&restored),
            before,
            "a restart serves the records served before it"
        );
    }

    #[test]
    fn deleting_a_static_txt_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (config, table) = setup(dir.path(), true);
        let mut state = DynamicState::default();
        let zone = name(ZONE);
        let acme = name("acme.");
        let read_only = Err(UpdateError::Rejected(Refusal::Refused(
            "the config's records are read-only",
        )));
        let mut rrset = add("txt.global.example.test", b"");
        rrset.changes[0].class = class::ANY;
        rrset.changes[0].ttl = 0;
        let mut one = add("txt.global.example.test", b"\x06config");
        one.changes[0].class = class::NONE;
        one.changes[0].ttl = 0;
        for delete in [rrset, one] {
            assert_eq!(
                state.apply_now(&table, &config, zone.wire(), Some(&acme), &delete),
                read_only,
                "{delete:?}"
            );
        }
    }

    #[test]
    fn serials_follow_rfc_1982_and_never_go_back() {
        assert_eq!(next_serial(100, None), 101);
        assert_eq!(next_serial(100, Some(150)), 151);
        assert_eq!(
            next_serial(200, Some(150)),
            200,
            "a newer config serial wins"
        );
        assert_eq!(
            next_serial(5, Some(u32::MAX)),
            5,
            "wraps: MAX + 1 = 0 is behind 5"
        );
        assert_eq!(
            next_serial(u32::MAX - 1, Some(u32::MAX)),
            0,
            "0 follows MAX"
        );
        assert_eq!(serial_max(u32::MAX, 3), 3);
        assert_eq!(serial_max(7, 7), 7);
    }
}
