//! Every metric of the sidecar, in one place, served on its own admin port
//! (the server's metrics live on the server's port; the two processes share
//! nothing but the record file).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

use super::convert::{Conversion, Reason};
use super::gslb_override::OverrideMerge;
use super::unsupported;

/// Label of the rejection gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// [`Reason::as_str`].
    pub reason: String,
}

/// Label of the unsupported-property gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PropertyLabel {
    /// [`unsupported::LABELS`].
    pub property: String,
}

/// Label of outcome counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `error`.
    pub result: String,
}

/// Label of the per-cluster metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ClusterLabel {
    /// The cluster name (`default` when neither `--context` nor
    /// `--cluster` is given).
    pub cluster: String,
}

/// The sidecar's metrics; cheap to clone (every metric is an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct SyncMetrics {
    /// DNSEndpoint objects in the last conversion.
    pub objects: Gauge,
    /// Endpoints written to the file by the last conversion.
    pub endpoints_accepted: Gauge,
    /// Endpoints left out by the last conversion, by reason.
    pub endpoints_rejected: Family<ReasonLabel, Gauge>,
    /// Properties gslb does not honour in the last conversion, by
    /// property ([`unsupported::LABELS`]).
    pub unsupported_properties: Family<PropertyLabel, Gauge>,
    /// Records in the file.
    pub records: Gauge,
    /// Times the file was replaced.
    pub file_writes: Family<ResultLabel, Counter>,
    /// Times the file on disk no longer held what crd-sync wrote (edited,
    /// replaced or deleted by someone else) and was written again.
    pub file_repairs: Counter,
    /// Unix time of the last conversion that ended with the file holding
    /// its result (written, or already equal).
    pub last_sync_seconds: Gauge<f64, AtomicU64>,
    /// 1 once the first full list has been converted.
    pub synced: Gauge,
    /// Errors from the watch (failed lists and watches, 410 Gone, RBAC),
    /// each retried with backoff.
    pub watch_errors: Counter,
    /// Full re-lists after the first (a watch that could not resume).
    pub watch_restarts: Counter,
    /// `status.observedGeneration` patches.
    pub status_updates: Family<ResultLabel, Counter>,
    /// Kubernetes Events about rejected endpoints and GslbOverrides not
    /// in force.
    pub events: Family<ResultLabel, Counter>,
    /// Overrides written to the file by the last merge.
    pub overrides: Gauge,
    /// GslbOverride objects out of force because a newer one for their
    /// set disagrees.
    pub override_conflicts: Gauge,
    /// GslbOverride objects left out because their spec is wrong.
    pub overrides_rejected: Gauge,
    /// 1 while a cluster's objects are current (its last list completed
    /// and its watch has not failed since), 0 otherwise.
    pub cluster_up: Family<ClusterLabel, Gauge>,
    /// Unix time of a cluster's last complete list (restored from its
    /// state file at start).
    pub cluster_last_list: Family<ClusterLabel, Gauge<f64, AtomicU64>>,
    /// A cluster's objects in the last conversion, listed or restored.
    pub cluster_objects: Family<ClusterLabel, Gauge>,
}

impl SyncMetrics {
    /// Registers every metric under `gslb_crd_sync_`, in the order
    /// /metrics shows them, and creates every rejection reason's series.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("gslb_crd_sync");
        self.register_conversion(r);
        self.register_file(r);
        self.register_kube(r);
        self.register_overrides(r);
        self.register_clusters(r);
        for reason in Reason::ALL {
            drop(self.endpoints_rejected.get_or_create(&reason_label(reason)));
        }
        for property in unsupported::LABELS {
            drop(
                self.unsupported_properties
                    .get_or_create(&property_label(property)),
            );
        }
    }

    /// The last conversion: what it read, wrote and left out.
    fn register_conversion(&self, r: &mut Registry) {
        r.register("objects", "DNSEndpoint objects seen", self.objects.clone());
        r.register(
            "endpoints_accepted",
            "Endpoints written to the record file",
            self.endpoints_accepted.clone(),
        );
        r.register(
            "endpoints_rejected",
            "Endpoints left out of the record file, by reason",
            self.endpoints_rejected.clone(),
        );
        r.register(
            "records",
            "Records in the record file",
            self.records.clone(),
        );
        r.register(
            "unsupported_properties",
            "DNSEndpoint properties gslb does not honour (endpoints still served; each has an UnsupportedProperty Event), by property: a Route 53 key, annotation, or other",
            self.unsupported_properties.clone(),
        );
    }

    /// The record file: its writes and repairs, and whether the first
    /// sync is done.
    fn register_file(&self, r: &mut Registry) {
        r.register(
            "file_writes",
            "Record file replacements",
            self.file_writes.clone(),
        );
        r.register(
            "file_repairs",
            "Record file rewrites because the file on disk had been changed by someone else",
            self.file_repairs.clone(),
        );
        r.register(
            "last_sync_timestamp_seconds",
            "Unix time of the last successful sync",
            self.last_sync_seconds.clone(),
        );
        r.register(
            "synced",
            "1 once the first full list has been written",
            self.synced.clone(),
        );
    }

    /// The Kubernetes API: watch failures, and the status patches and
    /// Events sent back.
    fn register_kube(&self, r: &mut Registry) {
        r.register(
            "watch_errors",
            "Watch and list errors (retried with backoff)",
            self.watch_errors.clone(),
        );
        r.register(
            "watch_restarts",
            "Full re-lists after the first",
            self.watch_restarts.clone(),
        );
        r.register(
            "status_updates",
            "status.observedGeneration patches",
            self.status_updates.clone(),
        );
        r.register(
            "events",
            "Kubernetes Events about rejected endpoints and GslbOverrides not in force",
            self.events.clone(),
        );
    }

    /// GslbOverrides: in force, in conflict and rejected.
    fn register_overrides(&self, r: &mut Registry) {
        r.register(
            "overrides",
            "Overrides in the record file (one per record and set, from GslbOverride objects)",
            self.overrides.clone(),
        );
        r.register(
            "override_conflicts",
            "GslbOverride objects not in force because a newer one for their set disagrees",
            self.override_conflicts.clone(),
        );
        r.register(
            "overrides_rejected",
            "GslbOverride objects left out because the server would not accept their spec",
            self.overrides_rejected.clone(),
        );
    }

    /// Each cluster: current or kept, its last list and its objects.
    fn register_clusters(&self, r: &mut Registry) {
        r.register(
            "cluster_up",
            "1 while the cluster's objects are current (listed, watch running), 0 while its last known objects are kept",
            self.cluster_up.clone(),
        );
        r.register(
            "cluster_last_list_timestamp_seconds",
            "Unix time of the cluster's last complete list of DNSEndpoints",
            self.cluster_last_list.clone(),
        );
        r.register(
            "cluster_objects",
            "DNSEndpoint objects of the cluster in the last conversion",
            self.cluster_objects.clone(),
        );
    }
    /// Creates the cluster's series (down, never listed), so that they are
    /// exported from the start.
    pub fn add_cluster(&self, cluster: &str) {
        let label = cluster_label(cluster);
        self.cluster_up.get_or_create(&label).set(0);
        drop(self.cluster_last_list.get_or_create(&label));
        drop(self.cluster_objects.get_or_create(&label));
    }

    /// A list of `cluster` completed now.
    pub fn cluster_listed(&self, cluster: &str) {
        let label = cluster_label(cluster);
        self.cluster_up.get_or_create(&label).set(1);
        self.cluster_last_list.get_or_create(&label).set(unix_now());
    }

    /// The list or watch of `cluster` failed.
    pub fn cluster_down(&self, cluster: &str) {
        self.cluster_up
            .get_or_create(&cluster_label(cluster))
            .set(0);
    }

    /// `cluster`'s objects come from a list made at `listed_at` (Unix time).
    pub fn cluster_restored(&self, cluster: &str, listed_at: f64) {
        self.cluster_last_list
            .get_or_create(&cluster_label(cluster))
            .set(listed_at);
    }

    /// `cluster` has `objects` in the conversion.
    pub fn set_cluster_objects(&self, cluster: &str, objects: usize) {
        self.cluster_objects
            .get_or_create(&cluster_label(cluster))
            .set(gauge(objects));
    }

    /// Records the counts of a conversion.
    pub fn observe(&self, objects: usize, conversion: &Conversion) {
        self.objects.set(gauge(objects));
        self.endpoints_accepted
            .set(gauge(conversion.accepted_endpoints));
        self.records.set(gauge(conversion.file.records.len()));
        for reason in Reason::ALL {
            let n = conversion
                .rejections
                .iter()
                .filter(|r| r.reason == reason)
                .count();
            self.endpoints_rejected
                .get_or_create(&reason_label(reason))
                .set(gauge(n));
        }
        for property in unsupported::LABELS {
            let n = conversion
                .unsupported
                .iter()
                .filter(|u| u.label() == property)
                .count();
            self.unsupported_properties
                .get_or_create(&property_label(property))
                .set(gauge(n));
        }
    }

    /// Records the outcome of an override merge.
    pub fn observe_overrides(&self, merged: &OverrideMerge) {
        self.overrides.set(gauge(merged.entries.len()));
        self.override_conflicts.set(gauge(merged.conflicts.len()));
        self.overrides_rejected.set(gauge(merged.rejections.len()));
    }

    /// Counts one outcome in a result family.
    pub fn count(family: &Family<ResultLabel, Counter>, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        family
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }
}

fn cluster_label(cluster: &str) -> ClusterLabel {
    ClusterLabel {
        cluster: cluster.to_owned(),
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn reason_label(reason: Reason) -> ReasonLabel {
    ReasonLabel {
        reason: reason.as_str().into(),
    }
}

fn property_label(property: &str) -> PropertyLabel {
    PropertyLabel {
        property: property.to_owned(),
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
