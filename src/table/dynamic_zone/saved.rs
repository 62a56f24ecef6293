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

use serde::{Deserialize, Serialize};

use super::{Context, DynamicZone, StaticZone, Update, UpdateRr, name_from_wire, txt};
use crate::model::update::UPDATABLE_TYPES;
use crate::name::Name;

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
        for record in saved {
            if let Err(why) = self.restore_one(ctx, record) {
                rejected.push((record.clone(), why));
            }
        }
        rejected
    }

    fn restore_one<S: StaticZone + ?Sized>(
        &mut self,
        ctx: &Context<'_, S>,
        record: &SavedRecord,
    ) -> Result<(), String> {
        let name = Name::parse(&record.name).map_err(|e| format!("name {e}"))?;
        let key = Name::parse(&record.key).map_err(|e| format!("key {e}"))?;
        let rtype = UPDATABLE_TYPES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(&record.rtype))
            .map(|(t, _)| *t)
            .ok_or_else(|| format!("type {} cannot be updated", record.rtype))?;
        let rdata = txt::from_text(&record.data).map_err(|e| format!("data {e}"))?;
        let update = Update {
            prerequisites: Vec::new(),
            changes: vec![UpdateRr {
                name: name.wire().into(),
                rtype,
                class: super::CLASS_IN,
                ttl: record.ttl,
                rdata: rdata.into(),
            }],
        };
        let ctx = Context { key: &key, ..*ctx };
        self.apply(&ctx, &update)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
