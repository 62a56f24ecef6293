//! The clusters the sidecar watches: which ones (`--context`, `--cluster`),
//! how to reach each, and the watch that keeps each one's objects.
//!
//! Every cluster has its own watch tasks (one per [`Feed`]: DNSEndpoints,
//! GslbOverrides) with their own reflector stores, their own backoff and
//! the cluster's own `gslb_crd_sync_cluster_*` metrics, so a cluster whose
//! API server is down delays nothing but itself. A watch error drops the
//! stream and, after the backoff, lists again (as client-go's reflector
//! does): the store keeps the last complete list until the new one is
//! complete, and `gslb_crd_sync_cluster_up` goes back to 1 only then.
//!
//! The GslbOverride CRD is optional: a cluster without it (404 on the
//! list) has no overrides, logged once, and is listed again with the
//! backoff so a CRD installed later is picked up.

use std::{collections::BTreeSet, fmt, ops::ControlFlow, path::PathBuf, pin::pin, str::FromStr};

use futures_util::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::DynamicObject,
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, reflector::store::Writer, watcher},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::endpoint::ObjectKey;
use super::metrics::SyncMetrics;
use super::watch::watch_backoff;

/// The name of the one cluster when neither `--context` nor `--cluster` is
/// given (its metric label; its objects' keys carry no cluster name).
pub const DEFAULT_CLUSTER: &str = "default";

/// Longest cluster name: a DNS label, as namespace names are.
const MAX_NAME: usize = 63;

/// A cluster to watch, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Its name: in metrics, logs, state files and, with several clusters,
    /// in object keys and default set ids. Every gslb instance must give a
    /// cluster the same name.
    pub name: String,
    /// How to reach it.
    pub source: Source,
}

/// Where a cluster's connection settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The in-cluster service account, or outside a pod the current
    /// context of `--kubeconfig`, `KUBECONFIG` or `~/.kube/config`.
    Inferred,
    /// A context of a kubeconfig file.
    Kubeconfig {
        /// The file (`None`: `--kubeconfig`, `KUBECONFIG` or
        /// `~/.kube/config`).
        path: Option<PathBuf>,
        /// The context (`None`: the file's current context).
        context: Option<String>,
    },
}

/// One `--cluster NAME=KUBECONFIG[#CONTEXT]` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterArg {
    /// NAME.
    pub name: String,
    /// KUBECONFIG; empty: the default (see [`Source::Inferred`]).
    pub kubeconfig: Option<PathBuf>,
    /// CONTEXT.
    pub context: Option<String>,
}

impl FromStr for ClusterArg {
    type Err = String;

    fn from_str(arg: &str) -> Result<Self, String> {
        let (name, rest) = arg
            .split_once('=')
            .ok_or_else(|| format!("{arg:?} is not NAME=KUBECONFIG[#CONTEXT]"))?;
        check_name(name)?;
        let (file, context) = match rest.rsplit_once('#') {
            Some((_, "")) => {
                return Err(format!("{arg:?}: the context after # is empty"));
            }
            Some((file, context)) => (file, Some(context.to_owned())),
            None => (rest, None),
        };
        Ok(Self {
            name: name.to_owned(),
            kubeconfig: (!file.is_empty()).then(|| PathBuf::from(file)),
            context,
        })
    }
}

/// A cluster name: letters, digits, `-`, `_` and `.`, so that it is a file
/// name and the first part of a `CLUSTER/NAMESPACE/NAME` set id.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cluster name {name:?} must be 1-{MAX_NAME} letters, digits, - _ or . (not first); \
             name a context with another name with --cluster NAME=KUBECONFIG#CONTEXT"
        ))
    }
}

/// The clusters of the command line: one per `--context` (named after it,
/// in `kubeconfig` or the default file) and per `--cluster`; with neither,
/// the one cluster of `kubeconfig` or the inferred configuration.
pub fn specs(
    contexts: &[String],
    clusters: &[ClusterArg],
    kubeconfig: Option<&std::path::Path>,
) -> Result<Vec<ClusterSpec>, String> {
    if contexts.is_empty() && clusters.is_empty() {
        let source = match kubeconfig {
            Some(path) => Source::Kubeconfig {
                path: Some(path.to_owned()),
                context: None,
            },
            None => Source::Inferred,
        };
        return Ok(vec![ClusterSpec {
            name: DEFAULT_CLUSTER.into(),
            source,
        }]);
    }
    let mut specs = Vec::new();
    for context in contexts {
        check_name(context)?;
        specs.push(ClusterSpec {
            name: context.clone(),
            source: Source::Kubeconfig {
                path: kubeconfig.map(ToOwned::to_owned),
                context: Some(context.clone()),
            },
        });
    }
    for cluster in clusters {
        let source = match (&cluster.kubeconfig, &cluster.context) {
            (None, None) if kubeconfig.is_none() => Source::Inferred,
            (path, context) => Source::Kubeconfig {
                path: path.clone().or_else(|| kubeconfig.map(ToOwned::to_owned)),
                context: context.clone(),
            },
        };
        specs.push(ClusterSpec {
            name: cluster.name.clone(),
            source,
        });
    }
    let mut names = BTreeSet::new();
    for spec in &specs {
        if !names.insert(spec.name.as_str()) {
            return Err(format!(
                "cluster {:?} is named twice (--context and --cluster names must differ)",
                spec.name
            ));
        }
    }
    Ok(specs)
}

/// Why a cluster's client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig or its context is unusable.
    #[error("cluster {cluster}: cannot use {what}: {source}")]
    Kubeconfig {
        /// The cluster name.
        cluster: String,
        /// File and context.
        what: String,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// No configuration was found.
    #[error("cluster {cluster}: no Kubernetes configuration (in-cluster or kubeconfig): {source}")]
    Infer {
        /// The cluster name.
        cluster: String,
        /// Why.
        source: kube::config::InferConfigError,
    },
    /// The client could not be built.
    #[error("cluster {cluster}: cannot build the Kubernetes client: {source}")]
    Client {
        /// The cluster name.
        cluster: String,
        /// Why.
        source: kube::Error,
    },
}

impl ClusterSpec {
    /// A client for the cluster. Reads files only: no request is sent, so
    /// an unreachable API server is no error here.
    pub async fn client(&self) -> Result<Client, ClientError> {
        let cluster = self.name.clone();
        let config = match &self.source {
            Source::Inferred => {
                kube::Config::infer()
                    .await
                    .map_err(|source| ClientError::Infer {
                        cluster: cluster.clone(),
                        source,
                    })?
            }
            Source::Kubeconfig { path, context } => {
                let what = format!(
                    "{}{}",
                    path.as_ref().map_or_else(
                        || "the default kubeconfig".to_owned(),
                        |p| p.display().to_string()
                    ),
                    context
                        .as_ref()
                        .map_or_else(String::new, |c| format!(" context {c}"))
                );
                let error = |source| ClientError::Kubeconfig {
                    cluster: cluster.clone(),
                    what: what.clone(),
                    source,
                };
                let options = KubeConfigOptions {
                    context: context.clone(),
                    ..KubeConfigOptions::default()
                };
                match path {
                    Some(path) => {
                        let file = Kubeconfig::read_from(path).map_err(error)?;
                        kube::Config::from_custom_kubeconfig(file, &options)
                            .await
                            .map_err(error)?
                    }
                    None => kube::Config::from_kubeconfig(&options)
                        .await
                        .map_err(error)?,
                }
            }
        };
        Client::try_from(config).map_err(|source| ClientError::Client { cluster, source })
    }
}

/// Which objects a watch follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// DNSEndpoints, in every namespace or `--namespace`.
    Endpoints,
    /// GslbOverrides, in the override namespace.
    Overrides,
}

impl Feed {
    /// The kind, for logs.
    fn kind(self) -> &'static str {
        match self {
            Self::Endpoints => "DNSEndpoint",
            Self::Overrides => "GslbOverride",
        }
    }
}

/// What a cluster's watch tells the reconcile loop.
#[derive(Debug)]
pub enum News {
    /// A list completed: the store holds every object of the cluster.
    Listed(usize),
    /// An object was applied or deleted after the list.
    Changed(usize),
    /// The list or the watch failed; the store keeps what it had.
    Failed(usize, watcher::Error),
}

/// One cluster's watch of one feed: a kube-rs watcher feeding a reflector
/// store.
pub struct ClusterWatch {
    /// Index in the cluster list, sent with every [`News`].
    pub index: usize,
    /// What it follows, sent with every [`News`].
    pub feed: Feed,
    /// The cluster name, for logs and metrics.
    pub name: String,
    /// Where the objects are listed.
    pub api: Api<DynamicObject>,
    /// Label selector and the like.
    pub config: watcher::Config,
    /// Shared metrics.
    pub metrics: SyncMetrics,
}

impl ClusterWatch {
    /// Lists and watches until `cancel` (or until the news receiver is
    /// gone), applying every event to `writer` before telling `news`.
    /// Errors are logged, counted and retried with [`watch_backoff`],
    /// each time with a new list.
    pub async fn run(
        self,
        mut writer: Writer<DynamicObject>,
        news: mpsc::Sender<(Feed, News)>,
        cancel: CancellationToken,
    ) {
        let mut backoff = watch_backoff();
        let mut progress = Progress::default();
        loop {
            let ControlFlow::Continue(failure) = self
                .follow(&mut writer, &news, &cancel, &mut progress)
                .await
            else {
                return;
            };
            let wait = backoff.next().unwrap_or(std::time::Duration::from_secs(8));
            let told = self
                .report(failure, wait, &mut writer, &news, &mut progress)
                .await;
            if told.is_break() {
                return;
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One list and the watch after it, until the stream fails or ends
    /// (`Continue` with the error, if any); `Break` on `cancel` or when
    /// the news receiver is gone.
    async fn follow(
        &self,
        writer: &mut Writer<DynamicObject>,
        news: &mpsc::Sender<(Feed, News)>,
        cancel: &CancellationToken,
        progress: &mut Progress,
    ) -> ControlFlow<(), Option<watcher::Error>> {
        let stream = watcher::watcher(self.api.clone(), self.config.clone())
            .modify(|o| o.managed_fields_mut().clear());
        let mut stream = pin!(stream);
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return ControlFlow::Break(()),
                event = stream.next() => event,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(error)) => return ControlFlow::Continue(Some(error)),
                // The watcher never ends; if it did, list again.
                None => return ControlFlow::Continue(None),
            };
            writer.apply_watcher_event(&event);
            if let Some(message) = self.on_event(&event, progress)
                && news.send((self.feed, message)).await.is_err()
            {
                return ControlFlow::Break(());
            }
        }
    }

    /// Logs and counts one applied event; the news it makes, if any (a
    /// completed list or a changed object).
    fn on_event(
        &self,
        event: &watcher::Event<DynamicObject>,
        progress: &mut Progress,
    ) -> Option<News> {
        let cluster = self.name.as_str();
        let kind = self.feed.kind();
        match event {
            watcher::Event::Init => {
                progress.lists += 1;
                if progress.lists > 1 && !progress.missing {
                    self.metrics.watch_restarts.inc();
                    info!(
                        cluster,
                        kind,
                        "re-listing; the cluster's last known objects stay until the list is complete"
                    );
                }
                None
            }
            watcher::Event::InitApply(_) => None,
            watcher::Event::InitDone => {
                if self.feed == Feed::Endpoints {
                    self.metrics.cluster_listed(cluster);
                }
                if std::mem::take(&mut progress.missing) {
                    info!(
                        cluster,
                        "GslbOverride CRD found: the cluster's overrides are followed"
                    );
                }
                debug!(cluster, kind, "list complete");
                Some(News::Listed(self.index))
            }
            watcher::Event::Apply(object) => {
                debug!(
                    cluster,
                    kind,
                    object = %ObjectKey::of("", object),
                    generation = object.metadata.generation,
                    "applied"
                );
                Some(News::Changed(self.index))
            }
            watcher::Event::Delete(object) => {
                debug!(cluster, kind, object = %ObjectKey::of("", object), "deleted");
                Some(News::Changed(self.index))
            }
        }
    }

    /// Deals with the end of a stream before the retry in `wait`: a missing
    /// GslbOverride CRD empties the store once (no CRD, no overrides); any
    /// other failure is logged, counted and told. `Break` when the news
    /// receiver is gone.
    async fn report(
        &self,
        failure: Option<watcher::Error>,
        wait: std::time::Duration,
        writer: &mut Writer<DynamicObject>,
        news: &mpsc::Sender<(Feed, News)>,
        progress: &mut Progress,
    ) -> ControlFlow<()> {
        let cluster = self.name.as_str();
        let (feed, kind) = (self.feed, self.feed.kind());
        let endpoints = feed == Feed::Endpoints;
        match failure {
            Some(error) if !endpoints && crd_missing(&error) => {
                if !progress.missing {
                    progress.missing = true;
                    info!(
                        cluster,
                        "no GslbOverride CRD in this cluster (404): it has no overrides; checking again with the backoff"
                    );
                    // No CRD, no objects: the overrides of a CRD
                    // deleted meanwhile go too.
                    writer.apply_watcher_event(&watcher::Event::Init);
                    writer.apply_watcher_event(&watcher::Event::InitDone);
                    if news.send((feed, News::Listed(self.index))).await.is_err() {
                        return ControlFlow::Break(());
                    }
                }
            }
            Some(error) => {
                self.metrics.watch_errors.inc();
                if endpoints {
                    self.metrics.cluster_down(cluster);
                }
                warn!(
                    cluster,
                    kind,
                    error = %crate::error_chain(&error),
                    retry_in = ?wait,
                    "watch failed; retrying with a new list, the cluster's last known objects stay in the record file"
                );
                if news
                    .send((feed, News::Failed(self.index, error)))
                    .await
                    .is_err()
                {
                    return ControlFlow::Break(());
                }
            }
            None => debug!(cluster, kind, "watch ended; listing again"),
        }
        ControlFlow::Continue(())
    }
}

/// What a watch remembers from one list to the next.
#[derive(Debug, Default)]
struct Progress {
    /// Lists started, so that a re-list is told apart from the first.
    lists: u64,
    /// The GslbOverride CRD was missing at the last list.
    missing: bool,
}

/// Whether `error` is a list answered 404: the resource's CRD is not
/// installed.
fn crd_missing(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::InitialListFailed(kube::Error::Api(status)) if status.code == 404)
}

impl fmt::Display for ClusterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Inferred => write!(f, "{} (in-cluster or default kubeconfig)", self.name),
            Source::Kubeconfig { path, context } => {
                write!(f, "{} (", self.name)?;
                match path {
                    Some(path) => write!(f, "{}", path.display())?,
                    None => write!(f, "default kubeconfig")?,
                }
                match context {
                    Some(context) => write!(f, " context {context})"),
                    None => write!(f, " current context)"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(text: &str) -> Result<ClusterArg, String> {
        text.parse()
    }

    #[test]
    fn cluster_arguments_are_name_kubeconfig_and_context() {
        assert_eq!(
            arg("eu-west=/etc/gslb/clusters/kubeconfig#eu").unwrap(),
            ClusterArg {
                name: "eu-west".into(),
                kubeconfig: Some("/etc/gslb/clusters/kubeconfig".into()),
                context: Some("eu".into()),
            }
        );
        assert_eq!(
            arg("us=kube#conf#ctx").unwrap().kubeconfig,
            Some("kube#conf".into()),
            "the last # starts the context"
        );
        let in_cluster = arg("us-east=").unwrap();
        assert_eq!((in_cluster.kubeconfig, in_cluster.context), (None, None));
        let context_only = arg("eu=#arn:aws:eks:eu-west-1:1:cluster/prod").unwrap();
        assert_eq!(context_only.kubeconfig, None);
        assert_eq!(
            context_only.context.as_deref(),
            Some("arn:aws:eks:eu-west-1:1:cluster/prod")
        );
        for bad in ["eu", "=x", "e/u=x", ".eu=x", "eu=x#", "eu west=x"] {
            assert!(arg(bad).is_err(), "{bad}");
        }
        let long = format!("{}=x", "a".repeat(64));
        assert!(arg(&long).unwrap_err().contains("1-63"));
    }

    #[test]
    fn specs_from_contexts_clusters_or_neither() {
        let single = specs(&[], &[], None).unwrap();
        assert_eq!(
            single,
            [ClusterSpec {
                name: DEFAULT_CLUSTER.into(),
                source: Source::Inferred
            }]
        );
        let file = std::path::Path::new("/k/config");
        assert_eq!(
            specs(&[], &[], Some(file)).unwrap()[0].source,
            Source::Kubeconfig {
                path: Some(file.into()),
                context: None
            }
        );
        let both = specs(
            &["us".into()],
            &[arg("eu=").unwrap(), arg("ap=#ap-ctx").unwrap()],
            Some(file),
        )
        .unwrap();
        let names: Vec<&str> = both.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["us", "eu", "ap"]);
        assert_eq!(
            both[0].source,
            Source::Kubeconfig {
                path: Some(file.into()),
                context: Some("us".into())
            }
        );
        assert_eq!(
            both[1].source,
            Source::Kubeconfig {
                path: Some(file.into()),
                context: None
            },
            "NAME= with --kubeconfig: that file's current context"
        );
        assert_eq!(
            specs(&[], &[arg("eu=").unwrap()], None).unwrap()[0].source,
            Source::Inferred
        );
        let twice = specs(&["eu".into()], &[arg("eu=x").unwrap()], None).unwrap_err();
        assert!(twice.contains("named twice"), "{twice}");
        let bad = specs(&["arn:aws:eks:x:1:cluster/prod".into()], &[], None).unwrap_err();
        assert!(bad.contains("--cluster NAME=KUBECONFIG#CONTEXT"), "{bad}");
    }
}

/// A cluster without the GslbOverride CRD, through a fake API server.
#[cfg(test)]
mod missing_crd_tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use kube::client::Body;

    use super::*;
    use crate::crd_sync::gslb_override::gslb_override_resource;

    /// A client whose every request is answered 404, as kube-apiserver
    /// answers a list of a resource whose CRD is not installed; counts the
    /// requests.
    fn no_crd(requests: Arc<AtomicUsize>) -> Client {
        let service = tower::service_fn(move |_request: http::Request<Body>| {
            requests.fetch_add(1, Ordering::Relaxed);
            async move {
                let status = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound", "code": 404
                });
                let response = http::Response::builder()
                    .status(404)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&status).unwrap_or_default()))
                    .expect("response");
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        Client::new(service, "gslb")
    }

    #[tokio::test(start_paused = true)]
    async fn a_cluster_without_the_crd_has_no_overrides_and_is_listed_once() {
        let requests = Arc::new(AtomicUsize::new(0));
        let resource = gslb_override_resource();
        let api = Api::namespaced_with(no_crd(requests.clone()), "gslb", &resource);
        let metrics = SyncMetrics::default();
        let watch = ClusterWatch {
            index: 3,
            feed: Feed::Overrides,
            name: "us".into(),
            api,
            config: watcher::Config::default(),
            metrics: metrics.clone(),
        };
        let mut writer = Writer::new(resource);
        // What an earlier list found, before the CRD was deleted.
        let stale: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "gslb.io/v1alpha1", "kind": "GslbOverride",
            "metadata": {"name": "drain", "namespace": "gslb"},
            "spec": {"record": "a.example.test", "set": "x", "state": "down"}
        }))
        .expect("fixture");
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(stale));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let store = writer.as_reader();
        assert_eq!(store.state().len(), 1);
        let (news_tx, mut news) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch.run(writer, news_tx, cancel.clone()));
        let (feed, first) = news.recv().await.expect("news");
        assert_eq!(feed, Feed::Overrides);
        assert!(matches!(first, News::Listed(3)), "{first:?}");
        assert!(store.state().is_empty(), "no CRD, no overrides");
        // A minute of retries: lists again, tells nothing more, counts
        // no error (the CRD is optional).
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        assert!(requests.load(Ordering::Relaxed) > 2, "checked again");
        assert!(news.try_recv().is_err(), "told once");
        assert_eq!(metrics.watch_errors.get(), 0);
        cancel.cancel();
        task.await.expect("stops");
    }
}
