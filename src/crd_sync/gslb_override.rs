//! GslbOverride objects (`gslb.io/v1alpha1`): declarative drains and
//! forces, read from the override namespace of every watched cluster and
//! merged into the record file's `overrides:`. Pure: objects in, entries,
//! conflicts and rejections out.
//!
//! # Merge
//!
//! * An object's `spec` is checked with the server's own override checks
//!   ([`check_override`]) before it is written, so one bad object never
//!   makes the server reject the whole file; a bad one is left out with a
//!   `Warning` Event (reason [`REJECTED_REASON`]) on it.
//! * Objects for one (record, set), from any cluster, that agree are fine.
//!   When they disagree, the newest (`creationTimestamp`, then cluster,
//!   namespace and name, the greater wins) is in force, and each object
//!   whose state differs from it gets a `Warning` Event (reason
//!   [`CONFLICT_REASON`]) naming the winner. Deleting the winner puts the
//!   next newest in force.
//! * The entry written names the winner (`CLUSTER/NAMESPACE/NAME`, or
//!   `NAMESPACE/NAME` with one cluster, as default set ids do) and its
//!   creation time, so the server's 409 and `GET /overrides` say which
//!   object to delete.
//!
//! The result depends on the objects only, never on which cluster
//! answered first: every crd-sync that watches the same clusters writes
//! the same entries, so every gslb instance applies the same overrides.

use std::collections::BTreeMap;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde::Deserialize;
use serde_json::Value;

use super::endpoint::ObjectKey;
use crate::config::raw::RawFileOverride;
use crate::config::validate::check_override;

/// API group of GslbOverride.
pub const GROUP: &str = "gslb.io";
/// API version.
pub const VERSION: &str = "v1alpha1";
/// Kind.
pub const KIND: &str = "GslbOverride";
/// Resource (plural) name.
pub const PLURAL: &str = "gslboverrides";
/// Event `reason` on an object that is not in force because a newer one
/// for the same set disagrees.
pub const CONFLICT_REASON: &str = "OverrideConflict";
/// Event `reason` on an object whose spec the server would not accept.
pub const REJECTED_REASON: &str = "OverrideRejected";

/// The GslbOverride resource, for dynamic API calls.
pub fn gslb_override_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), PLURAL)
}

/// One GslbOverride as the merge sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideObject {
    /// Cluster, namespace and name.
    pub key: ObjectKey,
    /// `metadata.uid`: Events go to this incarnation of the object.
    pub uid: String,
    /// `metadata.creationTimestamp` in Unix seconds: the newer object wins.
    pub created_secs: Option<i64>,
    /// The same in RFC 3339, written as the entry's `at`.
    pub created: Option<String>,
    /// `spec`, or why it does not decode.
    pub spec: Result<OverrideSpec, String>,
}

/// `spec` of a GslbOverride.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OverrideSpec {
    /// Record name, as in DNS (`webapp.global.example.com`).
    pub record: String,
    /// Set id (a DNSEndpoint's `setIdentifier`).
    pub set: String,
    /// `down` or `up`.
    pub state: String,
    /// Why; shown by `GET /overrides`.
    #[serde(default)]
    pub reason: Option<String>,
}

impl OverrideObject {
    /// Reads an object watched in `cluster` (empty: the one watched
    /// cluster).
    pub fn from_cluster(cluster: &str, object: &DynamicObject) -> Self {
        let created = object.metadata.creation_timestamp.as_ref();
        let spec = match object.data.get("spec") {
            None | Some(Value::Null) => Err("has no spec".to_owned()),
            Some(spec) => serde_path_to_error::deserialize(spec).map_err(|e| {
                let path = e.path().to_string();
                if path.is_empty() || path == "." {
                    format!("spec does not decode: {}", e.inner())
                } else {
                    format!("spec.{path} does not decode: {}", e.inner())
                }
            }),
        };
        Self {
            key: ObjectKey::of(cluster, object),
            uid: object.metadata.uid.clone().unwrap_or_default(),
            created_secs: created.map(|t| t.0.as_second()),
            created: created.map(|t| t.0.to_string()),
            spec,
        }
    }

    /// Sort key of "newer last": creation time (none: oldest), then
    /// cluster, namespace and name.
    fn age(&self) -> (i64, &str, &str, &str) {
        (
            self.created_secs.unwrap_or(i64::MIN),
            &self.key.cluster,
            &self.key.namespace,
            &self.key.name,
        )
    }

    /// The entry the object would write, checked as the server checks it.
    fn entry(&self) -> Result<(String, String, RawFileOverride), String> {
        let spec = self.spec.as_ref().map_err(Clone::clone)?;
        let raw = RawFileOverride {
            record: record_name(&spec.record),
            set: spec.set.clone(),
            state: spec.state.clone(),
            reason: spec
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            object: Some(self.key.to_string()),
            at: self.created.clone(),
        };
        let checked = check_override("spec", &raw).map_err(|errors| errors.to_string())?;
        Ok((checked.record.to_string(), checked.set, raw))
    }
}

/// `record` lower-cased with a trailing dot, as DNSEndpoint names are;
/// an empty one stays empty (and is rejected), never the root.
fn record_name(record: &str) -> String {
    let trimmed = record.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return String::new();
    }
    format!("{}.", trimmed.to_ascii_lowercase())
}

/// An object not in force because a newer one for its set disagrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The object left out.
    pub object: ObjectKey,
    /// Its uid.
    pub uid: String,
    /// What it asks for.
    pub state: String,
    /// The record, fully qualified.
    pub record: String,
    /// The set id.
    pub set: String,
    /// The object in force.
    pub winner: ObjectKey,
    /// What the winner forces.
    pub winner_state: String,
}

impl Conflict {
    /// The Event's note.
    pub fn note(&self) -> String {
        format!(
            "not in force: {} (newer) sets {} set {} {}, this object says {}; delete one of them",
            self.winner, self.record, self.set, self.winner_state, self.state
        )
    }
}

/// An object left out because the server would not accept its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRejection {
    /// The object.
    pub object: ObjectKey,
    /// Its uid.
    pub uid: String,
    /// What is wrong.
    pub detail: String,
}

impl OverrideRejection {
    /// The Event's note.
    pub fn note(&self) -> String {
        format!("not applied: {}", self.detail)
    }
}

/// What the merge of every cluster's objects gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideMerge {
    /// One entry per (record, set), sorted by them.
    pub entries: Vec<RawFileOverride>,
    /// Objects out of force because a newer one disagrees, by object.
    pub conflicts: Vec<Conflict>,
    /// Objects whose spec is wrong, by object.
    pub rejections: Vec<OverrideRejection>,
}

/// Merges the objects of every cluster (see the module doc).
pub fn merge<'a>(objects: impl IntoIterator<Item = &'a OverrideObject>) -> OverrideMerge {
    let mut merged = OverrideMerge::default();
    let mut by_set: BTreeMap<(String, String), Vec<(&OverrideObject, RawFileOverride)>> =
        BTreeMap::new();
    for object in objects {
        match object.entry() {
            Ok((record, set, raw)) => by_set.entry((record, set)).or_default().push((object, raw)),
            Err(detail) => merged.rejections.push(OverrideRejection {
                object: object.key.clone(),
                uid: object.uid.clone(),
                detail,
            }),
        }
    }
    for ((record, set), mut claims) in by_set {
        claims.sort_by(|a, b| a.0.age().cmp(&b.0.age()));
        let Some((winner, entry)) = claims.pop() else {
            continue;
        };
        for (object, raw) in claims {
            if raw.state != entry.state {
                merged.conflicts.push(Conflict {
                    object: object.key.clone(),
                    uid: object.uid.clone(),
                    state: raw.state,
                    record: record.clone(),
                    set: set.clone(),
                    winner: winner.key.clone(),
                    winner_state: entry.state.clone(),
                });
            }
        }
        merged.entries.push(RawFileOverride { record, ..entry });
    }
    merged.conflicts.sort_by(|a, b| a.object.cmp(&b.object));
    merged.rejections.sort_by(|a, b| a.object.cmp(&b.object));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(cluster: &str, name: &str, spec: Value, created: &str) -> OverrideObject {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "gslb.io/v1alpha1", "kind": "GslbOverride",
            "metadata": {"name": name, "namespace": "gslb", "uid": format!("{cluster}-{name}"),
                         "creationTimestamp": created},
            "spec": spec,
        }))
        .expect("fixture");
        OverrideObject::from_cluster(cluster, &object)
    }

    fn drain(cluster: &str, name: &str, state: &str, created: &str) -> OverrideObject {
        object(
            cluster,
            name,
            serde_json::json!({"record": "WebApp.global.example.test", "set": "us-east",
                               "state": state, "reason": " maintenance "}),
            created,
        )
    }

    const T0: &str = "2025-01-31T12:00:00Z";
    const T1: &str = "2025-01-31T12:00:01Z";

    #[test]
    fn an_object_becomes_one_entry_naming_it_and_its_creation_time() {
        let merged = merge(&[drain("us", "drain-us-east", "down", T0)]);
        assert_eq!(
            merged.entries,
            [RawFileOverride {
                record: "webapp.global.example.test.".into(),
                set: "us-east".into(),
                state: "down".into(),
                reason: Some("maintenance".into()),
                object: Some("us/gslb/drain-us-east".into()),
                at: Some(T0.into()),
            }]
        );
        assert!(merged.conflicts.is_empty() && merged.rejections.is_empty());
        let single = merge(&[drain("", "drain-us-east", "down", T0)]);
        assert_eq!(
            single.entries[0].object.as_deref(),
            Some("gslb/drain-us-east"),
            "one cluster: NAMESPACE/NAME, as default set ids"
        );
    }

    #[test]
    fn objects_that_agree_are_one_entry_without_conflict() {
        let merged = merge(&[
            drain("us", "drain", "down", T0),
            drain("eu", "drain", "down", T1),
        ]);
        assert_eq!(merged.entries.len(), 1);
        assert_eq!(merged.entries[0].object.as_deref(), Some("eu/gslb/drain"));
        assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn the_newer_object_wins_a_conflict_and_the_older_is_named_with_the_winner() {
        let older = drain("us", "drain", "down", T0);
        let newer = drain("eu", "force", "up", T1);
        for objects in [[&older, &newer], [&newer, &older]] {
            let merged = merge(objects);
            assert_eq!(merged.entries.len(), 1);
            assert_eq!(merged.entries[0].state, "up");
            assert_eq!(merged.entries[0].object.as_deref(), Some("eu/gslb/force"));
            assert_eq!(
                merged.conflicts,
                [Conflict {
                    object: ObjectKey::in_cluster("us", "gslb", "drain"),
                    uid: "us-drain".into(),
                    state: "down".into(),
                    record: "webapp.global.example.test.".into(),
                    set: "us-east".into(),
                    winner: ObjectKey::in_cluster("eu", "gslb", "force"),
                    winner_state: "up".into(),
                }]
            );
        }
        assert_eq!(
            merge([&older]).entries[0].state,
            "down",
            "deleting the winner puts the older one in force"
        );
    }

    #[test]
    fn a_tie_in_creation_time_goes_to_the_greater_cluster_namespace_name() {
        let us = drain("us", "drain", "down", T0);
        let eu = drain("eu", "force", "up", T0);
        for objects in [[&us, &eu], [&eu, &us]] {
            let merged = merge(objects);
            assert_eq!(merged.entries[0].object.as_deref(), Some("us/gslb/drain"));
            assert_eq!(merged.conflicts[0].object.to_string(), "eu/gslb/force");
        }
    }

    #[test]
    fn a_spec_the_server_would_refuse_is_rejected_and_the_others_written() {
        let merged = merge(&[
            object(
                "us",
                "bad-state",
                serde_json::json!({"record": "a.example.test", "set": "x", "state": "off"}),
                T0,
            ),
            object(
                "us",
                "no-set",
                serde_json::json!({"record": "a.example.test", "state": "down"}),
                T0,
            ),
            object(
                "us",
                "bad-name",
                serde_json::json!({"record": "a..example.test", "set": "x", "state": "down"}),
                T0,
            ),
            drain("us", "good", "down", T0),
        ]);
        assert_eq!(merged.entries.len(), 1);
        let details: Vec<(String, &str)> = merged
            .rejections
            .iter()
            .map(|r| (r.object.to_string(), r.detail.as_str()))
            .collect();
        assert_eq!(details.len(), 3, "{details:#?}");
        assert_eq!(details[0].0, "us/gslb/bad-name");
        assert!(details[0].1.starts_with("spec: record: "), "{details:#?}");
        assert_eq!(
            details[1],
            (
                "us/gslb/bad-state".into(),
                "spec: state: \"off\" is not an override state: use \"down\" or \"up\" (remove the override to clear it)"
            )
        );
        assert!(details[2].1.contains("missing field `set`"), "{details:#?}");
    }
}
