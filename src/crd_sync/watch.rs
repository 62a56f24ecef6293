//! The reconcile loop: a kube-rs watcher on DNSEndpoint objects feeds a
//! reflector [`Store`]; changes are batched (the first change opens a window
//! of `debounce`, everything in it is written together) and each batch runs
//! [`convert`] on what the store holds, writes the file if its content
//! changed, and hands the outcome to the status task.
//!
//! Resilience comes from three rules:
//! * the watcher retries every error (API server down, 410 Gone, a dropped
//!   watch, 403) with exponential backoff ([`watch_backoff`]), and the
//!   store's writer buffers a re-list from `Init` to `InitDone` and only
//!   then swaps it in whole, so a restart never shows a half-empty table;
//! * nothing is written before the first full list, and nothing is ever
//!   deleted: while the API server is away the last file keeps serving;
//! * a failed write is retried after [`WRITE_RETRY`], and a periodic resync
//!   re-reads the zones (a ConfigMap update) and compares the file on disk
//!   with what it should hold, rewriting it when someone else changed it.

use std::{
    collections::BTreeMap,
    pin::pin,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures_util::StreamExt;
use kube::{
    Api, ResourceExt,
    api::{ApiResource, DynamicObject},
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        utils::ResetTimerBackoff,
        watcher::{self, ExponentialBackoff},
    },
};
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::ZoneSource;
use super::convert::{Conversion, Notice, convert};
use super::endpoint::{DnsEndpoint, ObjectKey};
use super::metrics::SyncMetrics;
use super::sink::{RecordFileSink, SinkError, WriteOutcome, render};
use super::status::{ObjectState, StatusWork};
use crate::config::RecordScope;

/// Why a `--once` run failed (the long-running mode retries everything).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The file could not be written.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The list failed (API server unreachable, RBAC, ...).
    #[error("cannot list DNSEndpoints: {0}")]
    Watch(#[from] watcher::Error),
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
}

/// Owns the object table's conversion and the file.
pub struct Syncer {
    zones: ZoneSource,
    scope: RecordScope,
    /// Shared with the blocking write task only.
    sink: Arc<Mutex<RecordFileSink>>,
    metrics: SyncMetrics,
    status: watch::Sender<Arc<StatusWork>>,
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
        status: watch::Sender<Arc<StatusWork>>,
    ) -> Self {
        Self {
            zones,
            scope,
            sink: Arc::new(Mutex::new(sink)),
            metrics,
            status,
            zone_error: None,
        }
    }

    /// Watches until `cancel` (or, with `once`, until the first full list is
    /// written). Only `once` mode returns errors: in the long-running mode
    /// every failure is logged and retried.
    pub async fn run(
        mut self,
        api: Api<DynamicObject>,
        resource: ApiResource,
        config: watcher::Config,
        timing: Timing,
        cancel: CancellationToken,
        once: bool,
    ) -> Result<(), SyncError> {
        let writer = reflector::store::Writer::new(resource);
        let store = writer.as_reader();
        let stream = watcher::watcher(api, config)
            .modify(|o| o.managed_fields_mut().clear())
            .backoff(watch_backoff())
            .reflect(writer);
        let mut stream = pin!(stream);
        let mut progress = ListProgress::default();
        let mut due: Option<Instant> = None;
        let mut resync = tokio::time::interval_at(Instant::now() + timing.resync, timing.resync);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                () = sleep_until(due) => {
                    due = None;
                    match self.reconcile(&objects(&store)).await {
                        Ok(()) if once => return Ok(()),
                        Ok(()) => {}
                        Err(error) if once => return Err(error.into()),
                        Err(error) => {
                            warn!(%error, "record file not written; retrying, the previous file stays in place");
                            due = Some(Instant::now() + WRITE_RETRY);
                        }
                    }
                }
                _ = resync.tick(), if progress.synced => {
                    due.get_or_insert_with(Instant::now);
                }
                event = stream.next() => match event {
                    Some(Ok(event)) => {
                        if progress.note(&event, &self.metrics) {
                            due.get_or_insert_with(|| Instant::now() + timing.debounce);
                        }
                    }
                    Some(Err(error)) if once => return Err(error.into()),
                    Some(Err(error)) => {
                        self.metrics.watch_errors.inc();
                        warn!(%error, "DNSEndpoint watch failed; retrying with backoff, the record file stays as it is");
                    }
                    None => return Ok(()),
                },
            }
        }
    }

    /// Converts the table, writes the file if it changed, and publishes the
    /// status work.
    async fn reconcile(
        &mut self,
        table: &BTreeMap<ObjectKey, DnsEndpoint>,
    ) -> Result<(), SinkError> {
        self.refresh_scope();
        let conversion = convert(table.values(), &self.scope);
        self.metrics.observe(table.len(), &conversion);
        let content = render(&conversion.file)?;
        let sink = self.sink.clone();
        let written = tokio::task::spawn_blocking(move || {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write(content)
        })
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
                "record file written"
            );
            log_notices(&conversion.notices);
        } else {
            debug!(objects = table.len(), "record file unchanged");
        }
        self.metrics.last_sync_seconds.set(unix_now());
        self.metrics.synced.set(1);
        self.status
            .send_replace(Arc::new(status_work(table, &conversion)));
        Ok(())
    }

    fn sink_path(&self) -> String {
        self.sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .path()
            .display()
            .to_string()
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

/// Where the watch is in its lists; the objects themselves are in the
/// reflector's [`Store`], whose writer buffers a re-list until it is
/// complete.
#[derive(Debug, Default)]
pub struct ListProgress {
    /// True once a first list completed: nothing is written before.
    pub synced: bool,
    /// Lists started, to count re-lists.
    lists: u64,
}

impl ListProgress {
    /// Notes one watch event (after the store has applied it); true when
    /// the file should be rebuilt.
    pub fn note(&mut self, event: &watcher::Event<DynamicObject>, metrics: &SyncMetrics) -> bool {
        match event {
            watcher::Event::Init => {
                self.lists += 1;
                if self.lists > 1 {
                    metrics.watch_restarts.inc();
                    info!(
                        "re-listing DNSEndpoints; the current table stays until the list is complete"
                    );
                }
                false
            }
            watcher::Event::InitApply(_) => false,
            watcher::Event::InitDone => {
                debug!("DNSEndpoint list complete");
                self.synced = true;
                true
            }
            watcher::Event::Apply(object) => {
                debug!(
                    object = %ObjectKey::of(object),
                    generation = object.metadata.generation,
                    "DNSEndpoint applied"
                );
                self.synced
            }
            watcher::Event::Delete(object) => {
                debug!(object = %ObjectKey::of(object), "DNSEndpoint deleted");
                self.synced
            }
        }
    }
}

/// The objects of `store`, keyed and sorted by namespace/name.
pub fn objects(store: &Store<DynamicObject>) -> BTreeMap<ObjectKey, DnsEndpoint> {
    store
        .state()
        .iter()
        .map(|object| {
            let object = DnsEndpoint::from_dynamic(object);
            (object.key.clone(), object)
        })
        .collect()
}

fn log_notices(notices: &[Notice]) {
    for notice in notices {
        match notice {
            Notice::IgnoredKey {
                object,
                endpoint,
                key,
            } => {
                debug!(%object, endpoint, key = %key, "providerSpecific key has no gslb meaning; ignored")
            }
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

/// What the status task should make true after `conversion`.
fn status_work(table: &BTreeMap<ObjectKey, DnsEndpoint>, conversion: &Conversion) -> StatusWork {
    let state = |key: &ObjectKey| {
        table.get(key).map(|o| ObjectState {
            key: o.key.clone(),
            uid: o.uid.clone(),
            generation: o.generation,
            observed_generation: o.observed_generation,
        })
    };
    StatusWork {
        accepted: conversion
            .accepted_objects
            .iter()
            .filter_map(state)
            .collect(),
        rejections: conversion
            .rejections
            .iter()
            .filter_map(|r| Some((state(&r.object)?, r.clone())))
            .collect(),
    }
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
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;

    fn object(name: &str) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
            "metadata": {"name": name, "namespace": "ns"}
        }))
        .expect("fixture")
    }

    /// The store and the progress, fed one event as the watch loop does.
    struct Fixture {
        writer: Writer<DynamicObject>,
        store: Store<DynamicObject>,
        progress: ListProgress,
        metrics: SyncMetrics,
    }

    impl Fixture {
        fn new() -> Self {
            let writer = Writer::new(crate::crd_sync::dns_endpoint_resource());
            let store = writer.as_reader();
            Self {
                writer,
                store,
                progress: ListProgress::default(),
                metrics: SyncMetrics::default(),
            }
        }

        fn apply(&mut self, event: watcher::Event<DynamicObject>) -> bool {
            self.writer.apply_watcher_event(&event);
            self.progress.note(&event, &self.metrics)
        }

        fn names(&self) -> Vec<String> {
            objects(&self.store)
                .keys()
                .map(|k| k.name.clone())
                .collect()
        }
    }

    #[test]
    fn a_relist_replaces_the_table_only_when_complete() {
        let mut t = Fixture::new();
        assert!(!t.apply(watcher::Event::Init));
        assert!(!t.apply(watcher::Event::InitApply(object("a"))));
        assert!(
            !t.progress.synced,
            "nothing to write before the first complete list"
        );
        assert!(t.names().is_empty(), "a list shows only once complete");
        assert!(t.apply(watcher::Event::InitDone));
        assert!(t.apply(watcher::Event::Apply(object("b"))));
        assert_eq!(t.names(), ["a", "b"]);
        // A watch that cannot resume (410 Gone, restart) lists again: the
        // old table stays whole until the new list is complete.
        t.apply(watcher::Event::Init);
        t.apply(watcher::Event::InitApply(object("b")));
        assert_eq!(t.names(), ["a", "b"]);
        assert!(t.apply(watcher::Event::InitDone));
        assert_eq!(t.names(), ["b"], "a was deleted while the watch was down");
        assert_eq!(t.metrics.watch_restarts.get(), 1);
        assert!(t.apply(watcher::Event::Delete(object("b"))));
        assert!(t.names().is_empty());
    }
}
