//! Dynamic records in the state file (`server.state_file`, key
//! `dynamic`), so they survive a restart:
//!
//! ```json
//! "dynamic": [{"origin": "global.example.test.", "serial": 1700000042,
//!   "records": [{"name": "_acme-challenge.webapp.global.example.test.",
//!     "type": "TXT", "ttl": 60, "data": "\"token\"",
//!     "key": "acme-update.global.example.test."}]}]
//! ```
//!
//! A saved record comes back as an add by its key, through the same checks
//! as an update: one that the zone's current policy, caps or records do not
//! allow is dropped and logged.
//!
//! The same shape carries dynamic records between the instances of a peer
//! group, with the version of the record's last change and, for a deleted
//! record, `"present": false` (a tombstone), which the state file keeps
//! too so a restart does not forget a deletion the peers must learn.

use crate::iana::class;
use serde::{Deserialize, Serialize};

use super::{Context, DynamicZone, StaticZone, Update, UpdateRr, name_from_wire, txt};
use crate::model::ddns::UPDATABLE_TYPES;
use crate::name::Name;
use crate::table::shared::version::Version;

/// One zone's dynamic records and its SOA serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedZone {
    /// The zone's origin.
    pub origin: String,
    /// The serial the zone had, so it never goes back after a restart.
    pub serial: u32,
    /// Its records.
    #[serde(default)]
    pub records: Vec<SavedRecord>,
}

/// One dynamic record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecord {
    /// Owner name, absolute.
    pub name: String,
    /// RR type name (`TXT`).
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL, seconds.
    pub ttl: u32,
    /// RDATA in presentation format.
    pub data: String,
    /// The key that added it.
    pub key: String,
    /// `false`: the record was deleted (then `ttl` and `key` say nothing).
    #[serde(default = "present", skip_serializing_if = "is_present")]
    pub present: bool,
    /// Its last change; records saved by an older gslb have none and lose
    /// to any change.
    #[serde(default = "Version::ancient")]
    pub version: Version,
}

/// One dynamic record as the peer group shares it: its zone and the
/// state file's form of it, version and tombstone included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRecord {
    /// The zone's origin.
    pub zone: String,
    /// The record.
    #[serde(flatten)]
    pub record: SavedRecord,
}

fn present() -> bool {
    true
}

fn is_present(present: &bool) -> bool {
    *present
}

/// A saved record read back: owner, type, RDATA and the key that added it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecord {
    /// Owner.
    pub name: Name,
    /// RR type.
    pub rtype: u16,
    /// RDATA in wire form.
    pub rdata: Vec<u8>,
    /// The key that added it.
    pub key: Name,
}

impl SavedRecord {
    /// Reads the record's fields; says which one is wrong.
    pub fn parse(&self) -> Result<ParsedRecord, String> {
        let name = Name::parse(&self.name).map_err(|e| format!("name {e}"))?;
        let key = if self.present {
            Name::parse(&self.key).map_err(|e| format!("key {e}"))?
        } else {
            name.clone()
        };
        let rtype = UPDATABLE_TYPES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(&self.rtype))
            .map(|(t, _)| *t)
            .ok_or_else(|| format!("type {} cannot be updated", self.rtype))?;
        let rdata = txt::from_text(&self.data).map_err(|e| format!("data {e}"))?;
        Ok(ParsedRecord {
            name,
            rtype,
            rdata,
            key,
        })
    }
}

impl DynamicZone {
    /// The zone's records, for the state file.
    pub fn save(&self) -> Vec<SavedRecord> {
        self.records()
            .filter_map(|(name, rtype, ttl, record)| {
                let (_, type_name) = UPDATABLE_TYPES.iter().find(|(t, _)| *t == rtype)?;
                Some(SavedRecord {
                    name: name_from_wire(name)?.to_string(),
                    rtype: (*type_name).to_owned(),
                    ttl,
                    data: txt::to_text(&record.rdata),
                    key: record.key.to_string(),
                    present: true,
                    version: Version::ancient(),
                })
            })
            .collect()
    }

    /// Adds saved records, each as an update by its key through `ctx`'s
    /// policy and records (`ctx.key` is ignored); returns those that were
    /// not allowed, with the reason.
    pub fn restore<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        saved: &[SavedRecord],
    ) -> Vec<(SavedRecord, String)> {
        let mut rejected = Vec::new();
        for record in saved.iter().filter(|r| r.present) {
            let added = record
                .parse()
                .and_then(|parsed| self.add_as_key(ctx, &parsed, record.ttl).map(|_| ()));
            if let Err(why) = added {
                rejected.push((record.clone(), why));
            }
        }
        rejected
    }

    /// Adds one record as an update by its key would, through `ctx`'s
    /// policy and records (`ctx.key` is ignored); returns whether the zone
    /// changed, or why it was not allowed.
    pub fn add_as_key<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        record: &ParsedRecord,
        ttl: u32,
    ) -> Result<bool, String> {
        let update = Update {
            prerequisites: Vec::new(),
            changes: vec![UpdateRr {
                name: record.name.wire().into(),
                rtype: record.rtype,
                class: class::IN,
                ttl,
                rdata: record.rdata.clone().into(),
            }],
        };
        let ctx = Context {
            key: &record.key,
            ..*ctx
        };
        self.apply(&ctx, &update).map_err(|e| e.to_string())
    }
}
