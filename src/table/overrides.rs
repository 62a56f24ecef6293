//! The operators' overrides as the table writer keeps them: by (record,
//! set) with who set them, when, why and on which instance, so `GET
//! /overrides`, the state file and the peers can say so. The DNS path never
//! reads this; it reads the two-bit [`SetOverrides`] the writer derives
//! from it.
//!
//! The book is a last-writer-wins map shared by a peer group: each entry
//! carries the [`Version`] of its last change, a cleared override stays as
//! a tombstone (state `auto`) for [`TOMBSTONE_TTL`], and merging a peer's
//! entries keeps the newer of each, so instances that saw the same changes
//! hold the same book.
//!
//! An override lives as long as its set: a reload that removes the set
//! clears the override (a tombstone, so the peers clear it too), and it
//! does not come back with the name. An override for a set this instance's
//! config does not have yet (a peer's config is ahead, or the set went
//! while gslb was stopped) is kept, inactive, and applies when the set is
//! there: instances whose configs differ for a while never clear each
//! other's drains.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::liveness::{Override, SetOverrides};
use super::shared::version::{Clock, Version, now_ms};
use super::shared::{MAX_CLOCK_AHEAD, TOMBSTONE_TTL};
use super::{Lookup, Table, writer::OverrideError};
use crate::name::Name;

/// One override, as listed by `GET /overrides`, kept in the state file
/// and shared with peers. State `auto` is a cleared override (a
/// tombstone), never listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideEntry {
    /// Record name, fully qualified.
    pub record: String,
    /// Set id.
    pub set: String,
    /// `up`, `down`, or `auto` for a cleared one.
    pub state: Override,
    /// Why, as the operator said (`X-Gslb-Reason` or the body's `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Address of the admin client that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// When it was set (RFC 3339).
    pub at: String,
    /// The change's version; `by` is the instance that took it. Entries
    /// saved by an older gslb have none and lose to any change.
    #[serde(default = "Version::ancient")]
    pub version: Version,
}

/// Where an override in force comes from, as `GET /overrides` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideSource {
    /// The admin API of this instance or of a peer.
    Admin,
    /// A record file: crd-sync writes one entry per GslbOverride object.
    Kubernetes,
}

/// One override in force as `GET /overrides` lists it: the book's and the
/// record files' together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedOverride {
    /// Record name, fully qualified.
    pub record: String,
    /// Set id.
    pub set: String,
    /// `up` or `down`.
    pub state: Override,
    /// Where it comes from.
    pub source: OverrideSource,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Admin: the client that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// When it was set (RFC 3339); a GslbOverride's creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Admin: the change's version, naming the instance that took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Kubernetes: the object, `CLUSTER/NAMESPACE/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl From<&OverrideEntry> for ListedOverride {
    fn from(entry: &OverrideEntry) -> Self {
        Self {
            record: entry.record.clone(),
            set: entry.set.clone(),
            state: entry.state,
            source: OverrideSource::Admin,
            reason: entry.reason.clone(),
            client: entry.client.clone(),
            at: Some(entry.at.clone()),
            version: Some(entry.version.clone()),
            object: None,
        }
    }
}

/// Who asks for an override change, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideMeta {
    /// The operator's reason.
    pub reason: Option<String>,
    /// The admin client's address.
    pub client: Option<String>,
}

/// What a merge of a peer's overrides did.
#[derive(Debug, Default)]
pub struct Merged {
    /// Entries taken in (newer than what this instance had).
    pub taken: Vec<OverrideEntry>,
    /// Entries refused: (entry, why).
    pub refused: Vec<(OverrideEntry, String)>,
}

/// The overrides, by (record, set id), tombstones included.
#[derive(Debug, Default)]
pub struct OverrideBook {
    entries: BTreeMap<(Name, String), OverrideEntry>,
}

impl OverrideBook {
    /// Number of overrides in force (tombstones not counted).
    pub fn len(&self) -> usize {
        self.active().count()
    }

    /// Whether no override is in force.
    pub fn is_empty(&self) -> bool {
        self.active().next().is_none()
    }

    fn active(&self) -> impl Iterator<Item = &OverrideEntry> {
        self.entries.values().filter(|e| e.state != Override::Auto)
    }

    /// Sets (`Up`, `Down`) or clears (`Auto`) the override of a set of
    /// `table`, stamped by `clock` now; returns the set's index and whether
    /// an override was in force before.
    pub fn change(
        &mut self,
        table: &Table,
        record: &Name,
        set: &str,
        state: Override,
        meta: OverrideMeta,
        clock: &mut Clock,
    ) -> Result<(usize, bool), OverrideError> {
        let index = set_index(table, record, set)?;
        let key = (record.clone(), set.to_owned());
        let existed = self
            .entries
            .get(&key)
            .is_some_and(|e| e.state != Override::Auto);
        if state == Override::Auto && !self.entries.contains_key(&key) {
            return Ok((index, false)); // nothing to clear, nothing to tell
        }
        let entry = OverrideEntry {
            record: record.to_string(),
            set: set.to_owned(),
            state,
            reason: meta.reason,
            client: meta.client,
            at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            version: clock.tick(now_ms()),
        };
        self.entries.insert(key, entry);
        Ok((index, existed))
    }

    /// Takes in entries read from the state file, tombstones included;
    /// returns those that cannot be kept (a record that is not a name).
    pub fn restore(&mut self, entries: Vec<OverrideEntry>) -> Vec<(OverrideEntry, String)> {
        let mut rejected = Vec::new();
        for entry in entries {
            match Name::parse(&entry.record) {
                Ok(name) => {
                    self.entries.insert((name, entry.set.clone()), entry);
                }
                Err(e) => {
                    let why = format!("{:?} is not a domain name: it {e}", entry.record);
                    rejected.push((entry, why));
                }
            }
        }
        rejected
    }

    /// Merges a peer's entries: each that is newer than this instance's
    /// takes its place. Refused: names outside every zone of `table` (a
    /// peer cannot override what this instance does not serve) and
    /// versions more than [`MAX_CLOCK_AHEAD`] ahead of `now_ms`.
    pub fn merge(&mut self, table: &Table, items: &[OverrideEntry], now_ms: u64) -> Merged {
        let mut merged = Merged::default();
        let horizon = now_ms.saturating_add(MAX_CLOCK_AHEAD.as_millis() as u64);
        for item in items {
            let name = match Name::parse(&item.record) {
                Ok(name) => name,
                Err(e) => {
                    let why = format!("{:?} is not a domain name: it {e}", item.record);
                    merged.refused.push((item.clone(), why));
                    continue;
                }
            };
            if matches!(table.lookup(name.wire()), Lookup::Refused) {
                let why = "the record is in no zone this instance serves".to_owned();
                merged.refused.push((item.clone(), why));
                continue;
            }
            if item.version.ms > horizon {
                let why = "its version is ahead of this instance's clock".to_owned();
                merged.refused.push((item.clone(), why));
                continue;
            }
            let key = (name, item.set.clone());
            if self
                .entries
                .get(&key)
                .is_none_or(|e| e.version < item.version)
            {
                self.entries.insert(key, item.clone());
                merged.taken.push(item.clone());
            }
        }
        merged
    }

    /// Forgets tombstones older than [`TOMBSTONE_TTL`]; returns whether
    /// any went.
    pub fn expire_tombstones(&mut self, now_ms: u64) -> bool {
        let before = self.entries.len();
        let oldest = now_ms.saturating_sub(TOMBSTONE_TTL.as_millis() as u64);
        self.entries
            .retain(|_, e| e.state != Override::Auto || e.version.ms >= oldest);
        self.entries.len() != before
    }

    /// Clears (with a tombstone stamped by `clock`) the overrides in force
    /// whose set `before` has and `after` does not: a reload removed it.
    /// Returns them as they were.
    pub fn retire_removed(
        &mut self,
        before: &Table,
        after: &Table,
        clock: &mut Clock,
    ) -> Vec<OverrideEntry> {
        let mut retired = Vec::new();
        for ((record, set), entry) in &mut self.entries {
            let removed = entry.state != Override::Auto
                && set_index(before, record, set).is_ok()
                && set_index(after, record, set).is_err();
            if removed {
                retired.push(entry.clone());
                entry.state = Override::Auto;
                entry.reason = Some("its set was removed from the config".into());
                entry.client = None;
                entry.at =
                    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                entry.version = clock.tick(now_ms());
            }
        }
        retired
    }

    /// The overrides in force whose record or set `table` does not have
    /// (inactive until the set is there).
    pub fn inactive(&self, table: &Table) -> Vec<&OverrideEntry> {
        self.entries
            .iter()
            .filter(|((record, set), e)| {
                e.state != Override::Auto && set_index(table, record, set).is_err()
            })
            .map(|(_, e)| e)
            .collect()
    }

    /// The state of set `record`/`set` in the book.
    pub fn get(&self, record: &Name, set: &str) -> Override {
        self.entries
            .get(&(record.clone(), set.to_owned()))
            .map_or(Override::Auto, |e| e.state)
    }

    /// The per-set overrides of `table` for the DNS path; costs the number
    /// of overrides plus a pointer per 2,048 sets.
    pub fn for_table(&self, table: &Table) -> SetOverrides {
        let mut overrides = SetOverrides::none(table.set_count as usize);
        for ((record, set), entry) in &self.entries {
            if let Ok(index) = set_index(table, record, set) {
                overrides = overrides.with(index, entry.state);
            }
        }
        overrides
    }

    /// Every override in force, ordered by record and set.
    pub fn list(&self) -> Vec<OverrideEntry> {
        self.active().cloned().collect()
    }

    /// Every entry, tombstones included: what the state file and the
    /// peers keep.
    pub fn all(&self) -> Vec<OverrideEntry> {
        self.entries.values().cloned().collect()
    }
}

/// The table-wide index of `record`'s set `set`.
pub(super) fn set_index(table: &Table, record: &Name, set: &str) -> Result<usize, OverrideError> {
    let compiled = table
        .record(record)
        .ok_or_else(|| OverrideError::NoRecord(record.to_string()))?;
    compiled
        .sets
        .iter()
        .find(|s| *s.id == *set)
        .map(|s| s.index as usize)
        .ok_or_else(|| OverrideError::NoSet {
            record: record.to_string(),
            set: set.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::compile::table_from_yaml;

    const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:
  - name: api.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.1] }
      - { id: eu-west, targets: [192.0.2.2] }
  - name: web.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.3] }
"#;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn change(
        book: &mut OverrideBook,
        table: &Table,
        clock: &mut Clock,
        record: &str,
        set: &str,
        state: Override,
    ) -> Result<(usize, bool), OverrideError> {
        book.change(
            table,
            &name(record),
            set,
            state,
            OverrideMeta::default(),
            clock,
        )
    }

    #[test]
    fn a_cleared_override_is_a_tombstone_until_it_expires() {
        let table = table_from_yaml(YAML);
        let (mut book, mut clock) = (OverrideBook::default(), Clock::new("a"));
        change(
            &mut book,
            &table,
            &mut clock,
            "api.global.example.test.",
            "eu-west",
            Override::Down,
        )
        .unwrap();
        change(
            &mut book,
            &table,
            &mut clock,
            "api.global.example.test.",
            "eu-west",
            Override::Auto,
        )
        .unwrap();
        assert!(book.is_empty() && book.list().is_empty());
        let all = book.all();
        assert_eq!(all.len(), 1, "the deletion is remembered for the peers");
        assert_eq!(all[0].state, Override::Auto);
        let now = now_ms();
        assert!(!book.expire_tombstones(now));
        let later = now + TOMBSTONE_TTL.as_millis() as u64 + 1;
        assert!(book.expire_tombstones(later));
        assert!(book.all().is_empty());
    }

    #[test]
    fn overrides_of_sets_the_config_lacks_are_kept_inactive() {
        let table = table_from_yaml(YAML);
        let (mut book, mut clock) = (OverrideBook::default(), Clock::new("a"));
        change(
            &mut book,
            &table,
            &mut clock,
            "web.global.example.test.",
            "us-east",
            Override::Down,
        )
        .unwrap();
        let without_web = table_from_yaml(&YAML.replace(
            "  - name: web.global.example.test.\n    sets:\n      - { id: us-east, targets: [192.0.2.3] }\n",
            "",
        ));
        assert_eq!(book.inactive(&without_web).len(), 1);
        assert_eq!(book.len(), 1);
        assert!(book.inactive(&table).is_empty());
        let web = &table
            .record(&name("web.global.example.test."))
            .unwrap()
            .sets[0];
        assert_eq!(
            book.for_table(&table).get(web.index as usize),
            Override::Down
        );
    }

    #[test]
    fn change_reports_unknown_names_and_whether_one_existed() {
        let table = table_from_yaml(YAML);
        let (mut book, mut clock) = (OverrideBook::default(), Clock::new("a"));
        let api = "api.global.example.test.";
        assert!(matches!(
            change(&mut book, &table, &mut clock, api, "nope", Override::Down),
            Err(OverrideError::NoSet { .. })
        ));
        assert!(matches!(
            change(
                &mut book,
                &table,
                &mut clock,
                "nope.global.example.test.",
                "x",
                Override::Down
            ),
            Err(OverrideError::NoRecord(_))
        ));
        assert_eq!(
            change(
                &mut book,
                &table,
                &mut clock,
                api,
                "us-east",
                Override::Auto
            ),
            Ok((0, false))
        );
        assert!(
            book.all().is_empty(),
            "clearing nothing leaves no tombstone"
        );
        assert_eq!(
            change(&mut book, &table, &mut clock, api, "us-east", Override::Up),
            Ok((0, false))
        );
        assert_eq!(
            change(
                &mut book,
                &table,
                &mut clock,
                api,
                "us-east",
                Override::Auto
            ),
            Ok((0, true))
        );
        assert!(book.is_empty());
    }

    #[test]
    fn a_merge_keeps_the_newer_entry_of_each_set() {
        let table = table_from_yaml(YAML);
        let (mut a, mut a_clock) = (OverrideBook::default(), Clock::new("a"));
        let (mut b, mut b_clock) = (OverrideBook::default(), Clock::new("b"));
        let api = "api.global.example.test.";
        change(&mut a, &table, &mut a_clock, api, "us-east", Override::Down).unwrap();
        change(&mut b, &table, &mut b_clock, api, "us-east", Override::Up).unwrap();
        // b's change is later (or in the same millisecond, where the
        // instance name breaks the tie), the same way on both sides.
        let (from_a, from_b) = (a.all(), b.all());
        let now = now_ms();
        assert_eq!(b.merge(&table, &from_a, now).taken.len(), 0);
        assert_eq!(a.merge(&table, &from_b, now).taken.len(), 1);
        assert_eq!(a.all(), b.all());
        assert_eq!(a.get(&name(api), "us-east"), Override::Up);
        // Merging again changes nothing.
        assert!(a.merge(&table, &from_b, now).taken.is_empty());
        // A tie in time: the instance name decides.
        let tied = |by: &str, state| OverrideEntry {
            state,
            version: Version {
                ms: now,
                n: 9,
                by: by.into(),
            },
            ..from_a[0].clone()
        };
        let mut c = OverrideBook::default();
        c.merge(&table, &[tied("z", Override::Down)], now);
        c.merge(&table, &[tied("y", Override::Up)], now);
        assert_eq!(c.get(&name(api), "us-east"), Override::Down);
    }
}
