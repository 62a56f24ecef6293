//! The document an instance shows its peers: its own health view and the
//! shared maps (overrides, dynamic records), in sections that each carry
//! the document version at which they last changed, so a follower that is
//! up to date on a section is not sent it again.
//!
//! ```json
//! {"format": 1, "instance": "ns1", "epoch": 8431, "version": 12, "changed_ms": 1765140000000,
//!  "health": {"version": 12, "items": [
//!    {"check": "web", "addr": "192.0.2.10", "up": false, "since_ms": 1765140000000}]},
//!  "overrides": {"version": 9, "items": [{"record": "api.global.example.test.",
//!    "set": "us-east", "state": "down", "at": "2026-12-07T20:00:00Z",
//!    "version": {"ms": 1765137600000, "n": 0, "by": "ns2"}}]}}
//! ```
//!
//! `epoch` is drawn at each start: a follower whose `since` names another
//! epoch gets every section, so nothing is missed across a restart.

use std::{net::IpAddr, sync::Arc};

use serde::{Deserialize, Serialize};

use crate::table::ddns::saved::SharedRecord;
use crate::table::overrides::OverrideEntry;
use crate::table::replay::SeenMac;

/// The format this gslb writes and reads.
pub const FORMAT: u32 = 1;

/// Where an instance serves its document on its admin API.
pub const PATH: &str = "/peer/v1/document";

/// One target as an instance sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthItem {
    /// The health check's name.
    pub check: String,
    /// The target address probed.
    pub addr: IpAddr,
    /// Its state after rise/fall.
    pub up: bool,
    /// Since when (ms since the Unix epoch) it has been in that state.
    pub since_ms: u64,
}

/// One part of the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section<T> {
    /// The document version at which this section last changed.
    pub version: u64,
    /// Its entries.
    pub items: Vec<T>,
}

impl<T: PartialEq> Section<T> {
    /// Replaces `section` with `items` at document version `version`
    /// when they differ from its own; returns whether they did.
    pub fn replace(section: &mut Arc<Self>, items: Vec<T>, version: u64) -> bool {
        if section.items == items {
            return false;
        }
        *section = Arc::new(Self { version, items });
        true
    }
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Self {
            version: 0,
            items: Vec::new(),
        }
    }
}

/// A document as received from a peer: sections it did not send are
/// unchanged since the version the follower asked from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// The instance that serves it.
    pub instance: String,
    /// Drawn at the instance's start.
    pub epoch: u64,
    /// Increases with every change of a section.
    pub version: u64,
    /// Wall clock (ms since the Unix epoch) of the latest change, so a
    /// follower can tell how long a change took to reach it.
    #[serde(default)]
    pub changed_ms: u64,
    /// This instance's own probe results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Section<HealthItem>>,
    /// Every override this instance knows, tombstones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Section<OverrideEntry>>,
    /// Every dynamic record this instance knows, tombstones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<Section<SharedRecord>>,
    /// The MACs of signed updates accepted lately, so a request replayed
    /// to another instance is refused there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_macs: Option<Section<SeenMac>>,
}

/// The document as its instance holds it: every section, shared with the
/// admin API that serves it.
#[derive(Debug, Clone)]
pub struct Published {
    /// This instance's name.
    pub instance: String,
    /// Drawn at start.
    pub epoch: u64,
    /// The latest section version.
    pub version: u64,
    /// Wall clock of the latest change, ms.
    pub changed_ms: u64,
    /// The health view.
    pub health: Arc<Section<HealthItem>>,
    /// The override map.
    pub overrides: Arc<Section<OverrideEntry>>,
    /// The dynamic records.
    pub dynamic: Arc<Section<SharedRecord>>,
    /// The MACs of signed updates accepted lately.
    pub seen_macs: Arc<Section<SeenMac>>,
}

impl Published {
    /// An empty document of `instance`.
    pub fn new(instance: &str, epoch: u64) -> Self {
        Self {
            instance: instance.to_owned(),
            epoch,
            version: 0,
            changed_ms: 0,
            health: Arc::default(),
            overrides: Arc::default(),
            dynamic: Arc::default(),
            seen_macs: Arc::default(),
        }
    }

    /// Whether a follower that has `(epoch, version)` is behind.
    pub fn newer_than(&self, epoch: u64, version: u64) -> bool {
        epoch != self.epoch || version < self.version
    }

    /// What a follower that has `(epoch, version)` needs: every section
    /// after a restart (another epoch), else those changed since.
    pub fn since(&self, epoch: u64, version: u64) -> DocumentView<'_> {
        let all = epoch != self.epoch;
        let wanted = |section_version: u64| all || section_version > version;
        DocumentView {
            format: FORMAT,
            instance: &self.instance,
            epoch: self.epoch,
            version: self.version,
            changed_ms: self.changed_ms,
            health: Some(&*self.health).filter(|s| wanted(s.version)),
            overrides: Some(&*self.overrides).filter(|s| wanted(s.version)),
            dynamic: Some(&*self.dynamic).filter(|s| wanted(s.version)),
            seen_macs: Some(&*self.seen_macs).filter(|s| wanted(s.version)),
        }
    }
}

/// A [`Document`] that borrows its sections, for serving.
#[derive(Debug, Serialize)]
pub struct DocumentView<'a> {
    format: u32,
    instance: &'a str,
    epoch: u64,
    version: u64,
    changed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a Section<HealthItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overrides: Option<&'a Section<OverrideEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic: Option<&'a Section<SharedRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seen_macs: Option<&'a Section<SeenMac>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_gets_only_the_sections_changed_since_its_version() {
        let mut doc = Published::new("ns1", 7);
        doc.version = 5;
        doc.health = Arc::new(Section {
            version: 5,
            items: vec![HealthItem {
                check: "web".into(),
                addr: "192.0.2.1".parse().unwrap(),
                up: false,
                since_ms: 1,
            }],
        });
        doc.overrides = Arc::new(Section {
            version: 2,
            items: Vec::new(),
        });
        let text = serde_json::to_string(&doc.since(7, 3)).unwrap();
        let read: Document = serde_json::from_str(&text).unwrap();
        assert!(read.health.is_some());
        assert!(read.overrides.is_none(), "{text}");
        // Another epoch: everything.
        let read: Document =
            serde_json::from_str(&serde_json::to_string(&doc.since(6, 5)).unwrap()).unwrap();
        assert!(read.health.is_some() && read.overrides.is_some());
        assert!(!doc.newer_than(7, 5));
        assert!(doc.newer_than(7, 4) && doc.newer_than(1, 5));
    }
}
