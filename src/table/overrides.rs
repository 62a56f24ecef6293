//! The operators' overrides as the table writer keeps them: by (record,
//! set) with who set them, when and why, so `GET /overrides` and the state
//! file can say so. The DNS path never reads this; it reads the two-bit
//! [`SetOverrides`] the writer derives from it.
//!
//! An override lives only as long as its record and set: a reload that
//! removes either drops the override (logged), so it cannot silently come
//! back when the name returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::health::{Override, SetOverrides};
use super::{Table, writer::OverrideError};
use crate::name::Name;

/// One override, as listed by `GET /overrides` and kept in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideEntry {
    /// Record name, fully qualified.
    pub record: String,
    /// Set id.
    pub set: String,
    /// `up` or `down` (`auto` is the absence of an entry).
    pub state: Override,
    /// Why, as the operator said (`X-Gslb-Reason` or the body's `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Address of the admin client that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// When it was set (RFC 3339).
    pub at: String,
}

/// Who asks for an override change, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideMeta {
    /// The operator's reason.
    pub reason: Option<String>,
    /// The admin client's address.
    pub client: Option<String>,
}

/// The overrides in force, by (record, set id).
#[derive(Debug, Default)]
pub struct OverrideBook {
    entries: BTreeMap<(Name, String), OverrideEntry>,
}

impl OverrideBook {
    /// Number of overrides.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets (`Up`, `Down`) or clears (`Auto`) the override of a set of
    /// `table`; returns the set's index and whether an override was there
    /// before.
    pub fn change(
        &mut self,
        table: &Table,
        record: &Name,
        set: &str,
        state: Override,
        meta: OverrideMeta,
    ) -> Result<(usize, bool), OverrideError> {
        let index = set_index(table, record, set)?;
        let key = (record.clone(), set.to_owned());
        let existed = match state {
            Override::Auto => self.entries.remove(&key).is_some(),
            _ => {
                let entry = OverrideEntry {
                    record: record.to_string(),
                    set: set.to_owned(),
                    state,
                    reason: meta.reason,
                    client: meta.client,
                    at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                };
                self.entries.insert(key, entry).is_some()
            }
        };
        Ok((index, existed))
    }

    /// Takes in entries read from the state file; returns those whose
    /// record or set `table` does not have, which are not kept.
    pub fn restore(
        &mut self,
        table: &Table,
        entries: Vec<OverrideEntry>,
    ) -> Vec<(OverrideEntry, String)> {
        let mut rejected = Vec::new();
        for entry in entries {
            let name = match Name::parse(&entry.record) {
                Ok(name) => name,
                Err(e) => {
                    let why = format!("{:?} is not a domain name: it {e}", entry.record);
                    rejected.push((entry, why));
                    continue;
                }
            };
            if entry.state == Override::Auto {
                continue;
            }
            match set_index(table, &name, &entry.set) {
                Ok(_) => {
                    self.entries.insert((name, entry.set.clone()), entry);
                }
                Err(e) => rejected.push((entry, e.to_string())),
            }
        }
        rejected
    }

    /// Drops the overrides whose record or set `table` no longer has and
    /// returns them.
    pub fn retain_existing(&mut self, table: &Table) -> Vec<OverrideEntry> {
        let mut dropped = Vec::new();
        self.entries.retain(|(record, set), entry| {
            let keep = set_index(table, record, set).is_ok();
            if !keep {
                dropped.push(entry.clone());
            }
            keep
        });
        dropped
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

    /// Every override, ordered by record and set.
    pub fn list(&self) -> Vec<OverrideEntry> {
        self.entries.values().cloned().collect()
    }
}

/// The table-wide index of `record`'s set `set`.
fn set_index(table: &Table, record: &Name, set: &str) -> Result<usize, OverrideError> {
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

    #[test]
    fn overrides_of_removed_records_and_sets_are_dropped() {
        let table = table_from_yaml(YAML);
        let mut book = OverrideBook::default();
        let meta = OverrideMeta {
            reason: Some("maintenance".into()),
            client: Some("127.0.0.1:4000".into()),
        };
        for (record, set) in [
            ("api.global.example.test.", "eu-west"),
            ("web.global.example.test.", "us-east"),
        ] {
            book.change(&table, &name(record), set, Override::Down, meta.clone())
                .unwrap();
        }
        let without_web = table_from_yaml(&YAML.replace(
            "  - name: web.global.example.test.\n    sets:\n      - { id: us-east, targets: [192.0.2.3] }\n",
            "",
        ));
        let dropped = book.retain_existing(&without_web);
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            (dropped[0].record.as_str(), dropped[0].reason.as_deref()),
            ("web.global.example.test.", Some("maintenance"))
        );
        // The name comes back: its override does not.
        let overrides = book.for_table(&table);
        let web = &table
            .record(&name("web.global.example.test."))
            .unwrap()
            .sets[0];
        assert_eq!(overrides.get(web.index as usize), Override::Auto);
        let eu = &table
            .record(&name("api.global.example.test."))
            .unwrap()
            .sets[1];
        assert_eq!(overrides.get(eu.index as usize), Override::Down);
    }

    #[test]
    fn change_reports_unknown_names_and_whether_one_existed() {
        let table = table_from_yaml(YAML);
        let mut book = OverrideBook::default();
        let api = name("api.global.example.test.");
        assert!(matches!(
            book.change(
                &table,
                &api,
                "nope",
                Override::Down,
                OverrideMeta::default()
            ),
            Err(OverrideError::NoSet { .. })
        ));
        assert!(matches!(
            book.change(
                &table,
                &name("nope.global.example.test."),
                "x",
                Override::Down,
                OverrideMeta::default()
            ),
            Err(OverrideError::NoRecord(_))
        ));
        let first = book.change(
            &table,
            &api,
            "us-east",
            Override::Up,
            OverrideMeta::default(),
        );
        assert_eq!(first, Ok((0, false)));
        let cleared = book.change(
            &table,
            &api,
            "us-east",
            Override::Auto,
            OverrideMeta::default(),
        );
        assert_eq!(cleared, Ok((0, true)));
        assert!(book.is_empty());
    }
}
