//! The reconcile loop over every watched cluster: each cluster's watches
//! ([`super::cluster::ClusterWatch`], one per [`Feed`]) keep reflector
//! [`Store`]s and send [`News`] here. Changes are batched (the first change
//! opens a window of `debounce`, everything in it is written together) and
//! each batch runs [`convert`] on the DNSEndpoints and
//! [`gslb_override::merge`] on the GslbOverrides of all clusters together,
//! writes the file if its content changed, saves the changed clusters'
//! state, and hands each cluster's share of the outcome to its status and
//! override Event tasks.
//!
//! Resilience comes from these rules:
//! * each cluster's watch retries every error (API server down, 410 Gone, a
//!   dropped watch, 403) with exponential backoff ([`watch_backoff`]) and a
//!   new list, and its store's writer buffers a list from `Init` to
//!   `InitDone` and only then swaps it in whole, so a restart never shows a
//!   half-empty table;
//! * a cluster whose API server is unreachable keeps its last known
//!   objects: from this run's last list, or, after a restart of the
//!   sidecar with several clusters, from its state file ([`super::state`]);
//! * nothing is written before every cluster is known (both feeds listed,
//!   or restored from its state file), or, when one stays unknown, before
//!   `initial_list_timeout` has passed and one cluster's DNSEndpoints are
//!   known; nothing is ever deleted: while the API servers are away the
//!   last file keeps serving, and a restart never writes a file without
//!   the overrides before their list is in;
//! * a failed write is retried after [`WRITE_RETRY`], and a periodic resync
//!   re-reads the zones (a ConfigMap update) and compares the file on disk
//!   with what it should hold, rewriting it when someone else changed it.
//!
//! The output depends on the objects only, never on which cluster answered
//! first: the objects are keyed and sorted by cluster, namespace and name,
//! and [`convert`] is a pure function, so every gslb instance that watches
//! the same clusters under the same names writes the same bytes.

use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use kube::{
    api::DynamicObject,
    runtime::{
        reflector::Store,
        utils::ResetTimerBackoff,
        watcher::{self, ExponentialBackoff},
    },
};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::ZoneSource;
use super::cluster::{Feed, News};
use super::convert::{Conversion, Notice, convert};
use super::endpoint::{DnsEndpoint, ObjectKey};
use super::gslb_override::{self, OverrideMerge, OverrideObject};
use super::metrics::SyncMetrics;
use super::override_events::OverrideWork;
use super::sink::{RecordFileSink, SinkError, WriteOutcome, render};
use super::state::{ClusterState, StateDir};
use super::status::{ObjectState, StatusWork};
use crate::config::RecordScope;

/// Why a `--once` run failed (the long-running mode retries everything).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The file could not be written.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A list failed (API server unreachable, RBAC, ...).
    #[error("cluster {cluster}: cannot list {kind}s: {source}")]
    Watch {
        /// The cluster.
        cluster: String,
        /// `DNSEndpoint` or `GslbOverride`.
        kind: &'static str,
        /// Why.
        source: watcher::Error,
    },
}

/// Wait before retrying a failed file write.
pub const WRITE_RETRY: Duration = Duration::from_secs(2);

/// How often things happen.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Window that batches changes before a write.
    pub debounce: Duration,
    /// Period of the full re-conversion (zones re-read, file checked).
    pub resync: Duration,
    /// How long the first write waits for a cluster that is not known yet
    /// (neither listed nor restored from its state file).
    pub initial_list_timeout: Duration,
}

/// One cluster as the reconcile loop sees it.
pub struct ClusterView {
    /// Its name, in metrics, logs and state files.
    pub name: String,
    /// The cluster part of its objects' keys: empty with one cluster, so
    /// default set ids stay `NAMESPACE/NAME`.
    key: String,
    /// What its watch has listed.
    store: Store<DynamicObject>,
    /// A list completed in this run: the store is the truth.
    listed: bool,
    /// Unix time of that list.
    listed_at: f64,
    /// Objects from the state file, used until the first list.
    restored: Option<ClusterState>,
    /// The store changed since the state file was written.
    dirty: bool,
    /// Its share of the status work.
    status: watch::Sender<Arc<StatusWork>>,
    /// Its GslbOverrides, when followed (`gslb crd-sync` always does).
    overrides: Option<OverrideFeed>,
}

/// One cluster's GslbOverrides.
struct OverrideFeed {
    /// What its watch has listed.
    store: Store<DynamicObject>,
    /// A list completed in this run (a missing CRD counts: no objects).
    listed: bool,
    /// Its share of the override Events.
    events: watch::Sender<Arc<OverrideWork>>,
}

impl ClusterView {
    /// A cluster named `name`; `several` when more than one is watched.
    pub fn new(
        name: String,
        several: bool,
        store: Store<DynamicObject>,
        restored: Option<ClusterState>,
        status: watch::Sender<Arc<StatusWork>>,
    ) -> Self {
        Self {
            key: if several { name.clone() } else { String::new() },
            name,
            store,
            listed: false,
            listed_at: 0.0,
            restored,
            dirty: false,
            status,
            overrides: None,
        }
    }

    /// Also follows the cluster's GslbOverrides through `store`; their
    /// Events go to `events`.
    pub fn with_overrides(
        mut self,
        store: Store<DynamicObject>,
        events: watch::Sender<Arc<OverrideWork>>,
    ) -> Self {
        self.overrides = Some(OverrideFeed {
            store,
            listed: false,
            events,
        });
        self
    }

    /// DNSEndpoints listed, or restored from the state file.
    fn known(&self) -> bool {
        self.listed || self.restored.is_some()
    }

    /// GslbOverrides listed (or not followed), or restored.
    fn overrides_known(&self) -> bool {
        self.overrides_listed() || self.restored.is_some()
    }

    fn overrides_listed(&self) -> bool {
        self.overrides.as_ref().is_none_or(|f| f.listed)
    }

    /// Both feeds known: the cluster's share of the file is complete.
    fn ready(&self) -> bool {
        self.known() && self.overrides_known()
    }

    /// The cluster's GslbOverrides as they go into the merge.
    fn override_objects(&self) -> Vec<OverrideObject> {
        let from = |o: &DynamicObject| OverrideObject::from_cluster(&self.key, o);
        match &self.overrides {
            None => Vec::new(),
            Some(feed) if feed.listed => feed.store.state().iter().map(|o| from(o)).collect(),
            Some(_) => self
                .restored
                .iter()
                .flat_map(|r| &r.overrides)
                .map(from)
                .collect(),
        }
    }

    /// The GslbOverrides to save: listed, else restored.
    fn overrides_to_save(&self) -> Vec<DynamicObject> {
        match &self.overrides {
            Some(feed) if feed.listed => feed.store.state().iter().map(|o| (**o).clone()).collect(),
            _ => self
                .restored
                .as_ref()
                .map(|r| r.overrides.clone())
                .unwrap_or_default(),
        }
    }

    /// The cluster's objects as they go into the conversion.
    fn objects(&self) -> Vec<DnsEndpoint> {
        let from = |o: &DynamicObject| DnsEndpoint::from_cluster(&self.key, o);
        if self.listed {
            self.store.state().iter().map(|o| from(o)).collect()
        } else {
            self.restored
                .iter()
                .flat_map(|r| &r.objects)
                .map(from)
                .collect()
        }
    }
}

/// Owns the conversion of every cluster's objects and the file.
pub struct Syncer {
    zones: ZoneSource,
    scope: RecordScope,
    /// Shared with the blocking write task only.
    sink: Arc<Mutex<RecordFileSink>>,
    metrics: SyncMetrics,
    clusters: Vec<ClusterView>,
    /// Where each cluster's objects are kept (several clusters only).
    state: Option<StateDir>,
    /// The last zone file error logged, so it is logged once.
    zone_error: Option<String>,
}

impl Syncer {
    /// A syncer writing to `sink`, with `scope` loaded from `zones`.
    pub fn new(
        zones: ZoneSource,
        scope: RecordScope,
        sink: RecordFileSink,
        metrics: SyncMetrics,
        clusters: Vec<ClusterView>,
        state: Option<StateDir>,
    ) -> Self {
        Self {
            zones,
            scope,
            sink: Arc::new(Mutex::new(sink)),
            metrics,
            clusters,
            state,
            zone_error: None,
        }
    }

    /// Follows the clusters' news until `cancel` (or, with `once`, until
    /// every cluster has been listed and the file written). Only `once`
    /// mode returns errors: in the long-running mode every failure is
    /// logged and retried.
    pub async fn run(
        mut self,
        mut news: mpsc::Receiver<(Feed, News)>,
        timing: Timing,
        cancel: CancellationToken,
        once: bool,
    ) -> Result<(), SyncError> {
        let mut written = false;
        let mut timed_out = false;
        let initial_deadline = Instant::now() + timing.initial_list_timeout;
        let mut due: Option<Instant> = None;
        let mut resync = tokio::time::interval_at(Instant::now() + timing.resync, timing.resync);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if !once && self.clusters.iter().all(ClusterView::ready) {
            // Every cluster restored: write at once (zones may have changed).
            due = Some(Instant::now());
        }
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                () = sleep_until(due) => {
                    due = None;
                    match self.reconcile().await {
                        Ok(()) if once => return Ok(()),
                        Ok(()) => written = true,
                        Err(error) if once => return Err(error.into()),
                        Err(error) => {
                            warn!(%error, "record file not written; retrying, the previous file stays in place");
                            due = Some(Instant::now() + WRITE_RETRY);
                        }
                    }
                }
                _ = resync.tick(), if written => {
                    due.get_or_insert_with(Instant::now);
                }
                () = tokio::time::sleep_until(initial_deadline), if !written && !timed_out && !once => {
                    timed_out = true;
                    let unknown: Vec<&str> = self
                        .clusters
                        .iter()
                        .filter(|c| !c.ready())
                        .map(|c| c.name.as_str())
                        .collect();
                    if self.clusters.iter().any(ClusterView::known) {
                        warn!(
                            unknown = %unknown.join(","),
                            waited = ?timing.initial_list_timeout,
                            "writing the record file without clusters never listed nor restored; their records join when they list"
                        );
                        due.get_or_insert_with(Instant::now);
                    }
                }
                message = news.recv() => {
                    let Some((feed, message)) = message else { return Ok(()) };
                    let changed = match self.hear(feed, message) {
                        Ok(changed) => changed,
                        Err(error) if once => return Err(error),
                        Err(_) => false,
                    };
                    if changed && self.may_write(once, written || timed_out) {
                        due.get_or_insert_with(|| Instant::now() + timing.debounce);
                    }
                }
            }
        }
    }

    /// Takes one watch's news; whether the cluster's objects changed. A
    /// failed list of a cluster never listed is an error (it stops a
    /// `--once` run).
    fn hear(&mut self, feed: Feed, news: News) -> Result<bool, SyncError> {
        let (index, listed) = match news {
            News::Listed(i) => (i, true),
            News::Changed(i) => (i, false),
            News::Failed(i, source) => {
                let cluster = &self.clusters[i];
                let listed = match feed {
                    Feed::Endpoints => cluster.listed,
                    Feed::Overrides => cluster.overrides_listed(),
                };
                if listed {
                    return Ok(false);
                }
                let kind = match feed {
                    Feed::Endpoints => "DNSEndpoint",
                    Feed::Overrides => "GslbOverride",
                };
                return Err(SyncError::Watch {
                    cluster: cluster.name.clone(),
                    kind,
                    source,
                });
            }
        };
        let cluster = &mut self.clusters[index];
        cluster.dirty = true;
        if listed {
            match feed {
                Feed::Endpoints => {
                    cluster.listed = true;
                    cluster.listed_at = unix_now();
                }
                Feed::Overrides => {
                    if let Some(overrides) = &mut cluster.overrides {
                        overrides.listed = true;
                    }
                }
            }
            if cluster.listed && cluster.overrides_listed() {
                cluster.restored = None;
            }
        }
        Ok(true)
    }

    /// Whether a change may be written now: once every cluster is listed
    /// (with `once`), ready, or (`waited`) one of them is known.
    fn may_write(&self, once: bool, waited: bool) -> bool {
        if once {
            self.clusters
                .iter()
                .all(|c| c.listed && c.overrides_listed())
        } else if waited {
            self.clusters.iter().any(ClusterView::known)
        } else {
            self.clusters.iter().all(ClusterView::ready)
        }
    }

    /// Every known object of every cluster.
    pub fn objects(&self) -> BTreeMap<ObjectKey, DnsEndpoint> {
        merge(self.clusters.iter().map(ClusterView::objects))
    }

    /// Every known GslbOverride of every cluster, by cluster, namespace
    /// and name.
    pub fn override_objects(&self) -> BTreeMap<ObjectKey, OverrideObject> {
        self.clusters
            .iter()
            .flat_map(ClusterView::override_objects)
            .map(|o| (o.key.clone(), o))
            .collect()
    }

    /// Converts the objects, writes the file if it changed, saves the
    /// changed clusters' state, and publishes the status work.
    async fn reconcile(&mut self) -> Result<(), SinkError> {
        self.refresh_scope();
        let table = self.objects();
        let mut conversion = convert(table.values(), &self.scope);
        let overrides = self.override_objects();
        let merged = gslb_override::merge(overrides.values());
        conversion.file.overrides.clone_from(&merged.entries);
        self.metrics.observe(table.len(), &conversion);
        self.metrics.observe_overrides(&merged);
        for cluster in &self.clusters {
            let count = table.keys().filter(|k| k.cluster == cluster.key).count();
            self.metrics.set_cluster_objects(&cluster.name, count);
        }
        let content = render(&conversion.file)?;
        let sink = self.sink.clone();
        let written = tokio::task::spawn_blocking(move || sink.lock().write(content))
            .await
            .map_err(|e| SinkError::Interrupted(e.to_string()))
            .and_then(|r| r);
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                SyncMetrics::count(&self.metrics.file_writes, false);
                return Err(error);
            }
        };
        if written == WriteOutcome::Repaired {
            self.metrics.file_repairs.inc();
            warn!(
                path = %self.sink_path(),
                "record file on disk differs from what crd-sync wrote (edited, replaced or deleted); rewritten"
            );
        }
        if written != WriteOutcome::Unchanged {
            SyncMetrics::count(&self.metrics.file_writes, true);
            let sets: usize = conversion.file.records.iter().map(|r| r.sets.len()).sum();
            info!(
                objects = table.len(),
                records = conversion.file.records.len(),
                sets,
                endpoints = conversion.accepted_endpoints,
                rejected = conversion.rejections.len(),
                overrides = conversion.file.overrides.len(),
                "record file written"
            );
            log_notices(&conversion.notices);
        } else {
            debug!(objects = table.len(), "record file unchanged");
        }
        self.metrics.last_sync_seconds.set(unix_now());
        self.metrics.synced.set(1);
        self.save_state().await;
        let mut work = status_work(&table, &conversion);
        let mut override_work = override_work(merged);
        for cluster in &self.clusters {
            cluster
                .status
                .send_replace(Arc::new(work.remove(&cluster.key).unwrap_or_default()));
            if let Some(feed) = &cluster.overrides {
                let work = override_work.remove(&cluster.key).unwrap_or_default();
                feed.events.send_if_modified(|current| {
                    let changed = **current != work;
                    if changed {
                        *current = Arc::new(work);
                    }
                    changed
                });
            }
        }
        Ok(())
    }

    /// Writes the state file of every listed cluster whose objects changed;
    /// a failure is logged and retried at the next reconcile.
    async fn save_state(&mut self) {
        let Some(dir) = self.state.clone() else {
            return;
        };
        let changed: Vec<ClusterState> = self
            .clusters
            .iter()
            .filter(|c| c.listed && c.dirty)
            .map(|c| ClusterState {
                cluster: c.name.clone(),
                listed_at: c.listed_at,
                objects: c.store.state().iter().map(|o| (**o).clone()).collect(),
                overrides: c.overrides_to_save(),
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        let saved = tokio::task::spawn_blocking(move || {
            changed
                .iter()
                .map(|state| (state.cluster.clone(), dir.save(state)))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(saved) = saved else {
            warn!("cluster state not saved: the write task was interrupted");
            return;
        };
        for (name, result) in saved {
            match result {
                Ok(()) => {
                    if let Some(cluster) = self.clusters.iter_mut().find(|c| c.name == name) {
                        cluster.dirty = false;
                    }
                }
                Err(error) => {
                    warn!(cluster = %name, %error, "cannot save the cluster's objects; retrying at the next change or resync");
                }
            }
        }
    }

    fn sink_path(&self) -> String {
        self.sink.lock().path().display().to_string()
    }

    /// Re-reads the zones from the config file; keeps the last good ones
    /// when the file is broken (the server would keep its old config too).
    fn refresh_scope(&mut self) {
        if !matches!(self.zones, ZoneSource::ConfigFile(_)) {
            return;
        }
        match self.zones.load() {
            Ok(scope) => {
                if self.zone_error.take().is_some() {
                    info!("zones config readable again");
                }
                self.scope = scope;
            }
            Err(errors) => {
                let text = errors.to_string();
                if self.zone_error.as_deref() != Some(&text) {
                    warn!(error = %text, "cannot read zones; keeping the last good ones");
                    self.zone_error = Some(text);
                }
            }
        }
    }
}

/// The objects of several clusters in one table, keyed (and so ordered) by
/// cluster, namespace and name whatever order they come in.
pub fn merge(
    clusters: impl IntoIterator<Item = Vec<DnsEndpoint>>,
) -> BTreeMap<ObjectKey, DnsEndpoint> {
    clusters
        .into_iter()
        .flatten()
        .map(|object| (object.key.clone(), object))
        .collect()
}

fn log_notices(notices: &[Notice]) {
    for notice in notices {
        match notice {
            Notice::TtlConflict {
                name,
                chosen,
                asked,
            } => {
                let asked: Vec<String> = asked.iter().map(|(o, t)| format!("{o}: {t}")).collect();
                warn!(
                    record = %name,
                    ttl = chosen,
                    asked = %asked.join(", "),
                    "endpoints of one name ask for different recordTTL; the lowest is written"
                );
            }
            Notice::TtlIgnored {
                name,
                chosen,
                ignored,
            } => {
                let ignored: Vec<String> =
                    ignored.iter().map(|(o, t)| format!("{o}: {t}")).collect();
                info!(
                    record = %name,
                    ttl = chosen.map_or_else(|| "the zone's".to_owned(), |t| t.to_string()),
                    ignored = %ignored.join(", "),
                    "recordTTL of endpoints outside the owner namespace ignored; only the owner's objects set the TTL"
                );
            }
        }
    }
}

/// What each cluster's status task should make true after `conversion`,
/// by the cluster part of the object keys.
fn status_work(
    table: &BTreeMap<ObjectKey, DnsEndpoint>,
    conversion: &Conversion,
) -> BTreeMap<String, StatusWork> {
    let state = |key: &ObjectKey| {
        table.get(key).map(|o| ObjectState {
            key: o.key.clone(),
            uid: o.uid.clone(),
            generation: o.generation,
            observed_generation: o.observed_generation,
        })
    };
    let mut work: BTreeMap<String, StatusWork> = BTreeMap::new();
    for object in conversion.accepted_objects.iter().filter_map(state) {
        work.entry(object.key.cluster.clone())
            .or_default()
            .accepted
            .push(object);
    }
    for rejection in &conversion.rejections {
        if let Some(object) = state(&rejection.object) {
            work.entry(object.key.cluster.clone())
                .or_default()
                .rejections
                .push((object, rejection.clone()));
        }
    }
    for unsupported in &conversion.unsupported {
        if let Some(object) = state(&unsupported.object) {
            work.entry(object.key.cluster.clone())
                .or_default()
                .unsupported
                .push((object, unsupported.clone()));
        }
    }
    work
}

/// Each cluster's share of the override Events, by the cluster part of
/// the object keys.
fn override_work(merged: OverrideMerge) -> BTreeMap<String, OverrideWork> {
    let mut work: BTreeMap<String, OverrideWork> = BTreeMap::new();
    for conflict in merged.conflicts {
        work.entry(conflict.object.cluster.clone())
            .or_default()
            .conflicts
            .push(conflict);
    }
    for rejection in merged.rejections {
        work.entry(rejection.object.cluster.clone())
            .or_default()
            .rejections
            .push(rejection);
    }
    work
}

/// Backoff between failed lists and watches: kube-rs' default (client-go's)
/// grows to 30 s, so after an API server outage of half a minute the
/// sidecar could stay blind for as long again. One watcher per gslb pod is
/// no load worth protecting the API server from, and DNS answers should
/// follow the objects soon after it is back: 0.5 s doubling to 8 s, with
/// jitter, reset after a minute without errors.
pub fn watch_backoff() -> ResetTimerBackoff<ExponentialBackoff> {
    let exponential = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(8))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(exponential.into(), Duration::from_secs(60))
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests;
