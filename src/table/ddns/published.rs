//! The dynamic layer: records added by RFC 2136 updates (ACME `_acme-challenge`
//! TXT records), kept beside the compiled [`Table`] instead of in it.
//!
//! The compiled table is built once per config load; updates come and go
//! in seconds. So an accepted update does not recompile anything: the table
//! writer (the one writer) keeps the authoritative dynamic state, builds a
//! new [`Dynamic`] from it and publishes a snapshot that shares the old
//! `Arc<Table>` and carries the new `Arc<Dynamic>`. A health flip shares
//! both. A config reload compiles a new table, and the writer builds the
//! layer again against it, since zone indexes and empty non-terminals
//! depend on the table.
//!
//! The answer path asks this layer only where the table has no answer (a
//! name it does not know, or a type it holds no RRset of) and only when
//! the layer is not empty, so GSLB answers never pay for it.
//!
//! This module owns the read side and the build rules; what may be added
//! (policy, TSIG, caps) and the state kept across restarts belong to the
//! update handling.

use std::collections::HashMap;

use crate::iana::rtype;
use crate::name::Name;
use crate::table::rrset::RrSets;
use crate::table::{Lookup, Table};

/// Records from dynamic updates, for one [`Table`].
#[derive(Debug, Default)]
pub struct Dynamic {
    /// Names with dynamic RRsets, and the empty non-terminals they create,
    /// by lower-cased wire name.
    names: HashMap<Box<[u8]>, DynamicName, foldhash::fast::FixedState>,
    /// SOA serial to answer per zone (index into the table's zones) instead
    /// of the compiled one, bumped by the writer on each change.
    serials: Box<[Option<u32>]>,
}

/// What the dynamic layer holds at one name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicName {
    /// The zone the name is in (index into the table's zones).
    pub zone: u16,
    /// Its RRsets; empty for an empty non-terminal between a dynamic name
    /// and the closest name of the table above it.
    pub rrsets: RrSets,
}

impl Dynamic {
    /// Builds the layer for `table`. Names outside every zone, at or below
    /// a delegation, or at a name with a static CNAME cannot hold data and
    /// are left out: the writer checks for them before accepting an update.
    /// `serials` is indexed like the table's zones (shorter is fine).
    pub fn build(
        table: &Table,
        names: impl IntoIterator<Item = (Name, RrSets)>,
        serials: Vec<Option<u32>>,
    ) -> Self {
        let mut layer = Self {
            names: HashMap::default(),
            serials: serials.into(),
        };
        for (name, rrsets) in names {
            let zone = match table.lookup(name.wire()) {
                Lookup::Found(entry) if entry.cut.is_none() => {
                    let cname = table
                        .statics_at(name.wire())
                        .is_some_and(|s| s.get(rtype::CNAME).is_some());
                    if cname {
                        continue;
                    }
                    entry.zone
                }
                Lookup::NxDomain(zone) => {
                    layer.add_empty_non_terminals(table, &name, zone);
                    zone
                }
                Lookup::Found(_) | Lookup::Referral { .. } | Lookup::Refused => continue,
            };
            layer
                .names
                .insert(name.wire().into(), DynamicName { zone, rrsets });
        }
        layer
    }

    /// Adds the names between `name` and the closest name above it that
    /// exists in the table, so they answer NODATA instead of NXDOMAIN.
    fn add_empty_non_terminals(&mut self, table: &Table, name: &Name, zone: u16) {
        let mut parent = name.parent();
        while let Some(p) = parent {
            if !matches!(table.lookup(p.wire()), Lookup::NxDomain(_)) {
                break;
            }
            self.names
                .entry(p.wire().into())
                .or_insert_with(|| DynamicName {
                    zone,
                    rrsets: RrSets::default(),
                });
            parent = p.parent();
        }
    }

    /// True when no dynamic record exists: the answer path skips the layer.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// What the layer holds at a lower-cased wire name.
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&DynamicName> {
        self.names.get(name)
    }

    /// The SOA serial of zone `zone` when updates changed it.
    #[inline]
    pub fn serial(&self, zone: u16) -> Option<u32> {
        self.serials.get(usize::from(zone)).copied().flatten()
    }

    /// Number of names with dynamic RRsets (empty non-terminals not
    /// counted), for status and metrics.
    pub fn len(&self) -> usize {
        self.names.values().filter(|n| !n.rrsets.is_empty()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::compile::table_from_yaml;
    use crate::table::rrset::RrSet;

    const YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
    static:
      - { name: alias, type: CNAME, data: webapp }
      - { name: sub, type: NS, data: ns.sub }
      - { name: ns.sub, type: A, data: 192.0.2.1 }
records:
  - name: webapp.global.example.test.
    sets: [{ id: one, targets: [192.0.2.10] }]
"#;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn txt(token: &str) -> RrSets {
        let mut rdata = vec![token.len() as u8];
        rdata.extend_from_slice(token.as_bytes());
        RrSets::new(vec![RrSet {
            rtype: 16,
            ttl: 60,
            rdata: Box::new([rdata.into()]),
        }])
    }

    #[test]
    fn names_and_their_empty_non_terminals_are_added() {
        let table = table_from_yaml(YAML);
        let layer = Dynamic::build(
            &table,
            [
                (
                    name("_acme-challenge.webapp.global.example.test"),
                    txt("t1"),
                ),
                (name("_acme-challenge.a.b.global.example.test"), txt("t2")),
            ],
            vec![Some(9)],
        );
        let at = |n: &str| layer.get(name(n).wire());
        assert_eq!(
            at("_acme-challenge.webapp.global.example.test")
                .unwrap()
                .rrsets,
            txt("t1")
        );
        assert!(at("a.b.global.example.test").unwrap().rrsets.is_empty());
        assert!(at("b.global.example.test").unwrap().rrsets.is_empty());
        assert!(
            at("webapp.global.example.test").is_none(),
            "exists in the table"
        );
        assert_eq!(layer.len(), 2);
        assert_eq!((layer.serial(0), layer.serial(1)), (Some(9), None));
        assert!(!layer.is_empty() && Dynamic::default().is_empty());
    }

    #[test]
    fn names_that_cannot_hold_data_are_left_out() {
        let table = table_from_yaml(YAML);
        let layer = Dynamic::build(
            &table,
            [
                (name("alias.global.example.test"), txt("cname")),
                (name("sub.global.example.test"), txt("cut")),
                (name("x.sub.global.example.test"), txt("below")),
                (name("ns.sub.global.example.test"), txt("glue")),
                (name("elsewhere.test"), txt("outside")),
            ],
            Vec::new(),
        );
        assert!(layer.is_empty(), "{layer:?}");
    }
}
