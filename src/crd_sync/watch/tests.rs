//! The reconcile loop over several clusters, driven by hand: stores fed with
//! watch events, news sent as the cluster watches send them, the record
//! file and the state files read back. Paused time: the debounce and the
//! initial-list timeout pass without waiting.

use std::path::{Path, PathBuf};

use kube::runtime::reflector::store::Writer;

use super::*;
use crate::crd_sync::dns_endpoint_resource;
use crate::crd_sync::gslb_override::gslb_override_resource;

const ZONE: &str = "global.example.test.";

/// An object of `namespace/name` with one A endpoint of `webapp`.
fn object(namespace: &str, name: &str, set_id: &str, target: &str, created: &str) -> DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("{namespace}-{name}"),
                     "generation": 1, "creationTimestamp": created},
        "spec": {"endpoints": [{"dnsName": "webapp.global.example.test", "recordType": "A",
                                "targets": [target], "setIdentifier": set_id}]}
    }))
    .expect("fixture")
}

/// GslbOverride `gslb/NAME` for set `set` of webapp.
fn gslb_override(name: &str, set: &str, state: &str, created: &str) -> DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "gslb.io/v1alpha1", "kind": "GslbOverride",
        "metadata": {"name": name, "namespace": "gslb", "uid": format!("uid-{name}"),
                     "creationTimestamp": created},
        "spec": {"record": "webapp.global.example.test", "set": set, "state": state}
    }))
    .expect("fixture")
}

/// A cluster's stores and the writers the test feeds.
struct FakeCluster {
    writer: Writer<DynamicObject>,
    status: watch::Receiver<Arc<StatusWork>>,
    /// The GslbOverride store's writer and the Events' channel.
    overrides: Option<(Writer<DynamicObject>, watch::Receiver<Arc<OverrideWork>>)>,
}

/// A complete list of `objects` into `writer`, as a watcher yields it.
fn list_into(writer: &mut Writer<DynamicObject>, objects: &[DynamicObject]) {
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o.clone()));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}

impl FakeCluster {
    /// A complete list of `objects`, as a watcher yields it.
    fn list(&mut self, objects: &[DynamicObject]) {
        list_into(&mut self.writer, objects);
    }

    /// A complete list of GslbOverride `objects`.
    fn list_overrides(&mut self, objects: &[DynamicObject]) {
        let (writer, _) = self.overrides.as_mut().expect("overrides followed");
        list_into(writer, objects);
    }

    /// The Events the cluster's override task is to publish.
    fn override_work(&self) -> Arc<OverrideWork> {
        let (_, events) = self.overrides.as_ref().expect("overrides followed");
        events.borrow().clone()
    }

    fn apply(&mut self, object: &DynamicObject) {
        self.writer
            .apply_watcher_event(&watcher::Event::Apply(object.clone()));
    }
}

struct Fixture {
    output: PathBuf,
    state: PathBuf,
    clusters: Vec<FakeCluster>,
    news: mpsc::Sender<(Feed, News)>,
    metrics: SyncMetrics,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), SyncError>>,
}

const TIMING: Timing = Timing {
    debounce: Duration::from_millis(500),
    resync: Duration::from_secs(60),
    initial_list_timeout: Duration::from_secs(30),
};

/// A syncer over clusters `names` writing into `dir`, with the state of
/// the clusters found there; DNSEndpoints only.
fn start(dir: &Path, names: &[&str]) -> Fixture {
    start_with(dir, names, false)
}

/// The same, also following GslbOverrides when `overrides`.
fn start_with(dir: &Path, names: &[&str], overrides: bool) -> Fixture {
    let output = dir.join("records.yaml");
    let state_path = dir.join("state");
    let state = StateDir::open(state_path.clone()).expect("state dir");
    let metrics = SyncMetrics::default();
    let mut views = Vec::new();
    let mut clusters = Vec::new();
    for name in names {
        let writer = Writer::new(dns_endpoint_resource());
        let (status_tx, status) = watch::channel(Arc::new(StatusWork::default()));
        let restored = state.load(name).expect("state loads");
        let view = ClusterView::new(
            (*name).to_owned(),
            names.len() > 1,
            writer.as_reader(),
            restored,
            status_tx,
        );
        let (view, overrides) = if overrides {
            let writer = Writer::new(gslb_override_resource());
            let (events_tx, events) = watch::channel(Arc::new(OverrideWork::default()));
            let view = view.with_overrides(writer.as_reader(), events_tx);
            (view, Some((writer, events)))
        } else {
            (view, None)
        };
        views.push(view);
        clusters.push(FakeCluster {
            writer,
            status,
            overrides,
        });
    }
    let scope = RecordScope::from_origins(&[ZONE], "--zones").expect("zone");
    let syncer = Syncer::new(
        ZoneSource::Origins(vec![ZONE.into()]),
        scope,
        RecordFileSink::new(output.clone()),
        metrics.clone(),
        views,
        (names.len() > 1).then_some(state),
    );
    let (news, rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(syncer.run(rx, TIMING, cancel.clone(), false));
    Fixture {
        output,
        state: state_path,
        clusters,
        news,
        metrics,
        cancel,
        task,
    }
}

impl Fixture {
    /// News of a cluster's DNSEndpoint watch.
    async fn send(&self, news: News) {
        self.hear(Feed::Endpoints, news).await;
    }

    /// News of a cluster's GslbOverride watch.
    async fn send_overrides(&self, news: News) {
        self.hear(Feed::Overrides, news).await;
    }

    async fn hear(&self, feed: Feed, news: News) {
        self.news.send((feed, news)).await.expect("syncer runs");
        // Past the debounce, in paused time.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    fn file(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("joins").expect("runs cleanly");
    }
}

/// The targets of `webapp` in the file, by set id.
fn sets(file: &str) -> Vec<(String, String)> {
    let raw: crate::config::raw::RawRecordFile =
        serde_saphyr::from_str(file).expect("the file parses");
    raw.records
        .iter()
        .flat_map(|r| &r.sets)
        .map(|s| (s.id.clone(), s.targets.join(",")))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-01T00:00:01Z";

#[tokio::test(start_paused = true)]
async fn the_first_write_waits_for_every_cluster_then_for_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start(dir.path(), &["us", "eu"]);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.send(News::Listed(0)).await;
    assert!(!f.output.exists(), "eu is neither listed nor restored yet");
    tokio::time::sleep(TIMING.initial_list_timeout).await;
    assert_eq!(sets(&f.file()), pairs(&[("us-east", "192.0.2.10")]));
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.send(News::Listed(1)).await;
    assert_eq!(
        sets(&f.file()),
        pairs(&[("eu-west", "192.0.2.20"), ("us-east", "192.0.2.10")])
    );
    f.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_cluster_that_fails_keeps_its_objects_and_the_others_still_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start(dir.path(), &["us", "eu"]);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.send(News::Listed(1)).await;
    f.send(News::Listed(0)).await;
    let both = f.file();
    assert_eq!(sets(&both).len(), 2, "{both}");
    // us's API server goes away: its objects stay, eu's change is written.
    f.send(News::Failed(0, watcher::Error::NoResourceVersion))
        .await;
    assert_eq!(f.file(), both, "a failure alone changes nothing");
    f.clusters[1].apply(&object("production", "web", "eu-west", "192.0.2.21", T1));
    f.send(News::Changed(1)).await;
    assert_eq!(
        sets(&f.file()),
        pairs(&[("eu-west", "192.0.2.21"), ("us-east", "192.0.2.10")])
    );
    let metrics = {
        let mut registry = prometheus_client::registry::Registry::default();
        f.metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    };
    assert!(
        metrics.contains("gslb_crd_sync_cluster_objects{cluster=\"us\"} 1"),
        "{metrics}"
    );
    f.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_sidecar_writes_a_down_cluster_from_its_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start(dir.path(), &["us", "eu"]);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.send(News::Listed(0)).await;
    f.send(News::Listed(1)).await;
    let before = f.file();
    assert!(f.state.join("us.json").exists() && f.state.join("eu.json").exists());
    f.stop().await;

    // Restarted; the record file is lost too (a new emptyDir would lose
    // both, a container restart neither). us never answers this time.
    std::fs::remove_file(dir.path().join("records.yaml")).expect("remove");
    let mut f = start(dir.path(), &["us", "eu"]);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.send(News::Listed(1)).await;
    assert_eq!(
        f.file(),
        before,
        "us's records come from its state file, at once"
    );
    f.stop().await;

    // Started without us: its objects and its state file are gone.
    let state = StateDir::open(dir.path().join("state")).expect("state dir");
    assert_eq!(state.remove_others(&["eu"]).expect("lists"), ["us"]);
    let mut f = start(dir.path(), &["eu"]);
    f.clusters[0].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.send(News::Listed(0)).await;
    assert_eq!(sets(&f.file()), pairs(&[("eu-west", "192.0.2.20")]));
    f.stop().await;
}

#[tokio::test(start_paused = true)]
async fn each_cluster_gets_the_status_of_its_own_objects() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start(dir.path(), &["us", "eu"]);
    // Both claim set us-east; us's object is older and wins.
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.clusters[1].list(&[object("production", "web", "us-east", "192.0.2.20", T1)]);
    f.send(News::Listed(0)).await;
    f.send(News::Listed(1)).await;
    let us = f.clusters[0].status.borrow().clone();
    let eu = f.clusters[1].status.borrow().clone();
    assert_eq!(us.accepted.len(), 1);
    assert_eq!(
        us.accepted[0].key,
        ObjectKey::in_cluster("us", "production", "web")
    );
    assert!(us.rejections.is_empty());
    assert!(eu.accepted.is_empty());
    assert_eq!(eu.rejections.len(), 1);
    let (object, rejection) = &eu.rejections[0];
    assert_eq!(object.key, ObjectKey::in_cluster("eu", "production", "web"));
    assert!(
        rejection
            .detail
            .contains("already claimed by us/production/web"),
        "{}",
        rejection.detail
    );
    f.stop().await;
}

/// Two sidecars that hear from the clusters in opposite orders, with the
/// objects listed in opposite orders, write the same bytes.
#[tokio::test(start_paused = true)]
async fn two_sidecars_write_the_same_bytes_whatever_the_order() {
    let us = [
        object("production", "web", "", "192.0.2.10", T0),
        object("production", "api", "", "192.0.2.11", T0),
    ];
    let eu = [
        object("production", "web", "", "192.0.2.20", T0),
        object("team-b", "web", "", "192.0.2.21", T1),
    ];
    let mut files = Vec::new();
    for reverse in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut f = start(dir.path(), &["us", "eu"]);
        let (mut a, mut b) = (us.to_vec(), eu.to_vec());
        if reverse {
            a.reverse();
            b.reverse();
        }
        f.clusters[0].list(&a);
        f.clusters[1].list(&b);
        let order = if reverse { [1, 0] } else { [0, 1] };
        for i in order {
            f.send(News::Listed(i)).await;
        }
        files.push(f.file());
        f.stop().await;
    }
    assert_eq!(files[0], files[1]);
    assert_eq!(
        sets(&files[0]),
        pairs(&[
            ("eu/production/web", "192.0.2.20"),
            ("us/production/api", "192.0.2.11"),
            ("us/production/web", "192.0.2.10"),
        ]),
        "default set ids name the cluster; team-b does not own webapp"
    );
}

/// The overrides in the file: (set, state, object).
fn overrides(file: &str) -> Vec<(String, String, String)> {
    let raw: crate::config::raw::RawRecordFile =
        serde_saphyr::from_str(file).expect("the file parses");
    raw.overrides
        .iter()
        .map(|o| {
            (
                o.set.clone(),
                o.state.clone(),
                o.object.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_clusters_overrides_are_merged_and_the_older_of_a_conflict_gets_an_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start_with(dir.path(), &["us", "eu"], true);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.clusters[0].list_overrides(&[gslb_override("drain", "us-east", "down", T0)]);
    f.clusters[1].list_overrides(&[]);
    for i in [0, 1] {
        f.send(News::Listed(i)).await;
        f.send_overrides(News::Listed(i)).await;
    }
    assert_eq!(
        overrides(&f.file()),
        [("us-east".into(), "down".into(), "us/gslb/drain".into())]
    );
    // eu forces the same set up, later: it wins; us's object is told.
    f.clusters[1].list_overrides(&[gslb_override("force", "us-east", "up", T1)]);
    f.send_overrides(News::Changed(1)).await;
    assert_eq!(
        overrides(&f.file()),
        [("us-east".into(), "up".into(), "eu/gslb/force".into())]
    );
    let us = f.clusters[0].override_work();
    assert_eq!(us.conflicts.len(), 1, "{us:?}");
    assert_eq!(us.conflicts[0].winner.to_string(), "eu/gslb/force");
    assert!(
        f.clusters[1].override_work().conflicts.is_empty(),
        "the winner gets no Event"
    );
    // eu's object is deleted: us's drain is in force again.
    f.clusters[1].list_overrides(&[]);
    f.send_overrides(News::Changed(1)).await;
    assert_eq!(
        overrides(&f.file()),
        [("us-east".into(), "down".into(), "us/gslb/drain".into())]
    );
    assert!(f.clusters[0].override_work().conflicts.is_empty());
    f.stop().await;
}

/// A restarted sidecar whose DNSEndpoints are listed before its
/// GslbOverrides must not write a file without the overrides: the server
/// would lift every drain until the next write.
#[tokio::test(start_paused = true)]
async fn the_file_is_not_written_before_the_overrides_are_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start_with(dir.path(), &["us"], true);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.send(News::Listed(0)).await;
    assert!(!f.output.exists(), "the overrides are not known yet");
    f.clusters[0].list_overrides(&[gslb_override("drain", "us-east", "down", T0)]);
    f.send_overrides(News::Listed(0)).await;
    assert_eq!(
        overrides(&f.file()),
        [("us-east".into(), "down".into(), "gslb/drain".into())],
        "one cluster: NAMESPACE/NAME"
    );
    f.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_down_clusters_overrides_are_kept_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = start_with(dir.path(), &["us", "eu"], true);
    f.clusters[0].list(&[object("production", "web", "us-east", "192.0.2.10", T0)]);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.clusters[0].list_overrides(&[gslb_override("drain", "us-east", "down", T0)]);
    f.clusters[1].list_overrides(&[]);
    for i in [0, 1] {
        f.send(News::Listed(i)).await;
        f.send_overrides(News::Listed(i)).await;
    }
    let before = f.file();
    // us's API server goes away: its override stays.
    f.send_overrides(News::Failed(0, watcher::Error::NoResourceVersion))
        .await;
    assert_eq!(f.file(), before);
    f.stop().await;

    std::fs::remove_file(dir.path().join("records.yaml")).expect("remove");
    let mut f = start_with(dir.path(), &["us", "eu"], true);
    f.clusters[1].list(&[object("production", "web", "eu-west", "192.0.2.20", T1)]);
    f.clusters[1].list_overrides(&[]);
    f.send(News::Listed(1)).await;
    f.send_overrides(News::Listed(1)).await;
    assert_eq!(f.file(), before, "us's override comes from its state file");
    f.stop().await;
}
