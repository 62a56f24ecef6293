//! The clusters the sidecar watches: which ones (`--context`, `--cluster`),
//! how to reach each, and the watch that keeps each one's objects.
//!
//! Every cluster has its own watch task with its own reflector store, its
//! own backoff and its own `gslb_crd_sync_cluster_*` metrics, so a cluster
//! whose API server is down delays nothing but itself. A watch error drops
//! the stream and, after the backoff, lists again (as client-go's reflector
//! does): the store keeps the last complete list until the new one is
//! complete, and `gslb_crd_sync_cluster_up` goes back to 1 only then.

use std::{collections::BTreeSet, fmt, path::PathBuf, pin::pin, str::FromStr};

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

/// One cluster's watch: a kube-rs watcher feeding a reflector store.
pub struct ClusterWatch {
    /// Index in the cluster list, sent with every [`News`].
    pub index: usize,
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
        news: mpsc::Sender<News>,
        cancel: CancellationToken,
    ) {
        let mut backoff = watch_backoff();
        let mut lists = 0u64;
        let cluster = self.name.as_str();
        loop {
            let stream = watcher::watcher(self.api.clone(), self.config.clone())
                .modify(|o| o.managed_fields_mut().clear());
            let mut stream = pin!(stream);
            let failure = loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => return,
                    event = stream.next() => event,
                };
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(error)) => break Some(error),
                    // The watcher never ends; if it did, list again.
                    None => break None,
                };
                writer.apply_watcher_event(&event);
                let message = match &event {
                    watcher::Event::Init => {
                        lists += 1;
                        if lists > 1 {
                            self.metrics.watch_restarts.inc();
                            info!(
                                cluster,
                                "re-listing DNSEndpoints; the cluster's last known objects stay until the list is complete"
                            );
                        }
                        None
                    }
                    watcher::Event::InitApply(_) => None,
                    watcher::Event::InitDone => {
                        self.metrics.cluster_listed(cluster);
                        debug!(cluster, "DNSEndpoint list complete");
                        Some(News::Listed(self.index))
                    }
                    watcher::Event::Apply(object) => {
                        debug!(
                            cluster,
                            object = %ObjectKey::of("", object),
                            generation = object.metadata.generation,
                            "DNSEndpoint applied"
                        );
                        Some(News::Changed(self.index))
                    }
                    watcher::Event::Delete(object) => {
                        debug!(cluster, object = %ObjectKey::of("", object), "DNSEndpoint deleted");
                        Some(News::Changed(self.index))
                    }
                };
                if let Some(message) = message
                    && news.send(message).await.is_err()
                {
                    return;
                }
            };
            let wait = backoff.next().unwrap_or(std::time::Duration::from_secs(8));
            match failure {
                Some(error) => {
                    self.metrics.watch_errors.inc();
                    self.metrics.cluster_down(cluster);
                    warn!(
                        cluster,
                        error = %crate::error_chain(&error),
                        retry_in = ?wait,
                        "DNSEndpoint watch failed; retrying with a new list, the cluster's last known objects stay in the record file"
                    );
                    if news.send(News::Failed(self.index, error)).await.is_err() {
                        return;
                    }
                }
                None => debug!(cluster, "DNSEndpoint watch ended; listing again"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
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
